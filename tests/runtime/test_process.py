"""Processes: spawn, mailboxes, links, trap_exit, kill, monitors, ordering."""

from __future__ import annotations

import asyncio

import pytest

from soundforge.runtime.errors import AlreadyRegistered
from soundforge.runtime.exit import KILL, KILLED, NOPROC, NORMAL, SHUTDOWN, ProcessExit, Shutdown
from soundforge.runtime.process import (
    Down,
    Exit,
    Pid,
    demonitor,
    exit,
    is_alive,
    link,
    monitor,
    receive,
    register,
    self_pid,
    send,
    spawn,
    spawn_link,
    spawn_monitor,
    trap_exit,
    unlink,
    whereis,
)
from tests.helpers import settle


async def _forever() -> None:
    await receive(match=lambda m: False)


async def _trapping_forever() -> None:
    trap_exit(True)
    await receive(match=lambda m: False)


class Boom(Exception):
    pass


async def _raise_boom() -> None:
    raise Boom("boom")


REASONS = [
    pytest.param(NORMAL, id="normal"),
    pytest.param(SHUTDOWN, id="shutdown"),
    pytest.param(Shutdown("x"), id="shutdown-term"),
    pytest.param("boom", id="abnormal-term"),
]


async def test_spawn_returns_pid_and_mailbox_send_never_blocks(shell: Pid) -> None:
    received: list[int] = []

    async def collector(n: int) -> None:
        for _ in range(n):
            received.append(await receive(timeout=1))

    pid = spawn(collector, 1000)
    assert isinstance(pid, Pid) and is_alive(pid)
    for i in range(1000):
        send(pid, i)  # returns at once: the receiver has not run yet
    ref = monitor(pid)
    assert await receive(timeout=2) == Down(ref, pid, NORMAL)
    assert received == list(range(1000)), "messages from one sender arrive in order"


async def test_send_to_dead_pid_is_silent(shell: Pid) -> None:
    pid, ref = spawn_monitor(_raise_boom)
    down = await receive(timeout=1)
    assert down.ref is ref and isinstance(down.reason, Boom)
    send(pid, "hello")  # no error
    assert not is_alive(pid)


@pytest.mark.parametrize("reason", REASONS)
async def test_process_chosen_exit_reason_reaches_monitors(shell: Pid, reason: object) -> None:
    async def body() -> None:
        raise ProcessExit(reason)

    pid, ref = spawn_monitor(body)
    assert await receive(timeout=1) == Down(ref, pid, reason)


async def test_return_is_normal_and_exception_is_the_reason(shell: Pid) -> None:
    async def ok() -> None:
        return None

    spawn_monitor(ok)
    assert (await receive(timeout=1)).reason is NORMAL
    spawn_monitor(_raise_boom)
    reason = (await receive(timeout=1)).reason
    assert isinstance(reason, Boom) and reason.__traceback__ is not None


@pytest.mark.parametrize("reason", REASONS)
async def test_link_propagates_or_is_trapped(shell: Pid, reason: object) -> None:
    """A linked non-trapping process dies with R unless R is normal; a trapping one gets Exit."""
    bystander = spawn(_forever)
    watcher = spawn(_trapping_forever)
    await settle()
    victim_started = asyncio.Event()

    async def victim() -> None:
        link(bystander)
        link(watcher)
        victim_started.set()
        await receive(timeout=5)
        raise ProcessExit(reason)

    pid = spawn(victim)
    await asyncio.wait_for(victim_started.wait(), 1)
    ref_b = monitor(bystander)
    send(pid, "go")
    await settle()
    if reason is NORMAL:
        assert is_alive(bystander)
    else:
        assert await receive(timeout=1) == Down(ref_b, bystander, reason)
    assert is_alive(watcher)
    proc = watcher._proc
    assert proc is not None and list(proc.mailbox) == [Exit(pid, reason)]


async def test_links_are_bidirectional(shell: Pid) -> None:
    trap_exit(True)
    pid = spawn_link(_forever)
    exit(pid, "boom")
    assert await receive(timeout=1) == Exit(pid, "boom")

    # the other direction: the shell's child dies when a linked peer (the shell's link) dies
    a = spawn(_forever)
    done = asyncio.Event()

    async def linker() -> None:
        link(a)
        done.set()
        await receive(match=lambda m: False)

    b = spawn(linker)
    await asyncio.wait_for(done.wait(), 1)
    ref = monitor(b)
    exit(a, "crash")
    assert await receive(timeout=1) == Down(ref, b, "crash")


