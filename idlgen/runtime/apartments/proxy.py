"""Client side: proxy managers, interface proxies and proxy call objects.

One `ProxyManager` per remote object per apartment (COM's identity rule: unmarshaling the
same object twice gives the same manager, and QueryInterface(IUnknown) on any of its proxies
the same Python object). It owns the IPIDs and the public references obtained from the
object's apartment, sends QueryInterface/AddRef/Release there through IRemUnknown, and gives
back every reference when the last local one is released.

Generated `I<Name>_Proxy` classes derive from `InterfaceProxy` and the interface; each method
is `return self._call_(opnum, (ins...))`. The same encoding serves synchronous calls and
`Begin_X`/`Finish_X` through `ProxyCall`, so both put identical bytes on the channel.
Decisions: a [local] method (no wire marshaler) fails locally with RPC_E_INVALIDMETHOD
without sending anything; a caller's value that cannot be marshaled raises the COMError of
the NdrMarshalError's code; a proxy may be called from any thread, and how the caller
waits follows the calling thread's apartment (an STA pumps, others block).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, TypeVar, cast, overload

from idlgen.runtime import ndr as _ndr
from idlgen.runtime.apartments import apartment as _apartment
from idlgen.runtime.apartments import channel as _channel
from idlgen.runtime.apartments.apartment import Apartment, current_apartment
from idlgen.runtime.apartments.apartment import this_thread as _this_thread
from idlgen.runtime.apartments.channel import (
    DIRECT,
    DISCARD,
    FAULT,
    HEADER,
    cancel_frame,
    forget,
    new_pending,
    request_frame,
    send,
)
from idlgen.runtime.apartments.registry import interface_for, opnums
from idlgen.runtime.apartments.remunknown import (
    REM_ADD_REF,
    REM_QUERY_INTERFACE,
    REM_RELEASE,
    IRemUnknown,
    RemInterfaceRef,
)
from idlgen.runtime.apartments.routes import Read, Route, routes
from idlgen.runtime.com import deadline as _deadline
from idlgen.runtime.com.callobj import COMPLETE, IDLE, CallObject
from idlgen.runtime.com.comobject import ComObject, InnerUnknown
from idlgen.runtime.com.guid import GUID, as_guid
from idlgen.runtime.com.hresult import (
    RPC_E_INVALIDMETHOD,
    S_OK,
    ClassNoAggregationError,
    COMError,
    DisconnectedError,
    InvalidArgError,
    NoInterfaceError,
    RpcTimeoutError,
    error_for,
)
from idlgen.runtime.com.interface import (
    AsyncInterface,
    IID_IUnknown,
    IUnknown,
    Method,
    is_interface,
)
from idlgen.runtime.com.status import _LAST
from idlgen.runtime.com.stdiface import ICallFactory, IID_ICallFactory
from idlgen.runtime.ndr.fastwire import PrimitiveCodec, exact_ints

__all__ = [
    "InterfaceProxy",
    "ProxyCall",
    "ProxyManager",
    "UnknownProxy",
    "proxy_class_for",
    "set_call_timeout",
]

_REM_QI, _REM_ADDREF, _REM_RELEASE = REM_QUERY_INTERFACE, REM_ADD_REF, REM_RELEASE
_REM_QI_METHOD, _REM_ADDREF_METHOD, _REM_RELEASE_METHOD = IRemUnknown._methods_
_REM_RELEASE_OPNUM = 5
# How long an awaited RemRelease may hold up a stub's reply: a peer that does not answer (a
# hung or hostile client, an STA blocked without pumping) delays the reply, never blocks it.
REM_RELEASE_WAIT = 5.0
log = logging.getLogger("idlgen.runtime.apartments.proxy")
_NOTHING = object()  # no riid asked for yet
_UNSET = _deadline.UNSET
_requested_timeout = _deadline.requested_timeout
_NO_SCOPE: dict[str, Any] = {}  # what a precompiled codec decodes with (it reads no scope)

_I = TypeVar("_I", bound=IUnknown)
_A = TypeVar("_A", bound=AsyncInterface)


class InterfaceProxy(IUnknown):
    """Base of generated `I<Name>_Proxy` classes: one interface of one remote object."""

    __slots__ = ("_ipid", "_mgr", "_routes")
    _iface_: ClassVar[type[IUnknown]] = IUnknown

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in cls.__mro__[1:]:
            if is_interface(base):
                cls._iface_ = base  # the interface this proxy class speaks
                break
        _inherit_written_proxies(cls)

    def __init__(self, mgr: ProxyManager, ipid: bytes) -> None:
        self._mgr = mgr
        self._ipid = ipid
        # `routes(_iface_)`, kept at the first call: an instance's slot, which CPython
        # 3.11 reads specialized (a class attribute read through an instance with
        # `__slots__` is looked up in full every time)
        self._routes: tuple[Route, ...] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} oid=0x{self._mgr.oid:x} in {self._mgr.apartment.name}>"

    # -- IUnknown: the proxy manager answers for all of the object's proxies ----------------

    @overload
    def QueryInterface(self, riid: type[_I]) -> _I: ...
    @overload
    def QueryInterface(self, riid: GUID | str) -> Any: ...
    def QueryInterface(self, riid: Any) -> Any:
        return self._mgr.query(riid)

    def AddRef(self) -> int:
        return self._mgr.addref()

    def Release(self) -> int:
        return self._mgr.release()

    # -- what generated proxy methods call -------------------------------------------------

    def _call_(self, opnum: int, ins: tuple[Any, ...]) -> Any:
        mgr = self._mgr
        table = self._routes
        if table is None:
            table = self._routes = routes(self._iface_)
        route = table[opnum]
        if route.wire is None:
            _LAST.set(RPC_E_INVALIDMETHOD)
            message = f"{route.method.name} is not remotable ([local])"
            raise error_for(RPC_E_INVALIDMETHOD, message)
        lane = mgr.lanes.get(self._ipid) if mgr.lanes else None
        body: bytes | None = None  # None: exact ints, which the lane packs with its header
        args = _NO_SCOPE  # a precompiled codec decodes without the [in] values
        if lane is None or route.ints is None or not exact_ints(ins):
            body, args = mgr.request_body(route, ins)
        # The lean path (orpc.fastcall), if the IPID has a lane and the caller need not pump
        # (an STA does): the reply's NDR data or a failure HRESULT; None when the general
        # path must take the call after all.
        lean: tuple[Any, int] | bytes | memoryview | int | None = None
        if lane is not None and not (mgr.released or _channel._taps):
            # `current_apartment()` and `mgr._timeout(caller)` without a call each: the
            # caller's apartment (see apartment.this_thread), then the timeout per
            # call, else per proxy, else the apartment's, else the default (read each call:
            # any of them may change between calls)
            caller = _this_thread.apartment or _apartment.unentered or current_apartment()
            if caller.kind != "sta":
                timeout: Any = _requested_timeout()  # UNSET by identity: no isinstance call
                if timeout is _UNSET:
                    timeout = mgr.call_timeout
                    if timeout is _UNSET:
                        timeout = caller.call_timeout
                        if timeout is None:
                            timeout = _deadline.DEFAULT_CALL_TIMEOUT
                try:
                    lean = lane.call(route, ins, body, timeout)
                except RpcTimeoutError:
                    _LAST.set(RpcTimeoutError.hresult)
                    raise
                if lean is None:
                    mgr.not_taken(self._ipid, lane)
        if type(lean) is tuple:  # the common reply, decoded in place (`Lane.call`)
            value, hr = lean
        elif lean is None:
            if mgr.released:  # `mgr.roundtrip`, inline: one call less per call
                raise DisconnectedError(message="the proxy was released")
            if body is None:  # exact ints the lane did not take (or out of range)
                body, args = mgr.request_body(route, ins)
            frame = mgr._send_and_wait(self._ipid, opnum, body)
            value, hr = mgr.read_reply(route, frame, args)
            if mgr.remote:
                mgr.learn_lane(self._ipid)
        elif (read := route.read) is not None and type(lean) is not int:  # `decode_reply`
            try:  # (inline; a local `read`: CPython 3.11 does not specialize a method-style
                # call of an attribute that holds a function, and looks it up in full)
                value, hr = read(lean)
            except _ndr.NdrFault as fault:
                value, hr = None, fault.hresult
        else:
            data = cast("bytes | memoryview | int", lean)  # (not a tuple: taken above)
            value, hr = mgr.decode_reply(route.method, route.wire, data, args, route.read)
        # Set only when it changes: a ContextVar.set makes a new context mapping and a
        # Token each time, about three times a get; most calls leave S_OK as they found it.
        if _LAST.get() != hr:
            _LAST.set(hr)
        if hr & 0x80000000:
            raise error_for(hr)
        return value


def _inherit_written_proxies(cls: type[InterfaceProxy]) -> None:
    """Give `cls` the proxy methods of an ancestor interface whose proxy it does not derive
    from. Generated proxies derive from their parent's generated proxy, but an interface
    the runtime declares (IClassFactory, whose CreateInstance/LockServer travel as their
    [call_as] partners, classfactory.py) has a hand-written one that generated code does
    not name: IClassFactory2's proxy would otherwise lack the inherited methods. Opnums
    and wire forms need nothing: the wire table already includes the ancestor's."""
    for ancestor in cls._iface_.__mro__[1:]:
        theirs = ancestor.__dict__.get("_proxy_") if is_interface(ancestor) else None
        if theirs is None or issubclass(cls, theirs):
            continue
        for method in ancestor.__dict__.get("_methods_", ()):
            written = theirs.__dict__.get(method.name)
            owner = next((k for k in cls.__mro__ if method.name in k.__dict__), None)
            if written is not None and (owner is None or not issubclass(owner, InterfaceProxy)):
                setattr(cls, method.name, written)


