"""`idlgen -jN` keeps the importers of a large file in one worker, which then parses
it once, and hands out the largest work first (idlgen/schedule.py)."""

from __future__ import annotations

import io
import multiprocessing
import os
from pathlib import Path

import pytest

import idlgen.api
from idlgen import schedule
from idlgen.cli import main
from idlgen.limits import DEFAULT_LIMITS
from idlgen.schedule import plan

LIMIT = DEFAULT_LIMITS.file_bytes
BIG_BODY = "".join(f"const int BIG_{index} = {index};\n" for index in range(4000))


def names(groups: list[list[str]]) -> list[list[str]]:
    return [[os.path.basename(source) for source in group] for group in groups]


def small_files(folder: Path, count: int) -> list[str]:
    made = []
    for index in range(count):
        path = folder / f"small{index}.idl"
        path.write_text(f"const int SMALL_{index} = {index};\n")
        made.append(str(path))
    return made


def test_importers_of_a_large_file_form_one_group_and_go_first(tmp_path: Path) -> None:
    (tmp_path / "big.idl").write_text(BIG_BODY)
    (tmp_path / "x.idl").write_text('import "big.idl";\nconst int X = 1;\n')
    (tmp_path / "y.idl").write_text('import "unknwn.idl", "big.idl";\nconst int Y = 1;\n')
    inputs = [*small_files(tmp_path, 3), str(tmp_path / "x.idl"), str(tmp_path / "y.idl")]
    groups = plan(inputs, [], 2, LIMIT)
    assert names(groups)[0] == ["x.idl", "y.idl"]
    assert sorted(name for group in names(groups)[1:] for name in group) == [
        "small0.idl",
        "small1.idl",
        "small2.idl",
    ]


def test_a_group_never_outgrows_a_workers_share(tmp_path: Path) -> None:
    """Every input imports the large file and is as large: one group would leave the
    other core idle, so the large file is parsed by both workers instead."""
    (tmp_path / "big.idl").write_text(BIG_BODY)
    inputs = []
    for index in range(4):
        path = tmp_path / f"user{index}.idl"
        path.write_text(f'import "big.idl";\n{BIG_BODY.replace("BIG_", f"U{index}_")}')
        inputs.append(str(path))
    groups = plan(inputs, [], 2, LIMIT)
    assert len(groups) >= 2
    assert sorted(source for group in groups for source in group) == sorted(inputs)


def test_imports_are_searched_like_the_loader_searches_them(tmp_path: Path) -> None:
    include = tmp_path / "include"
    include.mkdir()
    (include / "big.idl").write_text(BIG_BODY)
    (tmp_path / "x.idl").write_text('import "big.idl";\n')
    (tmp_path / "y.idl").write_text('import "big.idl";\n')
    inputs = [str(tmp_path / "x.idl"), *small_files(tmp_path, 2), str(tmp_path / "y.idl")]
    assert names(plan(inputs, [str(include)], 2, LIMIT))[0] == ["x.idl", "y.idl"]


def test_a_missing_or_unreadable_import_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "x.idl").write_text('import "nowhere.idl";\nconst int X = 1;\n')
    inputs = [str(tmp_path / "x.idl"), *small_files(tmp_path, 2)]
    groups = plan(inputs, [], 2, LIMIT)
    assert sorted(source for group in groups for source in group) == sorted(inputs)
    assert all(len(group) == 1 for group in groups)


def test_workers_compile_the_importers_of_a_large_file_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handed out one by one, the two importers started side by side in two workers,
    and each parsed the large file (mshtml.idl in the Wine corpus: 2 s each)."""
    if multiprocessing.get_start_method() != "fork":
        pytest.skip("workers see the patched compiler only when they are forked")
    (tmp_path / "big.idl").write_text(BIG_BODY)
    (tmp_path / "x.idl").write_text('import "big.idl";\nconst int X = 1;\n')
    (tmp_path / "y.idl").write_text('import "big.idl";\nconst int Y = 1;\n')
    inputs = [str(tmp_path / "x.idl"), str(tmp_path / "y.idl"), *small_files(tmp_path, 4)]
    log = tmp_path / "pids.txt"
    real_compile = idlgen.api.compile

    def logged(path: object, **options: object) -> idlgen.api.CompileResult:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()} {os.path.basename(str(path))}\n")
        return real_compile(path, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(idlgen.api, "compile", logged)
    assert main(["-q", "-j2", "--no-cache", "-o", str(tmp_path / "out"), *inputs]) == 0
    pids: dict[str, str] = {}
    for line in log.read_text().splitlines():
        pid, name = line.split()
        pids[name] = pid
    assert len(pids) == len(inputs)
    assert pids["x.idl"] == pids["y.idl"]


def test_a_pipe_among_the_inputs_is_left_to_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading it to plan would take its text from the compile (`-j2 <(...)`)."""
    pipe = tmp_path / "pipe.idl"
    os.mkfifo(pipe)
    inputs = [str(pipe), *small_files(tmp_path, 2)]
    opened: list[str] = []

    def recording(path: str, mode: str = "r") -> io.BytesIO:
        opened.append(path)  # and never blocks on the pipe, whatever the code does
        return io.BytesIO(b"" if path == str(pipe) else Path(path).read_bytes())

    monkeypatch.setattr(schedule, "open", recording, raising=False)
    groups = plan(inputs, [], 2, LIMIT)
    assert str(pipe) not in opened and len(opened) == 2
    assert sorted(source for group in groups for source in group) == sorted(inputs)


def test_files_above_the_size_limit_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "big.idl").write_text(BIG_BODY)
    (tmp_path / "x.idl").write_text('import "big.idl";\n')
    (tmp_path / "y.idl").write_text('import "big.idl";\n')
    inputs = [str(tmp_path / "x.idl"), *small_files(tmp_path, 2), str(tmp_path / "y.idl")]
    assert len(plan(inputs, [], 2, len(BIG_BODY) - 1)) == len(inputs)
