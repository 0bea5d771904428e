"""Fixtures for the queue: a migrated database, a pool, and running Queues trees ("nodes")."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from soundforge.queue import MIGRATIONS, JobRecord, QueueConfig, Queues, get_job
from soundforge.runtime.exit import SHUTDOWN
from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid, Process, exit_future
from soundforge.runtime.results import Ok
from tests.queue import workers

#: Small intervals keep the suite fast; every wait in the tests is bounded anyway.
FAST: dict[str, Any] = {
    "poll_interval": 0.05,
    "rescue_after": 1.0,
    "heartbeat_interval": 0.1,
    "shutdown_grace": 1.0,
    "op_timeout": 5.0,
    "cron_interval": 0.05,
}


@pytest.fixture
async def jobs_url(database_url: str) -> str:
    """A fresh database with the queue's migrations applied (and nothing else)."""
    conn = await asyncpg.connect(database_url)
    try:
        for migration in MIGRATIONS:
            await conn.execute(migration.read_text())
    finally:
        await conn.close()
    return database_url


@pytest.fixture
async def pool(jobs_url: str) -> AsyncIterator[Any]:
    pool = await asyncpg.create_pool(jobs_url, min_size=0, max_size=10)
    yield pool
    await pool.close()


@dataclass
class QNode:
    """One queue node of the test cluster: a runtime Node, its pool and its Queues tree."""

    name: str
    node: Node
    pool: Any
    shell: Process
    sup: Pid | None = None

    def pid(self, *name: str) -> Pid:
        """The pid registered on this node as ``("queues", *name)``."""
        return self.node.names[("queues", *name)].pid

    @contextmanager
    def inside(self) -> Iterator[Process]:
        """Run code as a process of this node (name lookups then use this node)."""
        proc = self.node.attach()
        try:
            yield proc
        finally:
            self.node.detach(proc)

    async def stop(self) -> None:
        """Stop the Queues tree by the shutdown protocol, as its parent would."""
        target = self.sup._proc if self.sup is not None else None
        if target is not None:
            gone = exit_future(target)
            target.signal_exit(self.shell.pid, SHUTDOWN, linked=False)
            await gone


StartNode = Callable[..., Awaitable[QNode]]


@pytest.fixture
async def start_node(jobs_url: str) -> AsyncIterator[StartNode]:
    """``await start_node(name, **config)``: a node sharing the test database. Every node is
    stopped (queues first, then the runtime node) when the test ends."""
    async with AsyncExitStack() as stack:

        async def start(name: str, **options: Any) -> QNode:
            node = Node(name=name)
            # The node's context variable is set (and later reset) in a context of its own:
            # the test body starts nodes, the fixture's teardown stops them.
            context = contextvars.copy_context()
            context.run(node.start)
            pool = await asyncpg.create_pool(jobs_url, min_size=0, max_size=8)
            shell = node.attach()
            qnode = QNode(name, node, pool, shell)

            async def close() -> None:
                await qnode.stop()
                await asyncio.create_task(node.stop(), context=context)
                await pool.close()

            stack.push_async_callback(close)
            options.setdefault("workers", workers.ALL)
            options.setdefault("queues", {"default": 5})
            config = QueueConfig(**{"node_name": name, **FAST, **options})
            result = await Queues.start_link(config, pool)
            assert isinstance(result, Ok), result
            qnode.sup = result.pid
            return qnode

        yield start


# -- helpers ------------------------------------------------------------------------------


async def wait_for(pool: Any, job_id: int, *states: str, timeout: float = 10.0) -> JobRecord:
    """Poll the database until job ``job_id`` is in one of ``states`` (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        job = await get_job(pool, job_id)
        assert job is not None, f"job {job_id} does not exist"
        if job.state in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job.state}, not {states}, after {timeout} s")
        await asyncio.sleep(0.02)


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = ""
) -> None:
    """Poll an async condition until it holds (bounded)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what}")
        await asyncio.sleep(0.02)


class Events:
    """Telemetry events of one node, collected for assertions."""

    NAMES = [
        ("queue", "job", "start"),
        ("queue", "job", "stop"),
        ("queue", "job", "exception"),
    ]

    def __init__(self, node: Node) -> None:
        self.seen: list[tuple[tuple[str, ...], dict[str, Any], dict[str, Any]]] = []
        node.telemetry.attach(f"test-{id(self)}", self.NAMES, self._handle)

    def _handle(self, event: Any, measurements: Any, metadata: Any) -> None:
        self.seen.append((event, dict(measurements), dict(metadata)))

    def of(self, kind: str, job_id: int | None = None) -> list[dict[str, Any]]:
        return [
            {**meta, **meas}
            for event, meas, meta in self.seen
            if event[-1] == kind and (job_id is None or meta["job"].id == job_id)
        ]
