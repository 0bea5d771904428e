"""Static supervisors: the OTP scenarios S1–S42 and S47–S51 of the reference."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from soundforge.runtime.child_spec import (
    BRUTAL_KILL,
    INFINITY,
    AutoShutdown,
    ChildSpec,
    ChildType,
    Restart,
    Strategy,
)
from soundforge.runtime.clock import ManualClock
from soundforge.runtime.errors import InvalidSpec
from soundforge.runtime.exit import KILL, KILLED, NORMAL, SHUTDOWN, Shutdown
from soundforge.runtime.gen_server import call, cast, stop
from soundforge.runtime.process import (
    Down,
    Exit,
    Pid,
    current_process,
    exit,
    is_alive,
    monitor,
    receive,
    trap_exit,
)
from soundforge.runtime.results import (
    IGNORE,
    AlreadyStarted,
    ChildCounts,
    ChildError,
    Error,
    Ok,
)
from soundforge.runtime.supervisor import (
    FailedToStartChild,
    Supervisor,
    SupervisorSpec,
    count_children,
    delete_child,
    get_childspec,
    restart_child,
    start_child,
    start_supervisor,
    terminate_child,
    which_children,
)
from tests.helpers import eventually, settle
from tests.runtime.workers import Behaviour, Child, Trace, spec

ALL_STRATEGIES = [Strategy.ONE_FOR_ONE, Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE]


async def start_sup(children: list[Any], **flags: Any) -> Pid:
    """Start a supervisor linked to the test, which traps exits (as an Erlang shell test would:
    a supervisor stopping with ``shutdown`` would otherwise take the linked test with it)."""
    trap_exit(True)
    result = await start_supervisor(children, **flags)
    assert isinstance(result, Ok), result
    return result.pid  # type: ignore[no-any-return]


async def pids(sup: Pid) -> dict[Any, Any]:
    return {c.id: c.pid for c in await which_children(sup)}


async def crash(pid: Any, reason: Any = "boom") -> None:
    """Make a test child exit with ``reason`` from inside (so any reason, even normal, works),
    and wait until it is gone: the supervisor has its EXIT before any later call."""
    ref = monitor(pid)
    cast(pid, ("exit", reason))
    await receive(match=lambda m: isinstance(m, Down) and m.ref is ref, timeout=2)


async def down_of(ref: Any, timeout: float = 1.0) -> Down:
    return await receive(match=lambda m: isinstance(m, Down) and m.ref is ref, timeout=timeout)  # type: ignore[no-any-return]


async def wait_exit(pid: Pid, timeout: float = 2.0) -> Any:
    msg = await receive(match=lambda m: isinstance(m, Exit) and m.pid is pid, timeout=timeout)
    return msg.reason


# -- start and stop order (S1, S2) ------------------------------------------------------------


async def test_children_start_in_order_and_stop_in_reverse(shell: Pid) -> None:
    trace = Trace()
    ids = [7, 3, 10, 2, 5]
    sup = await start_sup([spec(i, trace, Behaviour(trap=True)) for i in ids])
    expected_start = [e for i in ids for e in (("start", i), ("started", i))]
    assert trace.events == expected_start, "each start returns before the next begins"
    trace.clear()
    await stop(sup, SHUTDOWN)
    assert trace.events == [e for i in reversed(ids) for e in (("stop", i), ("stopped", i))]


# -- strategies (S3–S7) -----------------------------------------------------------------------


async def test_one_for_one_keeps_siblings_pid_and_state(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup([spec("a", trace), spec("b", trace)])
    before = await pids(sup)
    cast(before["b"], "incr")
    await crash(before["a"])
    after = await pids(sup)
    assert after["a"] != before["a"] and is_alive(after["a"])
    assert after["b"] is before["b"]
    assert await call(after["b"], "count") == 1
    assert await count_children(sup) == ChildCounts(specs=2, active=2, supervisors=0, workers=2)


@pytest.mark.parametrize(
    ("strategy", "crashed", "stopped", "restarted"),
    [
        (Strategy.ONE_FOR_ONE, 3, [], [3]),
        (Strategy.ONE_FOR_ALL, 3, [5, 4, 2, 1], [1, 2, 3, 4, 5]),
        (Strategy.REST_FOR_ONE, 3, [5, 4], [3, 4, 5]),
        (Strategy.REST_FOR_ONE, 5, [], [5]),
        (Strategy.ONE_FOR_ALL, 1, [5, 4, 3, 2], [1, 2, 3, 4, 5]),
    ],
)
async def test_strategy_restarts_the_right_children_in_order(
    shell: Pid, strategy: Strategy, crashed: int, stopped: list[int], restarted: list[int]
) -> None:
    trace = Trace()
    sup = await start_sup(
        [spec(i, trace, Behaviour(trap=True)) for i in [1, 2, 3, 4, 5]], strategy=strategy
    )
    before = await pids(sup)
    trace.clear()
    await crash(before[crashed])
    after = await pids(sup)
    assert trace.stops() == [crashed, *stopped], "the crash, then bystanders in reverse order"
    assert trace.starts() == restarted, "restarted in start order"
    for cid in [1, 2, 3, 4, 5]:
        if cid in restarted:
            assert after[cid] is not before[cid] and is_alive(after[cid])
        else:
            assert after[cid] is before[cid]
    new_ids = [after[c].id for c in restarted]
    assert new_ids == sorted(new_ids), "new pids are created in increasing order"


async def test_bystanders_exit_with_shutdown(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup([spec("a", trace), spec("b", trace)], strategy=Strategy.ONE_FOR_ALL)
    before = await pids(sup)
    ref = monitor(before["b"])
    await crash(before["a"])
    assert await down_of(ref) == Down(ref, before["b"], SHUTDOWN)


async def test_one_for_all_restarts_children_stopped_by_hand(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup(
        [spec("a", trace), spec("b", trace), spec("c", trace, restart=Restart.TRANSIENT)],
        strategy=Strategy.ONE_FOR_ALL,
    )
    assert await terminate_child(sup, "c") == Ok()
    assert (await pids(sup))["c"] is None
    await crash((await pids(sup))["a"])
    after = await pids(sup)
    assert all(isinstance(p, Pid) and is_alive(p) for p in after.values())


async def test_dynamic_children_are_lost_when_their_supervisor_restarts(shell: Pid) -> None:
    trace = Trace()
    inner = Supervisor.child_spec(SupervisorSpec([spec("static", trace)]), id="inner")
    outer = await start_sup([inner])
    inner_pid = (await pids(outer))["inner"]
    assert isinstance(await start_child(inner_pid, spec("dyn1", trace)), Ok)
    assert isinstance(await start_child(inner_pid, spec("dyn2", trace)), Ok)
    exit(inner_pid, KILL)  # a supervisor ignores EXITs from non-children; kill is untrappable
    new_inner = (await pids(outer))["inner"]
    assert new_inner is not inner_pid
    assert list(await pids(new_inner)) == ["static"]


# -- intensity and escalation (S10–S17) -------------------------------------------------------


async def test_fourth_crash_within_the_window_shuts_the_supervisor_down(
    manual_shell: Pid, clock: ManualClock
) -> None:
    trap_exit(True)
    trace = Trace()
    sup = await start_sup(
        [spec("a", trace), spec("sibling", trace, Behaviour(trap=True))],
        max_restarts=3,
        max_seconds=5,
    )
    for _ in range(3):
        await crash((await pids(sup))["a"])
        await clock.advance(1.0)
        assert is_alive(sup)
    trace.clear()
    await crash((await pids(sup))["a"])
    assert await wait_exit(sup) is SHUTDOWN
    assert trace.stops() == ["a", "sibling"], "the crash, then siblings are stopped"


async def test_intensity_zero_never_restarts(shell: Pid) -> None:
    trap_exit(True)
    trace = Trace()
    sup = await start_sup([spec("a", trace)], max_restarts=0)
    await crash((await pids(sup))["a"])
    assert await wait_exit(sup) is SHUTDOWN
    assert trace.starts() == ["a"]


async def test_the_window_slides(manual_shell: Pid, clock: ManualClock) -> None:
    trace = Trace()
    sup = await start_sup([spec("a", trace)], max_restarts=1, max_seconds=1)
    for _ in range(4):
        await crash((await pids(sup))["a"])
        await clock.advance(2.1)
    assert is_alive(sup)
    assert len(trace.starts()) == 5


async def test_one_restart_event_counts_once(shell: Pid) -> None:
    trap_exit(True)
    trace = Trace()
    sup = await start_sup(
        [spec(i, trace) for i in "abc"], strategy=Strategy.ONE_FOR_ALL, max_restarts=2
    )
    for cid in "ab":
        await crash((await pids(sup))[cid])
        assert is_alive(sup), "a group restart of 3 children is one restart"
    await crash((await pids(sup))["c"])
    assert await wait_exit(sup) is SHUTDOWN


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
async def test_failed_restarts_count_and_escalate(shell: Pid, strategy: Strategy) -> None:
    trap_exit(True)
    trace = Trace()
    flaky = Behaviour(fail_starts_after=1)
    sup = await start_sup(
        [spec("healthy", trace), spec("flaky", trace, flaky)], strategy=strategy, max_restarts=4
    )
    healthy = (await pids(sup))["healthy"]
    ref = monitor(healthy)
    await crash((await pids(sup))["flaky"])
    assert await wait_exit(sup) is SHUTDOWN
    assert (await receive(match=lambda m: isinstance(m, Down), timeout=1)).ref is ref
    assert flaky.starts == 5, "the first start, then four failed restarts (the fifth is refused)"


async def test_escalation_restarts_the_sub_supervisor_with_fresh_children(shell: Pid) -> None:
    trace = Trace()
    inner = Supervisor.child_spec(SupervisorSpec([spec("leaf", trace)], max_restarts=1), id="inner")
    outer = await start_sup([inner, spec("other", trace)])
    inner_pid = (await pids(outer))["inner"]
    other = (await pids(outer))["other"]
    for _ in range(2):
        await crash((await pids(inner_pid))["leaf"])
        await settle()
    await eventually(lambda: not is_alive(inner_pid))
    new_inner = (await pids(outer))["inner"]
    assert isinstance(new_inner, Pid) and new_inner is not inner_pid
    assert is_alive((await pids(new_inner))["leaf"])
    assert (await pids(outer))["other"] is other
    info = {c.id: c for c in await which_children(outer)}
    assert info["inner"].restarts == 1


async def test_a_transient_sub_supervisor_is_not_revived(shell: Pid) -> None:
    trace = Trace()
    inner = Supervisor.child_spec(
        SupervisorSpec([spec("leaf", trace)], max_restarts=0), id="inner", restart=Restart.TRANSIENT
    )
    outer = await start_sup([inner])
    inner_pid = (await pids(outer))["inner"]
    await crash((await pids(inner_pid))["leaf"])
    await eventually(lambda: not is_alive(inner_pid))
    assert (await pids(outer))["inner"] is None
    assert is_alive(outer)


# -- restart types × exit reasons (S18–S23) -----------------------------------------------------

EXITS = [
    pytest.param(NORMAL, False, id="normal"),
    pytest.param(SHUTDOWN, False, id="shutdown"),
    pytest.param(Shutdown("x"), False, id="shutdown-term"),
    pytest.param(KILLED, True, id="killed"),
    pytest.param("boom", True, id="abnormal"),
]


@pytest.mark.parametrize("restart", list(Restart))
@pytest.mark.parametrize(("reason", "abnormal"), EXITS)
async def test_restart_type_by_exit_reason(
    shell: Pid, restart: Restart, reason: Any, abnormal: bool
) -> None:
    trace = Trace()
    sup = await start_sup([spec("c", trace, restart=restart)])
    old = (await pids(sup))["c"]
    if reason is KILLED:
        exit(old, KILL)
    else:
        await crash(old, reason)
    children = await pids(sup)
    restarted = restart is Restart.PERMANENT or (restart is Restart.TRANSIENT and abnormal)
    if restarted:
        assert isinstance(children["c"], Pid) and children["c"] is not old
    elif restart is Restart.TRANSIENT:
        assert children == {"c": None}, "spec kept, not running"
        assert await count_children(sup) == ChildCounts(1, 0, 0, 1)
        assert isinstance(await restart_child(sup, "c"), Ok)
    else:
        assert children == {}, "a temporary child's spec is removed"
    assert is_alive(sup)


@pytest.mark.parametrize("strategy", [Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE])
async def test_temporary_bystander_is_removed_not_restarted(shell: Pid, strategy: Strategy) -> None:
    trace = Trace()
    sup = await start_sup(
        [spec("a", trace), spec("tmp", trace, restart=Restart.TEMPORARY, significant=False)],
        strategy=strategy,
    )
    await crash((await pids(sup))["a"])
    assert list(await pids(sup)) == ["a"]
    assert is_alive(sup)


async def test_exits_that_are_not_restarted_do_not_count(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup(
        [spec("t", trace, restart=Restart.TRANSIENT)], max_restarts=1, max_seconds=3600
    )
    for _ in range(10):
        await crash((await pids(sup))["t"], NORMAL)
        await eventually(lambda: True)
        assert (await pids(sup))["t"] is None
        assert isinstance(await restart_child(sup, "t"), Ok)
    for i in range(10):
        await start_child(sup, spec(f"tmp{i}", trace, restart=Restart.TEMPORARY))
        await crash((await pids(sup))[f"tmp{i}"], NORMAL)
    assert is_alive(sup)


# -- shutdown specs (S24–S31) -----------------------------------------------------------------


async def test_brutal_kill_skips_terminate(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup([spec("c", trace, Behaviour(trap=True), shutdown=BRUTAL_KILL)])
    child = (await pids(sup))["c"]
    ref = monitor(child)
    await stop(sup, SHUTDOWN)
    assert await down_of(ref) == Down(ref, child, KILLED)
    assert trace.stops() == []


async def test_cooperative_shutdown_runs_terminate(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup([spec("c", trace, Behaviour(trap=True), shutdown=1.0)])
    child = (await pids(sup))["c"]
    ref = monitor(child)
    await stop(sup, SHUTDOWN)
    assert await down_of(ref) == Down(ref, child, SHUTDOWN)
    assert trace.stops() == ["c"]


async def test_uncooperative_child_is_killed_after_its_shutdown_timeout(
    manual_shell: Pid, clock: ManualClock
) -> None:
    trace = Trace()
    stuck = Behaviour(trap=True, terminate_wait=asyncio.Event())
    sup = await start_sup([spec("c", trace, stuck, shutdown=0.3)])
    child = (await pids(sup))["c"]
    ref = monitor(child)
    stopping = asyncio.ensure_future(stop(sup, SHUTDOWN))
    await clock.advance(0.29)
    assert is_alive(child) and trace.stops() == ["c"]
    await clock.advance(0.02)
    assert await down_of(ref) == Down(ref, child, KILLED)
    await asyncio.wait_for(stopping, 1)


async def test_non_trapping_child_dies_at_once_without_terminate(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup([spec("c", trace, shutdown=10.0)])
    child = (await pids(sup))["c"]
    ref = monitor(child)
    await stop(sup, SHUTDOWN)
    assert await down_of(ref) == Down(ref, child, SHUTDOWN)
    assert trace.stops() == []


async def test_infinity_waits_for_the_child(manual_shell: Pid, clock: ManualClock) -> None:
    trace = Trace()
    slow = Behaviour(trap=True, terminate_wait=asyncio.Event())
    sup = await start_sup([spec("c", trace, slow, shutdown=INFINITY)])
    child = (await pids(sup))["c"]
    ref = monitor(child)
    stopping = asyncio.ensure_future(stop(sup, SHUTDOWN))
    await clock.advance(3600)
    assert is_alive(child) and not stopping.done()
    assert slow.terminate_wait is not None
    slow.terminate_wait.set()
    assert await down_of(ref) == Down(ref, child, SHUTDOWN)
    await asyncio.wait_for(stopping, 1)


async def test_child_may_choose_its_exit_reason_on_shutdown(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup([spec("c", trace, Behaviour(trap=True, exit_with=Shutdown("oops")))])
    child = (await pids(sup))["c"]
    ref = monitor(child)
    await stop(sup, SHUTDOWN)
    assert await down_of(ref) == Down(ref, child, Shutdown("oops"))


async def test_self_unlinking_child_does_not_hang_terminate_child(shell: Pid) -> None:
    async def start_unlinker() -> Any:
        result = await Child.start_link(("u", Trace(), Behaviour()))
        child = result.pid._proc
        assert child is not None and child.parent is not None
        sup_pid = child.parent.pid
        child.remove_link(child.parent)  # the child unlinks itself from its supervisor
        assert sup_pid is current_process().pid  # type: ignore[union-attr]
        return result

    sup = await start_sup([ChildSpec(id="u", start=start_unlinker)])
    assert await asyncio.wait_for(terminate_child(sup, "u"), 2) == Ok()
    assert (await pids(sup))["u"] is None


# -- management API and start failures (S32–S42) ------------------------------------------------


async def test_static_child_life_cycle(shell: Pid) -> None:
    trace = Trace()
    x = spec("x", trace)
    sup = await start_sup([x])
    pid = (await pids(sup))["x"]
    assert await start_child(sup, x) == Error(AlreadyStarted(pid))
    ref = monitor(pid)
    assert await terminate_child(sup, "x") == Ok()
    assert await down_of(ref) == Down(ref, pid, SHUTDOWN)
    assert await terminate_child(sup, "x") == Ok()
    assert await start_child(sup, x) == Error(ChildError.ALREADY_PRESENT)
    restarted = await restart_child(sup, "x")
    assert isinstance(restarted, Ok) and restarted.pid is not pid
    assert await restart_child(sup, "x") == Error(ChildError.RUNNING)
    assert await delete_child(sup, "x") == Error(ChildError.RUNNING)
    assert await terminate_child(sup, "x") == Ok()
    assert await delete_child(sup, "x") == Ok()
    assert await restart_child(sup, "x") == Error(ChildError.NOT_FOUND)
    assert await count_children(sup) == ChildCounts(0, 0, 0, 0)


async def test_unknown_ids_and_pids(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup([spec("x", trace)])
    for op in (terminate_child, restart_child, delete_child, get_childspec):
        assert await op(sup, "nope") == Error(ChildError.NOT_FOUND)
    x = (await pids(sup))["x"]
    assert await terminate_child(sup, x) == Error(ChildError.NOT_FOUND), "static: ids, not pids"
    assert is_alive(x)
    assert isinstance(await get_childspec(sup, x), Ok)


async def _ignore() -> Any:
    return IGNORE


async def test_ignore_keeps_the_spec_unless_temporary(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup([spec("x", trace)])
    assert await start_child(sup, ChildSpec(id="ign", start=_ignore)) == Ok(None)
    assert (await pids(sup))["ign"] is None
    assert await count_children(sup) == ChildCounts(specs=2, active=1, supervisors=0, workers=2)
    tmp = ChildSpec(id="tmp", start=_ignore, restart=Restart.TEMPORARY)
    assert await start_child(sup, tmp) == Ok(None)
    assert (await count_children(sup)).specs == 2


async def test_start_errors_are_returned_and_nothing_is_added(shell: Pid) -> None:
    sup = await start_sup([])

    async def fails() -> Any:
        return Error("no_device")

    async def raises() -> Any:
        raise RuntimeError("exploded")

    assert await start_child(sup, ChildSpec(id="f", start=fails)) == Error("no_device")
    raised = await start_child(sup, ChildSpec(id="r", start=raises))
    assert isinstance(raised, Error) and isinstance(raised.reason, RuntimeError)
    assert await which_children(sup) == []
    assert is_alive(sup)


async def test_restart_child_whose_start_now_fails(shell: Pid) -> None:
    trace = Trace()
    how = Behaviour(fail_starts_after=1)
    sup = await start_sup([spec("x", trace, how, restart=Restart.TRANSIENT)])
    await terminate_child(sup, "x")
    assert await restart_child(sup, "x") == Error(("start_failed", "x"))
    assert (await pids(sup))["x"] is None


async def test_extra_info_is_passed_through(shell: Pid) -> None:
    async def with_info() -> Any:
        result = await Child.start_link(("i", Trace(), Behaviour()))
        return Ok(result.pid, {"port": 8000})

    sup = await start_sup([])
    started = await start_child(sup, ChildSpec(id="i", start=with_info))
    assert isinstance(started, Ok) and started.info == {"port": 8000}
    await terminate_child(sup, "i")
    restarted = await restart_child(sup, "i")
    assert isinstance(restarted, Ok) and restarted.info == {"port": 8000}
    old = restarted.pid
    await crash(old)
    assert (await pids(sup))["i"] is not old, "automatic restarts still work"


async def test_initial_child_failure_stops_the_started_ones(shell: Pid) -> None:
    trap_exit(True)
    trace = Trace()

    async def raises(*_: Any) -> Any:
        raise RuntimeError("bad config")

    result = await start_supervisor(
        [
            spec("a", trace, Behaviour(trap=True)),
            ChildSpec(id="b", start=raises),
            spec("c", trace),
        ]
    )
    assert isinstance(result, Error)
    reason = result.reason
    assert isinstance(reason, Shutdown) and isinstance(reason.term, FailedToStartChild)
    assert reason.term.id == "b" and isinstance(reason.term.reason, RuntimeError)
    assert trace.starts() == ["a"] and trace.stops() == ["a"]


class IgnoringSup(Supervisor):
    def init(self, arg: Any) -> Any:
        return IGNORE


class RaisingSup(Supervisor):
    def init(self, arg: Any) -> Any:
        raise ValueError("cannot configure")


class GarbageSup(Supervisor):
    def init(self, arg: Any) -> Any:
        return ("ok", [])


async def test_supervisor_init_outcomes(shell: Pid) -> None:
    trap_exit(True)
    assert await IgnoringSup.start_link() == IGNORE
    assert (await receive(timeout=1)).reason is NORMAL
    result = await RaisingSup.start_link()
    assert isinstance(result, Error) and isinstance(result.reason, ValueError)
    assert (await receive(timeout=1)).reason is result.reason, "a trapping caller gets the EXIT"
    garbage = await GarbageSup.start_link()
    assert isinstance(garbage, Error) and isinstance(garbage.reason, InvalidSpec)


async def _noop_start() -> Any:
    return IGNORE


@pytest.mark.parametrize(
    ("children", "flags", "reason_head"),
    [
        ([ChildSpec(id="a", start=_noop_start, restart="always")], {}, "invalid_restart_type"),  # type: ignore[arg-type]
        ([ChildSpec(id="a", start=_noop_start, shutdown=-10)], {}, "invalid_shutdown"),
        ([ChildSpec(id="a", start=_noop_start, type="daemon")], {}, "invalid_child_type"),  # type: ignore[arg-type]
        ([ChildSpec(id="a", start="nope")], {}, "invalid_mfa"),  # type: ignore[arg-type]
        (
            [ChildSpec(id="a", start=_noop_start), ChildSpec(id="a", start=_noop_start)],
            {},
            "duplicate_child_name",
        ),
        ([], {"strategy": "one_for_some"}, "supervisor_data"),
        ([], {"max_restarts": -1}, "supervisor_data"),
        ([], {"max_seconds": 0}, "supervisor_data"),
        (
            [ChildSpec(id="a", start=_noop_start, restart=Restart.TRANSIENT, significant=True)],
            {},
            "bad_combination",
        ),
        (
            [ChildSpec(id="a", start=_noop_start, significant=True)],
            {"auto_shutdown": AutoShutdown.ANY_SIGNIFICANT},
            "bad_combination",
        ),
    ],
)
async def test_invalid_specs_are_rejected_with_otp_reasons(
    shell: Pid, children: list[Any], flags: dict[str, Any], reason_head: str
) -> None:
    trap_exit(True)
    result = await start_supervisor(children, **flags)
    assert isinstance(result, Error) and isinstance(result.reason, InvalidSpec)
    head = result.reason.reason
    assert (head if isinstance(head, str) else head[0]) == reason_head
    assert str(result.reason), "a sentence for the user"


async def test_start_child_validates_and_ignores_unknown_map_keys(shell: Pid) -> None:
    sup = await start_sup([])
    bad = await start_child(sup, {"id": "x", "start": _noop_start, "shutdown": -1})
    assert isinstance(bad, Error) and bad.reason == ("invalid_shutdown", -1)
    ok = await start_child(sup, {"id": "y", "start": _noop_start, "color": "blue"})
    assert ok == Ok(None)
    assert await start_child(sup, {"start": _noop_start}) == Error("missing_id")


async def test_restart_loop_is_visible_and_interruptible(shell: Pid) -> None:
    trace = Trace()
    how = Behaviour(fail_starts_after=1)
    x = spec("x", trace, how)
    sup = await start_sup([x], max_restarts=10**9, max_seconds=3600)
    await crash((await pids(sup))["x"])
    await eventually(lambda: how.starts > 3)
    assert (await pids(sup))["x"] is ChildError.RESTARTING
    assert await restart_child(sup, "x") == Error(ChildError.RESTARTING)
    assert await delete_child(sup, "x") == Error(ChildError.RESTARTING)
    assert await start_child(sup, x) == Error(ChildError.ALREADY_PRESENT)
    counts = await count_children(sup)
    assert (counts.workers, counts.active) == (1, 0)
    assert await terminate_child(sup, "x") == Ok()
    assert (await pids(sup))["x"] is None
    started = how.starts
    await settle()
    assert how.starts == started, "the loop stopped"
    await asyncio.wait_for(stop(sup, SHUTDOWN), 2)


# -- significant children (S47–S51) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("restart", "reason", "shuts_down"),
    [
        (Restart.TRANSIENT, NORMAL, True),
        (Restart.TRANSIENT, SHUTDOWN, True),
        (Restart.TRANSIENT, "boom", False),
        (Restart.TEMPORARY, "boom", True),
        (Restart.TEMPORARY, NORMAL, True),
    ],
)
async def test_any_significant(shell: Pid, restart: Restart, reason: Any, shuts_down: bool) -> None:
    trap_exit(True)
    trace = Trace()
    sup = await start_sup(
        [
            spec("other", trace, Behaviour(trap=True)),
            spec("sig", trace, restart=restart, significant=True),
        ],
        auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
    )
    await crash((await pids(sup))["sig"], reason)
    if shuts_down:
        assert await wait_exit(sup) is SHUTDOWN
        assert "other" in trace.stops()
    else:
        assert isinstance((await pids(sup))["sig"], Pid)


async def test_manual_termination_and_bystanders_do_not_trigger_auto_shutdown(shell: Pid) -> None:
    trace = Trace()
    sup = await start_sup(
        [
            spec("a", trace),
            spec("sig", trace, restart=Restart.TEMPORARY, significant=True),
            spec("sig2", trace, restart=Restart.TRANSIENT, significant=True),
        ],
        strategy=Strategy.ONE_FOR_ALL,
        auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
    )
    assert await terminate_child(sup, "sig2") == Ok()
    assert is_alive(sup)
    await crash((await pids(sup))["a"])  # kills temporary "sig" as a bystander
    assert "sig" not in await pids(sup)
    assert is_alive(sup)


async def test_all_significant(shell: Pid) -> None:
    trap_exit(True)
    trace = Trace()
    sup = await start_sup(
        [
            spec("s1", trace, restart=Restart.TEMPORARY, significant=True),
            spec("s2", trace, restart=Restart.TEMPORARY, significant=True),
        ],
        auto_shutdown=AutoShutdown.ALL_SIGNIFICANT,
    )
    await crash((await pids(sup))["s1"], NORMAL)
    await which_children(sup)
    assert is_alive(sup)
    await crash((await pids(sup))["s2"], NORMAL)
    assert await wait_exit(sup) is SHUTDOWN


async def test_child_spec_defaults(shell: Pid) -> None:
    worker = ChildSpec(id="w", start=_noop_start)
    sup_spec = Supervisor.child_spec(SupervisorSpec([]))
    assert worker.shutdown_value == 5.0 and worker.restart is Restart.PERMANENT
    assert sup_spec.type is ChildType.SUPERVISOR and sup_spec.shutdown_value == INFINITY
    assert Child.child_spec(1).id is Child
    with pytest.raises(TypeError):
        ChildSpec(id="x")  # type: ignore[call-arg]
