"""The DCE/RPC half of the server's lean path: a whole request in one fragment, no copies.

Most calls are one request fragment and one response fragment on a context the client
bound long ago. For those, building a `Request` dataclass, a `Reassembly`, booking and
unbooking buffer space and encoding a `Response` dataclass cost more than the call. The
reactor offers such a fragment (PFC_FIRST_FRAG|PFC_LAST_FRAG with an object UUID, no auth
verifier) to `offer` first; it takes the fragment only when every rule the general path
applies would let it through unchanged:

- the connection is bound, has no security (authenticated calls take the general path,
  which verifies and signs), and the context is one the object handler serves;
- the call id is not in use, not being discarded, and the connection is below its
  outstanding-call limit, both buffer limits and (for a call handed to a thread) its
  running-call share;
- the object handler (`fast_call`) recognises the target and the method.

Anything else (fragments, alter_context, co_cancel, faults, an unknown IPID, a method without
a precompiled codec, bad data) returns 0 and the reactor decodes the PDU as before, so
every fault and every limit is the general path's own. A call taken here is registered in
the connection's call table like any other (co_cancel and orphaned find it) and holds one
of the connection's running turns until it ends (`release`): its own, or its batch's on
the reactor thread (`join`, `end_batch`), which counts with the others but is taken and
given back without the connection's lock.

The like requests that follow one taken here in the same read (a burst: the same PDU but
for the call id) may be taken with it as a run (`run_room`, `join_run`): the checks above
that read only what they share hold for each as for the first, so only the call id is
looked up per request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from idlgen.runtime.rpc.dcerpc import pdu as P

if TYPE_CHECKING:
    from idlgen.runtime.rpc.dcerpc.callstate import CallState
    from idlgen.runtime.rpc.dcerpc.server import _Connection

__all__ = [
    "FAST_FLAGS",
    "admit",
    "end_batch",
    "join",
    "join_run",
    "offer",
    "release",
    "requeue",
    "run_room",
]

# Where an object request's stub data starts: after the common header, alloc_hint,
# p_cont_id, opnum and the object UUID (DCE 12.6.4.9), which the reactor reads.
_STUB_AT = P.REQUEST_HEADER + 16
# PFC flags of a request the lean path takes (PFC_CONC_MPX aside, which requests may repeat).
FAST_FLAGS = P.PFC_FIRST_FRAG | P.PFC_LAST_FRAG | P.PFC_OBJECT_UUID
_NOT_CONC_MPX = ~P.PFC_CONC_MPX

taken = 0  # requests served by the lean path (tests check it is, or is not, used)


def offer(
    conn: _Connection, buf: bytes | bytearray, pos: int, stop: int, end: int, head: Any
) -> int:
    """On the reactor thread: serve the whole request PDU `buf[pos:stop]` here (and maybe a
    run of like ones after it, up to `end`: `run_room`), or say no (0); else where framing
    goes on. It is `_Connection.fast_request`, which the reactor calls with the fields of
    the request's header that it read (`reactor._PEEK_REQUEST`)."""
    _vers, _minor, _ptype, flags, _drep, _length, _auth, call_id, cont_id, opnum, ipid = head
    handler = conn.fast_handler
    if flags & _NOT_CONC_MPX != FAST_FLAGS or handler is None or not conn.bound:
        return 0
    if conn.auth is not None:  # never set together with `fast_handler`: checked all the same
        return 0
    size = stop - pos - _STUB_AT
    if size < 0:
        return 0
    try:  # a subscript, not `dict.get`: no builtin call per request
        if conn.contexts[cont_id] is not conn.objects_context:
            return 0
    except KeyError:  # a context never bound: the general path faults
        return 0
    if call_id in conn.calls or call_id in conn.partial or call_id in conn.discard:
        return 0  # the general path knows what to answer
    server = conn.server
    lim = server.server_limits
    if (
        size > server.limits.max_request
        or conn.buffered + size > lim.max_buffered_per_connection
        or server.buffered + size > lim.max_buffered_total
    ):
        return 0
    return handler(conn, buf, pos, pos + _STUB_AT, stop, end, call_id, cont_id, opnum, ipid)


