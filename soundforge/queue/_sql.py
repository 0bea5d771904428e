"""The queue machinery's SQL: claim and acknowledge, stage, reconcile, heartbeat, rescue,
prune, leadership. Private: producers and plugins call it; callers use ``engine.py``.

Mirrors the fetch/ack/stage/rescue/prune queries of ``Oban.Engines.Basic`` and its plugins.
The one difference that matters for throughput: acknowledgements are batched — one
statement records every finished attempt, whatever its outcome (``ack``) — and a batch of
completions is recorded by the very statement that claims the next batch
(``ack_and_claim``), so a busy producer makes one round trip and one commit per batch.

Each acknowledgement is guarded by ``state = 'executing' AND attempt = <the attempt run>``:
an attempt that was cancelled, rescued or re-claimed meanwhile changes nothing, which is
what makes a completion recorded exactly once even when a job ran twice.

The producer's *steps* (``step``) run these on a connection the producer keeps across steps
(one per lane: no pool reset per step) and turn a transient failure (PostgreSQL restarting)
into a :class:`StepFailed` value, dropping the kept connection so that the next step takes a
fresh one.

Values cross as text where a codec could differ (``args::text``, ``$1::text::jsonb``), so the
functions work with whatever type codecs the Repo's pool installs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import msgspec

from soundforge.queue import signals
from soundforge.queue._db import TRANSIENT, Kept, pool_of
from soundforge.queue.config import QueueContext
from soundforge.queue.executor import Cancelled, Completed, Failed, Outcome, Released, Snoozed
from soundforge.queue.job import AttemptError, JobRecord, JobState

__all__ = [
    "COLUMNS",
    "CRON_LOCK_CLASS",
    "JOB_COLUMNS",
    "Claimed",
    "StepFailed",
    "ack",
    "ack_and_claim",
    "claim",
    "heartbeat",
    "job_from_row",
    "notify_queues",
    "prune",
    "reconcile",
    "release_node",
    "rescue",
    "stage",
    "step",
    "try_lock",
]

_FIELDS: Final = (
    "id, state, queue, worker, args::text, meta::text, priority, attempt, max_attempts, "
    "errors::text, inserted_at, scheduled_at, attempted_at, attempted_by, completed_at, "
    "cancelled_at, discarded_at, unique_key"
).split(", ")

#: The columns of a :class:`JobRecord`, in its order (jsonb as text: see the docstring).
COLUMNS: Final = ", ".join(_FIELDS)
#: The same, qualified by the table, for statements that join ``jobs`` with another source.
JOB_COLUMNS: Final = ", ".join(f"jobs.{field}" for field in _FIELDS)

#: Advisory lock class (two-key form) for cron leadership.
CRON_LOCK_CLASS: Final = 5_301_002

_STATES: Final = {s.value: s for s in JobState}
_OBJECT: Final = msgspec.json.Decoder(dict[str, Any])
_ERRORS: Final = msgspec.json.Decoder(list[AttemptError])
_ENCODE: Final = msgspec.json.Encoder()


#: What a claim returns: the row less what the claim itself decided (its state is executing,
#: its queue and node are the claim's), three text columns fewer to send and decode per job.
_CLAIMED: Final = ", ".join(f for f in _FIELDS if f not in ("state", "queue", "attempted_by"))


def job_from_row(row: Any, conflict: bool = False) -> JobRecord:
    """A :class:`JobRecord` from a row selected with :data:`COLUMNS`."""
    args, meta, errors = row[4], row[5], row[9]
    return JobRecord(
        row[0],
        _STATES[row[1]],
        row[2],
        row[3],
        {} if args == "{}" else _OBJECT.decode(args),
        {} if meta == "{}" else _OBJECT.decode(meta),
        row[6],
        row[7],
        row[8],
        [] if errors == "[]" else _ERRORS.decode(errors),
        row[10],
        row[11],
        row[12],
        row[13],
        row[14],
        row[15],
        row[16],
        row[17],
        conflict,
    )


async def notify_queues(conn: Any, queues: Iterable[str]) -> None:
    """Wake the producers of ``queues`` on every node (at commit)."""
    for queue in sorted(set(queues)):
        await conn.execute(
            "SELECT pg_notify($1, $2)", signals.CHANNEL, signals.encode(signals.Insert(queue))
        )


# -- the producer -------------------------------------------------------------------------

# Acknowledgements find their rows by primary key (`id = ANY(ids)`), never by a join of jobs
# with the unnested ids: when the statistics say no job is executing (after an ANALYZE of a
# quiet queue), the planner ran such a join as a nested loop over every executing row (or a
# scan of the whole table) against every id, 62,500 comparisons for a batch of 250. A
# completion's attempt is looked up by its id's position (`array_position`), so the cost is
# linear in the batch whatever the plan; `_completions` sends each id once. The other
# outcomes, rare and few, keep the join, restricted to their ids by primary key.
_ACK: Final = """
WITH completed AS (
    UPDATE jobs SET state = 'completed', completed_at = now()
    WHERE id = ANY($1::bigint[]) AND state = 'executing'
      AND attempt = ($2::int4[])[array_position($1::bigint[], id)]
    RETURNING 1
), other AS (
    UPDATE jobs SET
        state = f.state,
        scheduled_at = CASE WHEN f.state IN ('retryable', 'scheduled')
                            THEN now() + make_interval(secs => f.delay)
                            ELSE jobs.scheduled_at END,
        discarded_at = CASE WHEN f.state = 'discarded' THEN now() ELSE jobs.discarded_at END,
        cancelled_at = CASE WHEN f.state = 'cancelled' THEN now() ELSE jobs.cancelled_at END,
        attempt = CASE WHEN f.state IN ('scheduled', 'available') THEN jobs.attempt - 1
                       ELSE jobs.attempt END,
        -- A claim given back never ran: a job that had not run before has not run now.
        attempted_at = CASE WHEN f.state = 'available' AND jobs.attempt = 1 THEN NULL
                            ELSE jobs.attempted_at END,
        attempted_by = CASE WHEN f.state = 'available' AND jobs.attempt = 1 THEN NULL
                            ELSE jobs.attempted_by END,
        meta = CASE WHEN f.state = 'scheduled'
                    THEN jsonb_set(jobs.meta, '{snoozed}',
                                   to_jsonb(COALESCE((jobs.meta->>'snoozed')::int, 0) + 1))
                    ELSE jobs.meta END,
        errors = CASE WHEN f.error IS NULL THEN jobs.errors
                      ELSE jobs.errors || jsonb_build_array(
                               f.error::jsonb || jsonb_build_object('at', now())) END
    FROM unnest($3::bigint[], $4::int4[], $5::text[], $6::float8[], $7::text[])
         AS f(id, attempt, state, delay, error)
    WHERE jobs.id = ANY($3::bigint[]) AND jobs.id = f.id AND jobs.attempt = f.attempt
      AND jobs.state = 'executing'
    RETURNING 1
)
SELECT (SELECT count(*) FROM completed) + (SELECT count(*) FROM other)
"""

# Completions only (the common batch): a plain UPDATE, without the general statement's second
# CTE, which would scan every executing job of the node only to update none of them.
_COMPLETE: Final = """
UPDATE jobs SET state = 'completed', completed_at = now()
WHERE id = ANY($1::bigint[]) AND state = 'executing'
  AND attempt = ($2::int4[])[array_position($1::bigint[], id)]
