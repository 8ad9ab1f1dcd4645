"""GUIDs as generated code and the runtime see them.

A GUID is a value: hashable, comparable, immutable. Its text form is the registry form
(`{00000000-0000-0000-C000-000000000046}`) because that is how IDL authors, the registry
and Wireshark show it; NDR needs the little-endian byte layout, so both are one call away.
"""

from __future__ import annotations

import uuid

__all__ = ["GUID", "GUID_NULL", "as_guid"]

_UUID = uuid.UUID  # the class body defines `uuid` and `int` properties; annotate through these
_Int = int


class GUID:
    """A 128-bit interface/class identifier, stored as one int so compare and hash are cheap."""

    __slots__ = ("_int",)

    _int: int

    def __init__(self, value: str | bytes | int | uuid.UUID | GUID) -> None:
        object.__setattr__(self, "_int", _to_int(value))

    @classmethod
    def from_bytes_le(cls, data: bytes) -> GUID:
        """Decode the 16-byte wire layout (Data1..Data3 little-endian, Data4 as is)."""
        return cls(uuid.UUID(bytes_le=bytes(data)))

    @property
    def bytes_le(self) -> bytes:
        return uuid.UUID(int=self._int).bytes_le

    @property
    def int(self) -> _Int:
        return self._int

    @property
    def uuid(self) -> _UUID:
        """The same value as `uuid.UUID` (the NDR layer's type); the two compare equal."""
        return uuid.UUID(int=self._int)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("GUID is immutable")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GUID):
            return self._int == other._int
        if isinstance(other, uuid.UUID):
            return self._int == other.int
        return NotImplemented

    def __hash__(self) -> _Int:
        return hash(self._int)  # equals hash(uuid.UUID) of the same value

    def __str__(self) -> str:
        return "{" + str(uuid.UUID(int=self._int)).upper() + "}"

    def __repr__(self) -> str:
        return f"GUID('{self}')"

    def __reduce__(self) -> tuple[type[GUID], tuple[str]]:
        return (GUID, (str(self),))


def _to_int(value: str | bytes | int | uuid.UUID | GUID) -> int:
    if isinstance(value, GUID):
        return value._int
    if isinstance(value, uuid.UUID):
        return value.int
    if isinstance(value, int):
        if not 0 <= value < 1 << 128:
            raise ValueError("GUID integer out of range")
        return value
    if isinstance(value, bytes):
        if len(value) != 16:
            raise ValueError("GUID bytes must be 16 long (little-endian layout)")
        return uuid.UUID(bytes_le=value).int
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        return uuid.UUID(text).int
    raise TypeError(f"cannot make a GUID from {type(value).__name__}")


def as_guid(value: object) -> GUID:
    """Accept a GUID, its text, or an interface class (anything with `_iid_`)."""
    if isinstance(value, GUID):
        return value
    iid = getattr(value, "_iid_", None)
    if isinstance(iid, GUID):
        return iid
    return GUID(value)  # type: ignore[arg-type]


GUID_NULL = GUID(0)
