"""Which index the queue's statements can use (``0008_jobs_executing_by_node.sql``).

An acknowledgement finds its rows by primary key whatever the statistics say; the queries
that look for executing jobs of a node (or of any node) can use ``jobs_executing``. Plans are
read with PostgreSQL's generic plan (what its plan cache settles on for a prepared
statement) and sequential scans off, so the test asks what the planner *may* use, not what a
small table makes cheapest.
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
        await conn.execute(
            "INSERT INTO jobs (queue, worker, state) "
            "SELECT 'default', 'w', 'completed' FROM generate_series(1, 2000)"
        )
        await conn.execute("ANALYZE jobs")
        await conn.execute(
            "INSERT INTO jobs (queue, worker, state, attempt, attempted_by) "
            "SELECT 'default', 'w', 'executing', 1, 'node-a' FROM generate_series(1, 300)"
        )
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute("SET enable_seqscan = off")
        yield conn
    finally:
        await conn.close()


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
