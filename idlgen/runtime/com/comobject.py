"""`ComObject`: IUnknown for Python servers, call objects and sync objects.

Decisions (docs/runtime.md has the long form):
- QueryInterface returns the object itself, not a per-interface view: Python dispatches
  by name, so a view would only add an allocation per QI. COM identity still holds:
  QI(IUnknown) always answers the same object (the controlling unknown when aggregated).
- The interfaces an object answers are the interface classes in its MRO.
- Reference counts are kept for COM's lifecycle rules (final-release hook, call objects
  released without Finish_), not for memory: Python's GC owns memory.
- Aggregation: constructed with `outer=`, an object delegates QI/AddRef/Release to the
  controlling unknown and hands its creator a separate non-delegating `InnerUnknown`.
- Server methods named in an interface's table are wrapped once, at class creation, so
  that they honour the calling convention: success codes go to `last_hresult()`, HRESULT
  returns that are failures raise, tuples become the method's NamedTuple.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, overload

from idlgen.runtime.com.guid import GUID, as_guid
from idlgen.runtime.com.hresult import (
    S_OK,
    ClassNoAggregationError,
    COMError,
    InvalidArgError,
    NoInterfaceError,
    error_for,
)
from idlgen.runtime.com.interface import IID_IUnknown, IUnknown, Method, interfaces_of, is_interface
from idlgen.runtime.com.status import _LAST, WithHResult

__all__ = ["ComObject", "InnerUnknown", "query"]

_REFCOUNT_LOCK = threading.Lock()  # AddRef/Release are rare in Python code: one lock is enough

_I = TypeVar("_I", bound=IUnknown)


class ComObject(IUnknown):
    """Base class of every object the runtime or a server implements."""

    __slots__ = ("_outer", "_refs")

    _aggregatable_: ClassVar[bool] = True
    _raw_methods_: ClassVar[bool] = True  # the runtime's own classes follow the convention
    _iids_: ClassVar[frozenset[GUID]] = frozenset({IID_IUnknown})

    def __init__(self, outer: Any = None) -> None:
        if outer is not None and not type(self)._aggregatable_:
            raise ClassNoAggregationError()
        self._outer = outer
        self._refs = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if is_interface(cls):
            return
        cls._iids_ = frozenset(iface._iid_ for iface in interfaces_of(cls))
        if not cls.__dict__.get("_raw_methods_", False):
            cls._raw_methods_ = False
            _wrap_server_methods(cls)

    # -- creation ------------------------------------------------------------------------

    @classmethod
    def create(cls, outer: Any = None, iid: Any = IID_IUnknown, **kwargs: Any) -> Any:
        """CoCreateInstance-style construction: aggregation rules checked, `iid` returned.

        When aggregated, COM requires the creator to ask for IUnknown and gives it the
        non-delegating inner unknown.
        """
        if outer is not None:
            if not cls._aggregatable_:
                raise ClassNoAggregationError()
            if as_guid(iid) != IID_IUnknown:
                raise InvalidArgError(message="aggregation requires IID_IUnknown")
            return InnerUnknown(cls(outer=outer, **kwargs))
        obj = cls(**kwargs)
        result = obj.QueryInterface(iid)
        obj.Release()
        return result

    # -- IUnknown (delegating) ---------------------------------------------------------

    @overload
    def QueryInterface(self, riid: type[_I]) -> _I: ...
    @overload
    def QueryInterface(self, riid: GUID | str) -> Any: ...
    def QueryInterface(self, riid: Any) -> Any:
        if self._outer is not None:
            return self._outer.QueryInterface(riid)
        return self._nd_query(riid)

    def AddRef(self) -> int:
        if self._outer is not None:
            return int(self._outer.AddRef())
        return self._nd_addref()

    def Release(self) -> int:
        if self._outer is not None:
            return int(self._outer.Release())
        return self._nd_release()

    # -- the non-delegating unknown -----------------------------------------------------

    def _nd_query(self, riid: Any) -> Any:
        iid = as_guid(riid)
        if iid in type(self)._iids_:
            # The reference is the returned interface's, counted where its Release will
            # take it off: an aggregated object's interfaces count on the controlling
            # unknown (COM's aggregation rules). Only the inner IUnknown counts on the
            # object itself (`InnerUnknown`).
            self.AddRef()
            return self
        found = self._query_extra_(iid)
        if found is None:
            raise NoInterfaceError()
        return found

    # The lock that guards `_refs`; a subclass may count under a lock of its own (a proxy's
    # call object: its proxy manager's, apartments/proxy.py).
    _refs_lock_: threading.Lock = _REFCOUNT_LOCK

    def _nd_addref(self) -> int:
        lock = self._refs_lock_
        lock.acquire()  # not `with`, which costs two bound methods a turn in CPython 3.11
        try:
            refs = self._refs = self._refs + 1
        finally:
            lock.release()
        return refs

    def _nd_release(self) -> int:
        lock = self._refs_lock_
        lock.acquire()  # not `with`: see `_nd_addref`
        try:
            refs = self._refs
            if refs <= 0:
                return 0
            refs = self._refs = refs - 1
        finally:
            lock.release()
        if refs == 0:
            self._final_release_()
        return refs

    # -- hooks for subclasses -----------------------------------------------------------

    def _query_extra_(self, iid: GUID) -> Any:
        """Answer IIDs not found in the class (e.g. forward to an aggregated inner unknown)."""
        return None

    def _final_release_(self) -> None:
        """Called once when the reference count reaches zero."""


class InnerUnknown:
    """The non-delegating IUnknown an aggregated object gives to its controlling unknown."""

    __slots__ = ("_obj",)

    def __init__(self, obj: ComObject) -> None:
        self._obj = obj

    @property
    def object(self) -> ComObject:
        return self._obj

    @overload
    def QueryInterface(self, riid: type[_I]) -> _I: ...
    @overload
    def QueryInterface(self, riid: GUID | str) -> Any: ...
    def QueryInterface(self, riid: Any) -> Any:
        iid = as_guid(riid)
        if iid == IID_IUnknown:
            self._obj._nd_addref()
            return self
        return self._obj._nd_query(iid)

    def AddRef(self) -> int:
        return self._obj._nd_addref()

    def Release(self) -> int:
        return self._obj._nd_release()


def query(obj: Any, interface: type[_I]) -> _I:
    """Typed QueryInterface: `query(obj, ISimpleStream)` raises NoInterfaceError or returns it."""
    return obj.QueryInterface(interface._iid_)  # type: ignore[no-any-return]


# -- server method wrapping ------------------------------------------------------------------


def _wrap_server_methods(cls: type) -> None:
    methods: dict[str, Method] = {}
    for iface in reversed(interfaces_of(cls)):
        for method in iface.__dict__.get("_methods_", ()):
            methods[method.name] = method
    for name, method in methods.items():
        fn = cls.__dict__.get(name)
        if callable(fn) and method.hresult and not getattr(fn, "_idlgen_wrapped_", False):
            setattr(cls, name, _wrap(fn, method))


_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect


def is_coroutine_method(fn: object) -> bool:
    """An `async def` server method (checked without importing asyncio or inspect)."""
    code = getattr(fn, "__code__", None)
    return code is not None and bool(code.co_flags & _CO_COROUTINE)


def _wrap(fn: Callable[..., Any], method: Method) -> Callable[..., Any]:
    plain = None
    if is_coroutine_method(fn):
        wrapper = _wrap_coroutine(fn, method)
    elif method.outs:
        wrapper = _wrap_with_outs(fn, method.result)
        if method.result is None:  # the server's lean path may do this work itself
            plain = fn
    else:
        wrapper = _wrap_hresult_only(fn)
    wrapper = functools.wraps(fn)(wrapper)
    wrapper._idlgen_wrapped_ = True  # type: ignore[attr-defined]
    # The function `_wrap_with_outs` calls, for orpc/fastserve.py (`FastMethod.plain`),
    # set after `wraps`, which copies the wrapped function's attributes; None otherwise.
    wrapper._idlgen_plain_ = plain  # type: ignore[attr-defined]
    return wrapper


def _wrap_with_outs(fn: Callable[..., Any], result_type: Any) -> Callable[..., Any]:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            value = fn(self, *args, **kwargs)
        except COMError as exc:
            _LAST.set(exc.hresult)
            raise
        hr = S_OK
        if type(value) is WithHResult:
            hr, value = value.hresult, value.value
            if hr & 0x80000000:
                _LAST.set(hr)
                raise error_for(hr)
        _LAST.set(hr)
        if result_type is not None and type(value) is tuple:
            value = result_type._make(value)
        return value

    return call


def _wrap_hresult_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any, *args: Any, **kwargs: Any) -> int:
        try:
            value = fn(self, *args, **kwargs)
        except COMError as exc:
            _LAST.set(exc.hresult)
            raise
        if type(value) is WithHResult:
            value = value.hresult
        hr = S_OK if value is None else int(value) & 0xFFFFFFFF
        _LAST.set(hr)
        if hr & 0x80000000:
            raise error_for(hr)
        return hr

    return call


def returned_value(method: Method, value: Any) -> tuple[Any, int]:
    """What a server method returned, by the calling convention: (what the caller gets,
    the HRESULT). A failure HRESULT raises. The synchronous wrappers above inline this
    for speed; `async def` methods and their call objects use it."""
    if method.outs:
        hr = S_OK
        if type(value) is WithHResult:
            hr, value = value.hresult & 0xFFFFFFFF, value.value
        if hr & 0x80000000:
            raise error_for(hr)
        if method.result is not None and type(value) is tuple:
            value = method.result._make(value)
        return value, hr
    if type(value) is WithHResult:
        value = value.hresult
    hr = S_OK if value is None else int(value) & 0xFFFFFFFF
    if hr & 0x80000000:
        raise error_for(hr)
    return hr, hr


def _wrap_coroutine(fn: Callable[..., Any], method: Method) -> Callable[..., Any]:
    """A synchronous caller of an `async def` method waits for it on the servant loop;
    call objects find the coroutine function in `_idlgen_coroutine_` and do not wait."""

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        from idlgen.runtime.com.aioservant import run_blocking

        try:
            value, hr = returned_value(method, run_blocking(fn(self, *args, **kwargs)))
        except COMError as exc:
            _LAST.set(exc.hresult)
            raise
        _LAST.set(hr)
        return value

    call._idlgen_coroutine_ = fn  # type: ignore[attr-defined]
    return call
