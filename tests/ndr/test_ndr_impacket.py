"""Cross-check against impacket's independent NDR implementation (a test dependency).

impacket decodes what idlgen encodes and idlgen decodes what impacket encodes.  Both number
impacket picks random referent ids and fills padding with marker bytes (0xbb..0xbf, 0xdd), so
bytes are compared word by word, excusing only those two differences.
"""

from __future__ import annotations

import os

import pytest

from idlgen.runtime import ndr as n

try:
    from impacket.dcerpc.v5 import dtypes
    from impacket.dcerpc.v5 import ndr as impacket_ndr
except ImportError:  # a test dependency: skip on a bare machine, fail (collection error) in CI
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("impacket is not installed (pip install -e '.[test]')", allow_module_level=True)
NDRCALL, NDRSTRUCT = impacket_ndr.NDRCALL, impacket_ndr.NDRSTRUCT
NDRPOINTER, NDRUNION = impacket_ndr.NDRPOINTER, impacket_ndr.NDRUNION
NDRUniConformantArray = impacket_ndr.NDRUniConformantArray


class LongArray(NDRUniConformantArray):
    item = "<l"


class PLongArray(NDRPOINTER):
    referent = (("Data", LongArray),)


class PLong(NDRPOINTER):
    referent = (("Data", dtypes.LONG),)


class Record(NDRSTRUCT):
    structure = (
        ("x", dtypes.LONG),
        ("name", dtypes.LPWSTR),
        ("p", PLong),
        ("count", dtypes.ULONG),
        ("items", PLongArray),
    )


class Choice(NDRUNION):
    commonHdr = (("tag", dtypes.ULONG),)
    union = {1: ("number", dtypes.LONG), 2: ("text", dtypes.LPWSTR)}  # noqa: RUF012


class Request(NDRCALL):
    opnum = 0
    structure = (
        ("rec", Record),
        ("choice", Choice),
        ("flags", dtypes.ULONG),
        ("path", dtypes.WSTR),
    )


RECORD = n.Struct(
    "Record",
    (
        n.Field("x", n.LONG),
        n.Field("name", n.Pointer("unique", n.String(n.WCHAR))),
        n.Field("p", n.Pointer("unique", n.LONG)),
        n.Field("count", n.ULONG),
        n.Field("items", n.Pointer("unique", n.ConformantArray(n.LONG, size_is="count"))),
    ),
)
CHOICE = n.EncapsulatedUnion(
    "Choice",
    n.ULONG,
    (n.Arm((1,), n.LONG), n.Arm((2,), n.Pointer("unique", n.String(n.WCHAR)))),
)
METHOD = n.MethodMarshaler(
    n.Method(
        "Call",
        (
            n.Param("rec", RECORD),
            n.Param("choice", CHOICE),
            n.Param("flags", n.ULONG),
            n.Param("path", n.Pointer("ref", n.String(n.WCHAR))),
        ),
        returns=None,
    )
)

CASES = [
    ({"x": -5, "name": "hello", "p": 7, "count": 3, "items": [1, -2, 3]}, n.Tagged(1, 99), "C:\\x"),
    ({"x": 0, "name": None, "p": None, "count": 0, "items": None}, n.Tagged(2, "arm"), ""),
    ({"x": 1, "name": "", "p": 0, "count": 1, "items": [2**31 - 1]}, n.Tagged(2, None), "é€"),
]


def _impacket_request(rec: dict, choice: n.Tagged, path: str) -> bytes:
    req = Request()
    req["rec"]["x"] = rec["x"]
    req["rec"]["name"] = dtypes.NULL if rec["name"] is None else rec["name"] + "\0"
    req["rec"]["p"] = dtypes.NULL if rec["p"] is None else rec["p"]
    req["rec"]["count"] = rec["count"]
    req["rec"]["items"] = dtypes.NULL if rec["items"] is None else rec["items"]
    req["choice"]["tag"] = choice.tag
    if choice.tag == 1:
        req["choice"]["number"] = choice.value
    else:
        req["choice"]["text"] = dtypes.NULL if choice.value is None else choice.value + "\0"
    req["flags"] = 0x10
    req["path"] = path + "\0"
    return req.getData()


_PAD_MARKERS = b"\xbb\xbc\xbd\xbe\xbf\xdd"


def assert_same_but_referent_ids(ours: bytes, theirs: bytes) -> None:
    assert len(ours) == len(theirs)
    for i in range(0, len(ours), 4):
        a, b = ours[i : i + 4], theirs[i : i + 4]
        if a == b:
            continue
        is_referent = int.from_bytes(a, "little") >= 0x20000 and any(b)
        is_padding = all(
            x == y or (x == 0 and y in _PAD_MARKERS) for x, y in zip(a, b, strict=True)
        )
        assert is_referent or is_padding, (i, a, b)


@pytest.mark.parametrize("rec,choice,path", CASES)
def test_impacket_bytes_equal_ours(rec, choice, path):
    ours = METHOD.encode_request({"rec": rec, "choice": choice, "flags": 0x10, "path": path})
    assert_same_but_referent_ids(ours, _impacket_request(rec, choice, path))


@pytest.mark.parametrize("rec,choice,path", CASES)
def test_we_decode_impacket(rec, choice, path):
    decoded = METHOD.decode_request(_impacket_request(rec, choice, path))
    assert decoded == {"rec": rec, "choice": choice, "flags": 0x10, "path": path}


@pytest.mark.parametrize("rec,choice,path", CASES)
def test_impacket_decodes_ours(rec, choice, path):
    ours = METHOD.encode_request({"rec": rec, "choice": choice, "flags": 0x10, "path": path})
    req = Request(ours)
    assert req["rec"]["x"] == rec["x"]
    name = req["rec"]["name"]
    assert (None if name == dtypes.NULL or name == b"" else name[:-1]) in (rec["name"], None)
    if rec["items"] is not None:
        assert list(req["rec"]["items"]) == rec["items"]
    assert req["choice"]["tag"] == choice.tag
    assert req["flags"] == 0x10
    assert req["path"][:-1] == path


def test_conformant_struct_matches_impacket():
    class Blob(NDRSTRUCT):
        structure = (("cb", dtypes.ULONG), ("data", LongArray))

    ours = n.Struct(
        "Blob", (n.Field("cb", n.ULONG), n.Field("data", n.ConformantArray(n.LONG, size_is="cb")))
    )
    theirs = Blob()
    theirs["cb"] = 2
    theirs["data"] = [5, 6]
    wire = theirs.getData()
    assert n.encode(ours, {"cb": 2, "data": [5, 6]}) == wire
    assert n.decode(ours, wire) == {"cb": 2, "data": [5, 6]}
