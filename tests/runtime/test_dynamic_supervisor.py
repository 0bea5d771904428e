"""DynamicSupervisor: scenarios S17, S29, S30, S36, S43 to S46 of the reference, restart types by
exit reasons, intensity on a manual clock, shutdown specs, and 100,000 children."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from soundforge.runtime.child_spec import (
    BRUTAL_KILL,
    ChildSpec,
    ChildType,
    Restart,
    ShutdownSpec,
)
from soundforge.runtime.clock import ManualClock
from soundforge.runtime.dynamic_supervisor import (
    DynamicSupervisor,
    count_children,
    start_child,
    terminate_child,
    which_children,
)
from soundforge.runtime.errors import InvalidSpec
from soundforge.runtime.exit import (
    KILL,
    KILLED,
    NORMAL,
    SHUTDOWN,
    ExitReason,
    ProcessExit,
    Shutdown,
    is_normal,
)
from soundforge.runtime.gen_server import GenServer, Init, NoReply, cast, get_state, stop
from soundforge.runtime.node import Node
from soundforge.runtime.process import (
    Down,
    Exit,
    Pid,
    current_node,
    current_process,
    exit,
    is_alive,
    monitor,
    receive,
    spawn,
    trap_exit,
)
from soundforge.runtime.results import (
    IGNORE,
    ChildCounts,
    ChildError,
    ChildInfo,
    Error,
    Ok,
    StartResult,
)
from tests.helpers import eventually

# -- test children --------------------------------------------------------------------------


class Boom(Exception):
    pass


async def clock_sleep(seconds: float) -> None:
    """Sleep on the node's clock (a ManualClock only moves when the test advances it)."""
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not fut.done():  # the sleeper may have been killed meanwhile
            fut.set_result(None)

    current_node().clock.call_later(seconds, wake)
    await fut


@dataclass
class How:
    """How a Worker behaves: trap exits, take ``stop_delay`` s in terminate, then exit with."""

    trap: bool = False
    stop_delay: float = 0.0
    exit_with: ExitReason | None = None
    terminated: list[ExitReason] = field(default_factory=list)


class Worker(GenServer[How]):
    """A child that exits as told: cast ``("exit", reason)`` or ``("raise", exception)``."""

    def init(self, how: How | None) -> Init[How]:
        how = how or How()
        if how.trap:
            trap_exit(True)
        return Init(how)

    def handle_cast(self, msg: tuple[str, Any], how: How) -> NoReply[How]:
        match msg:
            case ("exit", reason):
                raise ProcessExit(reason)
            case ("raise", error):
                raise error
        return NoReply(how)

    async def terminate(self, reason: ExitReason, how: How) -> None:
        how.terminated.append(reason)
        if how.stop_delay:
            await clock_sleep(how.stop_delay)
        if how.exit_with is not None:
            raise ProcessExit(how.exit_with)


@dataclass
class Script:
    """What successive calls of :func:`scripted_start` do; the last step repeats forever.

    Steps: "ok", "info" (Ok with info), "ignore", "error", "raise", "exit", "garbage".
    """

    plan: list[str]
    how: How = field(default_factory=How)
    calls: list[tuple[Any, ...]] = field(default_factory=list)


async def scripted_start(*args: Any) -> Any:
    *extra, script = args
    step = script.plan[min(len(script.calls), len(script.plan) - 1)]
    script.calls.append(tuple(extra))
    match step:
        case "ok":
            return await Worker.start_link(script.how)
        case "info":
            result = await Worker.start_link(script.how)
            assert isinstance(result, Ok)
            return Ok(result.value, "info")
        case "ignore":
            return IGNORE
        case "error":
            return Error("start_failed")
        case "raise":
            raise Boom("start raised")
        case "exit":
            raise ProcessExit("start exited")
    return "garbage"


def scripted(
    *plan: str,
    restart: Restart = Restart.PERMANENT,
    shutdown: ShutdownSpec | None = None,
    how: How | None = None,
) -> tuple[ChildSpec, Script]:
    script = Script(list(plan), how or How())
    return ChildSpec(None, scripted_start, (script,), restart=restart, shutdown=shutdown), script


def worker(
    how: How | None = None,
    *,
    restart: Restart = Restart.PERMANENT,
    shutdown: ShutdownSpec | None = None,
) -> ChildSpec:
    return ChildSpec(None, Worker.start_link, (how,), restart=restart, shutdown=shutdown)


# -- helpers --------------------------------------------------------------------------------


