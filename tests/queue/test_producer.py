"""A producer running jobs: results, retries with backoff, snooze, timeouts, scheduling,
cancel, pause/resume, telemetry (real PostgreSQL, one node)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from soundforge.queue import (
    JobState,
    cancel_job,
    check_queue,
    get_job,
    insert,
    pause_local,
    pause_queue,
    resume_local,
    resume_queue,
)
from tests.queue.conftest import Events, StartNode, wait_for, wait_until
from tests.queue.workers import Noop, Scripted, Sleepy, Slow, UsesPort


async def test_a_job_runs_and_is_completed(start_node: StartNode, pool: Any) -> None:
    qnode = await start_node("a")
    events = Events(qnode.node)
    job = await insert(pool, Noop, {"x": 1})
    done = await wait_for(pool, job.id, JobState.COMPLETED)
    assert done.attempt == 1
    assert done.attempted_by == "a"
    assert done.completed_at is not None
    assert done.errors == []
    [start] = events.of("start", job.id)
    assert start["queue"] == "default" and start["worker"] == "test.Noop"
    [stop] = events.of("stop", job.id)
    assert stop["state"] == "success"
    assert stop["duration"] >= 0 and stop["queue_time"] >= 0


@pytest.mark.parametrize(
    ("script", "state", "attempts", "kinds"),
    [
        (["error", "raise", "ok"], JobState.COMPLETED, 3, ["error", "exception"]),
        (["cancel"], JobState.CANCELLED, 1, ["cancel"]),
        (["raise"], JobState.DISCARDED, 5, ["exception"] * 5),
    ],
    ids=["retried-then-ok", "cancelled", "discarded-after-max-attempts"],
)
async def test_results_move_the_job_and_record_each_error(
    start_node: StartNode,
    pool: Any,
    script: list[str],
    state: JobState,
    attempts: int,
    kinds: list[str],
) -> None:
    qnode = await start_node("a")
    events = Events(qnode.node)
    job = await insert(pool, Scripted, {"script": script})
    final = await wait_for(pool, job.id, state, timeout=15)
    assert final.attempt == attempts
    assert [e.kind for e in final.errors] == kinds
    assert [e.attempt for e in final.errors] == list(range(1, len(kinds) + 1))
    assert all(e.at is not None and e.message for e in final.errors)
    if "exception" in kinds:
        crash = final.errors[kinds.index("exception")]
        assert f"RuntimeError: crashed on attempt {crash.attempt}" in (crash.traceback or "")
    if state is JobState.DISCARDED:
        assert final.discarded_at is not None
        assert events.of("exception", job.id)[-1]["state"] == "discard"
    if state is JobState.CANCELLED:
        assert final.cancelled_at is not None
        assert events.of("stop", job.id)[0]["state"] == "cancelled"


async def test_retries_follow_the_workers_backoff(start_node: StartNode, pool: Any) -> None:
    await start_node("a")
    job = await insert(pool, Scripted, {"script": ["error", "error", "ok"]})
    done = await wait_for(pool, job.id, JobState.COMPLETED, timeout=15)
    first, second = done.errors
    assert first.at is not None and second.at is not None and done.attempted_at is not None
    # Scripted.backoff(n) = 0.1 n seconds: attempt 2 waits >= 0.1 s, attempt 3 >= 0.2 s.
    assert second.at - first.at >= timedelta(seconds=0.1)
    assert done.attempted_at - second.at >= timedelta(seconds=0.2)


async def test_snooze_does_not_use_an_attempt(start_node: StartNode, pool: Any) -> None:
    await start_node("a")
    job = await insert(pool, Scripted, {"script": ["snooze", "snooze", "ok"], "snooze": 0.05})
    done = await wait_for(pool, job.id, JobState.COMPLETED)
    assert done.attempt == 1
    assert done.meta["snoozed"] == 2
    assert done.errors == []


async def test_a_timeout_is_a_failure_of_kind_timeout(start_node: StartNode, pool: Any) -> None:
    await start_node("a")
    job = await insert(pool, Sleepy, {})
    final = await wait_for(pool, job.id, JobState.DISCARDED)
    assert [e.kind for e in final.errors] == ["timeout", "timeout"]
    assert "timeout of 0.1 s" in final.errors[0].message


async def test_an_unknown_worker_fails_the_attempt(start_node: StartNode, pool: Any) -> None:
    await start_node("a")
    job = await insert(pool, "no.such.Worker", {}, max_attempts=1)
    final = await wait_for(pool, job.id, JobState.DISCARDED)
    assert "no worker named 'no.such.Worker'" in final.errors[0].message


async def test_scheduled_jobs_run_when_due(start_node: StartNode, pool: Any) -> None:
    await start_node("a")
    later = await insert(pool, Noop, {}, schedule_in=0.3)
    at = await insert(pool, Noop, {}, scheduled_at=datetime.now(UTC) + timedelta(seconds=0.3))
    assert later.state == at.state == JobState.SCHEDULED
    for job in (later, at):
        done = await wait_for(pool, job.id, JobState.COMPLETED)
        assert done.attempted_at is not None and done.attempted_at >= job.scheduled_at


async def test_higher_priority_runs_first(start_node: StartNode, pool: Any) -> None:
    qnode = await start_node("a", queues={"default": 1})
    with qnode.inside():
        await pause_local("default")
    low = await insert(pool, Noop, {}, priority=9)
    high = await insert(pool, Noop, {}, priority=0)
    with qnode.inside():
        await resume_local("default")
    low_done = await wait_for(pool, low.id, JobState.COMPLETED)
    high_done = await wait_for(pool, high.id, JobState.COMPLETED)
    # One at a time (limit 1), so completion order is run order. (attempted_at is not: a
    # claim that raced the pause and was given back keeps its earlier timestamp.)
    assert high_done.completed_at is not None and low_done.completed_at is not None
    assert high_done.completed_at <= low_done.completed_at


async def test_cancelling_an_executing_job_kills_its_task(start_node: StartNode, pool: Any) -> None:
    qnode = await start_node("a")
    events = Events(qnode.node)
    job = await insert(pool, Slow, {"seconds": 30})
    await wait_for(pool, job.id, JobState.EXECUTING)
    await wait_until(lambda: _started(events, job.id), what="the job's task started")
    cancelled = await cancel_job(pool, job.id)
    assert cancelled is not None and cancelled.state == JobState.CANCELLED

    async def gone() -> bool:
        with qnode.inside():
            return job.id not in (await check_queue("default")).running

    await wait_until(gone, timeout=5, what="the producer dropped the cancelled job")
    assert events.of("stop", job.id)[0]["state"] == "cancelled"
    assert (await get_job(pool, job.id)).state == JobState.CANCELLED  # type: ignore[union-attr]

    async def no_tasks() -> bool:
        return not [p for p in qnode.node.processes.values() if p.kind == "task"]

    # The kill is asynchronous: the task ends a moment after the producer forgets it.
    await wait_until(no_tasks, timeout=5, what="the cancelled job's task ended")


async def _started(events: Events, job_id: int) -> bool:
    return bool(events.of("start", job_id))


async def test_cancel_of_a_waiting_job_and_of_a_finished_one(pool: Any, jobs_url: str) -> None:
    waiting = await insert(pool, Noop, {}, schedule_in=60)
    cancelled = await cancel_job(pool, waiting.id)
    assert cancelled is not None and cancelled.state == JobState.CANCELLED
    again = await cancel_job(pool, waiting.id)
    assert again is not None and again.cancelled_at == cancelled.cancelled_at
    assert await cancel_job(pool, 10**9) is None


async def test_pause_and_resume_locally(start_node: StartNode, pool: Any) -> None:
    qnode = await start_node("a")
    with qnode.inside():
        info = await pause_local("default")
    assert info.paused
    job = await insert(pool, Noop, {})
    # Bounded: paused for several poll intervals, the job stays available.
    await wait_until(_slept(0.3), what="time passing")
    assert (await get_job(pool, job.id)).state == JobState.AVAILABLE  # type: ignore[union-attr]
    with qnode.inside():
        assert not (await resume_local("default")).paused
    await wait_for(pool, job.id, JobState.COMPLETED)


async def test_pause_and_resume_every_node_by_notify(start_node: StartNode, pool: Any) -> None:
    a = await start_node("a")
    b = await start_node("b")
    await pause_queue(pool, "default")

    async def paused(qnode: Any, flag: bool) -> bool:
        with qnode.inside():
            return (await check_queue("default")).paused is flag

    for qnode in (a, b):
        await wait_until(lambda q=qnode: paused(q, True), what=f"{qnode.name} paused")
    job = await insert(pool, Noop, {})
    await wait_until(_slept(0.3), what="time passing")
    assert (await get_job(pool, job.id)).state == JobState.AVAILABLE  # type: ignore[union-attr]
    await resume_queue(pool, "default", node="b")
    done = await wait_for(pool, job.id, JobState.COMPLETED)
    assert done.attempted_by == "b"
    assert await paused(a, True)


def _slept(seconds: float) -> Any:
    import time

    until = time.monotonic() + seconds

    async def check() -> bool:
        return time.monotonic() >= until

    return check


async def test_cancelling_a_job_kills_the_port_it_runs(start_node: StartNode, pool: Any) -> None:
    """Cancel reaches the OS: the job's task dies, its linked port dies with it, and the port
    kills its whole process group (a program and grandchild that both ignore SIGTERM)."""
    qnode = await start_node("a")
    scratch = Path(tempfile.mkdtemp(prefix="sf-port-"))
    pids_file = scratch / "pids"
    try:
        job = await insert(pool, UsesPort, {"pids_file": str(pids_file)})

        async def reported() -> bool:
            return pids_file.exists() and bool(pids_file.read_text().strip())

        await wait_until(reported, timeout=10, what="the port's program reported its pids")
        program, grandchild = (int(p) for p in pids_file.read_text().split())
        assert _alive(program) and _alive(grandchild)
        cancelled = await cancel_job(pool, job.id)
        assert cancelled is not None and cancelled.state == JobState.CANCELLED

        async def family_gone() -> bool:
            return not _alive(program) and not _alive(grandchild)

        await wait_until(family_gone, timeout=5, what="the port's process group was killed")

        async def actors_gone() -> bool:
            kinds = ("task", "port")
            return not [p for p in qnode.node.processes.values() if p.kind in kinds]

        await wait_until(actors_gone, timeout=5, what="the job's task and its port ended")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Alive and not a zombie (this sandbox's init may not reap orphans)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