class UnknownProxy(InterfaceProxy):
    """The manager's IUnknown: the object's identity on the client side."""

    __slots__ = ()


def proxy_class_for(iface: type[IUnknown]) -> type[InterfaceProxy]:
    """The generated proxy class of an interface (`Iface._proxy_`), strictly its own."""
    if iface is IUnknown:
        return UnknownProxy
    cls = iface.__dict__.get("_proxy_")
    if cls is None:
        raise NoInterfaceError(message=f"{iface.__name__} has no proxy (local or not generated)")
    return cls  # type: ignore[no-any-return]


class ProxyManager:
    """Everything one apartment knows about one remote object."""

    def __init__(
        self,
        apartment: Apartment,
        home: Apartment,
        oxid: int,
        oid: int,
        rem_ipid: bytes,
        marshaler: Any,
        table: ImportTable,
    ) -> None:
        self.apartment = apartment  # where the proxies live
        self.home = home  # where the object lives (a Port)
        self.oxid = oxid
        self.oid = oid
        self.rem_ipid = rem_ipid
        self.marshaler = marshaler
        self._table = table
        self._lock = threading.Lock()
        # The lock of its call objects' state (`CallObject._lock`), one for them all: no
        # lock made and freed per call object. A leaf: nothing is taken while it is held
        # (a call object's lock guards its own fields only, and `SignalState` claims a
        # manual-reset source's waiters after letting go of it), so objects sharing it
        # cannot deadlock; not `_lock`, which `adopt` holds across `learn_ipid`.
        self.calls_lock = threading.Lock()
        # References held (`refs`): `_own` counted under `_lock`, plus one entry in `holds`
        # per call object alive (see `refs`).
        self._own = 0
        self.holds: list[None] = []
        self.released = False
        self._ipids: dict[GUID, bytes] = {}
        self._public: dict[bytes, int] = {}  # public references held, per IPID
        self._proxies: dict[GUID, InterfaceProxy] = {}
        self._unknown: InterfaceProxy | None = None
        self._factory: ProxyCallFactory | None = None
        self.lanes: dict[bytes, Any] = {}  # IPID -> orpc.fastcall.Lane, once known
        self.remote = hasattr(home, "lane")  # another process: lanes may be offered
        # An apartment of this process only queues what it is sent: nothing on the way
        # waits, so a synchronous call sets no deadline for it.
        self._queues_only = isinstance(home, Apartment)
        self.call_timeout: float | _deadline.Unset | None = _deadline.UNSET  # set_call_timeout

    def __repr__(self) -> str:
        return f"<ProxyManager oxid=0x{self.oxid:x} oid=0x{self.oid:x} refs={self.refs}>"

    # -- references ------------------------------------------------------------------------

    @property
    def refs(self) -> int:
        """References held: the proxies' and the factory's, and one per call object alive.

        A call object takes its hold with one `holds.append` and no lock (`ProxyCall`), so
        that making one takes no lock turn. Every other change, and every decision on the
        count, is made under `_lock`: a hold appended meanwhile cannot make the count
        reach 0 unseen, as its maker holds a reference of its own (CreateCall is called
        on the proxy), so the proxy is not being let go of while a hold is added.
        `_own` is the rest of the count (it may go below 0 when a proxy's release counts
        down past the proxies' own references, the holds making up the difference: only
        the sum means anything). A call object's hold is popped when it goes."""
        return self._own + len(self.holds)

    def addref(self) -> int:
        lock = self._lock
        lock.acquire()  # not `with`, which costs two bound methods a turn in CPython 3.11
        try:
            self._own += 1
            refs = self._own + len(self.holds)
        finally:
            lock.release()
        return refs

    def release(self, wait: bool = False, hold: bool = False) -> int:
        """Release one local reference (`hold`: a call object's, see `refs`); the last one
        gives the public references back with RemRelease: one-way, or (`wait`) as a call
        whose reply is awaited, so that the object's apartment has counted the release
        before this returns."""
        lock = self._lock
        lock.acquire()  # not `with`: see `addref`
        try:  # not the last reference: the table does not change
            refs = self._own + len(self.holds)
            if refs > 1:
                self._let_go_locked(hold)
                return refs - 1
        finally:
            lock.release()
        with self._table.lock, self._lock:  # the table's lock first, as everywhere
            if self._own + len(self.holds) <= 0:
                return 0
            self._let_go_locked(hold)
            refs = self._own + len(self.holds)
            if refs:
                return refs
            self.released = True
            self._table.managers.pop((self.oxid, self.oid), None)
            public, self._public = self._public, {}
        self._rem_release(public, wait)
        return 0

    def _let_go_locked(self, hold: bool) -> None:
        if hold and self.holds:
            self.holds.pop()
        else:
            self._own -= 1

    def _rem_release(self, public: dict[bytes, int], wait: bool = False) -> None:
        """RemRelease of every public reference this manager held."""
        refs = [RemInterfaceRef(GUID.from_bytes_le(ipid), n, 0) for ipid, n in public.items() if n]
        if not refs:
            return
        body = _REM_RELEASE.encode_request({"cInterfaceRefs": len(refs), "InterfaceRefs": refs})
        if wait:
            try:
                self._send_and_wait(
                    self.rem_ipid, _REM_RELEASE_OPNUM, body, REM_RELEASE_WAIT, pump=False
                )
                return
            except COMError:
                log.debug("RemRelease failed (the object's apartment is gone)", exc_info=True)
                return
        call = new_pending()  # an id only: nobody waits for this reply
        forget(call.call_id)
        send(
            self.home, request_frame(call.call_id, _REM_RELEASE_OPNUM, self.rem_ipid, body), DISCARD
        )

    # -- interfaces ------------------------------------------------------------------------

    def adopt(self, ipid: bytes, iid: GUID, public_refs: int) -> InterfaceProxy:
        """Take over an IPID and its public references; returns its proxy, AddRef'd."""
        with self._lock:
            proxy = self._proxies.get(iid)
            if proxy is None:
                proxy = self._new_proxy(iid, ipid)  # may raise: then nothing was counted
                learn = getattr(self.home, "learn_ipid", None)
                if learn is not None:  # a remote home binds per interface (orpc.client)
                    learn(ipid, iid)
            self._own += 1
            self._public[ipid] = self._public.get(ipid, 0) + public_refs
            return proxy

    def _new_proxy(self, iid: GUID, ipid: bytes) -> InterfaceProxy:
        iface = interface_for(iid)
        if iface is None:
            raise NoInterfaceError(message=f"no interface class is loaded for {iid}")
        proxy = proxy_class_for(iface)(self, ipid)
        self._ipids[iid] = ipid
        self._proxies[iid] = proxy
        if iid == IID_IUnknown:
            self._unknown = proxy
        return proxy

    @property
    def unknown(self) -> InterfaceProxy:
        """The identity proxy (QI for IUnknown), made on first use without a round trip."""
        with self._lock:
            if self._unknown is None:
                any_ipid = next(iter(self._ipids.values()), bytes(16))
                self._unknown = UnknownProxy(self, any_ipid)
            return self._unknown

    def query(self, riid: Any) -> Any:
        iid = as_guid(getattr(riid, "_iid_", riid))
        if iid == IID_IUnknown:
            unknown = self.unknown
            self.addref()
            return unknown
        if iid == IID_ICallFactory:
            factory = self._call_factory()
            self.addref()
            return factory
        with self._lock:
            proxy = self._proxies.get(iid)
            if proxy is not None:
                self._own += 1
                return proxy
        return self._remote_query(iid)

    def ipid_for(self, iid: GUID) -> bytes:
        """The IPID of `iid` on this object, asking the object's apartment if needed."""
        with self._lock:
            ipid = self._ipids.get(iid)
        if ipid is None:
            self._remote_query(iid)
            self.release_quietly()
            with self._lock:
                ipid = self._ipids[iid]
        return ipid

    def release_quietly(self) -> None:
        with self._lock:
            self._own -= 1

    def _remote_query(self, iid: GUID) -> InterfaceProxy:
        if self.released:
            raise DisconnectedError(message="the proxy was released")
        iface = interface_for(iid)
        if iface is None:
            raise NoInterfaceError(message=f"no interface class is loaded for {iid}")
        proxy_class_for(iface)  # no proxy class: fail before the server hands out a reference
        some_ipid = next(iter(self._ipids.values()), None)
        if some_ipid is None:
            raise NoInterfaceError()
        args = {"ripid": GUID.from_bytes_le(some_ipid), "cRefs": 1, "cIids": 1, "iids": [iid]}
        reply = self.roundtrip(self.rem_ipid, 3, _REM_QI.encode_request(args))
        value, hr = self.decode(_REM_QI_METHOD, _REM_QI, reply, args)
        if hr & 0x80000000:
            raise error_for(hr)
        result = value[0]
        if result.hResult & 0x80000000:
            raise error_for(result.hResult)
        std = result.std
        return self.adopt(GUID(std.ipid).bytes_le, iid, std.cPublicRefs)

    def _call_factory(self) -> ProxyCallFactory:
        with self._lock:
            # An interface derived from an async one has no partner of its own (DESIGN
            # section 3), but the object behind it implements the ancestor's.
            has_async = any(
                getattr(ancestor, "_async_", None) is not None and ancestor is not IUnknown
                for iface in map(interface_for, self._proxies)
                if iface is not None
                for ancestor in iface.__mro__
            )
            if not has_async:
                raise NoInterfaceError(message="no interface of this proxy has an async partner")
        unknown = self.unknown
        with self._lock:
            if self._factory is None:
                self._factory = ProxyCallFactory(self, unknown)
            return self._factory

    def remarshal_refs(self, iid: GUID) -> tuple[bytes, int]:
        """An IPID and one fresh public reference, to hand this object to a third party."""
        ipid = self.ipid_for(iid)
        ref = RemInterfaceRef(GUID.from_bytes_le(ipid), 1, 0)
        args = {"cInterfaceRefs": 1, "InterfaceRefs": [ref]}
        reply = self.roundtrip(self.rem_ipid, 4, _REM_ADDREF.encode_request(args))
        value, hr = self.decode(_REM_ADDREF_METHOD, _REM_ADDREF, reply, args)
        if hr & 0x80000000:
            raise error_for(hr)
        if value[0] & 0x80000000:
            raise error_for(value[0])
        return ipid, 1

    # -- the wire ---------------------------------------------------------------------------

    def request_body(self, route: Route, ins: tuple[Any, ...]) -> tuple[bytes, dict[str, Any]]:
        """The request's NDR data and the [in] values by name its reply decodes with: the
        precompiled codec's (`route.pack`, which needs no values to decode), else the
        marshaler's (`encode`). Only a lane packs exact ints with its header instead
        (`Route.ints`): without one, they are packed here, as every other value."""
        pack = route.pack
        if pack is not None:
            body = pack(ins)
            if body is not None:
                return body, _NO_SCOPE
        return self.encode(route, ins)

    def encode(self, route: Route, ins: tuple[Any, ...]) -> tuple[bytes, dict[str, Any]]:
        """The request's NDR data through the marshaler, by name, and the [in] values by
        name its reply decodes with (for [in] values `route.pack` did not take)."""
        args = dict(zip(route.method.ins, ins, strict=True))
        try:
            return route.wire.encode_request(args, marshaler=self.marshaler), args
        except _ndr.NdrFault as exc:
            _LAST.set(exc.hresult)
            raise error_for(exc.hresult, exc.message) from exc

    def roundtrip(self, ipid: bytes, opnum: int, body: bytes) -> bytes:
        """Send a request and wait for its reply frame, the caller's apartment's way."""
        if self.released:
            raise DisconnectedError(message="the proxy was released")
        return self._send_and_wait(ipid, opnum, body)

    def learn_lane(self, ipid: bytes) -> None:
        """After a call on the general path: the lean path to `ipid`, if the object's home
        offers one (a remote OXID) and the caller is not an STA (it must pump)."""
        lane_for = getattr(self.home, "lane", None)
        if lane_for is None or ipid in self.lanes or current_apartment().kind == "sta":
            return
        lane = lane_for(ipid)
        if lane is not None:
            self.lanes[ipid] = lane

    def not_taken(self, ipid: bytes, lane: Any) -> None:
        """`lane` did not take a request: forget it if its connection is no longer current
        (else the request was only too large for it)."""
        if not lane.fresh():
            self.lanes.pop(ipid, None)

    def _send_and_wait(
        self, ipid: bytes, opnum: int, body: bytes, cap: float | None = None, pump: bool = True
    ) -> bytes:
        """Send a request and wait for its reply. An STA caller pumps its queue meanwhile
        (COM's reentrancy), except with `pump=False`: a stub's clean-up waits for its
        RemRelease without running other queued work, which would nest under the reply
        the stub still owes and could wait for that very reply."""
        caller = current_apartment()
        pending = new_pending()
        is_sta = pump and caller.kind == "sta"
        timeout = self._timeout(caller)
        if cap is not None:
            timeout = cap if timeout is None else min(timeout, cap)
        frame = request_frame(pending.call_id, opnum, ipid, body)
        try:
            if self._queues_only:
                if _channel._taps:
                    send(self.home, frame, caller if is_sta else DIRECT)
                else:  # `send` with nobody observing, inline: one call less per call
                    self.home.deliver(frame, caller if is_sta else DIRECT)
            else:
                with _deadline.call_deadline(timeout):
                    send(self.home, frame, caller if is_sta else DIRECT)
        except RpcTimeoutError:
            forget(pending.call_id)
            _LAST.set(RpcTimeoutError.hresult)
            raise
        done = caller.pump_until(pending, timeout) if is_sta else pending.wait(timeout)
        if not done:
            forget(pending.call_id)
            send(self.home, cancel_frame(pending.call_id, ipid), caller if is_sta else DIRECT)
            _LAST.set(RpcTimeoutError.hresult)
            raise RpcTimeoutError(message=f"no reply within {timeout} s")
        return pending.reply

    def _timeout(self, caller: Apartment) -> float | None:
        """Per call (`call_timeout`), else per proxy, else the caller's apartment, else the
        default: a synchronous call never waits forever unless someone asked for that."""
        requested = _deadline.requested_timeout()
        if not isinstance(requested, _deadline.Unset):
            return requested
        if not isinstance(self.call_timeout, _deadline.Unset):
            return self.call_timeout
        if caller.call_timeout is not None:
            return caller.call_timeout
        return _deadline.DEFAULT_CALL_TIMEOUT

    def start(self, ipid: bytes, opnum: int, body: bytes, on_reply: Callable[[bytes], None]) -> int:
        """Send a request whose reply runs `on_reply(frame)` on the replying thread."""
        if self.released:
            raise DisconnectedError(message="the proxy was released")
        pending = new_pending(on_reply)
        frame = request_frame(pending.call_id, opnum, ipid, body)
        if _channel._taps:
            send(self.home, frame, DIRECT)
        else:  # `send` with nobody observing, inline: one call less per call
            self.home.deliver(frame, DIRECT)
        return pending.call_id

    def cancel(self, ipid: bytes, call_id: int) -> None:
        send(self.home, cancel_frame(call_id, ipid), DIRECT)

    def read_reply(self, route: Route, frame: bytes, args: dict[str, Any]) -> tuple[Any, int]:
        """`decode`, by the route's `struct` shortcut when it has one and the frame is a
        response (the lean path reads its replies the same way); never raises."""
        read = route.read
        if read is not None and frame[0] != FAULT:
            try:
                return read(memoryview(frame)[HEADER.size :])
            except _ndr.NdrFault as fault:
                return None, fault.hresult
        return self.decode(route.method, route.wire, frame, args)

    def decode(
        self, method: Method, wire: _ndr.MethodMarshaler, frame: bytes, args: dict[str, Any]
    ) -> tuple[Any, int]:
        """A reply frame to (value per the calling convention, HRESULT); never raises."""
        kind, _, status, _ = HEADER.unpack_from(frame)
        if kind == FAULT:
            return None, status
        return self.decode_reply(method, wire, memoryview(frame)[HEADER.size :], args)

    def decode_reply(
        self,
        method: Method,
        wire: _ndr.MethodMarshaler,
        reply: bytes | memoryview | int,
        args: dict[str, Any],
        read: Read | None = None,
    ) -> tuple[Any, int]:
        """NDR reply data (or a failure HRESULT) to (value, HRESULT); never raises. `read`:
        the route's shortcut to the same (value, HRESULT), when it has one."""
        if isinstance(reply, int):
            return None, reply
        try:
            if read is not None:
                return read(reply)
            response = wire.decode_response(reply, scope=args, marshaler=self.marshaler)
        except _ndr.NdrFault as fault:
            return None, fault.hresult
        return _shape(method, response)