async def start_sup(**flags: Any) -> Pid:
    result = await DynamicSupervisor.start_link(**flags)
    assert isinstance(result, Ok), result
    pid: Pid = result.value
    return pid


async def start_ok(sup: Pid, spec: Any) -> Pid:
    result = await start_child(sup, spec)
    assert isinstance(result, Ok), result
    pid: Pid = result.value
    return pid


async def take(match: Callable[[Any], bool], within: float = 2.0) -> Any:
    """The first matching message, waiting in *real* time (works on a manual clock too)."""
    me = current_process()
    assert me is not None
    await eventually(lambda: any(match(m) for m in me.mailbox), within, "a matching message")
    return await receive(match, timeout=0)


def down_of(pid: Pid) -> Callable[[Any], bool]:
    return lambda m: type(m) is Down and m.pid is pid


def exit_of(pid: Pid) -> Callable[[Any], bool]:
    return lambda m: type(m) is Exit and m.pid is pid


def make_exit(pid: Pid, reason: ExitReason) -> None:
    """End a Worker with ``reason``: killed by signal, a raised exception, or a chosen exit."""
    if reason is KILLED:
        exit(pid, KILL)
    elif isinstance(reason, Exception) and not isinstance(reason, ProcessExit):
        cast(pid, ("raise", reason))
    else:
        cast(pid, ("exit", reason))


def running(rows: list[ChildInfo]) -> list[Pid]:
    return [row.pid for row in rows if type(row.pid) is Pid]


async def crash_and_wait(pid: Pid, reason: ExitReason = "boom") -> None:
    """Crash a child and wait for its Down: its EXIT is then in the supervisor's mailbox."""
    ref = monitor(pid)
    make_exit(pid, reason)
    await take(lambda m: type(m) is Down and m.ref is ref)


# -- flags, start_child results -------------------------------------------------------------


async def test_defaults_and_format_status(shell: Pid) -> None:
    sup = await start_sup()
    status = DynamicSupervisor().format_status(await get_state(sup))
    assert status == {
        "children": 0,
        "active": 0,
        "restarting": 0,
        "max_children": None,
        "restarts_used": 0,
        "max_restarts": 3,
        "max_seconds": 5.0,
    }
    await start_ok(sup, worker())
    status = DynamicSupervisor().format_status(await get_state(sup))
    assert (status["children"], status["active"]) == (1, 1)


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"max_restarts": -1}, ("invalid_intensity", -1)),
        ({"max_restarts": 1.5}, ("invalid_intensity", 1.5)),
        ({"max_seconds": 0}, ("invalid_period", 0)),
        ({"max_seconds": -2.0}, ("invalid_period", -2.0)),
        ({"max_children": -1}, ("invalid_max_children", -1)),
        ({"max_children": "10"}, ("invalid_max_children", "10")),
        ({"extra_arguments": ["a"]}, ("invalid_extra_arguments", ["a"])),
    ],
)
async def test_invalid_flags_are_rejected(shell: Pid, flags: dict[str, Any], reason: Any) -> None:
    trap_exit(True)
    result = await DynamicSupervisor.start_link(**flags)
    assert isinstance(result, Error) and isinstance(result.reason, InvalidSpec)
    assert result.reason.reason == ("supervisor_data", reason)
    assert str(result.reason)
    # Elixir's {stop, {supervisor_data, _}}: the linked caller also gets the exit signal.
    message = await receive(lambda m: type(m) is Exit, timeout=1)
    assert message.reason is result.reason


async def test_s43_dynamic_basics(shell: Pid) -> None:
    sup = await start_sup(extra_arguments=("extra",))
    a_spec, a_script = scripted("ok")
    b_spec, _ = scripted("ok")
    a, b = await start_ok(sup, a_spec), await start_ok(sup, b_spec)
    assert a_script.calls == [("extra",)]
    rows = await which_children(sup)
    assert sorted(rows, key=lambda r: r.pid.id) == [
        ChildInfo(None, a, ChildType.WORKER),
        ChildInfo(None, b, ChildType.WORKER),
    ]
    ref = monitor(a)
    assert await terminate_child(sup, a) == Ok()
    assert await receive(lambda m: type(m) is Down, timeout=1) == Down(ref, a, SHUTDOWN)
    assert running(await which_children(sup)) == [b]
    # An id is not a pid: OTP's simple_one_for_one error.
    assert await terminate_child(sup, "a") == Error(ChildError.SIMPLE_ONE_FOR_ONE)  # type: ignore[arg-type]
    # A process that is not a child is not found and left alone.
    stranger = await start_ok_unsupervised()
    assert await terminate_child(sup, stranger) == Error(ChildError.NOT_FOUND)
    assert is_alive(stranger)
    # A child that is gone is not found either (Elixir's answer).
    assert await terminate_child(sup, a) == Error(ChildError.NOT_FOUND)
    assert await count_children(sup) == ChildCounts(specs=1, active=1, supervisors=0, workers=1)


