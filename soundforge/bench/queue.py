"""``soundforge bench queue``: the job queue's throughput and wake-up latency, next to pgqueuer.

Prints one JSON object. Everything runs in one process against one PostgreSQL: the one at
``--dsn``, or else a throwaway embedded cluster in a temporary directory (the product's
``EmbeddedPostgres``, with its durable defaults: fsync and synchronous commit on).

Figures:

* ``jobs_per_s``: no-op jobs, from the first insert to the last completion recorded in the
  database. ``N`` jobs are inserted with ``insert_all`` in chunks while one node's producer
  (limit ``--limit``) runs them; history is kept (every job stays as ``completed``). The
  figure is the median of ``--passes`` passes (each listed in ``jobs_per_s_passes``) made by
  one running queue after a warm-up pass of a tenth of the jobs, which is not counted,
  and a ``VACUUM ANALYZE`` of the table, as autovacuum would have run by then: a
  long-running server's steady state, not its first second (fresh connections, the
  planner's caches, a table that has never been vacuumed).
* ``insert_to_start_p50_ms``/``insert_to_start_p99_ms``: single jobs inserted one at a time
  while the producer is idle, from calling ``insert`` to ``perform`` starting (the NOTIFY
  wake-up path: commit → notifier → producer → claim → task).
* ``pgqueuer_jobs_per_s``: the same ``N`` no-op jobs through pgqueuer (the peer named in
  ``dependencies-here.md``), enqueued in the same chunks while its ``QueueManager`` runs, on
  the same database in the same run, with the same warm-up and passes (its median; the
  passes in ``pgqueuer_jobs_per_s_passes``; its table is vacuumed after the warm-up too).
  ``null`` with ``pgqueuer_error`` when pgqueuer is not installed (``pip install
  soundforge[bench]``) or fails.

* ``turnover_jobs_per_s`` (only with ``--turnover N``, measured first): N rounds, each a
  fresh queue's warm-up and one measured pass, after which its rows are deleted and the table
  vacuumed (``VACUUM ANALYZE``), as the pruner and autovacuum do on a server whose history
  turns over; the median, the rounds in ``turnover_jobs_per_s_rounds``, and the table's
  ``fillfactor``. ``--fillfactor 100`` (PostgreSQL's default) instead of the schema's 70
  shows why the schema sets it (``db/migrations/0007_jobs_fillfactor.sql``).

The bench's process runs the queue as the server runs it: with the server's
garbage-collector thresholds (``GC_THRESHOLDS``, printed as ``gc_thresholds``) and, once the
queue is up, ``gc.freeze()`` (what ``Application`` does after boot); pgqueuer's run gets the
same. With CPython's defaults the cycle collector took ≈ 80 ms of each 20,000-job pass here
(≈ 35 ms with the freeze alone, ≈ 7 ms with both).

Options: ``--dsn URL``, ``--quick`` (a tenth of the jobs and samples, one pass),
``--jobs N``, ``--limit N``, ``--passes N``, ``--turnover N``, ``--fillfactor N`` (only
with the throwaway cluster). The bench's rows are deleted afterwards;
pgqueuer's tables are removed again if the bench installed them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import gc
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from soundforge.queue import (
    JobRecord,
    QueueConfig,
    Queues,
    Worker,
    insert,
    insert_all,
    new_job,
)
from soundforge.runtime.application import GC_THRESHOLDS, tune_gc
from soundforge.runtime.exit import SHUTDOWN
from soundforge.runtime.node import Node
from soundforge.runtime.process import exit_future
from soundforge.runtime.results import Ok
from soundforge.storage.migrations import migrate

__all__ = ["main", "run"]

_CHUNK = 5000
# Whether any job of the queue is left to run. EXISTS stops at the first live row of either
# partial index: the bench's own probe (every 5 ms) must not compete with the queue for the
# database's CPU, as counting thousands of available rows on every probe did.
_LEFT = """SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'available' AND queue = $1)
                OR EXISTS (SELECT 1 FROM jobs WHERE state = 'executing' AND queue = $1
                                                AND attempted_by IS NOT NULL)"""


class Noop(Worker):
    """The bench's job: nothing at all."""

    name = "soundforge.bench.Noop"

    async def perform(self, job: JobRecord) -> None:
        return None