def _shape(method: Method, response: _ndr.Response) -> tuple[Any, int]:
    outs = method.outs
    values = response.outs
    if not method.hresult:
        if not outs:
            return response.result, S_OK
        return method.result._make((response.result, *(values[n] for n in outs))), S_OK
    hr = response.result & 0xFFFFFFFF
    if hr & 0x80000000:
        return None, hr
    if not outs:
        return hr, hr
    if len(outs) == 1:
        return values[outs[0]], hr
    items = tuple(values[name] for name in outs)
    return (method.result._make(items) if method.result is not None else items), hr


class ImportTable:
    """An apartment's proxy managers by (OXID, OID): the identity table."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.managers: dict[tuple[int, int], ProxyManager] = {}


# -- asynchronous calls through proxies ----------------------------------------------------


class ProxyCallFactory(ComObject, ICallFactory):
    """ICallFactory on a proxy: call objects whose Begin_ sends and whose reply completes."""

    __slots__ = ("_last", "_made", "_mgr")
    _raw_methods_ = True

    def __init__(self, mgr: ProxyManager, unknown: InterfaceProxy) -> None:
        super().__init__(outer=unknown)  # identity and references are the manager's
        self._mgr = mgr
        # riid as the caller passed it -> (call object class, IPID): what CreateCall found
        # for it once holds for the manager's life (an IID's IPID never changes).
        self._made: dict[Any, tuple[type[ProxyCall], bytes]] = {}
        self._last: tuple[Any, Any] = (_NOTHING, None)  # (riid, what `_made` has for it)

    @overload
    def CreateCall(self, riid: type[_A], pCtrlUnk: None = None, riid2: None = None) -> _A: ...
    @overload
    def CreateCall(
        self, riid: type[AsyncInterface] | GUID | str, pCtrlUnk: object, riid2: type[_I]
    ) -> _I: ...
    @overload
    def CreateCall(
        self,
        riid: type[AsyncInterface] | GUID | str,
        pCtrlUnk: object = None,
        riid2: GUID | str | None = None,
    ) -> Any: ...
    def CreateCall(self, riid: Any, pCtrlUnk: Any = None, riid2: Any = None) -> Any:
        """`riid2` defaults to `riid` (IUnknown when aggregated, as COM requires).

        The call object is made here, its fields set in this frame: a `ProxyCall` has no
        `__init__` (the type call's `__init__` is a call from C, dearer than setting the
        fields here). Keep in step with `CallObject.__init__`'s fields."""
        last = self._last  # most callers ask for one riid again and again: no hash of it
        if last[0] is riid:
            made = last[1]
        else:
            made = self._made.get(riid)
            if made is None:
                made = self._made[riid] = self._find_call_class(riid)
            self._last = (riid, made)
        cls, ipid = made
        if pCtrlUnk is not None:
            if riid2 is not None and as_guid(riid2) != IID_IUnknown:
                raise InvalidArgError(message="an aggregated call object is asked for IUnknown")
            if not cls._aggregatable_:
                raise ClassNoAggregationError()
        mgr = self._mgr
        call = _new_object(cls)
        call._outer = pCtrlUnk
        call._refs = 1
        call._lock = mgr.calls_lock  # shared by the proxy's call objects (see there)
        call._signaled = False
        call._waiters = None
        call._state = IDLE
        call._ticket = 0
        call._cancel_ticket = 0
        call._method = None
        call._ins = ()
        call._value = None
        call._hr = S_OK
        call._mgr = mgr
        call._refs_lock_ = mgr._lock  # see `ProxyCall.Release`
        call._ipid = ipid
        call._sent = (0, 0)  # (ticket, channel call id) of the request on the general path
        # On the lean path: the ticket of the call whose request is on the wire (0: none;
        # cleared by `_lean_done` once it took the reply) and of a request known sent (a
        # cancel from then on sends co_cancel). The rest is set by the first lean Begin_
        # (`_start_`: what decoding the reply takes, the lane; `Lane.begin`: the wire call's
        # fields) and read only while a request is on the wire: not set here, a call
        # object being made per call.
        call._wire_ticket = 0
        call._lean = 0
        mgr.holds.append(None)  # it keeps its proxy alive: no lock (`ProxyManager.refs`)
        if pCtrlUnk is not None:
            return InnerUnknown(call)
        if riid2 is None or riid2 is riid:
            return call  # its class derives from `async_iface`: QueryInterface would succeed
        try:
            return call.QueryInterface(riid2)
        finally:
            call.Release()

    def _find_call_class(self, riid: Any) -> tuple[type[ProxyCall], bytes]:
        async_iface = interface_for(riid)
        sync = getattr(async_iface, "_sync_", None)
        if async_iface is None or sync is None or sync._async_ is not async_iface:
            raise NoInterfaceError(message=f"{as_guid(riid)} is not an async interface")
        ipid = self._mgr.ipid_for(sync._iid_)
        return _proxy_call_class(async_iface), ipid


