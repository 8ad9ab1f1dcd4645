"""Call objects: one asynchronous call at a time, Begin_ to Finish_.

`CallObject` is the state machine every call object shares: the server-side call objects
of this package and, later, proxy call objects whose work is done by a channel. Subclasses
supply the work through three hooks:

- `_start_(ticket, method, ins)`: start the call; later call `_complete_(ticket, value, hr)`
  or `_fail_(ticket, exc)` from any thread.
- `_on_cancel_(ticket)`: a cancel request arrived (a proxy would send it on the wire).
- `_on_abandon_(ticket)`: the client released the call object without calling Finish_.

The ticket numbers calls on this object: a completion for an abandoned, canceled or
superseded call carries a stale ticket and is dropped, so the object can be reused at
once. The object is its own ISynchronize (manual reset: Begin_ clears it, completion sets
it), its own ISynchronizeHandle and its own ICancelMethodCalls, which keeps a pending call
in a few hundred bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar

from idlgen.runtime.com.comobject import ComObject
from idlgen.runtime.com.hresult import (
    INFINITE,
    RPC_E_CALL_CANCELED,
    RPC_E_SERVERFAULT,
    S_OK,
    CallCanceledError,
    CallCompleteError,
    CallPendingError,
    ClassNoAggregationError,
    COMError,
    UnexpectedError,
    error_for,
)
from idlgen.runtime.com.interface import Method
from idlgen.runtime.com.status import _LAST, WithHResult
from idlgen.runtime.com.stdiface import (
    ICancelMethodCalls,
    IID_ISynchronize,
    ISynchronize,
    ISynchronizeHandle,
)
from idlgen.runtime.com.waitable import SignalState, Waiter, Wakeup, ms_to_timeout

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["CANCELED", "COMPLETE", "IDLE", "PENDING", "CallObject"]

IDLE, PENDING, COMPLETE, CANCELED = 0, 1, 2, 3  # in this order: settled is `> PENDING`


class CallObject(SignalState, ComObject, ISynchronize, ISynchronizeHandle, ICancelMethodCalls):
    """Base of every call object; combine with a generated `Async<Iface>` class."""

    __slots__ = (
        "_cancel_ticket",
        "_hr",
        "_ins",
        "_lock",
        "_method",
        "_signaled",
        "_state",
        "_ticket",
        "_value",
        "_waiters",
    )
    _raw_methods_ = True
    # Completions carry what the synchronous method returns already (a proxy's replies are
    # shaped as the synchronous proxy shapes them): Finish_ gives them as they are.
    _shaped_: ClassVar[bool] = False
    # A call object is its own ISynchronize, manual reset (Begin_ resets it): a class
    # constant, not a slot each object stores (`SignalState` reads it)
    _manual = True
    # method name -> its Finish_ (`_finish_of`), per call object class of an interface
    _finishes_: ClassVar[dict[str, Callable[[CallObject], Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A call object class of an async interface gets its `Finish_X` methods made
        here (`_finish_of`) in place of the generated ones, which only call `_finish_`:
        one Python call less per Finish_. A `Finish_X` the class or a base of its own
        defines (not an async interface's) is kept."""
        super().__init_subclass__(**kwargs)
        by_name: dict[str, Method] | None = getattr(cls, "_sync_by_name_", None)
        if by_name is None:
            return
        shaped = cls._shaped_
        cls._finishes_ = {name: _finish_of(method, shaped) for name, method in by_name.items()}
        for name, finish in cls._finishes_.items():
            attr = "Finish_" + name
            for klass in cls.__mro__:
                found = klass.__dict__.get(attr)
                if found is not None:
                    if (
                        "_sync_" in klass.__dict__
                        or getattr(found, "__code__", None) is finish.__code__
                    ):
                        setattr(cls, attr, finish)  # the partner's, or one made here
                    break

    def __init__(self, outer: Any = None) -> None:
        if outer is not None and not type(self)._aggregatable_:  # ComObject.__init__, inline:
            raise ClassNoAggregationError()  # a call object is made per call
        self._outer = outer
        self._refs = 1
        self._lock = threading.Lock()
        self._signaled = False
        self._waiters: list[Waiter] | None = None
        self._state = IDLE
        self._ticket = 0
        self._cancel_ticket = 0
        self._method: Method | None = None
        self._ins: tuple[Any, ...] = ()
        self._value: Any = None
        self._hr = S_OK

    # -- hooks ---------------------------------------------------------------------------

    def _start_(self, ticket: int, method: Method, ins: tuple[Any, ...]) -> None:
        raise NotImplementedError("call objects implement _start_")

    def _on_cancel_(self, ticket: int) -> None:
        """A cancel request was made for call `ticket` (nothing to do in-process)."""

    def _on_abandon_(self, ticket: int) -> None:
        """Call `ticket` was released without Finish_; its result will be dropped."""

    # -- Begin_ / Finish_ (what generated Begin_X / Finish_X delegate to) ---------------

    @property
    def begin_inputs(self) -> tuple[Any, ...]:
        """The pending call's Begin_ inputs (size_is/iid_is in Finish_ may refer to them)."""
        return self._ins

    def _begin_(self, name: str, ins: tuple[Any, ...]) -> int:
        method = self._sync_by_name_[name]  # type: ignore[attr-defined]
        # The per-call locks of a call object are taken with acquire/try/finally, not
        # `with`: in CPython 3.11 `with` looks up `__enter__` and `__exit__` and makes a
        # bound method of each, about 1,000 instructions more per turn.
        lock = self._lock
        lock.acquire()
        try:
            if self._state != IDLE:
                raise CallPendingError()
            ticket = self._ticket = self._ticket + 1
            self._state = PENDING
            self._signaled = False
            self._method = method
            self._ins = ins
        finally:
            lock.release()
        try:
            self._start_(ticket, method, ins)
        except BaseException:
            with lock:
                if self._ticket == ticket and self._state == PENDING:
                    self._clear_locked()
            raise
        # Set only when it changes: a ContextVar.set makes a new context mapping and a
        # Token each time, about three times a get; most calls leave S_OK as they found it.
        if _LAST.get() != S_OK:
            _LAST.set(S_OK)
        return S_OK

    def _finish_(self, name: str) -> Any:
        finish = self._finishes_.get(name)
        if finish is None:  # not a method of its interface: no call of it can be pending
            self._take_result(name)  # raises RPC_E_CALL_COMPLETE or E_UNEXPECTED
            raise AssertionError(f"Finish_{name} without a call")
        return finish(self)

    def _take_result(self, name: str) -> tuple[Method, int, Any, int]:
        """Wait until the pending call `name` has settled and take its outcome, leaving the
        object idle. Each look at the state also queues the wait when there is nothing yet:
        one lock turn per look, and a settled call (most calls of a burst) takes one."""
        pending: Method | None = None  # the call found at the first look
        ticket = 0
        lock = self._lock
        while True:
            lock.acquire()
            try:
                state = self._state
                if pending is None:
                    pending = self._method
                    if state == IDLE:
                        raise CallCompleteError()
                    if pending is None or pending.name != name:
                        message = f"Finish_{name} does not match the pending call"
                        raise UnexpectedError(message=message)
                    ticket = self._ticket
                elif state == IDLE or self._ticket != ticket:
                    raise CallCompleteError()  # another thread finished it first
                if state != PENDING:
                    value, hr = self._value, self._hr
                    self._state = IDLE  # `_clear_locked`, inline: once per call object call
                    self._method = None
                    self._ins = ()
                    self._value = None
                    self._hr = S_OK
                    return pending, state, value, hr
                # Still running: `_settle` wakes everyone listed (Signal() while PENDING
                # is ignored, but one that raced with Begin_ may wake us early: look again).
                wakeup = Wakeup()
                if self._waiters is None:
                    self._waiters = [wakeup]
                else:
                    self._waiters.append(wakeup)
            finally:
                lock.release()
            wakeup.block()

    def _sync_method(self, name: str) -> Method:
        return self._sync_by_name_[name]  # type: ignore[attr-defined,no-any-return]

    def _clear_locked(self) -> None:
        self._state = IDLE
        self._method = None
        self._ins = ()
        self._value = None
        self._hr = S_OK

    # -- completion (called by subclasses, any thread) ---------------------------------

    def _complete_(self, ticket: int, value: Any, hr: int = S_OK) -> bool:
        """Record call `ticket`'s result and signal. False if the call is no longer wanted."""
        return self._settle(ticket, COMPLETE, value, hr & 0xFFFFFFFF)

    def _fail_(self, ticket: int, error: BaseException) -> bool:
        """Record call `ticket`'s failure; Finish_ raises it."""
        hr = error.hresult if isinstance(error, COMError) else RPC_E_SERVERFAULT
        return self._settle(ticket, COMPLETE, error, hr)

    def _settle(self, ticket: int, state: int, value: Any, hr: int) -> bool:
        lock = self._lock
        lock.acquire()  # not `with`: see `_begin_`
        try:
            if self._ticket != ticket or self._state != PENDING:
                return False
            if hr == RPC_E_CALL_CANCELED and self._cancel_ticket == ticket:
                state = CANCELED  # the server acknowledged the cancel: the call is canceled
            self._state = state
            self._value = value
            self._hr = hr
            self._signaled = True
            waiters, self._waiters = self._waiters, None
        finally:
            lock.release()
        for waiter in waiters or ():
            waiter.claim(self)
        if self._outer is not None:
            self._notify_outer()
        return True

    def _notify_outer(self) -> None:
        """An aggregating client that implements ISynchronize is signalled too."""
        try:
            sync = self._outer.QueryInterface(IID_ISynchronize)
        except COMError:
            return
        if sync is not self:
            sync.Signal()
        sync.Release()

    # -- lifetime --------------------------------------------------------------------------

    def _final_release_(self) -> None:
        """Abandon a call still pending or unfinished. Idle is read without the lock: with
        the last reference gone nobody can call Begin_, the only way out of idle, and a
        completion only settles a pending call, so an idle object stays idle."""
        if self._state == IDLE:
            return
        with self._lock:
            if self._state == IDLE:
                return
            ticket = self._ticket
            self._ticket += 1  # any late completion now carries a stale ticket
            self._clear_locked()
        self._on_abandon_(ticket)

    # -- ISynchronize / ISynchronizeHandle --------------------------------------------

    def Wait(self, dwFlags: int, dwMilliseconds: int) -> int:
        if self._wait(ms_to_timeout(dwMilliseconds)):
            return S_OK
        raise CallPendingError()

    def Signal(self) -> int:
        """Signalled means "results ready": ignored while the call is still running."""
        with self._lock:
            if self._state == PENDING:
                return S_OK
        self._signal()
        return S_OK

    def Reset(self) -> int:
        self._reset()
        return S_OK

    def GetHandle(self) -> Any:
        return self

    # -- ICancelMethodCalls ----------------------------------------------------------------

    def Cancel(self, ulSeconds: int) -> int:
        """Request the cancel, give the call `ulSeconds` to finish, then abandon it.

        The first Cancel of a call owns it: S_OK if the call ends canceled (abandoned here,
        or acknowledged by the server meanwhile), RPC_E_CALL_COMPLETE if it completed first.
        Every later Cancel of the same call is RPC_E_CALL_CANCELED, whatever the server does
        and whenever its acknowledgement arrives.
        """
        ticket = self.request_cancel()
        if ulSeconds:
            self._wait(None if ulSeconds == INFINITE else float(ulSeconds))
        if self._settle(ticket, CANCELED, None, RPC_E_CALL_CANCELED):
            return S_OK
        with self._lock:
            if self._ticket == ticket and self._state == CANCELED:
                return S_OK  # the server acknowledged our cancel within the interval
        raise CallCompleteError()  # completed before the cancel took effect

    def request_cancel(self) -> int:
        """Flag the pending call as canceled and run `_on_cancel_`, without abandoning it.

        Returns the call's ticket. RPC_E_CALL_COMPLETE when nothing is pending or the call
        already completed, RPC_E_CALL_CANCELED when a cancel was already requested. A stub
        uses this on a server call object: the call keeps running until it completes or
        acknowledges the cancel (it fails with RPC_E_CALL_CANCELED), and the client decides
        how long to wait.
        """
        with self._lock:
            if self._state in (IDLE, COMPLETE):
                raise CallCompleteError()
            if self._cancel_ticket == self._ticket:
                raise CallCanceledError()  # a cancel of this call was already requested
            ticket = self._cancel_ticket = self._ticket
        self._on_cancel_(ticket)
        return ticket

    def TestCancel(self) -> int:
        """RPC_E_CALL_CANCELED if canceled, else RPC_S_CALLPENDING; both are failures: raised."""
        if self.is_canceled():
            raise CallCanceledError()
        raise CallPendingError()

    # -- Pythonic conveniences over the same state -----------------------------------------

    def is_canceled(self) -> bool:
        with self._lock:
            return self._ticket != 0 and self._cancel_ticket == self._ticket

    def done(self) -> bool:
        """True when a call has completed (or been canceled) and awaits Finish_."""
        return self._state in (COMPLETE, CANCELED)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the pending call completes; False on time-out."""
        return self._wait(timeout)

    def _pending_name(self) -> str:
        method = self._method
        if method is None:
            raise CallCompleteError()
        return method.name

    def __await__(self) -> Generator[Any, None, Any]:
        """`await call` gives what Finish_X gives; cancelling the task cancels the call."""
        from idlgen.runtime.com.aio import finish_when_done

        return finish_when_done(self).__await__()

    def as_future(self) -> Future[Any]:
        """A concurrent.futures.Future resolved with Finish_X's result (or exception)."""
        from idlgen.runtime.com.futures import future_for

        return future_for(self)