async def _ensure_schema(pool: Any) -> None:
    """The product's whole schema (the library's index and triggers on jobs included), or
    the queue's own migration where the database has a ``jobs`` table but no migrations."""
    async with pool.acquire() as conn:
        exists = await conn.fetchval("SELECT to_regclass('jobs') IS NOT NULL")
        ledger = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists or ledger:
        await migrate(pool)


async def _pass(pool: Any, probe: Any, queue: str, jobs: int) -> float:
    """Insert ``jobs`` no-op jobs in chunks while the queue runs them; jobs per second from
    the first insert until the database has none of the queue left to run."""
    t0 = time.perf_counter()
    for offset in range(0, jobs, _CHUNK):
        n = min(_CHUNK, jobs - offset)
        await insert_all(pool, [new_job(Noop, None, queue=queue) for _ in range(n)])
    deadline = t0 + 120
    while await probe.fetchval(_LEFT, queue):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{jobs} no-op jobs did not complete within 120 s")
        await asyncio.sleep(0.005)
    return jobs / (time.perf_counter() - t0)


@contextlib.contextmanager
def _server_gc() -> Iterator[None]:
    """The server's garbage-collector settings for the run (``tune_gc``, and ``_booted``'s
    freeze), given back afterwards to a caller that runs the bench as a library."""
    thresholds = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    tune_gc()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not frozen_before:
            gc.unfreeze()


def _booted() -> None:
    """What the server's ``Application`` does once its tree is up: everything allocated so
    far lives on, so the cycle collector's full passes skip it from now on (``gc.freeze``).
    The bench's process is the server here; pgqueuer's run gets the same."""
    gc.collect()
    gc.freeze()


def _queue_name() -> str:
    """A fresh queue name as short as the product's ("download", "analysis"): the effect
    ``--turnover`` shows did not appear here with 14-character names."""
    return f"b{uuid.uuid4().hex[:7]}"


_FILLFACTOR = """
SELECT COALESCE((SELECT option_value FROM pg_options_to_table(reloptions)
                 WHERE option_name = 'fillfactor'), '100')::int
FROM pg_class WHERE oid = 'jobs'::regclass"""


class _Extra(NamedTuple):
    """The optional part: ``--turnover`` rounds, and ``--fillfactor`` for the table."""

    turnover: int
    fillfactor: int | None


@contextlib.asynccontextmanager
async def _running_queue(
    pool: Any, limit: int, queue: str | None = None
) -> AsyncIterator[tuple[Node, str]]:
    """A node running a queue of no-op jobs (a fresh one unless named; its name is yielded);
    on exit the node stops and the queue's rows are deleted."""
    queue = queue or _queue_name()
    node = Node(name="bench")
    context = contextvars.copy_context()
    context.run(node.start)
    shell = node.attach()
    config = QueueConfig(
        queues={queue: limit},
        workers=[Noop],
        node_name=f"bench-{queue}",
        poll_interval=1.0,
        shutdown_grace=5.0,
    )
    result = await Queues.start_link(config, pool)
    assert isinstance(result, Ok), result
    _booted()
    try:
        yield node, queue
    finally:
        target = result.pid._proc
        if target is not None:
            gone = exit_future(target)
            target.signal_exit(shell.pid, SHUTDOWN, linked=False)
            await gone
        await asyncio.create_task(node.stop(), context=context)
        await pool.execute("DELETE FROM jobs WHERE queue = $1", queue)


