"""Task and Task.Supervisor: async/await, aliases after a timeout (S57), async_nolink (S56),
supervisor shutdown and limits (S58), fire-and-forget supervised tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from soundforge.runtime import dynamic_supervisor
from soundforge.runtime.child_spec import BRUTAL_KILL, ChildSpec, Restart, ShutdownSpec
from soundforge.runtime.clock import ManualClock
from soundforge.runtime.errors import ActorError, InvalidSpec, NotInProcess
from soundforge.runtime.exit import KILL, KILLED, NOPROC, NORMAL, SHUTDOWN, Shutdown
from soundforge.runtime.gen_server import stop
from soundforge.runtime.node import Node
from soundforge.runtime.process import (
    Down,
    Exit,
    Pid,
    current_process,
    exit,
    is_alive,
    monitor,
    receive,
    self_pid,
    send,
    spawn,
    trap_exit,
)
from soundforge.runtime.results import ChildError, Error, Ok
from soundforge.runtime.task import (
    Task,
    TaskExited,
    TaskNotOwned,
    TaskReply,
    TaskSupervisor,
    TaskTimeout,
    TooManyTasks,
    _reply_task,
    _start_task,
    async_nolink,
    async_task,
    await_task,
    children,
    start_child,
)
from tests.helpers import eventually, settle


class Boom(Exception):
    pass


def double(x: int) -> int:
    return 2 * x


async def double_async(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


def crash() -> None:
    raise Boom("task crashed")


async def wait_for_finish(value: Any = "done") -> Any:
    """A task body that runs until it is sent "finish"."""
    await receive(lambda m: m == "finish")
    return value


async def start_task_sup(**flags: Any) -> Pid:
    result = await TaskSupervisor.start_link(**flags)
    assert isinstance(result, Ok), result
    pid: Pid = result.value
    return pid


def mailbox() -> list[Any]:
    me = current_process()
    assert me is not None
    return list(me.mailbox)


Launcher = Callable[[Callable[..., Any]], Awaitable[Task]]


async def linked(fn: Callable[..., Any]) -> Task:
    return async_task(fn)


async def nolink(fn: Callable[..., Any]) -> Task:
    return await async_nolink(await start_task_sup(), fn)


LAUNCHERS = [pytest.param(linked, id="async"), pytest.param(nolink, id="async_nolink")]


# -- Task.async / Task.await ----------------------------------------------------------------


@pytest.mark.parametrize("fn", [double, double_async])
async def test_async_and_await(shell: Pid, node: Node, fn: Callable[[int], Any]) -> None:
    task = async_task(fn, 21)
    assert task.owner is shell
    assert node.processes[task.pid.id].kind == "task"
    assert await await_task(task) == 42
    await eventually(lambda: not is_alive(task.pid))
    await settle()
    assert mailbox() == []  # the Down was flushed; a normal link exit is not a message


async def test_a_task_crash_kills_a_caller_that_does_not_trap(shell: Pid) -> None:
    async def caller() -> None:
        await await_task(async_task(crash))

    pid = spawn(caller)
    ref = monitor(pid)
    down = await receive(lambda m: type(m) is Down and m.ref is ref, timeout=1)
    assert isinstance(down.reason, Boom)  # killed through the link, with the task's reason


async def test_a_trapping_caller_gets_the_exit_and_await_raises(shell: Pid) -> None:
    trap_exit(True)
    task = async_task(crash)
    with pytest.raises(TaskExited) as raised:
        await await_task(task)
    assert isinstance(raised.value.reason, Boom)
    assert isinstance(raised.value, ActorError)
    message = await receive(lambda m: type(m) is Exit, timeout=1)
    assert message.pid is task.pid and message.reason is raised.value.reason


async def test_the_callers_death_kills_its_linked_task(shell: Pid) -> None:
    async def caller(parent: Pid) -> None:
        send(parent, async_task(wait_for_finish))
        await receive(lambda m: m == "crash")
        raise Boom("caller crashed")

    owner = spawn(caller, shell)
    task = await receive(lambda m: type(m) is Task, timeout=1)
    ref = monitor(task.pid)
    send(owner, "crash")
    down = await receive(lambda m: type(m) is Down and m.ref is ref, timeout=1)
    assert isinstance(down.reason, Boom) and str(down.reason) == "caller crashed"


@pytest.mark.parametrize("launch", LAUNCHERS)
async def test_s57_nothing_arrives_after_an_await_timeout(shell: Pid, launch: Launcher) -> None:
    task = await launch(wait_for_finish)
    with pytest.raises(TaskTimeout) as raised:
        await await_task(task, timeout=0)
    assert str(raised.value) == f"task {task.pid!r} did not finish within 0 s"
    send(task.pid, "finish")  # the task now replies... to an alias that is no longer active
    await eventually(lambda: not is_alive(task.pid))
    await settle()
    assert mailbox() == []
    with pytest.raises(TimeoutError):
        await receive(timeout=0)


@pytest.mark.parametrize("launch", LAUNCHERS)
async def test_await_timeout_on_the_node_clock(
    manual_shell: Pid, clock: ManualClock, launch: Launcher
) -> None:
    task = await launch(wait_for_finish)
    waiting = asyncio.ensure_future(await_task(task, timeout=0.1))
    await clock.advance(0.09)
    assert not waiting.done()
    await clock.advance(0.02)
    with pytest.raises(TaskTimeout, match=r"did not finish within 0\.1 s"):
        await asyncio.wait_for(waiting, 2.0)
    assert is_alive(task.pid)  # a timeout does not stop the task
    send(task.pid, "finish")
    await eventually(lambda: not is_alive(task.pid))
    await settle()
    assert mailbox() == []


async def test_only_the_owner_may_await(shell: Pid) -> None:
    task = async_task(wait_for_finish)
    outcome: list[BaseException] = []

    async def intruder() -> None:
        try:
            await await_task(task, timeout=1)
        except TaskNotOwned as error:
            outcome.append(error)

    spawn(intruder)
    await eventually(lambda: bool(outcome))
    assert "belongs to" in str(outcome[0])
    send(task.pid, "finish")
    assert await await_task(task, timeout=1) == "done"


async def test_tasks_need_a_process(node: Node) -> None:
    with pytest.raises(NotInProcess):
        async_task(double, 1)


# -- Task.Supervisor ------------------------------------------------------------------------


async def test_s56_async_nolink_success(shell: Pid, node: Node) -> None:
    sup = await start_task_sup()
    assert node.processes[sup.id].kind == "task_supervisor"
    task = await async_nolink(sup, double_async, 5)
    assert node.processes[task.pid.id].kind == "task"
    reply = await receive(lambda m: getattr(m, "ref", None) is task.ref, timeout=1)
    assert reply == TaskReply(task.ref, 10)
    down = await receive(lambda m: getattr(m, "ref", None) is task.ref, timeout=1)
    assert down == Down(task.ref, task.pid, NORMAL)


async def test_s56_async_nolink_crash_leaves_the_caller_alone(shell: Pid) -> None:
    trap_exit(True)  # even a trapping caller gets no EXIT: there is no link
    sup = await start_task_sup()
    task = await async_nolink(sup, crash)
    down = await receive(lambda m: type(m) is Down and m.ref is task.ref, timeout=1)
    assert down.pid is task.pid and isinstance(down.reason, Boom)
    await settle()
    assert mailbox() == []
    assert await children(sup) == []
    assert is_alive(sup)


async def test_await_a_nolink_task(shell: Pid) -> None:
    sup = await start_task_sup()
    task = await async_nolink(sup, double, 4)
    assert await await_task(task) == 8
    await eventually(lambda: not is_alive(task.pid))
    await settle()
    assert mailbox() == []


@pytest.mark.parametrize(("shutdown", "reason"), [(BRUTAL_KILL, KILLED), (5.0, SHUTDOWN)])
async def test_s58_supervisor_shutdown_stops_tasks(
    shell: Pid, shutdown: ShutdownSpec, reason: Any
) -> None:
    trap_exit(True)
    sup = await start_task_sup()
    tasks = [await async_nolink(sup, wait_for_finish, shutdown=shutdown) for _ in range(3)]
    assert sorted(p.id for p in await children(sup)) == sorted(t.pid.id for t in tasks)
    await stop(sup, SHUTDOWN)
    downs = {}
    for _ in tasks:
        down = await receive(lambda m: type(m) is Down, timeout=1)
        downs[down.ref] = down
    assert downs == {task.ref: Down(task.ref, task.pid, reason) for task in tasks}


async def test_s58_max_children_refuses_new_tasks(shell: Pid) -> None:
    sup = await start_task_sup(max_children=2)
    first = await async_nolink(sup, wait_for_finish)
    await async_nolink(sup, wait_for_finish)
    with pytest.raises(TooManyTasks, match="reached its maximum of 2 tasks") as raised:
        await async_nolink(sup, double, 1)
    assert raised.value.limit == 2
    assert await start_child(sup, double, 1) == Error(ChildError.MAX_CHILDREN)
    send(first.pid, "finish")
    assert await await_task(first, timeout=1) == "done"
    await eventually(lambda: not is_alive(first.pid))
    third = await async_nolink(sup, double, 1)
    assert await await_task(third, timeout=1) == 2


async def test_task_supervisor_flags_are_validated(shell: Pid) -> None:
    trap_exit(True)
    result = await TaskSupervisor.start_link(max_children=-1)
    assert isinstance(result, Error) and isinstance(result.reason, InvalidSpec)
    with pytest.raises(InvalidSpec):
        await async_nolink(await start_task_sup(), double, 1, shutdown=-1)


async def test_start_child_runs_a_supervised_task(shell: Pid) -> None:
    sup = await start_task_sup()

    async def report(to: Pid) -> None:
        send(to, ("ran", self_pid()))
        await receive(lambda m: m == "finish")

    result = await start_child(sup, report, shell)
    assert isinstance(result, Ok)
    message = await receive(lambda m: isinstance(m, tuple) and m[0] == "ran", timeout=1)
    assert message == ("ran", result.pid)
    assert await children(sup) == [result.pid]
    ref = monitor(result.pid)
    send(result.pid, "finish")
    assert await receive(lambda m: type(m) is Down, timeout=1) == Down(ref, result.pid, NORMAL)
    assert await children(sup) == []


@pytest.mark.parametrize(("restart", "runs"), [(Restart.TEMPORARY, 1), (Restart.TRANSIENT, 2)])
async def test_start_child_restart_types(shell: Pid, restart: Restart, runs: int) -> None:
    sup = await start_task_sup()
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise Boom("first run fails")

    assert isinstance(await start_child(sup, flaky, restart=restart), Ok)
    await eventually(lambda: len(calls) == runs)
    await settle()
    assert len(calls) == runs
    assert await children(sup) == []


async def test_an_unlinked_task_stops_if_its_owner_dies_before_the_go_ahead(
    shell: Pid, node: Node
) -> None:
    exits: list[tuple[Pid, Any]] = []
    node.telemetry.attach(
        "exits",
        ("runtime", "process", "exit"),
        lambda _e, _m, meta: exits.append((meta["pid"], meta["reason"])),
    )
    sup = await start_task_sup()
    gone = spawn(double_async, 1)
    await eventually(lambda: not is_alive(gone))
    # What async_nolink starts, for an owner that died before it could send the go-ahead.
    spec = ChildSpec(
        None, _start_task, (_reply_task, gone, double, (1,), True), restart=Restart.TEMPORARY
    )
    result = await dynamic_supervisor.start_child(sup, spec)
    assert isinstance(result, Ok)
    await eventually(lambda: not is_alive(result.pid))
    assert (result.pid, Shutdown(NOPROC)) in exits


async def test_killing_a_task_is_reported_to_its_owner(shell: Pid) -> None:
    sup = await start_task_sup()
    task = await async_nolink(sup, wait_for_finish)
    exit(task.pid, KILL)
    with pytest.raises(TaskExited) as raised:
        await await_task(task, timeout=1)
    assert raised.value.reason is KILLED
