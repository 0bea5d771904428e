"""The audio port pool: warm programs reused, progress routed, failures typed, and the work
killed (with its process) whenever the caller goes away. Every program is a real child."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import psutil
import pytest

from soundforge.actors import port_pool
from soundforge.actors.port_pool import PoolOptions, PortPool
from soundforge.audio.errors import InternalError, PortFailed, UnreadableAudio
from soundforge.runtime.dynamic_supervisor import DynamicSupervisor
from soundforge.runtime.exit import KILL
from soundforge.runtime.process import Pid, exit, spawn
from soundforge.runtime.results import Ok
from tests.helpers import eventually

PROGRAM = str(Path(__file__).with_name("pool_program.py"))
ROOT = str(Path(__file__).resolve().parents[2])


async def start_pool(size: int = 1) -> str:
    name = f"test.pool.{size}"
    assert isinstance(await DynamicSupervisor.start_link(name="test.ports"), Ok)
    options = PoolOptions(
        "testprogram",
        size=size,
        supervisor="test.ports",
        argv=[sys.executable, PROGRAM],
        env={"PYTHONPATH": ROOT},
        shutdown=0.5,
    )
    assert isinstance(await PortPool.start_link(options, name=name), Ok)
    return name


def alive(os_pid: int) -> bool:
    try:
        return psutil.Process(os_pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_a_warm_program_serves_many_requests(shell: Pid) -> None:
    pool = await start_pool()
    first = await port_pool.run(pool, "pid")
    assert await port_pool.run(pool, "echo", {"x": [1, 2]}) == {"x": [1, 2]}
    assert await port_pool.run(pool, "pid") == first
    status = await port_pool.status(pool)
    assert (status.idle, status.busy, status.os_pids) == (1, 0, [first])


async def test_progress_is_routed_to_the_caller_and_monotonic(shell: Pid) -> None:
    pool = await start_pool()
    seen: list[tuple[float, str]] = []
    assert await port_pool.run(pool, "steps", {"n": 5}, progress=lambda f, s: seen.append((f, s)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {s for _, s in seen} == {"stepping"}


async def test_expected_failures_are_typed_and_the_program_lives_on(shell: Pid) -> None:
    pool = await start_pool()
    before = await port_pool.run(pool, "pid")
    with pytest.raises(UnreadableAudio, match="not an audio file"):
        await port_pool.run(pool, "fail")
    with pytest.raises(InternalError, match="ValueError: an unexpected bug"):
        await port_pool.run(pool, "bug")
    assert await port_pool.run(pool, "pid") == before


async def test_a_crash_fails_the_request_and_a_new_program_serves_the_next(shell: Pid) -> None:
    pool = await start_pool()
    before = await port_pool.run(pool, "pid")
    with pytest.raises(PortFailed, match="stopped mid-request") as raised:
        await port_pool.run(pool, "crash")
    assert raised.value.retryable
    after = await port_pool.run(pool, "pid")
    assert after != before and not alive(before)


async def test_a_cancelled_caller_kills_the_program(shell: Pid) -> None:
    pool = await start_pool()
    os_pid = await port_pool.run(pool, "pid")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.0):
            await port_pool.run(pool, "hang")
    await eventually(lambda: not alive(os_pid), timeout=5, what="the hung program was killed")
    assert await port_pool.run(pool, "echo", 7) == 7


async def test_a_killed_caller_process_kills_the_program(shell: Pid) -> None:
    pool = await start_pool()
    os_pid = await port_pool.run(pool, "pid")

    async def caller() -> None:
        await port_pool.run(pool, "hang")

    pid = spawn(caller)
    async with asyncio.timeout(5):
        while (await port_pool.status(pool)).busy == 0:  # noqa: ASYNC110 - polls another actor
            await asyncio.sleep(0.01)
    exit(pid, KILL)
    await eventually(lambda: not alive(os_pid), timeout=5, what="the program was killed")


async def test_requests_beyond_size_wait_their_turn(shell: Pid) -> None:
    pool = await start_pool(size=1)
    results = await asyncio.gather(
        *(port_pool.run(pool, "steps", {"n": 2, "pause": 0.05}) for _ in range(3))
    )
    assert results == [2, 2, 2]
    status = await port_pool.status(pool)
    assert len(status.os_pids) == 1


async def test_two_programs_run_in_parallel_when_size_allows(shell: Pid) -> None:
    pool = await start_pool(size=2)
    pids = await asyncio.gather(
        port_pool.run(pool, "steps", {"n": 2, "pause": 0.3}),
        port_pool.run(pool, "steps", {"n": 2, "pause": 0.3}),
    )
    assert pids == [2, 2]
    assert len((await port_pool.status(pool)).os_pids) == 2


async def test_a_program_killed_by_sigkill_mid_request_is_named_as_such(shell: Pid) -> None:
    pool = await start_pool()
    os_pid = await port_pool.run(pool, "pid")

    async def kill_when_busy() -> None:
        while (await port_pool.status(pool)).busy == 0:  # noqa: ASYNC110 - polls another actor
            await asyncio.sleep(0.01)
        psutil.Process(os_pid).kill()

    killer = asyncio.ensure_future(kill_when_busy())
    with pytest.raises(
        PortFailed, match=r"killed mid-request \(SIGKILL\); the machine may have run"
    ):
        await port_pool.run(pool, "hang")
    await killer