def run_room(conn: _Connection) -> int:
    """How many requests may follow one `offer` took (and `join` registered), as a run of
    like requests (the same PDU but for the call id, and what the object handler says may
    differ), with no check of `offer`'s but the call id's (`join_run`): the same flags,
    context and size pass the same checks, and nothing that they read changes while the
    reactor frames the run (only framing adds calls, buffered bytes and calls being
    reassembled). Within the outstanding limit: the call table only shrinks meanwhile
    (other threads take calls out), so all of them fit; none while a call is being
    reassembled or discarded, whose call ids `join_run` does not look up."""
    if conn.partial or conn.discard:
        return 0
    return max(0, conn.server.limits.max_outstanding - len(conn.calls))


def admit(conn: _Connection, state: CallState) -> bool:
    """Register a call to be queued in its apartment in the connection's call table (where
    a cancel, or the connection's end, finds it) and take a running turn for it, within
    the connection's share; False (nothing changed) when the general path must take it:
    at a limit, it faults or queues there. The call id is not checked again: `offer`
    found it free on this thread, the only one that adds calls (see `join`)."""
    server, calls = conn.server, conn.calls
    lock = conn.lock
    lock.acquire()  # not `with`: see `release`
    try:
        if conn.running + len(conn.batches) >= server.server_limits.max_running_per_connection or (
            len(conn.partial) + len(calls) >= server.limits.max_outstanding
        ):
            return False
        calls[state.call_id] = state
        conn.running += 1
        state.running = True
    finally:
        lock.release()
    global taken
    taken += 1
    return True


def join(conn: _Connection, state: CallState, first: bool) -> bool:
    """Register a call of a batch run on the reactor thread (orpc/fastserve.py) in the
    call table, without the connection's lock: only the reactor thread adds calls to it
    (here, in `join_run`, `admit` and `_Connection.request`, all while it frames a read),
    and other threads only take them out, which can only make room; each dict operation
    is atomic under the GIL. (`offer` found the call id free on this thread: nothing could
    take it since.) The batch's `first` call takes one running turn for the whole batch,
    even past the connection's share (it holds no thread of the server's, and runs one
    call after the other), in `conn.batches`, also without the lock; `end_batch` gives it
    back."""
    calls = conn.calls
    if len(conn.partial) + len(calls) >= conn.server.limits.max_outstanding:
        return False
    calls[state.call_id] = state
    if first:
        conn.batches.add(state)
    global taken
    taken += 1
    return True


def join_run(conn: _Connection, states: Sequence[CallState]) -> int:
    """Register the calls of a run (`run_room`) that join a batch as `join` does, in
    order, up to one whose call id is in use (the general path answers that one, as
    `offer` leaves it): how many. The outstanding limit is `run_room`'s."""
    calls = conn.calls
    joined = 0
    for state in states:
        call_id = state.call_id
        if call_id in calls:
            break
        calls[call_id] = state
        joined += 1
    global taken
    taken += joined
    return joined


def end_batch(conn: _Connection, first: CallState) -> None:
    """A batch ended, its replies made: give back its running turn (`join`) without the
    lock, then start a call that waited for a turn, if one does (`_Connection._admit`
    explains why looking after the turn is given back is enough)."""
    conn.batches.discard(first)
    if conn.waiting:
        lock = conn.lock
        lock.acquire()  # not `with`: see `release`
        try:
            job = conn.take_waiting_locked()
        finally:
            lock.release()
        if job is not None:
            job()


def requeue(conn: _Connection, state: CallState, job: Callable[[], None]) -> None:
    """An inline call handed to a thread after all: it gives back the turn it holds, if
    any (a batch's, or its own), and waits for one within the connection's share, like
    every call of the general path."""
    conn.batches.discard(state)
    conn.release_turn(state)
    conn._admit(state, job)


def release(conn: _Connection, state: CallState) -> None:
    """A lean call queued in its apartment ended, its reply sent: give back the running
    turn it holds, if any, to a waiting call, which then starts (`_Connection.release_turn`).

    The connection's lock is taken with acquire/try/finally here and in `admit`, not
    `with`, which in CPython 3.11 looks up `__enter__` and `__exit__` and makes a bound
    method of each: about 1,000 instructions more per turn, 1 % of a lean call."""
    lock = conn.lock
    lock.acquire()
    try:
        if state.running and not conn.waiting:  # `pass_turn_locked`, inline: no one waits
            state.running = False
            conn.running -= 1
            job = None
        else:
            job = conn.pass_turn_locked(state)
    finally:
        lock.release()
    if job is not None:
        job()
