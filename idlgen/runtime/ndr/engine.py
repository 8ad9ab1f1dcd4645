"""The descriptor-interpreting NDR 2.0 engine (little-endian, 32-bit pointer representation).

Two walkers mirror each other: `_w_*` appends to an `_Encoder`, `_r_*` consumes a `_Decoder`.
Both take `defer`: None when the value is not embedded in a constructed type (its pointees are
written in place), or the list of the enclosing construct's deferred pointees (DCE 14.3.12:
embedded pointers' referents follow the outermost construct, depth first).

Decoding is strict: every count is checked against the remaining buffer before anything is
allocated, correlation attributes (size_is, switch_is...) are checked against the values they
name once the whole message is read, and any inconsistency raises `NdrFault`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from idlgen.runtime.com.hresult import COMError
from idlgen.runtime.ndr.expr import Expr, ExprError, Name, Unary, evaluate
from idlgen.runtime.ndr.fault import (
    RPC_S_INVALID_BOUND,
    RPC_S_INVALID_TAG,
    RPC_X_BAD_STUB_DATA,
    RPC_X_ENUM_VALUE_OUT_OF_RANGE,
    RPC_X_NULL_REF_POINTER,
    NdrFault,
    NdrMarshalError,
    bad_bound,
    bad_stub,
)
from idlgen.runtime.ndr.layout import alignment, arm_alignment, conformant_tail, min_size, resolve
from idlgen.runtime.ndr.types import (
    NO_DEFAULT,
    Arm,
    ConformantArray,
    ConformantVaryingArray,
    EncapsulatedUnion,
    Enum,
    FixedArray,
    Forward,
    Guid,
    InterfacePointer,
    NdrType,
    Pointer,
    Primitive,
    String,
    Struct,
    Tagged,
    Union,
    VaryingArray,
    WireMarshal,
)

_T = TypeVar("_T")

MAX_DEPTH = 128  # nested pointees; deeper graphs are refused rather than exhausting the stack
MAX_EMPTY_ELEMENTS = 4096  # zero-size elements (empty fixed arrays) cost no bytes: cap them
FIRST_REFERENT_ID = 0x00020000  # the value MIDL's stubs start from; any non-zero id is valid
_U32 = struct.Struct("<I")


class InterfaceMarshaler(Protocol):
    """Exports and imports interface pointers (apartments implement it).

    `marshal` returns OBJREF bytes for `obj`; `unmarshal` turns OBJREF bytes into a proxy and
    raises NdrFault (or ValueError) for data it cannot use.
    """

    def marshal(self, obj: Any, iid: Any) -> bytes: ...

    def unmarshal(self, data: bytes, iid: Any) -> Any: ...


# --------------------------------------------------------------------------- encoding


class _Encoder:
    __slots__ = ("buf", "depth", "full", "keep", "marshaler", "next_id")

    def __init__(self, marshaler: InterfaceMarshaler | None) -> None:
        self.buf = bytearray()
        self.next_id = FIRST_REFERENT_ID
        self.full: dict[tuple[int, int], int] = {}
        self.keep: list[Any] = []  # keeps full-pointer objects alive so id() stays unique
        self.marshaler = marshaler
        self.depth = 0

    def align(self, n: int) -> None:
        pad = -len(self.buf) % n
        if pad:
            self.buf += bytes(pad)

    def u32(self, value: int) -> None:
        self.align(4)
        self.buf += _U32.pack(value)

    def new_id(self) -> int:
        ref = self.next_id
        self.next_id += 4
        return ref


class _ObjScope(Mapping[str, Any]):
    """Lets correlation expressions read a dataclass instance's fields by name."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self.obj, key)
        except AttributeError:
            raise KeyError(key) from None

    def __iter__(self) -> Any:
        return iter(getattr(self.obj, "__dataclass_fields__", ()))

    def __len__(self) -> int:
        return len(getattr(self.obj, "__dataclass_fields__", ()))


