"""How the queue's statements reach their rows, whatever the statistics say.

An acknowledgement finds its rows by primary key; the queries that look for executing jobs
of a node (or of any node) can use ``jobs_executing`` (``0008_jobs_executing_by_node.sql``).
Those plans are read with PostgreSQL's generic plan (what its plan cache settles on for a
prepared statement) and sequential scans off, so the tests ask what the planner *may* use,
not what a small table makes cheapest.

Then what it *does*: with statistics that say no job is executing (an ANALYZE of a quiet
queue) and a long history, a batch of completions is run under both plan modes and must
touch its own rows only: no scan of the table, no join that compares every executing row
with every acknowledged id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from soundforge.queue import _sql, engine

# (statement, the literal arguments of one execution)
ACKNOWLEDGEMENTS = {
    "completions": (_sql._COMPLETE, "'{1,2,3}', '{1,1,1}'"),
    "any outcome": (
        _sql._ACK,
        "'{1}', '{1}', '{2,3}', '{1,1}', '{retryable,cancelled}', '{30,0}', '{NULL,NULL}'",
    ),
    "completions and the next claim": (
        _sql._COMPLETE_AND_CLAIM,
        "'node-a', 'default', 10, '{1,2,3}', '{1,1,1}'",
    ),
}

BY_NODE = {
    "reconcile": (_sql._RECONCILE, "'orphaned', 'restarted: ', 'node-a', 'default', '{1}'"),
    "rescue": (_sql._RESCUE, "'rescued', 'lost: ', 60, 1000"),
    "live counts": (engine._LIVE_COUNTS, None),
}


@pytest.fixture
async def conn(migrated_url: str) -> AsyncIterator[Any]:
    """A migrated database whose statistics say no job is executing (as after an ANALYZE on
    a quiet queue), with some executing all the same."""
    conn = await asyncpg.connect(migrated_url)
    try:
        await _stale_statistics(conn, finished=2000, executing=300)
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute("SET enable_seqscan = off")
        yield conn
    finally:
        await conn.close()


async def _stale_statistics(conn: Any, finished: int, executing: int) -> None:
    """``finished`` jobs, an ANALYZE that sees them, then ``executing`` jobs of node-a."""
    await conn.execute(
        "INSERT INTO jobs (queue, worker, state, attempt) "
        "SELECT 'default', 'w', 'completed', 1 FROM generate_series(1, $1::int)",
        finished,
    )
    await conn.execute("ANALYZE jobs")
    await conn.execute(
        "INSERT INTO jobs (queue, worker, state, attempt, attempted_by) "
        "SELECT 'default', 'w', 'executing', 1, 'node-a' FROM generate_series(1, $1::int)",
        executing,
    )


async def _plan(conn: Any, statement: str, arguments: str | None) -> str:
    await conn.execute(f"PREPARE probe AS {statement}")
    try:
        execute = f"EXECUTE probe({arguments})" if arguments else "EXECUTE probe"
        return "\n".join(row[0] for row in await conn.fetch(f"EXPLAIN {execute}"))
    finally:
        await conn.execute("DEALLOCATE probe")


@pytest.mark.parametrize("name", list(ACKNOWLEDGEMENTS))
async def test_acknowledgements_find_their_rows_by_primary_key(conn: Any, name: str) -> None:
    plan = await _plan(conn, *ACKNOWLEDGEMENTS[name])
    assert "jobs_executing" not in plan, plan
    assert "jobs_pkey" in plan, plan


@pytest.mark.parametrize("name", list(BY_NODE))
async def test_queries_for_executing_jobs_can_use_the_executing_index(conn: Any, name: str) -> None:
    plan = await _plan(conn, *BY_NODE[name])
    assert "jobs_executing" in plan, plan


COMPLETIONS = {
    "completions": (_sql._COMPLETE, "{ids}, {attempts}"),
    "any outcome": (_sql._ACK, "{ids}, {attempts}, '{{}}', '{{}}', '{{}}', '{{}}', '{{}}'"),
    "completions and the next claim": (
        _sql._COMPLETE_AND_CLAIM,
        "'node-a', 'default', 10, {ids}, {attempts}",
    ),
}


@pytest.fixture
async def stale(migrated_url: str) -> AsyncIterator[Any]:
    """20,000 finished jobs and statistics that say none is executing; then 250 are."""
    conn = await asyncpg.connect(migrated_url)
    try:
        await _stale_statistics(conn, finished=20000, executing=250)
        yield conn
    finally:
        await conn.close()


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize("name", list(COMPLETIONS))
async def test_a_batch_of_completions_touches_only_its_rows(
    stale: Any, name: str, mode: str
) -> None:
    ids = [r[0] for r in await stale.fetch("SELECT id FROM jobs WHERE state = 'executing'")]
    statement, arguments = COMPLETIONS[name]
    literal = arguments.format(
        ids="'{" + ",".join(map(str, ids)) + "}'", attempts="'{" + ",".join("1" * len(ids)) + "}'"
    )
    await stale.execute(f"SET plan_cache_mode = {mode}")
    await stale.execute(f"PREPARE probe AS {statement}")
    probe = stale.transaction()  # rolled back: every case starts from the same rows
    await probe.start()
    try:
        explain = f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE probe({literal})"
        plan = "\n".join(row[0] for row in await stale.fetch(explain))
        completed = await stale.fetchval("SELECT count(*) FROM jobs WHERE state = 'completed'")
    finally:
        await probe.rollback()
        await stale.execute("DEALLOCATE probe")
    assert completed == 20000 + len(ids), plan
    assert "Seq Scan on jobs" not in plan, plan
    assert "Rows Removed by Join Filter" not in plan, plan
