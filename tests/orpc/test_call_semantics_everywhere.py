"""Call objects and cancellation behave the same in one apartment, across apartments and
across processes (issue 15): the client cannot tell where the server lives.

Every test runs in the three settings against the lab server (lab_objects.py), whose
scheduling the test controls, so each interleaving is forced, never waited for by luck.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import lab_objects as lab
import pytest
from orpc_helpers import HERE, child_env, first_line, stop
from stream_handwritten import ICalc, IID_AsyncISimpleStream, ISimpleStream

from idlgen import runtime as _rt
from idlgen.runtime.apartments.apartment import Apartment, process_mta
from idlgen.runtime.apartments.marshal import marshal_interface, unmarshal_interface
from idlgen.runtime.com.stdiface import ICallFactory
from idlgen.runtime.rpc import orpc

WAIT = lab.WAIT
ReadResult = ISimpleStream.ReadResult


@dataclass
class Setting:
    name: str
    stream: Any  # ISimpleStream: the object itself, or a proxy to it
    control: Callable[[int, int], int]

    def ctl(self, op: int, arg: int = 0) -> int:
        return self.control(op, arg)

    def new_call(self) -> Any:
        factory = self.stream.QueryInterface(ICallFactory)
        try:
            return factory.CreateCall(IID_AsyncISimpleStream, None, IID_AsyncISimpleStream)
        finally:
            factory.Release()


@pytest.fixture(autouse=True)
def _bounded_process_mta() -> Iterator[None]:
    mta = process_mta()
    previous = mta.call_timeout
    mta.call_timeout = WAIT
    yield
    mta.call_timeout = previous


@pytest.fixture(params=["one-apartment", "apartments", "processes"])
def setting(request: pytest.FixtureRequest) -> Iterator[Setting]:
    if request.param == "one-apartment":
        lab.LAB.sta = None
        yield Setting(request.param, lab.LabStream(), lab.LAB.command)
        lab.LAB.command(lab.RELEASE)
    elif request.param == "apartments":
        yield from _across_apartments()
    else:
        yield from _across_processes()


def _across_apartments() -> Iterator[Setting]:
    sta = Apartment.sta("lab-server")
    sta.call_timeout = WAIT
    lab.LAB.sta = sta

    def create() -> bytes:
        obj = lab.LabStream()
        objref = marshal_interface(obj, ISimpleStream)
        obj.Release()
        return objref

    stream = unmarshal_interface(sta.run(create, timeout=WAIT))
    try:
        yield Setting("apartments", stream, lab.LAB.command)
    finally:
        lab.LAB.command(lab.RELEASE)
        lab.LAB.gate.set()
        stream.Release()
        sta.shutdown()
        lab.LAB.sta = None


def _across_processes() -> Iterator[Setting]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "lab_server.py"), "ncacn_ip_tcp:127.0.0.1[0]"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        stream_text, control_text = first_line(proc).split()
        stream = orpc.connect(stream_text, ISimpleStream)
        control = orpc.connect(control_text, ICalc)
        yield Setting("processes", stream, control.Add)
        control.Add(lab.RELEASE, 0)
        control.Add(lab.OPEN_GATE, 0)
    finally:
        stop(proc)


def _outcome(fn: Callable[[], Any]) -> Any:
    """What a call gives: its value, or the HRESULT it raised."""
    try:
        return fn()
    except _rt.COMError as exc:
        return exc.hresult


# -- item 1: a cancel that reaches the server before the call is dispatched ---------------------


def test_cancel_before_dispatch_means_the_call_never_runs(setting: Setting) -> None:
    setting.ctl(lab.RESET)
    assert setting.ctl(lab.HOLD) == 1  # the server cannot start the next call yet
    call = setting.new_call()
    call.Begin_Read(3)
    assert call.Cancel(0) == _rt.S_OK  # reaches the server while the request waits
    setting.ctl(lab.RELEASE)
    assert setting.stream.Write(b"x", 1) == 1  # dispatched after the canceled request
    setting.ctl(lab.JOIN)
    assert _outcome(call.Finish_Read) == _rt.RPC_E_CALL_CANCELED
    assert setting.ctl(lab.RUNS) == 0  # the canceled call never ran
    assert setting.ctl(lab.INCOMING) == 0  # and left nothing queued or remembered behind
    call.Begin_Read(2)  # the call object and the server keep working
    assert call.Finish_Read() == ReadResult(b"ab", 2)


def test_cancel_from_another_thread_while_begin_is_sending_reaches_the_server(
    setting: Setting, monkeypatch: pytest.MonkeyPatch
) -> None:
    setting.ctl(lab.RESET)
    assert setting.ctl(lab.HOLD) == 1
    call = setting.new_call()
    start = type(call)._start_
    outcome: list[Any] = []

    def start_hook(self: Any, ticket: int, method: Any, ins: tuple[Any, ...]) -> None:
        # The call is pending but its request not yet sent: another thread cancels now.
        canceler = threading.Thread(target=lambda: outcome.append(_outcome(lambda: call.Cancel(0))))
        canceler.start()
        canceler.join(WAIT)
        start(self, ticket, method, ins)

    monkeypatch.setattr(type(call), "_start_", start_hook)
    call.Begin_Read(3)
    assert outcome == [_rt.S_OK]
    setting.ctl(lab.RELEASE)
    assert setting.stream.Write(b"x", 1) == 1  # dispatched after the canceled request
    setting.ctl(lab.JOIN)
    assert _outcome(call.Finish_Read) == _rt.RPC_E_CALL_CANCELED
    assert setting.ctl(lab.RUNS) == 0  # the cancel reached the server: the call never ran
    assert setting.ctl(lab.INCOMING) == 0


# -- item 2: Cancel, Cancel, Finish_ whenever the server's acknowledgement arrives -----------


@pytest.mark.parametrize("ack", ["after-first-cancel", "inside-first-cancel"])
def test_second_cancel_is_call_canceled_whenever_the_acknowledgement_arrives(
    setting: Setting, ack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    setting.ctl(lab.RESET, lab.GATED | lab.ACKNOWLEDGE)
    call = setting.new_call()
    call.Begin_Read(3)
    assert setting.ctl(lab.WAIT_STARTED) == 1
    acknowledged = threading.Event()
    test_thread = threading.current_thread()
    cls = type(call)
    settle, on_cancel = cls._settle, cls._on_cancel_

    def settle_hook(self: Any, ticket: int, state: int, value: Any, hr: int) -> bool:
        done = settle(self, ticket, state, value, hr)
        if threading.current_thread() is not test_thread and hr == _rt.RPC_E_CALL_CANCELED:
            acknowledged.set()  # the server's acknowledgement reached the call object
        return done

    def cancel_hook(self: Any, ticket: int) -> None:
        on_cancel(self, ticket)
        if ack == "inside-first-cancel":  # the acknowledgement wins the race with Cancel
            setting.ctl(lab.OPEN_GATE)
            assert acknowledged.wait(WAIT)

    monkeypatch.setattr(cls, "_settle", settle_hook)
    monkeypatch.setattr(cls, "_on_cancel_", cancel_hook)
    first = _outcome(lambda: call.Cancel(0))
    if ack == "after-first-cancel":  # the acknowledgement arrives between the two Cancels
        setting.ctl(lab.OPEN_GATE)
        assert acknowledged.wait(WAIT)
    second = _outcome(lambda: call.Cancel(0))
    finish = _outcome(call.Finish_Read)
    assert (first, second, finish) == (
        _rt.S_OK,
        _rt.RPC_E_CALL_CANCELED,
        _rt.RPC_E_CALL_CANCELED,
    )


# -- item 4: Finish_X returns what X returns, whatever the server call object completed with --


def test_finish_returns_what_the_method_returns_when_completed_with_a_plain_tuple(
    setting: Setting,
) -> None:
    setting.ctl(lab.RESET, lab.COMPLETE_WITH_TUPLE)
    call = setting.new_call()
    call.Begin_Read(3)
    result = call.Finish_Read()
    direct = setting.stream.Read(3)
    assert type(result) is ReadResult and type(direct) is ReadResult
    assert result == direct == ReadResult(b"abc", 3)


# -- item 5: Cancel(seconds) gives the call that long to finish, in every setting -----------


def test_cancel_with_seconds_lets_the_call_finish_within_them(setting: Setting) -> None:
    setting.ctl(lab.RESET, lab.GATED)  # a server that finishes anyway
    call = setting.new_call()
    call.Begin_Read(3)
    assert setting.ctl(lab.WAIT_STARTED) == 1
    outcome: list[Any] = []
    canceler = threading.Thread(target=lambda: outcome.append(_outcome(lambda: call.Cancel(60))))
    canceler.start()
    assert setting.ctl(lab.WAIT_CANCEL_REQUESTED) == 1  # the server has the cancel request
    setting.ctl(lab.OPEN_GATE)  # and completes well within the 60 s
    canceler.join(WAIT)
    assert outcome == [_rt.RPC_E_CALL_COMPLETE]
    assert call.Finish_Read() == ReadResult(b"abc", 3)


def test_cancel_with_seconds_abandons_a_call_that_does_not_finish(setting: Setting) -> None:
    setting.ctl(lab.RESET, lab.GATED)
    call = setting.new_call()
    call.Begin_Read(3)
    assert setting.ctl(lab.WAIT_STARTED) == 1
    assert call.Cancel(1) == _rt.S_OK  # the gate stays closed: the second passes
    assert _outcome(call.Finish_Read) == _rt.RPC_E_CALL_CANCELED
    setting.ctl(lab.OPEN_GATE)