async def start_ok_unsupervised() -> Pid:
    result = await Worker.start(None)
    assert isinstance(result, Ok)
    pid: Pid = result.value
    return pid


async def test_extra_arguments_are_prepended_to_every_start(shell: Pid) -> None:
    sup = await start_sup(extra_arguments=(1, 2))
    spec, script = scripted("ok")
    child = await start_ok(sup, spec)
    await crash_and_wait(child)
    assert await count_children(sup) == ChildCounts(1, 1, 0, 1)
    assert script.calls == [(1, 2), (1, 2)]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("info", "ok-with-info"),
        ("ignore", IGNORE),
        ("error", Error("start_failed")),
        ("raise", "boom"),  # S36: the exception itself is the reason
        ("exit", Error("start exited")),
        ("garbage", Error("garbage")),
    ],
)
async def test_start_child_results(shell: Pid, step: str, expected: Any) -> None:
    sup = await start_sup()
    spec, _ = scripted(step)
    result = await start_child(sup, spec)
    if expected == "ok-with-info":
        assert isinstance(result, Ok) and type(result.pid) is Pid and result.info == "info"
    elif expected == "boom":
        assert isinstance(result, Error) and isinstance(result.reason, Boom)
    else:
        assert result == expected
    added = 1 if isinstance(result, Ok) else 0
    assert await count_children(sup) == ChildCounts(added, added, 0, added)
    assert is_alive(sup)


@pytest.mark.parametrize("restart", list(Restart))
async def test_significant_children_are_rejected(shell: Pid, restart: Restart) -> None:
    sup = await start_sup()
    spec = worker(restart=restart).with_(significant=True)
    assert await start_child(sup, spec) == Error(("invalid_significant", True))
    as_map = {"id": None, "start": Worker.start_link, "restart": restart, "significant": True}
    assert await start_child(sup, as_map) == Error(("invalid_significant", True))
    assert await count_children(sup) == ChildCounts(0, 0, 0, 0)


async def test_invalid_child_spec_is_an_error_result(shell: Pid) -> None:
    sup = await start_sup()
    assert await start_child(sup, worker(shutdown=-1)) == Error(("invalid_shutdown", -1))
    assert await start_child(sup, {"start": Worker.start_link}) == Error("missing_id")


@pytest.mark.parametrize("limit", [0, 1, 3])
async def test_max_children(shell: Pid, limit: int) -> None:
    sup = await start_sup(max_children=limit)
    pids = [await start_ok(sup, worker()) for _ in range(limit)]
    assert await start_child(sup, worker()) == Error(ChildError.MAX_CHILDREN)
    if pids:
        assert await terminate_child(sup, pids[0]) == Ok()
        await start_ok(sup, worker())


# -- restart types by exit reasons -----------------------------------------------------------

REASONS = [NORMAL, SHUTDOWN, Shutdown("x"), KILLED, Boom("crash")]


@pytest.mark.parametrize("restart", list(Restart))
@pytest.mark.parametrize("reason", REASONS, ids=repr)
async def test_restart_types_by_exit_reason(shell: Pid, restart: Restart, reason: Any) -> None:
    sup = await start_sup()
    child = await start_ok(sup, worker(restart=restart))
    ref = monitor(child)
    make_exit(child, reason)
    down = await receive(lambda m: type(m) is Down, timeout=1)
    assert down == Down(ref, child, reason)
    restarted = restart is Restart.PERMANENT or (
        restart is Restart.TRANSIENT and not is_normal(reason)
    )
    rows = await which_children(sup)
    if restarted:
        assert len(rows) == 1 and type(rows[0].pid) is Pid and rows[0].pid is not child
        assert is_alive(rows[0].pid) and rows[0].restarts == 1
    else:
        assert rows == []  # a dynamic child that is not restarted is removed
    assert is_alive(sup)


async def test_exits_that_are_not_restarted_do_not_count(shell: Pid) -> None:
    sup = await start_sup(max_restarts=0)
    for restart in (Restart.TRANSIENT, Restart.TEMPORARY):
        for _ in range(10):
            await crash_and_wait(await start_ok(sup, worker(restart=restart)), NORMAL)
    assert await count_children(sup) == ChildCounts(0, 0, 0, 0)
    assert is_alive(sup)


