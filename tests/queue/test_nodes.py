"""Several nodes on one database: exactly-once completion, a node killed with SIGKILL, a
PostgreSQL restart, a clean stop giving its jobs back."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from soundforge.queue import JobState, insert, insert_all, list_jobs, new_job
from tests.postgres import PgCluster
from tests.queue.conftest import Events, StartNode, wait_for, wait_until
from tests.queue.workers import Noop, Slow

ROOT = Path(__file__).resolve().parents[2]


async def test_two_competing_nodes_complete_each_job_exactly_once(
    start_node: StartNode, pool: Any
) -> None:
    a = await start_node("a", queues={"default": 20})
    b = await start_node("b", queues={"default": 20})
    seen = [Events(a.node), Events(b.node)]
    jobs = await insert_all(pool, [new_job(Noop, {"i": i}) for i in range(2000)])

    async def all_done() -> bool:
        return len(await list_jobs(pool, states=[JobState.COMPLETED], limit=5000)) == len(jobs)

    await wait_until(all_done, timeout=30, what="2000 jobs completed")
    started = [e["job"].id for events in seen for e in events.of("start")]
    assert sorted(started) == sorted(j.id for j in jobs)  # each ran once, on one node
    done = await list_jobs(pool, limit=5000)
    assert {j.attempt for j in done} == {1}
    assert {j.attempted_by for j in done} == {"a", "b"}


async def test_a_node_killed_mid_job_is_rescued_and_the_job_completed_once(
    start_node: StartNode, pool: Any, jobs_url: str
) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.queue.node_script",
        jobs_url,
        "doomed",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line.strip() == b"ready"
        job = await insert(pool, Slow, {"seconds": 0.5})
        running = await wait_for(pool, job.id, JobState.EXECUTING)
        assert running.attempted_by == "doomed"
        child.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(child.wait(), 10) == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await asyncio.wait_for(child.wait(), 10)
    survivor = await start_node("survivor")
    events = Events(survivor.node)
    done = await wait_for(pool, job.id, JobState.COMPLETED, timeout=15)
    assert done.attempt == 2 and done.attempted_by == "survivor"
    [rescue] = done.errors
    assert rescue.kind == "rescued" and rescue.attempt == 1 and "doomed" in rescue.message
    assert len(events.of("stop", job.id)) == 1


async def test_a_postgres_restart_loses_no_job(
    start_node: StartNode, pool: Any, pg_cluster: PgCluster
) -> None:
    a = await start_node("a", queues={"default": 10})
    switches: list[bool] = []
    a.node.telemetry.attach(
        "switch",
        ("queue", "notifier", "switch"),
        lambda _e, _m, meta: switches.append(meta["connected"]),
    )
    first = await insert_all(pool, [new_job(Slow, {"seconds": 0.05}) for _ in range(200)])
    try:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(pg_cluster.restart)
    finally:
        await asyncio.to_thread(_ensure_running, pg_cluster)
    second = await insert_all(pool, [new_job(Noop, {}) for _ in range(100)])  # after the restart
    total = len(first) + len(second)

    async def all_completed() -> bool:
        jobs = await list_jobs(pool, limit=1000)
        return len(jobs) == total and all(j.state == JobState.COMPLETED for j in jobs)

    await wait_until(all_completed, timeout=30, what="every job completed after the restart")
    # The notifier came back. (Its first connect runs after start_link returns, so on a busy
    # machine a `True` may come before the restart's `False`.)
    assert False in switches and switches[-1] is True


def _ensure_running(cluster: PgCluster) -> None:
    status = cluster.pg_ctl("status", check=False)
    if status.returncode != 0:
        cluster.start()


async def test_a_clean_stop_gives_running_jobs_back(start_node: StartNode, pool: Any) -> None:
    a = await start_node("a", shutdown_grace=0.2)
    job = await insert(pool, Slow, {"seconds": 30})
    await wait_for(pool, job.id, JobState.EXECUTING)
    await a.stop()
    back = await wait_for(pool, job.id, JobState.AVAILABLE)
    assert [e.kind for e in back.errors] == ["orphaned"]
    b = await start_node("b")
    assert b.name == "b"
    running = await wait_for(pool, job.id, JobState.EXECUTING)
    assert running.attempted_by == "b" and running.attempt == 2
