"""The lifeline: heartbeats, rescue of dead nodes' jobs exactly once, node restarts, and a
producer that crashed on a live node."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from soundforge.queue import JobState, QueueConfig, _sql, insert, insert_all, list_jobs, new_job
from soundforge.queue.config import QueueContext
from soundforge.queue.lifeline import Lifeline
from soundforge.runtime.exit import KILL, SHUTDOWN
from soundforge.runtime.gen_server import stop
from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid, exit
from soundforge.runtime.results import Error, Ok
from tests.queue.conftest import FAST, Events, StartNode, wait_for, wait_until
from tests.queue.workers import Noop, Slow


async def _claim_all(pool: Any, node: str, *, attempt: int = 1) -> None:
    await pool.execute(
        """UPDATE jobs SET state = 'executing', attempt = $2, attempted_by = $1,
               attempted_at = now() WHERE state = 'available'""",
        node,
        attempt,
    )


async def test_racing_lifelines_rescue_each_job_exactly_once(pool: Any, jobs_url: str) -> None:
    await insert_all(pool, [new_job(Noop, {"i": i}, max_attempts=1 + i % 2) for i in range(300)])
    await _claim_all(pool, "ghost")  # a node with no heartbeat row: dead
    conns = [await asyncpg.connect(jobs_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(_sql.rescue(c, 60.0, 1000) for c in conns))
    finally:
        for conn in conns:
            await conn.close()
    rescued = [job_id for batch in results for job_id, _, _ in batch]
    assert len(rescued) == len(set(rescued)) == 300
    jobs = await list_jobs(pool, limit=1000)
    assert all(len(j.errors) == 1 and j.errors[0].kind == "rescued" for j in jobs)
    by_state = {
        s: sum(1 for j in jobs if j.state == s) for s in (JobState.AVAILABLE, JobState.DISCARDED)
    }
    assert by_state == {JobState.AVAILABLE: 150, JobState.DISCARDED: 150}  # out of attempts


async def test_live_nodes_keep_their_jobs_and_restarted_ones_lose_them(pool: Any) -> None:
    await insert_all(pool, [new_job(Noop, {}) for _ in range(3)])
    async with pool.acquire() as conn:
        started = await _sql.heartbeat(conn, "alive", None, {"default": 1})
        await _claim_all(conn, "alive")
        assert await _sql.rescue(conn, 60.0) == []
        await _sql.heartbeat(conn, "alive", started, {"default": 1})
        assert await _sql.rescue(conn, 60.0) == []
        await asyncio.sleep(0.01)
        await _sql.heartbeat(conn, "alive", None, {"default": 1})  # the node started again
        assert len(await _sql.rescue(conn, 60.0)) == 3


async def test_a_stale_heartbeat_gets_the_node_rescued(start_node: StartNode, pool: Any) -> None:
    await pool.execute(
        "INSERT INTO queue_nodes (name, heartbeat_at) VALUES ('stale', now() - interval '1 hour')"
    )
    job = await insert(pool, Noop, {})
    await _claim_all(pool, "stale")
    await start_node("rescuer")  # rescue_after is 1 s in tests
    done = await wait_for(pool, job.id, JobState.COMPLETED)
    assert done.attempted_by == "rescuer" and done.errors[0].kind == "rescued"
    assert await pool.fetchval("SELECT count(*) FROM queue_nodes WHERE name = 'stale'") in (0, 1)


async def test_a_crashed_producer_gives_its_jobs_back_when_it_restarts(
    start_node: StartNode, pool: Any
) -> None:
    qnode = await start_node("a")
    events = Events(qnode.node)
    job = await insert(pool, Slow, {"seconds": 0.3})
    await wait_for(pool, job.id, JobState.EXECUTING)
    await wait_until(_has(events, job.id), what="the job started")
    old = qnode.pid("producer", "default")
    with qnode.inside():
        exit(old, KILL)  # one_for_all: the foreman and its task go too
    done = await wait_for(pool, job.id, JobState.COMPLETED)
    assert done.attempt == 2
    assert [e.kind for e in done.errors] == ["orphaned"]
    assert qnode.pid("producer", "default") is not old


def _has(events: Events, job_id: int) -> Any:
    async def check() -> bool:
        return bool(events.of("start", job_id))

    return check


@pytest.mark.parametrize(("failures", "starts"), [(2, True), (1000, False)])
async def test_the_first_heartbeat_waits_a_bounded_time_for_the_database(
    node: Node, shell: Pid, pool: Any, failures: int, starts: bool
) -> None:
    # The queues may be restarted while PostgreSQL restarts (soundforge chaos does both): a
    # start failing at once would spend the supervisor's restart intensity in milliseconds.
    calls = 0

    def restarting_database() -> Any:
        nonlocal calls
        calls += 1
        if calls <= failures:
            raise OSError("the database system is starting up")
        return pool

    config = QueueConfig(node_name="late", workers=[Noop], **{**FAST, "op_timeout": 1.0})
    result = await Lifeline.start(QueueContext.build(config, restarting_database))
    if not starts:
        assert isinstance(result, Error) and isinstance(result.reason, OSError)
        return
    assert isinstance(result, Ok) and calls == failures + 1
    assert await pool.fetchval("SELECT count(*) FROM queue_nodes WHERE name = 'late'") == 1
    await stop(result.pid, SHUTDOWN)


async def test_a_restarted_lifeline_continues_the_run_and_rescues_nothing_running(
    start_node: StartNode, pool: Any
) -> None:
    # A new lifeline that declared a new run would have the node's own running jobs rescued,
    # and run twice, while they still run (found by soundforge chaos killing the lifeline).
    qnode = await start_node("a")
    job = await insert(pool, Slow, {"seconds": 1.0})
    await wait_for(pool, job.id, JobState.EXECUTING)
    old = qnode.pid("lifeline")
    with qnode.inside():
        exit(old, KILL)

    async def restarted() -> bool:
        return ("queues", "lifeline") in qnode.node.names and qnode.pid("lifeline") is not old

    await wait_until(restarted, what="the supervisor started a new lifeline")
    done = await wait_for(pool, job.id, JobState.COMPLETED)
    assert done.attempt == 1 and done.errors == []
