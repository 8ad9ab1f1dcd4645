"""Differential tests against widl over Wine's IDL corpus (DESIGN.md section 6).

For every corpus file widl accepts, idlgen must accept it too, and every interface the
file defines must have the same vtable in idlgen's JSON as in widl's C header: the same
methods (inherited ones included), in the same order, with the same parameter names,
async partners included. One test per file; all mismatches of a file in one message.

widl runs once per file for the whole session (in parallel); idlgen runs in this
process through `idlgen.compile_json(path, include_dirs=...)`, the `--emit json`
document as a dict.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from differential import compare
from widl_header import parse_header_file
from widl_runner import WidlRun, run_widl_many

from idlgen import IdlError

if TYPE_CHECKING:
    from shared_fixtures import WineCorpus

CompileJson = Callable[..., dict[str, Any]]

IDLGEN_API_MODULE = "idlgen"
IDLGEN_API_FUNCTION = "compile_json"
# Wine 8's corpus has ~305 files and widl 7 accepts ~238: far fewer means the corpus
# or widl is broken, and the per-file tests would pass vacuously.
MIN_ACCEPTED_FILES = 200


@pytest.fixture(scope="session")
def widl_runs(
    widl: str, wine_corpus: WineCorpus, tmp_path_factory: pytest.TempPathFactory
) -> dict[Path, WidlRun]:
    out_dir = tmp_path_factory.mktemp("widl-headers")
    return run_widl_many(widl, wine_corpus.files, out_dir, wine_corpus.include_dirs)


def load_compile_json() -> CompileJson:
    """idlgen's front-end entry point; its absence is a failure, never a skip."""
    try:
        module = importlib.import_module(IDLGEN_API_MODULE)
        function: CompileJson = getattr(module, IDLGEN_API_FUNCTION)
        return function
    except (ImportError, AttributeError) as error:
        missing = str(error)
    pytest.fail(
        f"{IDLGEN_API_MODULE}.{IDLGEN_API_FUNCTION}(path, *, include_dirs=[...]) -> dict "
        f"is not available ({missing}); the differential tests cannot run without it",
        pytrace=False,
    )


def compile_or_fail(path: Path, include_dirs: list[Path]) -> dict[str, Any]:
    """idlgen's JSON for `path`; an IdlError is a test failure showing the diagnostics."""
    compile_json = load_compile_json()
    try:
        return compile_json(path, include_dirs=include_dirs)
    except IdlError as error:
        rejection = str(error)
    pytest.fail(f"idlgen rejects a file widl accepts:\n{rejection}", pytrace=False)


# widl 7.0 (Debian's) predates the dotted WinRT namespaces of Wine 8's files; those
# are the DESIGN's WinRT forms, which idlgen must read.
WIDL_TOO_OLD_FOR_WINRT = "syntax error, unexpected '.', expecting '{'"


def check_rejected_by_widl(path: Path, include_dirs: list[Path], widl_error: str) -> None:
    """Same verdict as widl where widl is right, acceptance where widl is too old.

    A file widl rejects for a missing type or a non-constant expression must be
    rejected by idlgen too (with diagnostics, never a crash); a WinRT file widl 7
    cannot read must compile, with every interface carrying a name.
    """
    compile_json = load_compile_json()
    if WIDL_TOO_OLD_FOR_WINRT in widl_error:
        doc = compile_or_fail(path, include_dirs)
        assert doc["winrt"] is True
        assert all(i["name"] for i in doc["interfaces"])
        return
    with pytest.raises(IdlError) as rejected:
        compile_json(path, include_dirs=include_dirs)
    assert rejected.value.errors, "an IdlError must carry at least one error"
    assert all(d.position is not None for d in rejected.value.errors)


def test_widl_accepts_most_of_the_corpus(widl_runs: dict[Path, WidlRun]) -> None:
    accepted = [run for run in widl_runs.values() if run.accepted]
    rejected = [f"{r.idl.name}: {r.first_error}" for r in widl_runs.values() if not r.accepted]
    assert len(accepted) > MIN_ACCEPTED_FILES, (
        f"widl accepted only {len(accepted)} of {len(widl_runs)} corpus files, e.g. "
        + "; ".join(rejected[:3])
    )


def test_idlgen_matches_widl(
    wine_idl_file: Path | None, wine_corpus: WineCorpus, widl_runs: dict[Path, WidlRun]
) -> None:
    assert wine_idl_file is not None  # the placeholder only exists without a corpus
    run = widl_runs[wine_idl_file]
    if not run.accepted:
        check_rejected_by_widl(wine_idl_file, wine_corpus.include_dirs, run.first_error or "")
        return
    doc = compile_or_fail(wine_idl_file, wine_corpus.include_dirs)
    problems = compare(parse_header_file(run.header), doc)
    if problems:
        pytest.fail(
            f"{len(problems)} mismatch(es) with widl for {wine_idl_file.name}:\n"
            + "\n".join(problems),
            pytrace=False,
        )


# Wine's corpus has no [async_uuid] and few of the naming corner cases, so one
# synthetic file covers them against widl: async partners (also one inheriting from
# another partner), accessors, [local]/[call_as], unnamed parameters and a method
# redeclared from an ancestor.
FEATURES_IDL = """
import "unknwn.idl";

[object, uuid(5d3c0a10-0001-4b7e-9c2d-1a2b3c4d5e6f),
 async_uuid(5d3c0a10-0002-4b7e-9c2d-1a2b3c4d5e6f)]
interface IJob : IUnknown
{
    HRESULT Run([in] ULONG steps, [in, out] ULONG *cookie, [out] ULONG *done);
    [local] HRESULT Peek([out] ULONG *value);
    [call_as(Peek)] HRESULT RemotePeek([out] ULONG *value);
}

[object, uuid(5d3c0a10-0003-4b7e-9c2d-1a2b3c4d5e6f),
 async_uuid(5d3c0a10-0004-4b7e-9c2d-1a2b3c4d5e6f)]
interface IBatchJob : IJob
{
    [propget] HRESULT Size([out, retval] ULONG *size);
    [propput] HRESULT Size([in] ULONG size);
    HRESULT Run([in] ULONG steps, [in] ULONG);
}
"""


def test_dialect_features_match_widl(widl: str, wine_corpus: WineCorpus, tmp_path: Path) -> None:
    idl = tmp_path / "features.idl"
    idl.write_text(FEATURES_IDL, encoding="utf-8")
    run = run_widl_many(widl, [idl], tmp_path, wine_corpus.include_dirs)[idl]
    assert run.accepted, run.stderr
    header = parse_header_file(run.header)
    assert set(header) == {"IJob", "AsyncIJob", "IBatchJob", "AsyncIBatchJob"}
    problems = compare(header, compile_or_fail(idl, wine_corpus.include_dirs))
    assert not problems, "\n".join(problems)
