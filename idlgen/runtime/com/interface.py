"""Interface classes: an IID plus a method table, nothing else.

Generated modules declare interfaces as subclasses of `IUnknown` (or of another
interface) carrying `_iid_` and `_methods_`. This module turns those declarations into
the full vtable (inherited methods first, so a method's index is its opnum) and links a
synchronous interface with its `Async` partner. Interfaces hold no state (`__slots__ = ()`),
so call objects built on them stay small.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from idlgen.runtime.com.guid import GUID

__all__ = ["AsyncInterface", "IID_IUnknown", "IUnknown", "Method", "interfaces_of", "is_interface"]

_I = TypeVar("_I", bound="IUnknown")

IID_IUnknown = GUID("{00000000-0000-0000-C000-000000000046}")


@dataclass(frozen=True, slots=True)
class Method:
    """One vtable entry as the Python mapping sees it (DESIGN 4).

    `ins` are the [in] and [in, out] parameter names (Python arguments, in order); `outs`
    the [out] and [in, out] names (returned, in order). `result` is the NamedTuple class
    for two or more outs. `hresult` is False for the rare method whose C return type is not
    HRESULT: its value is then returned untouched.
    """

    name: str
    ins: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    result: Any = None
    hresult: bool = True


def methods(*entries: Method) -> tuple[Method, ...]:
    """Build a `_methods_` table. A call (not a tuple literal) so type checkers give every
    interface's table the same type and servers may implement several interfaces."""
    return entries


class IUnknown:
    """The root interface. Declares, never implements: `ComObject` implements it."""

    __slots__ = ()

    _iid_: ClassVar[GUID] = IID_IUnknown
    _methods_: ClassVar[tuple[Method, ...]] = methods(
        Method("QueryInterface", ins=("riid",), outs=("ppvObject",)),
        Method("AddRef", hresult=False),
        Method("Release", hresult=False),
    )
    _vtable_: ClassVar[tuple[Method, ...]] = _methods_
    _by_name_: ClassVar[dict[str, Method]] = {m.name: m for m in _methods_}
    _async_: ClassVar[type[AsyncInterface] | None] = None
    # The generated proxy class for this interface (None: [local], not remotable). Read
    # from the class's own __dict__ by the runtime, so it is never inherited by accident.
    _proxy_: ClassVar[type | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if is_interface(cls):
            _declare(cls)

    if TYPE_CHECKING:  # declared for type checkers only, so no stub can shadow ComObject's

        @overload
        def QueryInterface(self, riid: type[_I]) -> _I: ...
        @overload
        def QueryInterface(self, riid: GUID | str) -> Any: ...
        def QueryInterface(self, riid: Any) -> Any: ...

        def AddRef(self) -> int: ...

        def Release(self) -> int: ...


def is_interface(cls: type) -> bool:
    """An interface class is one that declares its own IID."""
    return "_iid_" in cls.__dict__


def _parent_interface(cls: type) -> type[IUnknown] | None:
    for base in cls.__mro__[1:]:
        if is_interface(base):
            return base
    return None


# Every interface class by IID, the latest declaration winning: re-importing or
# regenerating a module (the import hook, tests) makes its new classes the live ones.
declared_interfaces: dict[Any, type[IUnknown]] = {}


def _declare(cls: type[IUnknown]) -> None:
    declared_interfaces[cls.__dict__["_iid_"]] = cls
    parent = _parent_interface(cls)
    inherited = parent._vtable_ if parent is not None else ()
    own = cls.__dict__.get("_methods_", ())
    cls._methods_ = tuple(own)
    cls._vtable_ = tuple(inherited) + tuple(own)
    cls._by_name_ = {m.name: m for m in cls._vtable_}
    if "_async_" not in cls.__dict__:
        cls._async_ = None


def interfaces_of(cls: type) -> tuple[type[IUnknown], ...]:
    """Every interface a class implements, most derived first (MRO order)."""
    return tuple(base for base in cls.__mro__ if is_interface(base))


class AsyncInterface(IUnknown):
    """Base of generated `Async<Iface>` classes.

    A subclass names its synchronous interface in `_sync_`; the Begin_/Finish_ table is
    derived here (widl's rule: ins to Begin_, outs to Finish_) and the synchronous class
    gets `_async_` pointing back, so generated code states the pair once. The methods
    themselves are thin: `Begin_X` calls `self._begin_("X", (ins...))` and `Finish_X`
    calls `self._finish_("X")`; call objects implement those two hooks.
    """

    __slots__ = ()

    _sync_: ClassVar[type[IUnknown]]
    # `_sync_._by_name_`, the synchronous methods by name (what Begin_X looks up): one
    # class attribute read on a call object instead of two (CPython 3.11 specializes
    # neither, an instance with `__slots__` having no dict)
    _sync_by_name_: ClassVar[dict[str, Method]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        sync = cls.__dict__.get("_sync_")
        if sync is not None and is_interface(cls):
            cls._methods_ = _async_methods(sync)
            cls._sync_by_name_ = sync._by_name_
            sync._async_ = cls
        super().__init_subclass__(**kwargs)

    if TYPE_CHECKING:
        # Every Async<Iface> instance a program holds is a call object (CreateCall makes
        # them), so type checkers see the call object's conveniences on the partner too.

        def wait(self, timeout: float | None = None) -> bool: ...
        def done(self) -> bool: ...
        def is_canceled(self) -> bool: ...
        def Cancel(self, ulSeconds: int) -> int: ...
        def __await__(self) -> Generator[Any, None, Any]: ...

    def _begin_(self, name: str, ins: tuple[Any, ...]) -> int:
        from idlgen.runtime.com.hresult import NotImplError

        raise NotImplError()

    def _finish_(self, name: str) -> Any:
        from idlgen.runtime.com.hresult import NotImplError

        raise NotImplError()


def _async_methods(sync: type[IUnknown]) -> tuple[Method, ...]:
    table: list[Method] = []
    for m in sync.__dict__.get("_methods_", ()):
        table.append(Method("Begin_" + m.name, ins=m.ins))
        table.append(Method("Finish_" + m.name, outs=m.outs, result=m.result, hresult=m.hresult))
    return tuple(table)