class ProxyCall(CallObject):
    """A call object whose work happens in the object's apartment (docs/runtime.md hooks).

    On the lean path (orpc.fastcall) the object is its own wire call: the connection keeps
    it in its call table (`call_id`, `settled`, `reply`, `error`, `partial`, `_waiter`,
    `on_done`: the `rpc.dcerpc.client.WireCall` fields) and its reply completes it through
    `on_done` on the reading thread, so Begin_ allocates no second record.
    """

    __slots__ = (
        "_args",
        "_ipid",
        "_lane",
        "_lean",
        "_mgr",
        "_refs_lock_",
        "_route",
        "_sent",
        "_wire_ticket",
        "call_id",
        "error",
        "partial",
        "reply",
        "settled",
    )
    _raw_methods_ = True
    _shaped_: ClassVar[bool] = True  # replies complete with what the method returns (`_shape`)
    # method name -> its route (opnum, marshaler or None for [local]), per call object class
    _routes_: ClassVar[dict[str, Route]] = {}
    _waiter: ClassVar[None] = None  # nobody blocks on the wire call: Finish_ waits on the object
    # set by CreateCall, which makes the object
    _mgr: ProxyManager
    _ipid: bytes
    _sent: tuple[int, int]
    _wire_ticket: int
    _lean: int
    # set before they are read (see CreateCall)
    _route: Route
    _args: dict[str, Any]
    _lane: Any  # orpc.fastcall.Lane
    call_id: int
    settled: bool
    reply: Any
    error: BaseException | None
    partial: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        sync = getattr(cls, "_sync_", None)  # the class derives from an async interface
        if sync is not None:
            table = routes(sync)
            cls._routes_ = {name: table[opnum] for name, opnum in opnums(sync).items()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a proxy call object is made by its proxy's CreateCall")

    def _start_(self, ticket: int, method: Method, ins: tuple[Any, ...]) -> None:
        route = self._routes_[method.name]
        wire, opnum = route.wire, route.opnum
        if wire is None:
            raise error_for(RPC_E_INVALIDMETHOD, f"{method.name} is not remotable ([local])")
        mgr = self._mgr
        # The lean path to the IPID, if any; the lane itself says whether it takes the request
        # (its connection still current, the request one fragment). Not while this object's
        # previous request is still on the wire (its call abandoned by a cancel): the
        # object is that request's record until its reply comes.
        lane = mgr.lanes.get(self._ipid) if mgr.lanes else None
        body: bytes | None = None  # as in `InterfaceProxy._call_`
        args = _NO_SCOPE
        if lane is None or route.ints is None or not exact_ints(ins):
            body, args = mgr.request_body(route, ins)
        if lane is not None and not (mgr.released or _channel._taps or self._wire_ticket):
            # The reply completes the call on the reading thread; what decoding it needs
            # is kept with the request (a precompiled codec needs no [in] values).
            self._route = route
            if body is not None and isinstance(wire, PrimitiveCodec):
                args = _NO_SCOPE  # `mgr.encode`'s, for values `pack` did not take
            self._args = args
            self._lane = lane
            self._wire_ticket = ticket
            try:
                taken = lane.begin(self, route, ins, body)
            except BaseException:
                self._wire_ticket = 0  # not in flight
                raise
            if taken:
                self._lean = ticket  # a cancel from now on sends co_cancel; one before: here
                if self._cancel_ticket == ticket:
                    lane.assoc.cancel(self)
                return
            self._wire_ticket = 0
            mgr.not_taken(self._ipid, lane)
        if body is None:  # as in `InterfaceProxy._call_`
            body, args = mgr.request_body(route, ins)
        on_reply = partial(self._channel_done, ticket, route, args)
        call_id = mgr.start(self._ipid, opnum, body, on_reply)
        if mgr.remote:
            mgr.learn_lane(self._ipid)
        self._sent = (ticket, call_id)
        if self._cancel_ticket == ticket:  # canceled (another thread) while Begin_ was sending:
            mgr.cancel(self._ipid, call_id)  # the request is out now, so is its cancel

    def _channel_done(self, ticket: int, route: Route, args: dict[str, Any], frame: bytes) -> None:
        """The reply frame of call `ticket` (a `partial`, not a closure: no cells per Begin_)."""
        try:
            value, hr = self._mgr.read_reply(route, frame, args)
        except Exception as exc:  # decode never raises; a bug must still complete the call
            self._fail_(ticket, exc)
            return
        # `_complete_`'s work, one call less per reply (RPC_E_CALL_CANCELED after our
        # cancel acknowledges it)
        self._settle(ticket, COMPLETE, value, hr & 0xFFFFFFFF)

    @staticmethod
    def _lean_done(self: ProxyCall) -> None:
        """The lean request settled: `on_done` of the object as its own wire call (a plain
        function: no bound method per reply). Its ticket says whether the object still
        waits for it: `_settle` drops it if not. Everything of the request is read before
        `_wire_ticket` is cleared: from then on Begin_ may use the object again. The reply
        may be a view of the connection's receive buffer, valid only until this returns
        (rpc.dcerpc.client.Association._take_all): it is decoded here, not kept."""
        ticket = self._wire_ticket
        route = self._route
        try:
            # the common reply, its ORPCTHAT and fields in one unpack (`Route.read_stub`);
            # else the two steps: ORPCTHAT off (`lane_reply`), then `decode_reply`
            read = route.read_stub
            got = read(self.reply) if read is not None and self.error is None else None
            if got is None:
                data = self._lane.reply(self)
                value, hr = self._mgr.decode_reply(
                    route.method, route.wire, data, self._args, route.read
                )
                got = value, hr & 0xFFFFFFFF  # as in `_channel_done` (`read_stub`'s is)
            self.reply = None
            self._wire_ticket = 0
            value, hr = got
        except Exception as exc:  # decode never raises; a bug must still complete the call
            self.reply = None
            self._wire_ticket = 0
            self._fail_(ticket, exc)
            return
        self._settle(ticket, COMPLETE, value, hr)

    on_done = _lean_done  # the wire call's completion (`rpc.dcerpc.client.WireCall`)

    def _on_cancel_(self, ticket: int) -> None:
        if self._lean == ticket:
            self._lane.assoc.cancel(self)  # a lean call: co_cancel on its connection
            return
        sent_ticket, call_id = self._sent
        if sent_ticket == ticket:  # else Begin_ is still sending: it cancels
            self._mgr.cancel(self._ipid, call_id)

    def _on_abandon_(self, ticket: int) -> None:
        sent_ticket, call_id = self._sent
        if sent_ticket == ticket:
            forget(call_id)  # a lean call's late completion carries a stale ticket: dropped

    # A call object's references are counted under its proxy manager's lock (not
    # ComObject's process-wide one: `_refs_lock_`, set in `__init__`), so that the last
    # Release of an idle object lets go of its hold on the proxy in the same lock turn:
    # most call objects end that way, right after Finish_.

    def Release(self, inner: bool = False) -> int:
        """ComObject's Release and `_nd_release` in one call (one Python call less per
        call object): an aggregated object's Release goes to its controlling unknown; the
        non-delegating one (`inner`: the inner unknown's) counts here."""
        if self._outer is not None and not inner:
            return int(self._outer.Release())
        mgr = self._mgr
        lock = mgr._lock
        lock.acquire()  # not `with`: see `CallObject._begin_`
        try:
            refs = self._refs
            if refs <= 0:
                return 0
            refs = self._refs = refs - 1
            # Idle stays idle without references (see `CallObject._final_release_`): nothing
            # to abandon, only the proxy to let go of, unless this is its last reference
            # (`mgr.release` then gives the object's references back).
            done = not refs and self._state == IDLE and mgr._own + len(mgr.holds) > 1
            if done:
                mgr.holds.pop()  # `mgr.release(hold=True)`, not the last reference
        finally:
            lock.release()
        if not refs and not done:
            self._final_release_()
        return refs

    def _nd_release(self) -> int:
        return self.Release(True)

    def _final_release_(self) -> None:
        """The last reference went from a call still pending or unfinished, or held the
        proxy's last reference: abandon the call, let go of the proxy."""
        if self._state != IDLE:
            CallObject._final_release_(self)
        self._mgr.release(hold=True)


# makes a call object without calling its class's `__init__` (CreateCall sets its fields)
_new_object: Callable[[type[ProxyCall]], ProxyCall] = object.__new__
_call_classes: dict[type, type[ProxyCall]] = {}
_call_classes_lock = threading.Lock()


def _proxy_call_class(async_iface: type) -> type[ProxyCall]:
    cls = _call_classes.get(async_iface)  # made once per interface: no lock per call object
    if cls is not None:
        return cls
    with _call_classes_lock:
        cls = _call_classes.get(async_iface)
        if cls is None:
            namespace = {"__slots__": (), "_raw_methods_": True, "__module__": __name__}
            cls = type(async_iface.__name__ + "ProxyCall", (ProxyCall, async_iface), namespace)
            _call_classes[async_iface] = cls
        return cls


def set_call_timeout(proxy: Any, seconds: float | None) -> None:
    """Bound the synchronous calls made through `proxy` (and every proxy of the same
    object in this apartment) to `seconds`; None: no bound."""
    mgr = getattr(proxy, "_mgr", None)
    if mgr is None:
        raise TypeError(f"{proxy!r} is not a proxy")
    mgr.call_timeout = seconds
