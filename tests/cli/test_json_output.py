"""`--emit json` is compact by default (it is read by programs) and indented on request;
both spell the same document, imported declarations included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import idlgen
from idlgen.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "simple_stream.idl"


def emitted(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["--emit", "json", *argv, str(SAMPLE)]) == 0
    return capsys.readouterr().out


def test_default_json_is_compact_and_is_the_whole_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = emitted(capsys)
    document = json.loads(text)
    assert text == json.dumps(document, separators=(",", ":")) + "\n"  # no padding at all
    assert document == idlgen.compile_json(SAMPLE)
    assert any(item["imported"] for item in document["interfaces"])  # IUnknown, imported


@pytest.mark.parametrize("indent", [0, 2, 4])
def test_indent_gives_one_value_a_line_with_the_same_content(
    capsys: pytest.CaptureFixture[str], indent: int
) -> None:
    text = emitted(capsys, "--indent", str(indent))
    assert text.count("\n") > 100
    assert f'\n{" " * indent}"schema": ' in text
    assert json.loads(text) == json.loads(emitted(capsys))


@pytest.mark.parametrize("argv", [["--indent", "2"], ["--emit", "json", "--indent", "-1"]])
def test_indent_needs_json_and_a_non_negative_width(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, str(SAMPLE)])
    assert exit_info.value.code == 2


def test_json_written_with_output_dir_is_compact_too(tmp_path: Path) -> None:
    assert main(["--emit", "json", "-o", str(tmp_path), str(SAMPLE)]) == 0
    text = (tmp_path / "simple_stream_idl.json").read_text()
    assert text.count("\n") == 1
    assert json.loads(text) == idlgen.compile_json(SAMPLE)
