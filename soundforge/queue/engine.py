"""The job-facing SQL of the queue: insert (one, many, unique), cancel, retry, complete, notify.

Mirrors ``Oban.Engines.Basic`` (the part callers use; the producer's claim/ack, staging and
the plugins' SQL is in ``_sql.py``). Every function takes ``conn``: an asyncpg connection
(or pool connection) — use the caller's own connection inside its transaction and the job
commits or rolls back with the domain rows — or a pool, from which one is taken::

    async with conn.transaction():
        track_id = await conn.fetchval("INSERT INTO tracks ... RETURNING id")
        await insert(conn, Download, {"track_id": track_id})    # gone if this rolls back

**Uniqueness** is an advisory transaction lock on the key's hash, then a check and the
insert in one statement, as Oban's open-source engine does. A partial unique index cannot
express a period ("unique within 60 s") nor per-worker state sets, and its violation would
abort the caller's transaction; the lock serializes only inserts of the same key, so two
nodes racing on one key insert one job and the other gets it back with ``conflict=True``.
The lock lives until the caller's transaction ends; outside a transaction we open one. The
check runs in a statement that starts after the lock is granted, so under READ COMMITTED
it sees the other inserter's committed row. (Under REPEATABLE READ or SERIALIZABLE the
caller's snapshot predates it: use READ COMMITTED for transactions that insert unique jobs,
as with Oban.)

**Wake-up**: the insert trigger of ``0002_jobs.sql`` NOTIFYs ``insert`` per queue; it is
delivered only when the transaction commits. Jobs scheduled for later are staged by the
producers' polling (see ``producer.py``).

Differences from Oban: values are typed (:class:`JobRecord`); ``cancel_job`` of an executing
job sends the ``pkill`` signal itself; ``complete_job`` lets a worker complete its own job in
the transaction that inserts the next stage (the later acknowledgement is then a no-op).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from soundforge.queue import signals
from soundforge.queue._sql import COLUMNS, JOB_COLUMNS, job_from_row, notify_queues
from soundforge.queue.job import InvalidJob, JobRecord, JobState, NewJob, Unique, new_job
from soundforge.storage.connections import connection as _connection

if TYPE_CHECKING:
    from datetime import datetime

    from soundforge.queue.worker import Worker

__all__ = [
    "MIGRATIONS",
    "cancel_job",
    "complete_job",
    "get_job",
    "insert",
    "insert_all",
    "insert_job",
    "list_jobs",
    "live_counts",
    "notify",
    "retry_job",
]


_MIGRATION_FILES: Final = (
    "0002_jobs.sql",
    "0007_jobs_fillfactor.sql",
    "0008_jobs_executing_by_node.sql",
)


def _migrations() -> tuple[Path, ...]:
    here = Path(__file__).resolve().parents[1]
    checkout = here.parent / "db" / "migrations"
    directory = checkout if checkout.is_dir() else here / "storage" / "sql"
    return tuple(directory / name for name in _MIGRATION_FILES)


#: The queue's plain-SQL migrations, in order: its tables, then what changed in them since.
#: The migrations runner applies them among the rest of ``db/migrations/`` (the wheel's copy
#: when installed); a database that holds only the queue (the queue's tests) applies these.
MIGRATIONS: Final = _migrations()

#: Advisory lock class (the first int4 of the two-key form) for unique inserts.
UNIQUE_LOCK_CLASS: Final = 5_301_001

_ENCODE: Final = msgspec.json.Encoder()

_INSERT_VALUES: Final = """
    SELECT CASE WHEN u.at > now() THEN 'scheduled' ELSE 'available' END,
           u.queue, u.worker, u.args::jsonb, u.meta::jsonb, u.priority, u.max_attempts,
           COALESCE(u.at, now()), u.ukey
    FROM (
        SELECT queue, worker, args, meta, priority, max_attempts,
               COALESCE(sched, now() + make_interval(secs => sin)) AS at, ukey
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int2[], $6::int4[],
                    $7::timestamptz[], $8::float8[], $9::text[])
             AS x(queue, worker, args, meta, priority, max_attempts, sched, sin, ukey)
    ) u
"""

_INSERT_COLUMNS: Final = (
    "INSERT INTO jobs (state, queue, worker, args, meta, priority, max_attempts, "
    "scheduled_at, unique_key)"
)

_INSERT_UNIQUE: Final = f"""
    WITH existing AS (
        SELECT {COLUMNS} FROM jobs
        WHERE unique_key = $10 AND state = ANY($11::text[])
          AND ($12::float8 IS NULL OR inserted_at >= now() - make_interval(secs => $12))
        ORDER BY id DESC LIMIT 1
    ), inserted AS (
        {_INSERT_COLUMNS} {_INSERT_VALUES} WHERE NOT EXISTS (SELECT 1 FROM existing)
        RETURNING {COLUMNS}
    )
    SELECT *, false FROM inserted UNION ALL SELECT *, true FROM existing