# -- restarts that fail: S44, S45, S46, S17 -------------------------------------------------


async def test_s44_restarting_children_count_toward_max_children(shell: Pid) -> None:
    sup = await start_sup(max_children=1, max_restarts=1_000_000)
    spec, _ = scripted("ok", "error")
    child = await start_ok(sup, spec)
    await crash_and_wait(child, SHUTDOWN)
    assert await start_child(sup, worker()) == Error(ChildError.MAX_CHILDREN)
    [row] = await which_children(sup)
    assert (row.id, row.pid, row.type) == (None, ChildError.RESTARTING, ChildType.WORKER)
    # A child stuck restarting can be terminated by the pid it died as: Ok, and it is gone.
    assert await terminate_child(sup, child) == Ok()
    assert await count_children(sup) == ChildCounts(0, 0, 0, 0)
    await start_ok(sup, worker())


async def test_s45_restart_returning_ignore_drops_the_child(shell: Pid) -> None:
    sup = await start_sup()
    spec, script = scripted("ok", "ignore")
    keep = await start_ok(sup, worker())
    await crash_and_wait(await start_ok(sup, spec))
    assert await count_children(sup) == ChildCounts(1, 1, 0, 1)
    assert running(await which_children(sup)) == [keep]
    assert len(script.calls) == 2


async def test_s45_restart_returning_error_keeps_the_child_restarting(shell: Pid) -> None:
    sup = await start_sup(max_restarts=1_000_000)
    spec, script = scripted("ok", "error")
    child = await start_ok(sup, spec)
    await crash_and_wait(child)
    # Calls are served between the retries; the child counts in workers, not in active.
    assert await count_children(sup) == ChildCounts(specs=1, active=0, supervisors=0, workers=1)
    rows = await which_children(sup)
    assert [row.pid for row in rows] == [ChildError.RESTARTING]
    calls = len(script.calls)
    await eventually(lambda: len(script.calls) > calls + 2, what="more restart attempts")
    assert await terminate_child(sup, child) == Ok()
    assert await which_children(sup) == []
    assert is_alive(sup)


async def test_s46_restart_fails_once_then_succeeds(shell: Pid) -> None:
    sup = await start_sup(max_restarts=2)
    spec, script = scripted("ok", "error", "ok")
    child = await start_ok(sup, spec)
    await crash_and_wait(child)
    await eventually(lambda: len(script.calls) == 3, what="the retry")
    assert await count_children(sup) == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
    [row] = await which_children(sup)
    assert type(row.pid) is Pid and row.pid is not child and row.restarts == 2
    assert is_alive(sup)


@pytest.mark.parametrize("max_restarts", [0, 3, 10])
async def test_s17_failing_restarts_escalate(shell: Pid, max_restarts: int) -> None:
    trap_exit(True)
    sup = await start_sup(max_restarts=max_restarts)
    sibling_how = How(trap=True)
    sibling = await start_ok(sup, worker(sibling_how))
    sibling_ref = monitor(sibling)
    spec, script = scripted("ok", "error")
    await crash_and_wait(await start_ok(sup, spec))
    assert await take(exit_of(sup)) == Exit(sup, SHUTDOWN)
    assert await take(down_of(sibling)) == Down(sibling_ref, sibling, SHUTDOWN)
    assert sibling_how.terminated == [SHUTDOWN]
    # Every attempt counted: the first start, then max_restarts failed restarts, then give up.
    assert len(script.calls) == 1 + max_restarts


# -- intensity on a manual clock ------------------------------------------------------------


async def test_fourth_crash_within_five_seconds_shuts_down(
    manual_shell: Pid, clock: ManualClock
) -> None:
    trap_exit(True)
    sup = await start_sup()  # Elixir's defaults: 3 restarts in 5 s
    sibling = await start_ok(sup, worker())
    sibling_ref = monitor(sibling)
    child = await start_ok(sup, worker())
    for _ in range(3):
        await crash_and_wait(child)
        [child] = [p for p in running(await which_children(sup)) if p is not sibling]
        await clock.advance(1.0)
    status = DynamicSupervisor().format_status(await get_state(sup))
    assert status["restarts_used"] == 3
    await crash_and_wait(child)  # the 4th, at t = 3 s
    assert await take(exit_of(sup)) == Exit(sup, SHUTDOWN)
    assert await take(down_of(sibling)) == Down(sibling_ref, sibling, SHUTDOWN)


