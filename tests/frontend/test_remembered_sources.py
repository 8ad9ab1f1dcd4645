"""The process remembers source texts (idlgen/frontend/sources.py) so that a batch does
not read every import again for every compile; it must never hand out a stale text.

The rule: a remembered text is used only while the file's stat is what it was when it
was read, and a file is remembered only if it was left alone for a while before the read.
Any edit, even one that keeps the size and puts the mtime back, is read again."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from idlgen.api import IdlError
from idlgen.api import compile as compile_idl
from idlgen.frontend import sources
from idlgen.frontend.sources import RefusedSource, read_source

OLD_NS = 1_600_000_000 * 10**9  # 2020: long settled


@pytest.fixture(autouse=True)
def _forget_between_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_remembered", {})
    monkeypatch.setattr(sources, "_remembered_chars", 0)


def settled(path: Path, text: str) -> None:
    """Write `text` and date the file back: as a header untouched for years, except that
    its ctime (which no one can set back) is now: wait out the settling time instead."""
    path.write_text(text)
    os.utime(path, ns=(OLD_NS, OLD_NS))


def settle_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the settling time pass without sleeping: the clock jumps ahead."""
    later = time.time_ns() + 10 * sources._SETTLED_NS
    monkeypatch.setattr(sources.time, "time_ns", lambda: later)


def opens_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    real = os.open

    def counting(path: str, *args: object) -> int:
        opened.append(path)
        return real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(sources.os, "open", counting)
    return opened


def test_a_settled_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.idl"
    settled(path, "interface A;\n")
    settle_now(monkeypatch)
    opened = opens_counted(monkeypatch)
    texts = [read_source(str(path), 1 << 20) for _ in range(3)]
    assert texts == ["interface A;\n"] * 3
    assert len(opened) == 1


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda p: p.write_text("interface B;\n"), id="same-size-new-text"),
        pytest.param(lambda p: p.write_text("interface Bee;\n"), id="longer"),
        pytest.param(lambda p: p.write_text(""), id="emptied"),
    ],
)
def test_an_edited_file_is_read_again_even_with_its_mtime_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: object
) -> None:
    path = tmp_path / "a.idl"
    settled(path, "interface A;\n")
    settle_now(monkeypatch)
    assert read_source(str(path), 1 << 20) == "interface A;\n"
    edit(path)  # type: ignore[operator]
    os.utime(path, ns=(OLD_NS, OLD_NS))  # the same mtime as when it was remembered
    assert read_source(str(path), 1 << 20) == path.read_text()


def test_a_replaced_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, other = tmp_path / "a.idl", tmp_path / "b.idl"
    settled(path, "interface A;\n")
    settled(other, "interface B;\n")
    settle_now(monkeypatch)
    assert read_source(str(path), 1 << 20) == "interface A;\n"
    os.replace(other, path)  # a new inode under the same name, same size and mtime
    assert read_source(str(path), 1 << 20) == "interface B;\n"


def test_a_file_written_just_now_is_not_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a file system that keeps times to the second, a second write within the same
    second would keep every stat field but ctime's nanoseconds: not trusted."""
    path = tmp_path / "a.idl"
    path.write_text("interface A;\n")
    opened = opens_counted(monkeypatch)
    read_source(str(path), 1 << 20)
    read_source(str(path), 1 << 20)
    assert len(opened) == 2


def test_a_remembered_file_still_obeys_a_smaller_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.idl"
    settled(path, "interface A;\n" * 10)
    settle_now(monkeypatch)
    read_source(str(path), 1 << 20)
    with pytest.raises(RefusedSource, match="exceeds the limit"):
        read_source(str(path), 20)


def test_what_is_remembered_stays_under_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "_REMEMBERED_CHARS", 100)
    settle_now(monkeypatch)
    for i in range(20):
        path = tmp_path / f"f{i}.idl"
        settled(path, "x" * 30)
        read_source(str(path), 1 << 20)
    assert sources._remembered_chars <= 100
    assert sum(len(text) for _, text in sources._remembered.values()) == sources._remembered_chars


def test_a_compile_sees_an_import_edited_between_two_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one process (a build hook, a watch loop) an import edited between compiles is
    compiled as it is now, also when the edit keeps its size and mtime."""
    imported, main = tmp_path / "base.idl", tmp_path / "main.idl"
    settled(imported, "typedef long T1;\n")
    settled(main, 'import "base.idl";\ntypedef T1 U;\n')
    settle_now(monkeypatch)
    compile_idl(str(main), include_dirs=[str(tmp_path)])
    settled(imported, "typedef long T2;\n")  # same size, mtime put back
    with pytest.raises(IdlError, match="T1"):  # T1 is gone
        compile_idl(str(main), include_dirs=[str(tmp_path)])