def _field(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        if name not in value:
            raise NdrMarshalError(f"struct value has no field {name!r}")
        return value[name]
    try:
        return getattr(value, name)
    except AttributeError:
        raise NdrMarshalError(f"struct value has no field {name!r}") from None


def _scope_of(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _ObjScope(value)


def _eval_enc(expr: Expr, scope: Mapping[str, Any]) -> int:
    try:
        return evaluate(expr, scope)
    except ExprError as exc:
        raise NdrMarshalError(f"cannot evaluate correlation expression: {exc}") from None


def _pack_prim(t: Primitive, value: Any) -> bytes:
    if t.kind == "float":
        if not isinstance(value, int | float):
            raise NdrMarshalError(f"{t.name} needs a number, got {type(value).__name__}")
        try:
            return struct.pack("<" + t.fmt, value)
        except (OverflowError, struct.error):
            raise NdrMarshalError(f"{value!r} does not fit a {t.name}") from None
    if not isinstance(value, int):
        raise NdrMarshalError(f"{t.name} needs an int, got {type(value).__name__}")
    if t.kind == "bool":
        value = int(value)
        if value not in (0, 1):
            raise NdrMarshalError(f"boolean must be 0 or 1, got {value}")
    elif not t.lo <= value <= t.hi:
        raise NdrMarshalError(f"{value} is out of range for {t.name}")
    if t.unsigned_view:
        value &= (1 << (8 * t.size)) - 1
    return struct.pack("<" + t.fmt, value)


def _w(t: NdrType, v: Any, e: _Encoder, scope: Mapping[str, Any], defer: list[Any] | None) -> None:
    _WRITERS[type(t)](t, v, e, scope, defer, None)


def _w_prim(t: Primitive, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    data = _pack_prim(t, v)
    e.align(t.size)
    e.buf += data


def _w_enum(t: Enum, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    if isinstance(v, int) and not t.wire.lo <= v <= t.wire.hi:
        raise NdrMarshalError(
            f"{v} is out of range for enum {t.name}", RPC_X_ENUM_VALUE_OUT_OF_RANGE
        )
    _w_prim(t.wire, v, e, scope, defer, hoisted)


def _w_forward(t: Forward, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    target = resolve(t)
    _WRITERS[type(target)](target, v, e, scope, defer, hoisted)


def _flush_enc(defer: list[Any], e: _Encoder) -> None:
    for target, value, scope in defer:
        _w_pointee(target, value, e, scope)


def _w_pointee(t: NdrType, v: Any, e: _Encoder, scope: Mapping[str, Any]) -> None:
    e.depth += 1
    if e.depth > MAX_DEPTH:
        raise NdrMarshalError(f"pointer graph deeper than {MAX_DEPTH}")
    _w(t, v, e, scope, None)
    e.depth -= 1


def _w_struct(t: Struct, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    own = defer is None
    if own:
        defer = []
    tail = conformant_tail(t)
    if tail is not None and hoisted is None:
        hoisted = _tail_conformance(t, v, tail)
        e.u32(hoisted)
    e.align(alignment(t))
    fscope = _scope_of(v)
    last = len(t.fields) - 1
    for i, f in enumerate(t.fields):
        ftype = f.type
        _WRITERS[type(ftype)](
            ftype, _field(v, f.name), e, fscope, defer, hoisted if i == last else None
        )
    if own:
        _flush_enc(defer, e)


def _tail_conformance(t: Struct, v: Any, tail: tuple[tuple[str, ...], NdrType]) -> int:
    path, array = tail
    holder = v
    for name in path[:-1]:
        holder = _field(holder, name)
    return _conformance(resolve(array), _field(holder, path[-1]), _scope_of(holder))


def _conformance(t: NdrType, v: Any, scope: Mapping[str, Any]) -> int:
    """The max count an array or string will carry, from its attributes or its value."""
    if isinstance(t, String):
        if t.size_is is not None:
            count = _eval_enc(t.size_is, scope)
        else:
            count = len(_string_units(t, v)) // t.char.size
    elif isinstance(t, ConformantArray | ConformantVaryingArray):
        if t.size_is is not None:
            count = _eval_enc(t.size_is, scope)
        elif t.max_is is not None:
            count = _eval_enc(t.max_is, scope) + 1
        elif isinstance(t, ConformantVaryingArray):
            first = _eval_enc(t.first_is, scope) if t.first_is is not None else 0
            count = first + _length(v)
        else:
            count = _length(v)
    else:
        raise NdrMarshalError(f"{t!r} is not conformant")
    if not 0 <= count <= 0xFFFFFFFF:
        raise NdrMarshalError(f"conformance {count} out of range", RPC_S_INVALID_BOUND)
    return count


def _length(v: Any) -> int:
    try:
        return len(v)
    except TypeError:
        raise NdrMarshalError(f"array value must be a sequence, got {type(v).__name__}") from None


def _w_elems(elem: NdrType, v: Any, n: int, e: _Encoder, scope: Any, defer: list[Any]) -> None:
    if _length(v) != n:
        raise NdrMarshalError(
            f"array has {_length(v)} elements, the IDL says {n}", RPC_S_INVALID_BOUND
        )
    elem = resolve(elem)
    e.align(alignment(elem))  # MIDL aligns an array even when it is empty
    if isinstance(elem, Primitive) and elem.kind != "float":
        if elem.bytes_like and isinstance(v, bytes | bytearray | memoryview):
            e.buf += v
            return
        for x in v:
            if (not isinstance(x, int) or not elem.lo <= x <= elem.hi) and (
                elem.kind != "bool" or x not in (0, 1)
            ):
                raise NdrMarshalError(f"{x!r} is out of range for {elem.name}")
        if elem.unsigned_view:
            v = [x & 0xFFFFFFFF for x in v]
        e.buf += struct.pack(f"<{n}{elem.fmt}", *v)
        return
    writer = _WRITERS[type(elem)]
    for x in v:
        writer(elem, x, e, scope, defer, None)


def _w_fixed(t: FixedArray, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    own = defer is None
    if own:
        defer = []
    _w_elems(t.elem, v, t.count, e, scope, defer)
    if own:
        _flush_enc(defer, e)


def _w_carray(
    t: ConformantArray, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any
) -> None:
    own = defer is None
    if own:
        defer = []
    if hoisted is None:
        count = _conformance(t, v, scope)
        e.u32(count)
    else:
        count = hoisted
    _w_elems(t.elem, v, count, e, scope, defer)
    if own:
        _flush_enc(defer, e)


def _w_variance(
    first_is: Expr | None, length_is: Expr | None, v: Any, scope: Any
) -> tuple[int, int]:
    first = _eval_enc(first_is, scope) if first_is is not None else 0
    length = _eval_enc(length_is, scope) if length_is is not None else _length(v)
    if first < 0 or length < 0:
        raise NdrMarshalError("negative offset or length", RPC_S_INVALID_BOUND)
    return first, length


def _w_varray(t: VaryingArray, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    first, length = _w_variance(t.first_is, t.length_is, v, scope)
    if first + length > t.count:
        raise NdrMarshalError("varying array slice exceeds its size", RPC_S_INVALID_BOUND)
    own = defer is None
    if own:
        defer = []
    e.u32(first)
    e.u32(length)
    _w_elems(t.elem, v, length, e, scope, defer)
    if own:
        _flush_enc(defer, e)


def _w_cvarray(
    t: ConformantVaryingArray, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any
) -> None:
    first, length = _w_variance(t.first_is, t.length_is, v, scope)
    own = defer is None
    if own:
        defer = []
    if hoisted is None:
        count = _conformance(t, v, scope)
        e.u32(count)
    else:
        count = hoisted
    if first + length > count:
        raise NdrMarshalError("conformant varying slice exceeds its size", RPC_S_INVALID_BOUND)
    e.u32(first)
    e.u32(length)
    _w_elems(t.elem, v, length, e, scope, defer)
    if own:
        _flush_enc(defer, e)


def _string_units(t: String, v: Any) -> bytes:
    """The string's code units including the terminating NUL."""
    if not isinstance(v, str):
        raise NdrMarshalError(f"[string] needs a str, got {type(v).__name__}")
    if "\0" in v:
        raise NdrMarshalError("[string] value contains NUL")
    try:
        if t.char.size == 2:
            return v.encode("utf-16-le", "surrogatepass") + b"\0\0"
        return v.encode(t.encoding) + b"\0"
    except UnicodeError as exc:
        raise NdrMarshalError(f"cannot encode string: {exc}") from None


def _w_string(t: String, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    units = _string_units(t, v)
    actual = len(units) // t.char.size
    if t.fixed is not None:
        limit = t.fixed
    elif hoisted is None:
        limit = _conformance(t, v, scope)
        e.u32(limit)
    else:
        limit = hoisted
    if actual > limit:
        raise NdrMarshalError(
            f"string of {actual} units exceeds its bound {limit}", RPC_S_INVALID_BOUND
        )
    e.u32(0)
    e.u32(actual)
    e.buf += units


def _w_pointer(t: Pointer, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    if v is None:
        if t.kind == "ref":
            raise NdrMarshalError("NULL [ref] pointer", RPC_X_NULL_REF_POINTER)
        e.u32(0)
        return
    if t.kind == "full":
        # keyed on the pointee type too: with pointer levels collapsed in Python, `T** p` and
        # `*p` carry the same object, but in C they are different memory and never alias
        key = (id(t.target), id(v))
        known = e.full.get(key)
        if known is not None:
            e.u32(known)
            return
        ref = e.new_id()
        e.full[key] = ref
        e.keep.append(v)
    else:
        ref = e.new_id()
    e.u32(ref)
    if defer is None:
        _w_pointee(t.target, v, e, scope)
    else:
        defer.append((t.target, v, scope))


def _find_arm(t: Union | EncapsulatedUnion, disc: int) -> Arm | None:
    for arm in t.arms:
        if disc in arm.cases:
            return arm
    if t.default is NO_DEFAULT:
        return None
    return Arm((), t.default)


def _w_arm(
    t: Union | EncapsulatedUnion, disc: int, v: Any, e: _Encoder, scope: Any, defer: list[Any]
) -> None:
    arm = _find_arm(t, disc)
    if arm is None:
        raise NdrMarshalError(f"no union arm for discriminant {disc}", RPC_S_INVALID_TAG)
    e.align(alignment(t))
    e.buf += _pack_prim(t.switch_type, disc)
    if isinstance(t, EncapsulatedUnion):
        e.align(arm_alignment(t))
    if arm.type is not None:
        _WRITERS[type(arm.type)](arm.type, v, e, scope, defer, None)


def _w_union(t: Union, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    if t.switch_is is None:
        raise NdrMarshalError("non-encapsulated union without switch_is")
    own = defer is None
    if own:
        defer = []
    _w_arm(t, _eval_enc(t.switch_is, scope), v, e, scope, defer)
    if own:
        _flush_enc(defer, e)


def _w_eunion(
    t: EncapsulatedUnion, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any
) -> None:
    if isinstance(v, Tagged):
        tag, value = v.tag, v.value
    elif isinstance(v, tuple) and len(v) == 2:
        tag, value = v
    else:
        raise NdrMarshalError(f"union {t.name} needs Tagged(tag, value)")
    own = defer is None
    if own:
        defer = []
    _w_arm(t, tag, value, e, scope, defer)
    if own:
        _flush_enc(defer, e)


def lookup_iid(t: InterfacePointer, scope: Mapping[str, Any]) -> Any:
    """The IID an interface pointer is marshaled as: static, or named by iid_is."""
    if t.iid is not None or t.iid_is is None:
        return t.iid
    expr = t.iid_is
    while isinstance(expr, Unary) and expr.op == "*":
        expr = expr.operand
    if isinstance(expr, Name):
        return scope.get(expr.name)
    return None


class _MipBody:
    """Internal descriptor for the MInterfacePointer pointee of an interface pointer."""

    __slots__ = ("ip",)

    def __init__(self, ip: InterfacePointer) -> None:
        self.ip = ip


def _w_ip(t: InterfacePointer, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    if v is None:
        e.u32(0)
        return
    e.u32(e.new_id())
    if defer is None:
        _w_mip(_MipBody(t), v, e, scope, None, None)
    else:
        defer.append((_MipBody(t), v, scope))


def _w_mip(t: _MipBody, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    if e.marshaler is not None and not isinstance(v, bytes | bytearray):
        data = e.marshaler.marshal(v, lookup_iid(t.ip, scope))
    elif isinstance(v, bytes | bytearray):
        data = bytes(v)
    else:
        raise NdrMarshalError("interface pointer needs an InterfaceMarshaler or OBJREF bytes")
    e.u32(len(data))  # conformance of abData, hoisted
    e.u32(len(data))  # ulCntData
    e.buf += data


def _w_wire(t: WireMarshal, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    try:
        wire_value = t.to_wire(v)
    except (ValueError, TypeError) as exc:
        raise NdrMarshalError(f"{t.name}: {exc}") from None
    _WRITERS[type(t.wire)](t.wire, wire_value, e, scope, defer, hoisted)


def _w_guid(t: Guid, v: Any, e: _Encoder, scope: Any, defer: Any, hoisted: Any) -> None:
    raw = v if isinstance(v, bytes) else getattr(v, "bytes_le", None)
    if not isinstance(raw, bytes) or len(raw) != 16:
        raise NdrMarshalError(f"GUID needs a uuid.UUID or 16 bytes, got {type(v).__name__}")
    e.align(4)
    e.buf += raw


_WRITERS: dict[type, Callable[..., None]] = {
    Primitive: _w_prim,
    Enum: _w_enum,
    Forward: _w_forward,
    Struct: _w_struct,
    Pointer: _w_pointer,
    FixedArray: _w_fixed,
    ConformantArray: _w_carray,
    VaryingArray: _w_varray,
    ConformantVaryingArray: _w_cvarray,
    String: _w_string,
    Union: _w_union,
    EncapsulatedUnion: _w_eunion,
    InterfacePointer: _w_ip,
    _MipBody: _w_mip,
    WireMarshal: _w_wire,
    Guid: _w_guid,
}


# --------------------------------------------------------------------------- decoding


class _Pending:
    """A deferred pointee not decoded yet; containers register where its value goes."""

    __slots__ = ("done", "sinks", "value")

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.sinks: list[Callable[[Any], None]] = []

    def bind(self, target: Any, key: Any) -> None:
        def sink(value: Any) -> None:
            if isinstance(target, dict | list):
                target[key] = value
            else:
                object.__setattr__(target, key, value)

        self.then(sink)

    def then(self, sink: Callable[[Any], None]) -> None:
        if self.done:
            sink(self.value)
        else:
            self.sinks.append(sink)

    def resolve(self, value: Any) -> None:
        self.done, self.value = True, value
        for sink in self.sinks:
            sink(value)
        self.sinks = []


class _Decoder:
    __slots__ = ("checks", "data", "depth", "end", "full", "marshaler", "pos")

    def __init__(
        self, data: bytes | bytearray | memoryview, marshaler: InterfaceMarshaler | None
    ) -> None:
        self.data = bytes(data)
        self.pos = 0
        self.end = len(self.data)
        self.full: dict[int, _Pending] = {}
        self.marshaler = marshaler
        self.depth = 0
        self.checks: list[tuple[Expr, int, Mapping[str, Any], int, str]] = []

    def align(self, n: int) -> None:
        pos = self.pos + (-self.pos % n)
        if pos > self.end:
            raise bad_stub("buffer ends inside alignment padding")
        self.pos = pos

    def take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise bad_stub(f"buffer too short: need {n} bytes, {self.end - self.pos} left")
        start = self.pos
        self.pos += n
        return self.data[start : self.pos]

    def u32(self) -> int:
        self.align(4)
        if self.end - self.pos < 4:
            raise bad_stub("buffer too short for a 32-bit count")
        value: int = _U32.unpack_from(self.data, self.pos)[0]
        self.pos += 4
        return value

    def need(self, count: int, elem: NdrType) -> None:
        """Refuse `count` elements before allocating them if the buffer cannot hold them."""
        size = min_size(elem)
        if count * size > self.end - self.pos or (size == 0 and count > MAX_EMPTY_ELEMENTS):
            raise bad_stub(f"count {count} exceeds what the remaining buffer can hold")

    def check(self, expr: Expr | None, actual: int, scope: Any, hresult: int, what: str) -> None:
        if expr is not None:
            self.checks.append((expr, actual, scope, hresult, what))

    def run_checks(self) -> None:
        for expr, actual, scope, hresult, what in self.checks:
            try:
                expected = evaluate(expr, scope)
            except ExprError as exc:
                raise bad_stub(f"cannot check {what}: {exc}") from None
            if expected != actual:
                raise NdrFault(hresult, f"{what} is {actual} on the wire, {expected} by the IDL")
        self.checks = []


def _r(t: NdrType, d: _Decoder, scope: Any, defer: list[Any] | None) -> Any:
    return _READERS[type(t)](t, d, scope, defer, None)


def _unpack_prim(t: Primitive, d: _Decoder) -> Any:
    d.align(t.size)
    raw = d.take(t.size)
    (value,) = struct.unpack("<" + t.fmt, raw)
    return bool(value) if t.kind == "bool" else value


def _r_prim(t: Primitive, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    return _unpack_prim(t, d)


def _r_enum(t: Enum, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    value = _unpack_prim(t.wire, d)
    if t.factory is not None:
        try:
            return t.factory(value)
        except ValueError:
            return value  # a value the IDL did not name is still a valid C enum value
    return value


def _r_forward(t: Forward, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    target = resolve(t)
    return _READERS[type(target)](target, d, scope, defer, hoisted)


def _flush_dec(defer: list[Any], d: _Decoder) -> None:
    for target, scope, pending in defer:
        pending.resolve(_r_pointee(target, d, scope))


def _r_pointee(t: Any, d: _Decoder, scope: Any) -> Any:
    d.depth += 1
    if d.depth > MAX_DEPTH:
        raise bad_stub(f"pointer graph deeper than {MAX_DEPTH}")
    value = _READERS[type(t)](t, d, scope, None, None)
    d.depth -= 1
    return value


def _bind_all(values: Mapping[str, Any] | list[Any], *targets: Any) -> None:
    items = values.items() if isinstance(values, Mapping) else enumerate(values)
    for key, value in items:
        if isinstance(value, _Pending):
            for target in targets:
                value.bind(target, key)


def _r_struct(t: Struct, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    own = defer is None
    if own:
        defer = []
    if hoisted is None and conformant_tail(t) is not None:
        hoisted = d.u32()
    d.align(alignment(t))
    vals: dict[str, Any] = {}
    last = len(t.fields) - 1
    for i, f in enumerate(t.fields):
        ftype = f.type
        vals[f.name] = _READERS[type(ftype)](ftype, d, vals, defer, hoisted if i == last else None)
    obj: Any = vals
    if t.factory is not None:
        try:
            obj = t.factory(**vals)
        except (TypeError, ValueError) as exc:
            raise bad_stub(f"struct {t.name} rejected its fields: {exc}") from None
    _bind_all(vals, vals) if obj is vals else _bind_all(vals, vals, obj)
    if own:
        _flush_dec(defer, d)
    return obj


def _r_elems(elem: NdrType, d: _Decoder, n: int, scope: Any, defer: list[Any]) -> Any:
    elem = resolve(elem)
    d.align(alignment(elem))
    d.need(n, elem)
    if isinstance(elem, Primitive):
        raw = d.take(n * elem.size)
        if elem.bytes_like:
            return raw
        values = list(struct.unpack(f"<{n}{elem.fmt}", raw))
        return [bool(x) for x in values] if elem.kind == "bool" else values
    reader = _READERS[type(elem)]
    out = [reader(elem, d, scope, defer, None) for _ in range(n)]
    _bind_all(out, out)
    return out


def _with_defer(d: _Decoder, defer: list[Any] | None, body: Callable[[list[Any]], Any]) -> Any:
    if defer is not None:
        return body(defer)
    own: list[Any] = []
    value = body(own)
    _flush_dec(own, d)
    return value.value if isinstance(value, _Pending) else value


def _r_fixed(t: FixedArray, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    return _with_defer(d, defer, lambda dl: _r_elems(t.elem, d, t.count, scope, dl))


def _check_conformance(
    t: ConformantArray | ConformantVaryingArray, count: int, d: _Decoder, scope: Any
) -> None:
    d.check(t.size_is, count, scope, RPC_S_INVALID_BOUND, "size_is")
    if t.max_is is not None:
        d.check(t.max_is, count - 1, scope, RPC_S_INVALID_BOUND, "max_is")


def _r_carray(t: ConformantArray, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    count = d.u32() if hoisted is None else hoisted
    _check_conformance(t, count, d, scope)
    return _with_defer(d, defer, lambda dl: _r_elems(t.elem, d, count, scope, dl))


def _r_variance(
    t: VaryingArray | ConformantVaryingArray, bound: int, d: _Decoder, scope: Any
) -> int:
    first = d.u32()
    length = d.u32()
    if first + length > bound:
        raise bad_bound(f"offset {first} + length {length} exceeds bound {bound}")
    if t.first_is is None and first != 0:
        raise bad_bound(f"offset {first} without first_is")
    d.check(t.first_is, first, scope, RPC_S_INVALID_BOUND, "first_is")
    d.check(t.length_is, length, scope, RPC_S_INVALID_BOUND, "length_is")
    return length


def _r_varray(t: VaryingArray, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    length = _r_variance(t, t.count, d, scope)
    return _with_defer(d, defer, lambda dl: _r_elems(t.elem, d, length, scope, dl))


def _r_cvarray(t: ConformantVaryingArray, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    count = d.u32() if hoisted is None else hoisted
    _check_conformance(t, count, d, scope)
    length = _r_variance(t, count, d, scope)
    return _with_defer(d, defer, lambda dl: _r_elems(t.elem, d, length, scope, dl))


def _r_string(t: String, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    if t.fixed is not None:
        bound = t.fixed
    else:
        bound = d.u32() if hoisted is None else hoisted
        d.check(t.size_is, bound, scope, RPC_S_INVALID_BOUND, "size_is")
    first = d.u32()
    actual = d.u32()
    if first != 0 or actual == 0 or actual > bound:
        raise bad_bound(f"string offset {first}, length {actual}, bound {bound}")
    raw = d.take(actual * t.char.size)
    try:
        text = (
            raw.decode("utf-16-le", "surrogatepass") if t.char.size == 2 else raw.decode(t.encoding)
        )
    except UnicodeDecodeError as exc:
        raise bad_stub(f"undecodable string: {exc}") from None
    if not text.endswith("\0") or "\0" in text[:-1]:
        raise bad_stub("string terminator missing or misplaced")
    return text[:-1]


def _r_pointer(t: Pointer, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    ref = d.u32()
    if ref == 0:
        if t.kind == "ref":
            raise NdrFault(RPC_X_NULL_REF_POINTER, "NULL [ref] pointer on the wire")
        return None
    if t.kind == "full":
        known = d.full.get(ref)
        if known is not None:
            if known.done:
                return known.value
            if defer is None:
                raise bad_stub("full pointer cycle through non-embedded pointers")
            return known
    pending = _Pending()
    if t.kind == "full":
        d.full[ref] = pending
    if defer is None:
        value = _r_pointee(t.target, d, scope)
        pending.resolve(value)
        return value
    defer.append((t.target, scope, pending))
    return pending


def _r_arm(
    t: Union | EncapsulatedUnion, d: _Decoder, scope: Any, defer: list[Any]
) -> tuple[int, Any]:
    d.align(alignment(t))
    disc = _unpack_prim(t.switch_type, d)
    arm = _find_arm(t, int(disc))
    if arm is None:
        raise NdrFault(RPC_S_INVALID_TAG, f"no union arm for discriminant {disc}")
    if isinstance(t, EncapsulatedUnion):
        d.align(arm_alignment(t))
    if arm.type is None:
        return disc, None
    return disc, _READERS[type(arm.type)](arm.type, d, scope, defer, None)


def _r_union(t: Union, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    def body(dl: list[Any]) -> Any:
        disc, value = _r_arm(t, d, scope, dl)
        d.check(t.switch_is, int(disc), scope, RPC_S_INVALID_TAG, "switch_is")
        return value

    return _with_defer(d, defer, body)


def _r_eunion(t: EncapsulatedUnion, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    def body(dl: list[Any]) -> Any:
        disc, value = _r_arm(t, d, scope, dl)
        tagged = Tagged(int(disc), value)
        if isinstance(value, _Pending):
            value.bind(tagged, "value")
        return tagged

    return _with_defer(d, defer, body)


def _r_ip(t: InterfacePointer, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    if d.u32() == 0:
        return None
    if defer is None:
        return _r_pointee(_MipBody(t), d, scope)
    pending = _Pending()
    defer.append((_MipBody(t), scope, pending))
    return pending


def _r_mip(t: _MipBody, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    count = d.u32()
    size = d.u32()
    if count != size:
        raise bad_bound(f"MInterfacePointer conformance {count} != ulCntData {size}")
    data = d.take(size)
    if d.marshaler is None:
        return data
    try:
        return d.marshaler.unmarshal(data, lookup_iid(t.ip, scope))
    except NdrFault:
        raise
    except COMError as exc:  # refused (E_ACCESSDENIED) or gone: that is the fault to report
        raise NdrFault(exc.hresult, f"interface pointer rejected: {exc}") from None
    except (ValueError, LookupError, TypeError) as exc:
        raise bad_stub(f"interface pointer rejected: {exc}") from None


def _r_wire(t: WireMarshal, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    wire_value = _READERS[type(t.wire)](t.wire, d, scope, defer, hoisted)
    if isinstance(wire_value, _Pending):
        converted = _Pending()
        wire_value.then(lambda value: converted.resolve(_from_wire(t, value)))
        return converted
    return _from_wire(t, wire_value)


def _from_wire(t: WireMarshal, value: Any) -> Any:
    try:
        return t.from_wire(value)
    except NdrFault:
        raise
    except (ValueError, TypeError, LookupError) as exc:
        raise bad_stub(f"{t.name}: {exc}") from None


def _r_guid(t: Guid, d: _Decoder, scope: Any, defer: Any, hoisted: Any) -> Any:
    d.align(4)
    return t.factory(d.take(16))


_READERS: dict[type, Callable[..., Any]] = {
    Primitive: _r_prim,
    Enum: _r_enum,
    Forward: _r_forward,
    Struct: _r_struct,
    Pointer: _r_pointer,
    FixedArray: _r_fixed,
    ConformantArray: _r_carray,
    VaryingArray: _r_varray,
    ConformantVaryingArray: _r_cvarray,
    String: _r_string,
    Union: _r_union,
    EncapsulatedUnion: _r_eunion,
    InterfacePointer: _r_ip,
    _MipBody: _r_mip,
    WireMarshal: _r_wire,
    Guid: _r_guid,
}


# --------------------------------------------------------------------------- entry points


def write_top(t: NdrType, value: Any, e: _Encoder, scope: Mapping[str, Any]) -> None:
    """Marshal one top-level construct (a parameter, or a lone value) with its pointees."""
    _w(t, value, e, scope, None)


def read_top(t: NdrType, d: _Decoder, scope: Mapping[str, Any]) -> Any:
    value = _r(t, d, scope, None)
    if isinstance(value, _Pending):
        if not value.done:
            raise bad_stub("unresolved pointer at top level")
        value = value.value
    return value


def guard_encode(run: Callable[[], bytes]) -> bytes:
    """Run an encoding, turning a caller's wrong value shape into NdrMarshalError."""
    try:
        return run()
    except NdrFault:
        raise
    except RecursionError:
        raise NdrMarshalError("value nests too deeply") from None
    except (TypeError, AttributeError, KeyError, IndexError, struct.error, ExprError) as exc:
        raise NdrMarshalError(f"{type(exc).__name__}: {exc}") from None


def guard_decode(run: Callable[[], _T]) -> _T:
    """Run a decoding so that nothing but NdrFault escapes (the stub's trust boundary).

    The catch-all is a last line of defence; its message says 'unexpected' so the fuzz tests can
    tell an engine bug from a clean refusal.
    """
    try:
        return run()
    except NdrFault:
        raise
    except RecursionError:
        raise bad_stub("buffer nests too deeply") from None
    except Exception as exc:
        raise NdrFault(RPC_X_BAD_STUB_DATA, f"unexpected {type(exc).__name__}: {exc}") from None


def encode(
    t: NdrType,
    value: Any,
    scope: Mapping[str, Any] | None = None,
    marshaler: InterfaceMarshaler | None = None,
) -> bytes:
    """Marshal a single top-level value (e.g. one parameter) to NDR bytes."""

    def run() -> bytes:
        e = _Encoder(marshaler)
        write_top(t, value, e, scope or {})
        return bytes(e.buf)

    return guard_encode(run)


def decode(
    t: NdrType,
    data: bytes | bytearray | memoryview,
    scope: Mapping[str, Any] | None = None,
    marshaler: InterfaceMarshaler | None = None,
) -> Any:
    """Unmarshal a single top-level value; the whole buffer must be consumed."""

    def run() -> Any:
        d = _Decoder(data, marshaler)
        value = read_top(t, d, scope or {})
        finish(d)
        return value

    return guard_decode(run)


def finish(d: _Decoder) -> None:
    """End-of-message checks: correlations, then no trailing bytes."""
    d.run_checks()
    if d.pos != d.end:
        raise bad_stub(f"{d.end - d.pos} trailing bytes after the last parameter")


new_encoder = _Encoder
new_decoder = _Decoder