async def test_the_intensity_window_slides(manual_shell: Pid, clock: ManualClock) -> None:
    sup = await start_sup(max_restarts=1, max_seconds=1)
    child = await start_ok(sup, worker())
    for _ in range(4):
        await clock.advance(2.1)
        await crash_and_wait(child)
        [child] = running(await which_children(sup))
    assert is_alive(sup)


async def test_a_burst_within_the_window_after_a_quiet_period(
    manual_shell: Pid, clock: ManualClock
) -> None:
    trap_exit(True)
    sup = await start_sup(max_restarts=2, max_seconds=10)
    child = await start_ok(sup, worker())
    for _ in range(2):
        await crash_and_wait(child)
        [child] = running(await which_children(sup))
    await clock.advance(10.5)  # both restarts leave the window
    for _ in range(2):
        await crash_and_wait(child)
        [child] = running(await which_children(sup))
    await crash_and_wait(child)
    assert await take(exit_of(sup)) == Exit(sup, SHUTDOWN)


# -- shutdown -------------------------------------------------------------------------------


async def test_s29_children_stop_concurrently(manual_shell: Pid, clock: ManualClock) -> None:
    trap_exit(True)
    sup = await start_sup()
    hows = [
        How(trap=True, stop_delay=1.0),
        How(trap=True, stop_delay=1.0),
        How(trap=True, stop_delay=5.0),
    ]
    kids = [await start_ok(sup, worker(how, shutdown=2.0)) for how in hows]
    refs = [monitor(kid) for kid in kids]
    began = clock.time()
    stopping = asyncio.ensure_future(stop(sup, SHUTDOWN))
    await clock.advance(1.0)
    for kid, ref in zip(kids[:2], refs, strict=False):
        assert await take(down_of(kid)) == Down(ref, kid, SHUTDOWN)
    assert is_alive(kids[2]) and not stopping.done()
    await clock.advance(1.0)  # the slow child's 2 s limit
    assert await take(down_of(kids[2])) == Down(refs[2], kids[2], KILLED)
    await asyncio.wait_for(stopping, 2.0)
    took = clock.time() - began
    assert 1.0 <= took < 5.0
    assert [how.terminated for how in hows] == [[SHUTDOWN]] * 3


@pytest.mark.parametrize("chosen", [Shutdown("oops"), NORMAL])
async def test_s30_a_trapping_child_chooses_its_exit_reason(shell: Pid, chosen: Any) -> None:
    trap_exit(True)
    sup = await start_sup()
    kid = await start_ok(sup, worker(How(trap=True, exit_with=chosen)))
    ref = monitor(kid)
    await stop(sup, SHUTDOWN)
    assert await receive(down_of(kid), timeout=1) == Down(ref, kid, chosen)


@pytest.mark.parametrize(
    ("trap", "shutdown", "reason", "terminate_ran"),
    [
        (True, BRUTAL_KILL, KILLED, False),
        (True, 1.0, SHUTDOWN, True),
        (False, 1.0, SHUTDOWN, False),
        (True, float("inf"), SHUTDOWN, True),
    ],
)
async def test_shutdown_specs(
    shell: Pid, trap: bool, shutdown: ShutdownSpec, reason: ExitReason, terminate_ran: bool
) -> None:
    for via_terminate_child in (True, False):
        trap_exit(True)
        sup = await start_sup()
        how = How(trap=trap)
        kid = await start_ok(sup, worker(how, shutdown=shutdown))
        ref = monitor(kid)
        if via_terminate_child:
            assert await terminate_child(sup, kid) == Ok()
        else:
            await stop(sup, SHUTDOWN)
        assert await receive(down_of(kid), timeout=1) == Down(ref, kid, reason)
        assert how.terminated == ([SHUTDOWN] if terminate_ran else [])


async def test_terminate_child_kills_at_the_shutdown_limit(
    manual_shell: Pid, clock: ManualClock
) -> None:
    sup = await start_sup()
    kid = await start_ok(sup, worker(How(trap=True, stop_delay=10.0), shutdown=0.3))
    ref = monitor(kid)
    terminating = asyncio.ensure_future(terminate_child(sup, kid))
    await clock.advance(0.2)
    assert is_alive(kid) and not terminating.done()
    await clock.advance(0.1)
    assert await take(down_of(kid)) == Down(ref, kid, KILLED)
    assert await asyncio.wait_for(terminating, 2.0) == Ok()