def _finish_of(method: Method, shaped: bool) -> Callable[[CallObject], Any]:
    """`Finish_X` for `method` X of a call object class (`shaped`: its `_shaped_`): what
    every Finish_ does, written once. A settled call (most calls of a burst) is taken in
    one lock turn, without `_take_result`'s call: the same look as its first one."""
    name = method.name

    def finish(self: CallObject) -> Any:
        lock = self._lock
        lock.acquire()  # not `with`: see `CallObject._begin_`
        try:
            state = self._state
            # completed or canceled, a call of X (only `_clear_locked` clears the method,
            # with the state back to idle; Begin_ takes X's from the same table)
            settled = state > PENDING and self._method is method
            if settled:
                value, hr = self._value, self._hr
                self._state = IDLE  # `_clear_locked`, inline
                self._method = None
                self._ins = ()
                self._value = None
                self._hr = S_OK
        finally:
            lock.release()
        if not settled:
            _, state, value, hr = self._take_result(name)
        if state == CANCELED:
            _LAST.set(RPC_E_CALL_CANCELED)
            raise CallCanceledError()
        if isinstance(value, BaseException):
            _LAST.set(hr)
            raise value
        if not shaped:
            value, hr = _as_returned(method, value, hr)
        if _LAST.get() != hr:  # only when it changes: see `_begin_`
            _LAST.set(hr)
        if hr & 0x80000000:
            raise error_for(hr)
        return value

    return finish


def _as_returned(method: Method, value: Any, hr: int) -> tuple[Any, int]:
    """What `X` itself returns for a completion: the same rules as a server method's return
    value (comobject's wrapping), so Finish_X gives exactly what X gives in every setting."""
    if type(value) is WithHResult:
        hr, value = value.hresult, value.value
    if method.hresult and not method.outs:
        code = hr if value is None else int(value) & 0xFFFFFFFF
        return code, code
    if method.result is not None and type(value) is tuple:
        value = method.result._make(value)
    return value, hr