"""

_LOCK: Final = "SELECT pg_advisory_xact_lock($1::int4, hashtext($2))"


def _json(value: dict[str, Any]) -> str:
    if not value:
        return "{}"
    try:
        return _ENCODE.encode(value).decode()
    except (TypeError, msgspec.EncodeError) as error:
        raise InvalidJob(f"job args and meta must be JSON-encodable: {error}") from None


def _columns(jobs: Sequence[NewJob]) -> list[list[Any]]:
    return [
        [j.queue for j in jobs],
        [j.worker for j in jobs],
        [_json(j.args) for j in jobs],
        [_json(j.meta) for j in jobs],
        [j.priority for j in jobs],
        [j.max_attempts for j in jobs],
        [j.scheduled_at for j in jobs],
        [j.schedule_in for j in jobs],
        [j.unique_key for j in jobs],
    ]


async def insert(
    conn: Any,
    worker: type[Worker] | str,
    args: Any = None,
    *,
    queue: str | None = None,
    priority: int | None = None,
    max_attempts: int | None = None,
    meta: dict[str, Any] | None = None,
    scheduled_at: datetime | None = None,
    schedule_in: float | None = None,
    unique: Unique | msgspec.UnsetType | None = msgspec.UNSET,
) -> JobRecord:
    """Insert one job for ``worker`` (a Worker class, or a worker name) with ``args``.

    Options default to the worker's. A unique job that already exists is returned with
    ``conflict=True`` instead of inserting a second one.
    """
    job = new_job(
        worker,
        args,
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
        meta=meta,
        scheduled_at=scheduled_at,
        schedule_in=schedule_in,
        unique=unique,
    )
    return await insert_job(conn, job)


async def insert_job(conn: Any, job: NewJob) -> JobRecord:
    """Insert one prepared job (see :func:`~soundforge.queue.job.new_job`)."""
    async with _connection(conn) as c:
        if job.unique_key is None:
            return (await _insert_plain(c, [job]))[0]
        async with c.transaction():
            await c.execute(_LOCK, UNIQUE_LOCK_CLASS, job.unique_key)
            return await _insert_unique(c, job)


async def insert_all(conn: Any, jobs: Sequence[NewJob]) -> list[JobRecord]:
    """Insert many jobs, in the given order; plain ones in one statement.

    Unique jobs take their locks in key order first (so two batches cannot deadlock), and a
    conflicting one is returned as the existing job with ``conflict=True``.
    """
    if not jobs:
        return []
    plain = [i for i, j in enumerate(jobs) if j.unique_key is None]
    unique = [i for i, j in enumerate(jobs) if j.unique_key is not None]
    if not unique:
        async with _connection(conn) as c:
            return await _insert_plain(c, jobs)
    results: list[JobRecord | None] = [None] * len(jobs)
    async with _connection(conn) as c, c.transaction():
        for key in sorted({jobs[i].unique_key or "" for i in unique}):
            await c.execute(_LOCK, UNIQUE_LOCK_CLASS, key)
        if plain:
            made = await _insert_plain(c, [jobs[i] for i in plain])
            for i, record in zip(plain, made, strict=True):
                results[i] = record
        for i in unique:
            results[i] = await _insert_unique(c, jobs[i])
    return [r for r in results if r is not None]


# -- plain (non-unique) inserts --------------------------------------------------------------
#
# One statement per batch, shaped by the batch: a column whose value is the same for every
# job (the queue, the worker, empty args, ...) is sent once as a scalar, the others as arrays
# through unnest. Encoding a 5,000-element array costs asyncpg per-element type checks and
# PostgreSQL per-element parsing; a scalar costs neither. The statement returns only what the
# database decides (id, state, inserted_at, scheduled_at); the rest of each JobRecord comes
# from the NewJob (args and meta decoded from the very JSON text that was stored). When the
# schedule is the same for the whole batch (the usual case: none), so are the state and both
# times, and the statement returns one row: the ids as one array, and those three once —
# decoding 5,000 rows of two timestamps each cost more than the rest of the insert's Python.

_PLAIN_COLUMNS: Final = (
    ("queue", "text"),
    ("worker", "text"),
    ("args", "text"),
    ("meta", "text"),
    ("priority", "int2"),
    ("max_attempts", "int4"),
    ("sched", "timestamptz"),
    ("sin", "float8"),
)
_DECODE_OBJECT: Final = msgspec.json.Decoder(dict[str, Any])
_STATE_OF: Final = {s.value: s for s in JobState}


@lru_cache(maxsize=256)
def _plain_sql(varying: tuple[bool, ...]) -> str:
    """The insert for a batch whose columns vary (array, unnest) or not (one scalar)."""
    exprs: list[str] = []
    arrays: list[str] = []
    names: list[str] = []
    for n, ((name, kind), varies) in enumerate(zip(_PLAIN_COLUMNS, varying, strict=True), 1):
        if varies:
            arrays.append(f"${n}::{kind}[]")
            names.append(name)
            exprs.append(f"x.{name}")
        else:
            exprs.append(f"${n}::{kind}")
    if arrays:
        source = f"unnest({', '.join(arrays)}) AS x({', '.join(names)})"
    else:
        source = f"generate_series(1, ${len(_PLAIN_COLUMNS) + 1}::int4) AS x(n)"
    queue, worker, args, meta, priority, max_attempts, sched, sin = exprs
    insert = f"""
    {_INSERT_COLUMNS}
    SELECT CASE WHEN u.at > now() THEN 'scheduled' ELSE 'available' END,
           u.queue, u.worker, u.args::jsonb, u.meta::jsonb, u.priority, u.max_attempts,
           COALESCE(u.at, now()), NULL
    FROM (
        SELECT {queue} AS queue, {worker} AS worker, {args} AS args, {meta} AS meta,
               {priority} AS priority, {max_attempts} AS max_attempts,
               COALESCE({sched}, now() + make_interval(secs => {sin})) AS at
        FROM {source}
    ) u
    RETURNING id, state, inserted_at, scheduled_at
    """
    if _same_schedule(varying):
        return f"""
        WITH inserted AS ({insert})
        SELECT array_agg(id ORDER BY id), min(state), min(inserted_at), min(scheduled_at)
        FROM inserted
        """
    return insert


def _same_schedule(varying: tuple[bool, ...]) -> bool:
    """Whether every job of the batch gets the same state and times (see above)."""
    return not varying[6] and not varying[7]


def _same(column: list[Any]) -> bool:
    first = column[0]
    if first is None:
        return column.count(None) == len(column)
    return type(first) is not bool and column.count(first) == len(column)


async def _insert_plain(c: Any, jobs: Sequence[NewJob]) -> list[JobRecord]:
    """Insert jobs without uniqueness in one statement; records in the given order."""
    args = [_json(j.args) for j in jobs]
    meta = [_json(j.meta) for j in jobs]
    columns: list[list[Any]] = [
        [j.queue for j in jobs],
        [j.worker for j in jobs],
        args,
        meta,
        [j.priority for j in jobs],
        [j.max_attempts for j in jobs],
        [j.scheduled_at for j in jobs],
        [j.schedule_in for j in jobs],
    ]
    varying = tuple(not _same(column) for column in columns)
    params = [
        column if varies else column[0] for column, varies in zip(columns, varying, strict=True)
    ]
    if not any(varying):
        params.append(len(jobs))
    sql = _plain_sql(varying)
    rows: list[Any]
    if _same_schedule(varying):
        ids, state, inserted_at, scheduled_at = await c.fetchrow(sql, *params)
        rows = [(i, state, inserted_at, scheduled_at) for i in ids]  # ids sorted by the SQL
    else:
        # ids come from one sequence in row order, so sorting by id restores the order.
        rows = sorted(await c.fetch(sql, *params), key=_first)
    records = []
    for job, row, a, m in zip(jobs, rows, args, meta, strict=True):
        records.append(
            JobRecord(
                row[0],
                _STATE_OF[row[1]],
                job.queue,
                job.worker,
                {} if a == "{}" else _DECODE_OBJECT.decode(a),
                {} if m == "{}" else _DECODE_OBJECT.decode(m),
                job.priority,
                0,
                job.max_attempts,
                [],
                row[2],
                row[3],
            )
        )
    return records


def _first(row: Any) -> int:
    return int(row[0])


async def _insert_unique(c: Any, job: NewJob) -> JobRecord:
    states = [str(s) for s in job.unique_states]
    row = await c.fetchrow(
        _INSERT_UNIQUE, *_columns([job]), job.unique_key, states, job.unique_period
    )
    return job_from_row(row, conflict=row[-1])


# The live states only, read from the partial indexes, never the history: one arm per
# index predicate (jobs_fetch, jobs_stage, jobs_executing — asked for with a node,
# attempted_by IS NOT NULL, as that index requires).
_LIVE_COUNTS: Final = """
SELECT queue, state, count(*)::int FROM jobs
WHERE state = 'available'
   OR state IN ('scheduled', 'retryable')
   OR (state = 'executing' AND attempted_by IS NOT NULL)
