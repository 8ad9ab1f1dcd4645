"""Reading sources and digesting them for the parse cache's checks: counted, never timed."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from idlgen.frontend import sources
from idlgen.semantics import loader


def test_a_source_is_read_asking_for_its_size_not_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.idl"
    path.write_text("interface I;\n")
    asked: list[int] = []
    original = io.BufferedReader.read

    class Counting(io.BufferedReader):
        def read(self, size: int | None = -1, /) -> bytes:
            asked.append(-1 if size is None else size)
            return original(self, size)

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Counting(io.FileIO(fd, "r")))
    assert sources.read_source(str(path), 8 << 20) == "interface I;\n"
    # One read of the reported size and a byte more: asking for the limit (8 MiB)
    # made the reader allocate that much for every file.
    assert asked == [len("interface I;\n") + 1]


def test_a_pseudo_file_larger_than_it_says_is_read_up_to_the_limit() -> None:
    # /proc files report a size of 0; what they hold decides the refusal, as before.
    with pytest.raises(sources.RefusedSource, match="pseudo file"):
        sources.read_source("/proc/self/status", 8 << 20)
    with pytest.raises(sources.RefusedSource, match="file-bytes"):
        sources.read_source("/proc/self/status", 10)


def test_a_text_read_again_unchanged_is_not_hashed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[int] = []
    blake2b = hashlib.blake2b

    def counting(data: bytes, digest_size: int) -> object:
        hashed.append(len(data))
        return blake2b(data, digest_size=digest_size)

    monkeypatch.setattr(hashlib, "blake2b", counting)
    path = "/nowhere/test_a_text_read_again.idl"
    first = loader._digest("interface I;\n", path)
    again = loader._digest("".join(["interface ", "I;\n"]), path)  # equal, not the same object
    assert again == first and len(hashed) == 1
    changed = loader._digest("interface J;\n", path)
    assert changed != first and len(hashed) == 2
    assert loader._digest("interface I;\n") == first and len(hashed) == 3  # no path: no memo
