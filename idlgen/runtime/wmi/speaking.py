"""A runtime class made to speak an interface the user's IDL declares.

The WMI helpers (sinks, enumerators, call results) are written once against the
contract, and combined with whichever interface class has that shape: wbemcli's own, or
one a user generated from a wbemcli-like IDL. Its own module, below both the client and
the server helpers that build such classes.
"""

from __future__ import annotations

from typing import TypeVar

_T = TypeVar("_T")

_classes: dict[tuple[type, type], type] = {}


def _combine(base: type[_T], iface: type, suffix: str) -> type[_T]:
    """`base` and `iface` in one class, made once per pair (proxies and identity rely on
    the same pair giving the same class)."""
    key = (base, iface)
    cls = _classes.get(key)
    if cls is None:
        cls = type(iface.__name__ + suffix, (base, iface), {"__module__": base.__module__})
        _classes[key] = cls
    return cls
