"""NDR throughput for a struct-heavy method, in MB/s of wire data (encode and decode).

Run: python bench/bench_ndr.py [--seconds 1.0]
Anchor in the same run: impacket's NDR for the same request (when installed), since the
numbers only mean something side by side on one machine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from idlgen.runtime import ndr as n

ITEM = n.Struct(
    "Item",
    (
        n.Field("id", n.ULONG),
        n.Field("weight", n.DOUBLE),
        n.Field("flags", n.USHORT),
        n.Field("name", n.Pointer("unique", n.String())),
        n.Field("tags", n.FixedArray(n.BYTE, 8)),
    ),
)
METHOD = n.MethodMarshaler(
    n.Method(
        "PutItems",
        (
            n.Param("count", n.ULONG),
            n.Param("items", n.Pointer("ref", n.ConformantArray(ITEM, size_is="count"))),
        ),
    )
)


def sample(count: int) -> dict[str, object]:
    items = [
        {"id": i, "weight": i * 0.5, "flags": i & 0xFFFF, "name": f"item-{i}", "tags": bytes(8)}
        for i in range(count)
    ]
    return {"count": count, "items": items}


def rate(fn: Callable[[], object], size: int, seconds: float) -> float:
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        calls += 1
    return calls * size / elapsed / 1e6


def impacket_request(values: dict[str, object]) -> Callable[[], bytes] | None:
    try:
        from impacket.dcerpc.v5 import dtypes, ndr
    except ImportError:
        return None

    class Item(ndr.NDRSTRUCT):
        structure = (
            ("id", dtypes.ULONG),
            ("weight", dtypes.DOUBLE),
            ("flags", dtypes.USHORT),
            ("name", dtypes.LPWSTR),
            ("tags", "8s"),
        )

    class Items(ndr.NDRUniConformantArray):
        item = Item

    class Request(ndr.NDRCALL):
        structure = (("count", dtypes.ULONG), ("items", Items))

    def build() -> bytes:
        req = Request()
        req["count"] = values["count"]
        for v in values["items"]:  # type: ignore[attr-defined]
            item = Item()
            item["id"], item["weight"], item["flags"] = v["id"], v["weight"], v["flags"]
            item["name"], item["tags"] = v["name"] + "\0", v["tags"]
            req["items"].append(item)
        return req.getData()

    return build


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    for count in (10, 1000):
        values = sample(count)
        wire = METHOD.encode_request(values)
        assert METHOD.decode_request(wire) == values
        enc = rate(lambda v=values: METHOD.encode_request(v), len(wire), args.seconds)
        dec = rate(lambda w=wire: METHOD.decode_request(w), len(wire), args.seconds)
        line = f"{count:5d} items, {len(wire):7d} bytes: "
        line += f"encode {enc:6.2f} MB/s, decode {dec:6.2f} MB/s"
        anchor = impacket_request(values)
        if anchor is not None:
            line += f" | impacket encode {rate(anchor, len(wire), args.seconds):6.2f} MB/s"
        print(line)


if __name__ == "__main__":
    main()