GROUP BY queue, state
"""


async def live_counts(conn: Any, timeout: float | None = None) -> dict[str, dict[str, int]]:
    """How many jobs each queue has available, scheduled, retryable and executing (states
    with none are left out)."""
    counts: dict[str, dict[str, int]] = {}
    for queue, state, n in await conn.fetch(_LIVE_COUNTS, timeout=timeout):
        counts.setdefault(queue, {})[state] = n
    return counts


async def get_job(conn: Any, job_id: int) -> JobRecord | None:
    async with _connection(conn) as c:
        row = await c.fetchrow(f"SELECT {COLUMNS} FROM jobs WHERE id = $1", job_id)
    return None if row is None else job_from_row(row)


async def list_jobs(
    conn: Any,
    *,
    queue: str | None = None,
    worker: str | None = None,
    states: Sequence[JobState] | None = None,
    limit: int = 1000,
) -> list[JobRecord]:
    """Jobs matching the filters, oldest first (for the dashboard and for tests)."""
    async with _connection(conn) as c:
        rows = await c.fetch(
            f"""SELECT {COLUMNS} FROM jobs
                WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR worker = $2)
                  AND ($3::text[] IS NULL OR state = ANY($3::text[]))
                ORDER BY id LIMIT $4""",
            queue,
            worker,
            None if states is None else [str(s) for s in states],
            limit,
        )
    return [job_from_row(r) for r in rows]


async def cancel_job(conn: Any, job_id: int) -> JobRecord | None:
    """Cancel a job that has not finished (Oban's ``cancel_job``); ``None`` if unknown.

    An executing job is marked ``cancelled`` here, and the ``pkill`` signal (sent when this
    commits) makes the producer running it terminate its task. If the job finishes first,
    its acknowledgement finds it cancelled and leaves it so; a completed, discarded or
    cancelled job is returned unchanged.
    """
    async with _connection(conn) as c, c.transaction():
        row = await c.fetchrow(
            f"""WITH target AS (SELECT id, state AS previous FROM jobs WHERE id = $1 FOR UPDATE)
                UPDATE jobs SET state = 'cancelled', cancelled_at = now()
                FROM target
                WHERE jobs.id = target.id
                  AND target.previous NOT IN ('completed', 'discarded', 'cancelled')
                RETURNING {JOB_COLUMNS}, target.previous""",
            job_id,
        )
        if row is None:
            return await get_job(c, job_id)
        job = job_from_row(row)
        if row[-1] == JobState.EXECUTING:
            await notify(c, signals.Pkill(queue=job.queue, job_id=job.id))
        return job


async def retry_job(conn: Any, job_id: int) -> JobRecord | None:
    """Make a finished job (completed, discarded, cancelled) or a waiting one available now.

    Executing and available jobs are returned unchanged. A job out of attempts gets one more.
    """
    async with _connection(conn) as c, c.transaction():
        row = await c.fetchrow(
            f"""UPDATE jobs SET state = 'available', scheduled_at = now(),
                    max_attempts = GREATEST(max_attempts, attempt + 1),
                    completed_at = NULL, cancelled_at = NULL, discarded_at = NULL
                WHERE id = $1 AND state NOT IN ('available', 'executing')
                RETURNING {COLUMNS}""",
            job_id,
        )
        if row is None:
            return await get_job(c, job_id)
        job = job_from_row(row)
        await notify_queues(c, [job.queue])
        return job


async def complete_job(conn: Any, job: JobRecord) -> bool:
    """Mark ``job`` (the attempt being performed) completed in the caller's transaction.

    For a worker that inserts the next stage's job: both commit together, and the producer's
    own acknowledgement afterwards changes nothing. False if the job is no longer this
    executing attempt (cancelled, rescued).
    """
    async with _connection(conn) as c:
        status = await c.execute(
            """UPDATE jobs SET state = 'completed', completed_at = now()
               WHERE id = $1 AND attempt = $2 AND state = 'executing'""",
            job.id,
            job.attempt,
        )
    return bool(status == "UPDATE 1")


async def notify(conn: Any, notification: signals.Notification) -> None:
    """Send a notification to every node (delivered when ``conn``'s transaction commits)."""
    async with _connection(conn) as c:
        await c.execute("SELECT pg_notify($1, $2)", signals.CHANNEL, signals.encode(notification))