async def test_kill_cannot_be_trapped_and_links_see_killed(shell: Pid) -> None:
    trap_exit(True)
    pid = spawn_link(_trapping_forever)
    await settle()
    exit(pid, KILL)
    assert await receive(timeout=1) == Exit(pid, KILLED)
    assert not is_alive(pid)


async def test_exit_signal_normal_is_ignored_unless_trapping(shell: Pid) -> None:
    pid = spawn(_forever)
    trapper = spawn(_trapping_forever)
    await settle()
    exit(pid, NORMAL)
    exit(trapper, NORMAL)
    await settle()
    assert is_alive(pid)
    assert trapper._proc is not None and list(trapper._proc.mailbox) == [Exit(shell, NORMAL)]


async def test_exit_self_normal_ends_the_caller(shell: Pid) -> None:
    async def body() -> None:
        exit(self_pid(), NORMAL)
        raise AssertionError("unreachable")

    pid, ref = spawn_monitor(body)
    assert await receive(timeout=1) == Down(ref, pid, NORMAL)


async def test_killed_process_does_not_run_more_process_code(shell: Pid) -> None:
    ran_after: list[str] = []

    async def body() -> None:
        await receive(timeout=5)
        ran_after.append("after")

    pid, ref = spawn_monitor(body)
    await settle()
    exit(pid, KILL)
    send(pid, "wake")
    assert await receive(timeout=1) == Down(ref, pid, KILLED)
    await settle()
    assert ran_after == []


async def test_monitor_delivers_exactly_one_down(shell: Pid) -> None:
    pid = spawn(_forever)
    ref1 = monitor(pid)
    ref2 = monitor(pid)
    exit(pid, "boom")
    downs = [await receive(timeout=1), await receive(timeout=1)]
    assert {d.ref for d in downs} == {ref1, ref2}
    with pytest.raises(TimeoutError):
        await receive(timeout=0.05)


async def test_monitor_dead_process_gives_noproc_at_once(shell: Pid) -> None:
    pid, _ = spawn_monitor(_raise_boom)
    await receive(timeout=1)
    ref = monitor(pid)
    assert await receive(timeout=0) == Down(ref, pid, NOPROC)


async def test_link_to_dead_process(shell: Pid) -> None:
    pid, _ = spawn_monitor(_raise_boom)
    await receive(timeout=1)
    trap_exit(True)
    link(pid)
    assert await receive(timeout=0) == Exit(pid, NOPROC)
    trap_exit(False)
    with pytest.raises(ProcessExit) as raised:
        link(pid)
    assert raised.value.reason is NOPROC


async def test_demonitor_flush_removes_queued_down(shell: Pid) -> None:
    pid = spawn(_forever)
    ref = monitor(pid)
    exit(pid, "boom")
    assert demonitor(ref, flush=True) is False  # already fired
    with pytest.raises(TimeoutError):
        await receive(timeout=0.02)
    other = spawn(_forever)
    ref2 = monitor(other)
    assert demonitor(ref2) is True
    exit(other, "boom")
    with pytest.raises(TimeoutError):
        await receive(timeout=0.02)


async def test_unlink(shell: Pid) -> None:
    trap_exit(True)
    pid = spawn_link(_forever)
    unlink(pid)
    exit(pid, "boom")
    with pytest.raises(TimeoutError):
        await receive(timeout=0.02)


async def test_selective_receive_keeps_other_messages_in_order(shell: Pid) -> None:
    me = self_pid()
    for m in ["a", 1, "b", 2, "c"]:
        send(me, m)
    assert await receive(match=lambda m: isinstance(m, int), timeout=0) == 1
    assert await receive(match=lambda m: isinstance(m, int), timeout=0) == 2
    assert [await receive(timeout=0) for _ in range(3)] == ["a", "b", "c"]


async def test_receive_timeout_wakes_for_late_matching_message(shell: Pid) -> None:
    me = self_pid()

    async def later() -> None:
        await asyncio.sleep(0.01)
        send(me, "noise")
        send(me, "wanted")

    spawn(later)
    assert await receive(match=lambda m: m == "wanted", timeout=1) == "wanted"
    assert await receive(timeout=0) == "noise"


async def test_names_are_unique_and_released_on_death(shell: Pid) -> None:
    pid = spawn(_forever)
    register("worker", pid)
    assert whereis("worker") is pid
    other = spawn(_forever)
    with pytest.raises(AlreadyRegistered):
        register("worker", other)
    send("worker", "hi")
    exit(pid, KILL)
    assert whereis("worker") is None
    register("worker", other)
    assert whereis("worker") is other


async def test_spawn_with_name_conflict_raises(shell: Pid) -> None:
    spawn(_forever, name="solo")
    with pytest.raises(AlreadyRegistered):
        spawn(_forever, name="solo")