async def test_the_parents_exit_stops_every_child(shell: Pid) -> None:
    trap_exit(True)
    sup = await start_sup()
    kids = [await start_ok(sup, worker(How(trap=i % 2 == 0))) for i in range(4)]
    refs = {kid: monitor(kid) for kid in kids}
    exit(sup, SHUTDOWN)
    assert await receive(exit_of(sup), timeout=1) == Exit(sup, SHUTDOWN)
    for kid in kids:
        assert await receive(down_of(kid), timeout=1) == Down(refs[kid], kid, SHUTDOWN)


async def test_a_killed_supervisor_takes_its_children(shell: Pid) -> None:
    trap_exit(True)
    sup = await start_sup()
    kid = await start_ok(sup, worker())
    ref = monitor(kid)
    exit(sup, KILL)
    assert await receive(exit_of(sup), timeout=1) == Exit(sup, KILLED)
    assert await receive(down_of(kid), timeout=1) == Down(ref, kid, KILLED)


async def test_nested_dynamic_supervisor_is_a_supervisor_child(shell: Pid) -> None:
    trap_exit(True)
    sup = await start_sup()
    inner = await start_ok(sup, DynamicSupervisor.child_spec({"max_children": 2}))
    grandchild = await start_ok(inner, worker())
    assert await count_children(sup) == ChildCounts(specs=1, active=1, supervisors=1, workers=0)
    assert await count_children(inner) == ChildCounts(1, 1, 0, 1)
    ref = monitor(grandchild)
    await stop(sup, SHUTDOWN)
    assert await receive(down_of(grandchild), timeout=1) == Down(ref, grandchild, SHUTDOWN)
    assert not is_alive(inner)


# -- logging --------------------------------------------------------------------------------


async def test_a_crash_is_logged_once_and_kept(
    shell: Pid, caplog: pytest.LogCaptureFixture
) -> None:
    sup = await start_sup()
    kid = await start_ok(sup, worker(restart=Restart.TEMPORARY))
    caplog.set_level(logging.DEBUG)
    await crash_and_wait(kid, Boom("kaput"))
    await count_children(sup)  # the supervisor has handled the EXIT
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and repr(kid) in errors[0].getMessage()
    assert "kaput" in errors[0].getMessage()
    [report] = list((await get_state(sup)).reports)
    assert report.pid is kid and report.child_id is None and "kaput" in report.reason


async def test_orderly_exits_are_not_error_logged(
    shell: Pid, caplog: pytest.LogCaptureFixture
) -> None:
    sup = await start_sup()
    caplog.set_level(logging.DEBUG)
    for reason in (NORMAL, SHUTDOWN, Shutdown("done")):
        await crash_and_wait(await start_ok(sup, worker(restart=Restart.TRANSIENT)), reason)
    await count_children(sup)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- scale ----------------------------------------------------------------------------------


class Idle(GenServer[None]):
    pass


@pytest.mark.slow
async def test_100k_children_start_and_stop(shell: Pid, node: Node) -> None:
    count = 100_000
    trap_exit(True)
    sup = await start_sup()
    spec = Idle.child_spec(None).with_(id=None)
    began = time.perf_counter()
    for _ in range(count):
        result = await start_child(sup, spec)
        assert type(result) is Ok
    started = time.perf_counter() - began
    assert await count_children(sup) == ChildCounts(count, count, 0, count)
    began = time.perf_counter()
    await stop(sup, SHUTDOWN)
    stopped = time.perf_counter() - began
    print(
        f"\n{count} dynamic children: started one by one in {started:.2f} s, "
        f"stopped in {stopped:.2f} s"
    )
    assert await receive(exit_of(sup), timeout=1) == Exit(sup, SHUTDOWN)
    assert len(node.processes) == 1  # only the shell is left
    await eventually(lambda: node.live_tasks() == 0, 30, "every child task to finish")


async def test_spawned_children_that_link_are_supervised(shell: Pid) -> None:
    """A start function may spawn a plain process (not a GenServer) as long as it links."""

    async def body() -> None:
        await receive()

    async def start_plain() -> StartResult:
        return Ok(spawn(body, link=True))

    sup = await start_sup()
    kid = await start_ok(sup, ChildSpec(None, start_plain, restart=Restart.TRANSIENT))
    await crash_and_wait(kid, KILLED)
    [new] = running(await which_children(sup))
    assert new is not kid
    ref = monitor(new)
    assert await terminate_child(sup, new) == Ok()
    assert await receive(down_of(new), timeout=1) == Down(ref, new, SHUTDOWN)