"""

# The claim locks its rows in fetch order (SKIP LOCKED: claimers never wait for each other)
# and updates them by primary key. ``id = ANY(ARRAY(subquery))``, not ``id IN (subquery)``:
# for IN the planner may hash the claimed ids and scan the whole table for them, history
# included, on every claim.
_CLAIM: Final = f"""
UPDATE jobs SET state = 'executing', attempt = attempt + 1, attempted_at = now(),
                attempted_by = $1
WHERE id = ANY(ARRAY(
    SELECT id FROM jobs WHERE state = 'available' AND queue = $2
    ORDER BY priority, scheduled_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
))
RETURNING {_CLAIMED}
"""

# A busy producer's step: the last batch's completions and the next claim in one statement,
# so one round trip and one commit. The two CTEs update disjoint rows (executing ones and
# available ones) and both run to completion whatever the SELECT reads.
_COMPLETE_AND_CLAIM: Final = f"""
WITH completed AS (
    UPDATE jobs SET state = 'completed', completed_at = now()
    WHERE id = ANY($4::bigint[]) AND state = 'executing'
      AND attempt = ($5::int4[])[array_position($4::bigint[], id)]
), claimed AS (
    UPDATE jobs SET state = 'executing', attempt = attempt + 1, attempted_at = now(),
                    attempted_by = $1
    WHERE id = ANY(ARRAY(
        SELECT id FROM jobs WHERE state = 'available' AND queue = $2
        ORDER BY priority, scheduled_at, id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING {_CLAIMED}
)
SELECT * FROM claimed
"""


def _error_json(error: AttemptError) -> str:
    return _ENCODE.encode(
        {
            "attempt": error.attempt,
            "kind": error.kind,
            "message": error.message,
            "traceback": error.traceback,
        }
    ).decode()


async def ack(conn: Any, acks: Sequence[Outcome], timeout: float | None = None) -> int:
    """Record finished attempts in one statement; returns how many were still executing
    (an attempt cancelled, rescued or re-claimed meanwhile is left as it is)."""
    if _only_completions(acks):
        status = await conn.execute(_COMPLETE, *_completions(acks), timeout=timeout)
        return int(status.rsplit(" ", 1)[-1])
    done: list[Outcome] = []
    ids: list[int] = []
    attempts: list[int] = []
    states: list[str] = []
    delays: list[float] = []
    errors: list[str | None] = []
    for outcome in acks:
        kind = type(outcome)
        if kind is Completed:
            done.append(outcome)
            continue
        ids.append(outcome.job_id)
        attempts.append(outcome.attempt)
        if isinstance(outcome, Failed):
            states.append("discarded" if outcome.discard else "retryable")
            delays.append(outcome.delay)
            errors.append(_error_json(outcome.error))
        elif isinstance(outcome, Cancelled):
            states.append("cancelled")
            delays.append(0.0)
            errors.append(_error_json(outcome.error))
        elif isinstance(outcome, Released):
            states.append("available")
            delays.append(0.0)
            errors.append(None)
        else:
            assert isinstance(outcome, Snoozed)
            states.append("scheduled")
            delays.append(outcome.seconds)
            errors.append(None)
    recorded = await conn.fetchval(
        _ACK, *_completions(done), ids, attempts, states, delays, errors, timeout=timeout
    )
    return int(recorded)


def _only_completions(acks: Sequence[Outcome]) -> bool:
    return all(type(outcome) is Completed for outcome in acks)


def _completions(acks: Sequence[Outcome]) -> tuple[list[int], list[int]]:
    """The ids and attempts of completions, each job once. The statements pair an id with
    the attempt at its first position; a job that appears twice (an attempt that ended
    after a newer one was claimed) keeps its newest attempt, the only one that can still be
    executing."""
    ids = [a.job_id for a in acks]
    if len(set(ids)) == len(ids):
        return ids, [a.attempt for a in acks]
    newest: dict[int, int] = {}
    for outcome in acks:
        newest[outcome.job_id] = max(outcome.attempt, newest.get(outcome.job_id, 0))
    return list(newest), list(newest.values())


async def claim(
    conn: Any, node: str, queue: str, demand: int, timeout: float | None = None
) -> list[JobRecord]:
    """Claim up to ``demand`` available jobs of ``queue`` for ``node``, in fetch order."""
    rows = await conn.fetch(_CLAIM, node, queue, demand, timeout=timeout)
    return _claimed(rows, node, queue)


async def ack_and_claim(
    conn: Any,
    node: str,
    queue: str,
    acks: Sequence[Outcome],
    demand: int,
    timeout: float | None = None,
) -> list[JobRecord]:
    """Record finished attempts, then claim up to ``demand`` jobs; one statement (one round
    trip, one commit) when every outcome is a completion, the usual case of a busy queue."""
    if acks and (not demand or not _only_completions(acks)):
        await ack(conn, acks, timeout)
        acks = ()
    if not demand:
        return []
    if not acks:
        return await claim(conn, node, queue, demand, timeout)
    rows = await conn.fetch(
        _COMPLETE_AND_CLAIM,
        node,
        queue,
        demand,
        *_completions(acks),
        timeout=timeout,
    )
    return _claimed(rows, node, queue)


def _claimed(rows: Sequence[Any], node: str, queue: str) -> list[JobRecord]:
    """The claimed jobs (rows of :data:`_CLAIMED`), in fetch order."""
    executing = JobState.EXECUTING
    jobs = [
        JobRecord(
            r[0],
            executing,
            queue,
            r[1],
            {} if r[2] == "{}" else _OBJECT.decode(r[2]),
            {} if r[3] == "{}" else _OBJECT.decode(r[3]),
            r[4],
            r[5],
            r[6],
            [] if r[7] == "[]" else _ERRORS.decode(r[7]),
            r[8],
            r[9],
            r[10],
            node,
            r[11],
            r[12],
            r[13],
            r[14],
        )
        for r in rows
    ]
    jobs.sort(key=_fetch_order)
    return jobs


def _fetch_order(job: JobRecord) -> tuple[int, datetime, int]:
    return (job.priority, job.scheduled_at, job.id)


async def stage(conn: Any, queue: str, limit: int = 5000, timeout: float | None = None) -> int:
    """Make due scheduled and retryable jobs of ``queue`` available; wake other nodes."""
    staged = await conn.fetchval(
        """WITH due AS (
               SELECT id FROM jobs
               WHERE state IN ('scheduled', 'retryable') AND queue = $1 AND scheduled_at <= now()
               ORDER BY scheduled_at, id LIMIT $2
               FOR UPDATE SKIP LOCKED
           ), staged AS (
               UPDATE jobs SET state = 'available' FROM due WHERE jobs.id = due.id
               RETURNING jobs.id
           )
           SELECT count(*) FROM staged""",
        queue,
        limit,
        timeout=timeout,
    )
    if staged:
        await notify_queues(conn, [queue])
    return int(staged)


_RESCUE_SET: Final = """
    state = CASE WHEN jobs.attempt >= jobs.max_attempts THEN 'discarded'
                 ELSE 'available' END,
    discarded_at = CASE WHEN jobs.attempt >= jobs.max_attempts THEN now() END,
    errors = jobs.errors || jsonb_build_array(jsonb_build_object(
        'attempt', jobs.attempt, 'at', now(), 'kind', $1::text,
        'message', $2::text || COALESCE(jobs.attempted_by, '?'), 'traceback', NULL))
"""


# Like every query that looks for executing jobs, these say ``attempted_by`` (a node, or
# IS NOT NULL): the only way to use ``jobs_executing`` (0008_jobs_executing_by_node.sql).
_RECONCILE: Final = f"""
UPDATE jobs SET {_RESCUE_SET}
WHERE state = 'executing' AND attempted_by = $3 AND queue = $4
  AND NOT (id = ANY($5::bigint[]))
RETURNING jobs.state
"""

_RESCUE: Final = f"""
WITH stale AS (
    SELECT j.id FROM jobs j
    LEFT JOIN queue_nodes n ON n.name = j.attempted_by
    WHERE j.state = 'executing' AND j.attempted_by IS NOT NULL
      AND (n.name IS NULL
           OR n.heartbeat_at < now() - make_interval(secs => $3)
           OR j.attempted_at < n.started_at)
    ORDER BY j.id LIMIT $4
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE jobs SET {_RESCUE_SET}
FROM stale WHERE jobs.id = stale.id AND jobs.state = 'executing'
RETURNING jobs.id, jobs.queue, jobs.state
"""


async def reconcile(
    conn: Any, node: str, queue: str, keep: Sequence[int], timeout: float | None = None
) -> int:
    """Give back ``queue``'s jobs that ``node`` holds as executing but does not run (a
    producer that restarted, or a claim whose answer was lost); returns how many."""
    rows = await conn.fetch(
        _RECONCILE,
        "orphaned",
        "the producer running this attempt restarted on node ",
        node,
        queue,
        list(keep),
        timeout=timeout,
    )
    if any(r[0] == "available" for r in rows):
        await notify_queues(conn, [queue])
    return len(rows)


# -- the producer's steps (each runs in a helper task of the producer) ---------------------


class Claimed(msgspec.Struct, frozen=True, gc=False):
    """What a step got: the claimed jobs, and whether it reconciled first."""

    jobs: list[JobRecord]
    reconciled: bool


class StepFailed(msgspec.Struct, frozen=True):
    """A step could not reach the database; it is retried with backoff."""

    error: str


@contextlib.asynccontextmanager
async def _step_conn(ctx: QueueContext, kept: Kept | None, timeout: float) -> AsyncIterator[Any]:
    """The connection a step runs on: ``kept``'s (terminated if the step fails: its state
    is unknown), or one taken from the pool for this step when ``kept`` is None."""
    if kept is None:
        async with pool_of(ctx.pool).acquire(timeout=timeout) as conn:
            yield conn
        return
    conn = await kept.conn(ctx.pool, timeout)
    try:
        yield conn
    except BaseException:
        kept.drop()
        raise


async def step(
    ctx: QueueContext,
    queue: str,
    acks: list[Outcome],
    demand: int,
    keep: list[int] | None,
    staging: bool,
    kept: Kept | None = None,
) -> Claimed | StepFailed:
    """One database step of a producer (a helper task), on ``kept``'s connection (or one
    from the pool): reconcile (when ``keep`` is given: the jobs this producer still owns),
    stage due jobs, record ``acks`` and claim up to ``demand``."""
    timeout = ctx.config.op_timeout
    try:
        async with _step_conn(ctx, kept, timeout) as conn:
            if keep is not None:
                await reconcile(conn, ctx.node, queue, keep, timeout=timeout)
            if staging:
                await stage(conn, queue, timeout=timeout)
            jobs = await ack_and_claim(conn, ctx.node, queue, acks, demand, timeout)
    except TRANSIENT as error:
        if kept is not None:
            kept.drop()
        return StepFailed(f"{type(error).__name__}: {error}")
    return Claimed(jobs, keep is not None)


# -- the lifeline -------------------------------------------------------------------------


async def heartbeat(
    conn: Any, node: str, started_at: datetime | None, queues: dict[str, int]
) -> datetime:
    """Record that ``node`` is alive; ``started_at=None`` starts a new run of it (jobs it
    claimed before are then rescued). Returns the run's ``started_at``."""
    started: datetime = await conn.fetchval(
        """INSERT INTO queue_nodes (name, started_at, heartbeat_at, queues)
           VALUES ($1, COALESCE($2, now()), now(), $3::text::jsonb)
           ON CONFLICT (name) DO UPDATE
               SET started_at = EXCLUDED.started_at, heartbeat_at = now(),
                   queues = EXCLUDED.queues
           RETURNING started_at""",
        node,
        started_at,
        _ENCODE.encode(queues).decode(),
    )
    return started