async def _our_queue(pool: Any, jobs: int, limit: int, samples: int, passes: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    waiting: dict[int, asyncio.Future[float]] = {}

    def on_start(_e: Any, _m: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        now = time.perf_counter()
        fut = waiting.setdefault(meta["job"].id, loop.create_future())
        if not fut.done():
            fut.set_result(now)

    async with _running_queue(pool, limit) as (node, queue):
        # Throughput: a warm-up pass, then the measured ones; a pass is done when the
        # database has no job of the queue left to run (both partial indexes answer that).
        # The probe keeps its own connection: a pool round per probe (acquire, then the
        # four-statement reset of a release) is overhead the measured queue competes with.
        async with pool.acquire() as probe:
            await _pass(pool, probe, queue, max(1, jobs // 10))
            await probe.execute("VACUUM ANALYZE jobs")  # as autovacuum would have by now
            rates = [await _pass(pool, probe, queue, jobs) for _ in range(passes)]

        # Latency: one job at a time into an idle producer.
        node.telemetry.attach("bench-start", ("queue", "job", "start"), on_start)
        latencies: list[float] = []
        for _ in range(samples):
            await asyncio.sleep(0.005)
            t = time.perf_counter()
            job = await insert(pool, Noop, None, queue=queue)
            fut = waiting.setdefault(job.id, loop.create_future())
            latencies.append((await asyncio.wait_for(fut, 10) - t) * 1000)
    latencies.sort()
    return {
        "jobs_per_s": round(statistics.median(rates)),
        "jobs_per_s_passes": [round(r) for r in rates],
        "insert_to_start_p50_ms": round(statistics.median(latencies), 3),
        "insert_to_start_p99_ms": round(
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3
        ),
    }


async def _turnover(pool: Any, jobs: int, limit: int, rounds: int) -> dict[str, Any]:
    """``--turnover``: rounds of one queue on a fresh node (a warm-up pass, then one measured
    pass), each followed by what the pruner and autovacuum do to old history: the queue's
    rows are deleted and the table is vacuumed, so the next round's rows go into freed space.
    The queue keeps its name across rounds, as a server's queues do."""
    rates: list[float] = []
    name = _queue_name()
    async with pool.acquire() as probe:
        for _ in range(rounds):
            async with _running_queue(pool, limit, name) as (_node, queue):
                await _pass(pool, probe, queue, max(1, jobs // 10))
                rates.append(await _pass(pool, probe, queue, jobs))
            await probe.execute("VACUUM ANALYZE jobs")
    return {
        "turnover_jobs_per_s": round(statistics.median(rates)),
        "turnover_jobs_per_s_rounds": [round(r) for r in rates],
    }


async def _pgqueuer(dsn: str, jobs: int, passes: int) -> dict[str, Any]:
    try:
        from pgqueuer import AsyncpgDriver, Queries
    except ImportError:
        return {"pgqueuer_jobs_per_s": None, "pgqueuer_error": "pgqueuer is not installed"}
    admin = await asyncpg.connect(dsn)
    worker_conn = await asyncpg.connect(dsn)
    installed = False
    try:
        queries = Queries(AsyncpgDriver(admin))
        if not await queries.schema_is_installed():
            await queries.install()
            installed = True
        entrypoint = f"bench_{uuid.uuid4().hex[:8]}"
        _booted()
        await _pgqueuer_pass(queries, worker_conn, entrypoint, max(1, jobs // 10))
        await admin.execute(f"VACUUM ANALYZE {queries.qbe.settings.queue_table}")
        rates = [
            await _pgqueuer_pass(queries, worker_conn, entrypoint, jobs) for _ in range(passes)
        ]
        return {
            "pgqueuer_jobs_per_s": round(statistics.median(rates)),
            "pgqueuer_jobs_per_s_passes": [round(r) for r in rates],
        }
    except Exception as error:  # the peer failing must not lose our own figures: report it
        return {"pgqueuer_jobs_per_s": None, "pgqueuer_error": f"{type(error).__name__}: {error}"}
    finally:
        if installed:
            await Queries(AsyncpgDriver(admin)).uninstall()
        await worker_conn.close()
        await admin.close()


async def _pgqueuer_pass(queries: Any, worker_conn: Any, entrypoint: str, jobs: int) -> float:
    """One pass through pgqueuer: jobs per second from the first enqueue to the last run."""
    from pgqueuer import AsyncpgDriver, Queries, QueueManager

    manager = QueueManager(Queries(AsyncpgDriver(worker_conn)))
    count = 0

    @manager.entrypoint(entrypoint)
    async def noop(job: Any) -> None:
        nonlocal count
        count += 1
        if count >= jobs:
            manager.shutdown.set()

    async def produce() -> None:
        for offset in range(0, jobs, _CHUNK):
            n = min(_CHUNK, jobs - offset)
            await queries.enqueue([entrypoint] * n, [None] * n, [0] * n)

    t0 = time.perf_counter()
    producer = asyncio.create_task(produce())
    try:
        await asyncio.wait_for(manager.run(batch_size=50, dequeue_timeout=_seconds(1)), timeout=120)
    finally:
        await producer
    return jobs / (time.perf_counter() - t0)


def _seconds(value: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=value)


async def _run(
    dsn: str | None, jobs: int, limit: int, samples: int, passes: int, extra: _Extra
) -> dict[str, Any]:
    if dsn is None:
        from soundforge.storage.embedded_postgres import EmbeddedPostgres

        with tempfile.TemporaryDirectory(prefix="soundforge-bench-") as tmp:
            # The cluster may run as another (unprivileged) user, who must enter the folder.
            os.chmod(tmp, 0o755)
            pg = EmbeddedPostgres(Path(tmp))
            started_dsn = await pg.start()
            try:
                figures = await _measure(started_dsn, jobs, limit, samples, passes, extra)
            finally:
                await pg.stop()
            figures["database"] = "embedded"
            return figures
    figures = await _measure(dsn, jobs, limit, samples, passes, extra)
    figures["database"] = "dsn"
    return figures


async def _measure(
    dsn: str, jobs: int, limit: int, samples: int, passes: int, extra: _Extra
) -> dict[str, Any]:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    try:
        await _ensure_schema(pool)
        figures: dict[str, Any] = {}
        if extra.fillfactor is not None:
            await pool.execute(f"ALTER TABLE jobs SET (fillfactor = {int(extra.fillfactor)})")
        if extra.turnover:
            figures["fillfactor"] = await pool.fetchval(_FILLFACTOR)
            figures.update(await _turnover(pool, jobs, limit, extra.turnover))
        figures.update(await _our_queue(pool, jobs, limit, samples, passes))
    finally:
        await pool.close()
    figures.update(await _pgqueuer(dsn, jobs, passes))
    ours, theirs = figures["jobs_per_s"], figures.get("pgqueuer_jobs_per_s")
    figures["vs_pgqueuer"] = round(ours / theirs, 2) if theirs else None
    return figures


def run(
    dsn: str | None = None,
    *,
    quick: bool = False,
    jobs: int | None = None,
    limit: int = 500,
    passes: int | None = None,
    turnover: int = 0,
    fillfactor: int | None = None,
) -> dict[str, Any]:
    """Measure and return the figures (a fresh event loop, uvloop when installed)."""
    if fillfactor is not None and dsn is not None:
        raise ValueError("--fillfactor changes the jobs table: only with the throwaway cluster")
    n = jobs or (2_000 if quick else 20_000)
    rounds = passes or (1 if quick else 3)
    samples = 30 if quick else 300
    try:
        import uvloop

        runner: Any = uvloop.run
        loop = "uvloop"
    except ImportError:
        runner = asyncio.run
        loop = "asyncio"
    extra = _Extra(turnover, fillfactor)
    with _server_gc():
        figures: dict[str, Any] = runner(_run(dsn, n, limit, samples, rounds, extra))
    figures.update(
        {
            "jobs": n,
            "limit": limit,
            "passes": rounds,
            "samples": samples,
            "loop": loop,
            "gc_thresholds": list(GC_THRESHOLDS),
            "quick": quick,
            "python": platform.python_version(),
        }
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soundforge bench queue", description=__doc__)
    parser.add_argument("--dsn", help="PostgreSQL URL (default: a throwaway embedded cluster)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the jobs and samples")
    parser.add_argument("--jobs", type=int, help="no-op jobs for the throughput figures")
    parser.add_argument("--limit", type=int, default=500, help="the producer's concurrency limit")
    parser.add_argument("--passes", type=int, help="measured passes (default 3, 1 with --quick)")
    parser.add_argument(
        "--turnover", type=int, default=0, metavar="N", help="first, N rounds of history turnover"
    )
    parser.add_argument(
        "--fillfactor", type=int, help="the jobs table's fillfactor (throwaway cluster only)"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.fillfactor is not None and args.dsn is not None:
        parser.error("--fillfactor changes the jobs table: only with the throwaway cluster")
    logging.getLogger("soundforge.queue").setLevel(logging.ERROR)
    print(
        json.dumps(
            run(
                args.dsn,
                quick=args.quick,
                jobs=args.jobs,
                limit=args.limit,
                passes=args.passes,
                turnover=args.turnover,
                fillfactor=args.fillfactor,
            )
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
