"""Shared fixtures: a fresh runtime node per test, optionally on a manual clock."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from soundforge.runtime.clock import ManualClock
from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid
from tests.postgres import PgCluster, start_cluster

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One numba cache for every analyzer the suite starts (each studio has a fresh data dir, and
# compiling librosa's kernels takes half a minute); a user's cache lives in <data>/cache.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "sf-test-numba-cache"))


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    """A running node on the real clock; everything still alive is killed afterwards."""
    async with Node() as n:
        yield n


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def manual_node(clock: ManualClock) -> AsyncIterator[Node]:
    """A node whose timers only fire when the test calls ``await clock.advance(s)``."""
    async with Node(clock=clock) as n:
        yield n


@pytest.fixture
async def shell(node: Node) -> AsyncIterator[Pid]:
    """The test itself as a process (it can receive, link, monitor and trap exits)."""
    proc = node.attach()
    yield proc.pid
    node.detach(proc)


@pytest.fixture
async def manual_shell(manual_node: Node) -> AsyncIterator[Pid]:
    proc = manual_node.attach()
    yield proc.pid
    manual_node.detach(proc)


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One real PostgreSQL server for the whole test session."""
    yield from start_cluster()


@pytest.fixture
async def database_url(pg_cluster: PgCluster) -> AsyncIterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    import asyncpg

    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_cluster.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield pg_cluster.url(name)
    admin = await asyncpg.connect(pg_cluster.admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    """A fresh database with every migration of ``db/migrations`` applied."""
    import asyncpg

    from soundforge.storage.migrations import migrate

    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return database_url


@pytest.fixture
async def db_pool(migrated_url: str) -> AsyncIterator[object]:
    """An asyncpg pool on a fully migrated fresh database."""
    import asyncpg

    pool = await asyncpg.create_pool(migrated_url, min_size=0, max_size=5)
    yield pool
    await pool.close()