async def rescue(conn: Any, rescue_after: float, limit: int = 1000) -> list[tuple[int, str, str]]:
    """Rescue executing jobs of dead nodes: no row, a heartbeat older than ``rescue_after``,
    or claimed before the node's current run began. Each row is taken by one rescuer
    (SKIP LOCKED, state re-checked). Returns (id, queue, new state) and wakes producers."""
    rows = await conn.fetch(
        _RESCUE,
        "rescued",
        "this attempt was lost: its node stopped: ",
        rescue_after,
        limit,
    )
    result = [(r[0], r[1], r[2]) for r in rows]
    await notify_queues(conn, [q for _, q, s in result if s == "available"])
    await conn.execute(
        """DELETE FROM queue_nodes n
           WHERE n.heartbeat_at < now() - make_interval(secs => $1)
             AND NOT EXISTS (SELECT 1 FROM jobs j
                             WHERE j.state = 'executing' AND j.attempted_by = n.name)""",
        max(rescue_after * 10, 3600.0),
    )
    return result


async def release_node(conn: Any, node: str) -> int:
    """A node stops: give back what it still holds as executing, and forget the node."""
    rows = await conn.fetch(
        f"""UPDATE jobs SET {_RESCUE_SET}
            WHERE state = 'executing' AND attempted_by = $3
            RETURNING jobs.queue, jobs.state""",
        "orphaned",
        "the node stopped before this attempt finished: ",
        node,
    )
    await notify_queues(conn, [r[0] for r in rows if r[1] == "available"])
    await conn.execute("DELETE FROM queue_nodes WHERE name = $1", node)
    return len(rows)


# -- the pruner and cron ------------------------------------------------------------------


async def prune(conn: Any, max_age: float, limit: int) -> int:
    """Delete up to ``limit`` completed, cancelled and discarded jobs older than ``max_age``."""
    status = await conn.execute(
        """WITH doomed AS (
               SELECT id FROM jobs
               WHERE (state = 'completed' AND completed_at < now() - make_interval(secs => $1))
                  OR (state = 'cancelled' AND cancelled_at < now() - make_interval(secs => $1))
                  OR (state = 'discarded' AND discarded_at < now() - make_interval(secs => $1))
               LIMIT $2
               FOR UPDATE SKIP LOCKED
           )
           DELETE FROM jobs USING doomed WHERE jobs.id = doomed.id""",
        max_age,
        limit,
    )
    return int(str(status).rsplit(" ", 1)[-1])


async def try_lock(conn: Any, key: str) -> bool:
    """Take the session advisory lock of ``key`` (cron leadership) if it is free."""
    return bool(
        await conn.fetchval(
            "SELECT pg_try_advisory_lock($1::int4, hashtext($2))", CRON_LOCK_CLASS, key
        )
    )
