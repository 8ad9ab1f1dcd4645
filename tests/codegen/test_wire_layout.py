"""The wire layer turns IDL into NDR descriptors that marshal what MIDL would send."""

from __future__ import annotations

import struct
from pathlib import Path

from generated import generate, import_path
from hypothesis import given
from hypothesis import strategies as st

from idlgen.codegen.wire import (
    MAX_SOURCE_NESTING,
    source_nesting,
    too_deep_for_python,
)

IDL = """
import "unknwn.idl";

typedef struct tagGRID { long cells[2][3]; short tag; } GRID;

[object, uuid(0d0e0f10-1112-4314-9516-171819202122), pointer_default(unique)]
interface IShapes : IUnknown
{
    HRESULT Rows([in] long rows, [in] long cols,
                 [in, size_is(rows, cols)] long **matrix);
    HRESULT Single([in] long n, [in, size_is(, n)] long **values);
    HRESULT Grid([in] GRID *grid);
    HRESULT Outer([in] long n, [in, size_is(n, )] long **values);
}
"""


def marshaler(module: object, name: str) -> object:
    iface = module.IShapes  # type: ignore[attr-defined]
    index = [m.name for m in iface._methods_].index(name)
    return iface._wire_[index]


def test_size_is_with_two_dimensions_is_an_array_of_pointers_to_arrays(tmp_path: Path) -> None:
    module = import_path(generate(tmp_path, IDL))
    rows = marshaler(module, "Rows")
    body = rows.encode_request({"rows": 2, "cols": 3, "matrix": [[1, 2, 3], [4, 5, 6]]})  # type: ignore[attr-defined]
    # rows, cols, then [ref] pointee: max count 2 and two referent ids, then each row
    # (deferred): max count 3 and three longs.
    head = struct.unpack_from("<iiI", body)
    assert head == (2, 3, 2)
    ids = struct.unpack_from("<II", body, 12)
    assert all(ids) and ids[0] != ids[1]
    assert struct.unpack_from("<I3i", body, 20) == (3, 1, 2, 3)
    assert struct.unpack_from("<I3i", body, 36) == (3, 4, 5, 6)
    assert len(body) == 52
    decoded = rows.decode_request(body)  # type: ignore[attr-defined]
    assert decoded["matrix"] == [[1, 2, 3], [4, 5, 6]]


def test_size_is_with_an_empty_first_dimension_sizes_the_inner_array(tmp_path: Path) -> None:
    module = import_path(generate(tmp_path, IDL))
    single = marshaler(module, "Single")
    body = single.encode_request({"n": 2, "values": [7, 8]})  # type: ignore[attr-defined]
    # n, then [ref] -> unique pointer (referent id) -> max count 2, two longs
    n, referent, count, a, b = struct.unpack("<iIIii", body)
    assert (n, count, a, b) == (2, 2, 7, 8) and referent != 0
    assert single.decode_request(body)["values"] == [7, 8]  # type: ignore[attr-defined]


def test_size_is_with_an_empty_second_dimension_is_an_array_of_plain_pointers(
    tmp_path: Path,
) -> None:
    """`[size_is(n, )] T **p` ([MS-DCOM]'s ORPC_EXTENT_ARRAY): n pointers, each to one T."""
    module = import_path(generate(tmp_path, IDL))
    outer = marshaler(module, "Outer")
    body = outer.encode_request({"n": 2, "values": [7, None]})  # type: ignore[attr-defined]
    # n, then [ref] pointee: max count 2 and two referent ids (the second NULL), then the
    # one pointee: a single long, no count of its own
    n, count, first, second, value = struct.unpack("<iIIIi", body)
    assert (n, count, second, value) == (2, 2, 0, 7) and first != 0
    assert outer.decode_request(body)["values"] == [7, None]  # type: ignore[attr-defined]


def test_fixed_two_dimensional_array_is_laid_out_row_by_row(tmp_path: Path) -> None:
    module = import_path(generate(tmp_path, IDL))
    grid = marshaler(module, "Grid")
    value = module.GRID(cells=[[1, 2, 3], [4, 5, 6]], tag=9)
    body = grid.encode_request({"grid": value})  # type: ignore[attr-defined]
    assert struct.unpack("<6ih", body[:26]) == (1, 2, 3, 4, 5, 6, 9)
    decoded = grid.decode_request(body)["grid"]  # type: ignore[attr-defined]
    assert (decoded.cells, decoded.tag) == ([[1, 2, 3], [4, 5, 6]], 9)


@given(
    st.lists(
        st.sampled_from(["(", ")", "[", "]", "{", "}", "'", '"', "\\", "x", "(" * 40]),
        max_size=60,
    )
)
def test_counting_brackets_settles_nesting_as_the_walk_does(parts: list[str]) -> None:
    source = "".join(parts)
    assert too_deep_for_python(source) == (source_nesting(source) > MAX_SOURCE_NESTING)
