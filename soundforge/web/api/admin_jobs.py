"""``/api/v1/admin/queues`` and ``/api/v1/admin/jobs``: the queues and everyone's jobs.

* queues: per queue, the jobs table's counts by state (all nodes) and this node's producer
  (its concurrency limit and whether it is paused, from ``soundforge.queue.check_queue``;
  null where this node does not run the queue). Pause and resume reach every node through
  NOTIFY (``pause_queue``/``resume_queue``), and this node's producer is told directly as
  well, so the answer already shows the change. Like Oban's, a pause is not persisted: a
  node started later runs the queue.
* jobs: every job (any user's, and jobs without a track), newest first, paged with
  ``before``; retry and cancel any of them. A pipeline job goes through
  ``soundforge.music.library`` as its owner would, so its track's status follows.

    curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" "$SF/api/v1/admin/queues/download/pause"
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

import msgspec
from quart import Blueprint, Response

from soundforge.accounts import Action
from soundforge.music import AttemptFailure, JobNotFound, LibraryConflict, cancel_job, retry_job
from soundforge.queue import DEFAULT_QUEUES, check_queue, engine, pause_queue, resume_queue
from soundforge.queue.job import JobState
from soundforge.queue.queues import pause_local, resume_local
from soundforge.runtime.errors import CallError, NoProc
from soundforge.web.api._common import NO_NUL, Page, announce_status, audit, connection
from soundforge.web.auth import require_admin
from soundforge.web.http import NotFound, json_response, read_query
from soundforge.web.openapi import operation

__all__ = [
    "JOB_STATES",
    "AdminJob",
    "JobPage",
    "JobQuery",
    "QueueOverview",
    "blueprint",
    "queue_overviews",
]

blueprint = Blueprint("admin_jobs", __name__, url_prefix="/admin")

State = Literal[
    "available", "scheduled", "executing", "retryable", "completed", "discarded", "cancelled"
]
QueueName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_NUL)]


class QueueOverview(msgspec.Struct, frozen=True):
    queue: str
    #: This node's concurrency limit; null when this node does not run the queue.
    limit: int | None
    #: Whether this node's producer is paused; null when this node does not run the queue.
    paused: bool | None
    #: Jobs by state, all nodes together.
    counts: dict[str, int]


class JobQuery(msgspec.Struct, frozen=True, kw_only=True):
    state: State | None = None
    queue: QueueName | None = None
    #: Jobs older than this id (the last id of the previous page).
    before: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)] | None = None
    limit: Page = 50


class AdminJob(msgspec.Struct, frozen=True):
    id: int
    queue: str
    worker: str
    state: str
    attempt: int
    max_attempts: int
    #: The track and its owner, for pipeline jobs.
    track_id: str | None
    user_id: str | None
    user_email: str | None
    errors: list[AttemptFailure]
    progress: float
    label: str | None
    inserted_at: datetime
    scheduled_at: datetime
    attempted_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    discarded_at: datetime | None


class JobPage(msgspec.Struct, frozen=True):
    items: list[AdminJob]
    #: Pass as ``before`` for the next page; null on the last page.
    next_before: int | None


_SELECT: Final = """
    SELECT j.id, j.queue, j.worker, j.state, j.attempt, j.max_attempts,
           t.id::text AS track_id, t.user_id::text AS user_id, u.email AS user_email,
           j.errors::text AS errors,
           CASE WHEN j.state = 'completed' THEN 1.0
                WHEN jsonb_typeof(j.meta->'progress') = 'number'
                THEN least(greatest((j.meta->>'progress')::float8, 0.0), 1.0) ELSE 0.0 END
               AS progress,
           j.meta->>'label' AS label, j.inserted_at, j.scheduled_at, j.attempted_at,
           j.completed_at, j.cancelled_at, j.discarded_at
    FROM jobs j
    LEFT JOIN tracks t ON t.id = job_track_id(j.args)
    LEFT JOIN users u ON u.id = t.user_id"""
_ERRORS: Final = msgspec.json.Decoder(list[AttemptFailure])  # tracebacks stay in the database
_FIELDS: Final = tuple(f for f in AdminJob.__struct_fields__ if f != "errors")


def _job(row: Any) -> AdminJob:
    return AdminJob(**{f: row[f] for f in _FIELDS}, errors=_ERRORS.decode(row["errors"]))


def _job_id(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 0 < int(value) < 2**63:
        raise JobNotFound(f"there is no job {value[:64]!r}")
    return int(value)


async def _get_job(conn: Any, job_id: int) -> AdminJob:
    row = await conn.fetchrow(f"{_SELECT} WHERE j.id = $1", job_id)
    if row is None:
        raise JobNotFound(f"there is no job {job_id}; it may have been pruned")
    return _job(row)


# -- queues ----------------------------------------------------------------------------------


#: Every job state, so a queue's counts always name them all.
JOB_STATES: Final = tuple(str(state) for state in JobState)


def _states(counts: dict[str, dict[str, int]], queue: str) -> dict[str, int]:
    return {state: counts.get(queue, {}).get(state, 0) for state in JOB_STATES}


async def _overview(counts: dict[str, dict[str, int]], queue: str) -> QueueOverview:
    try:
        info = await check_queue(queue)
    except CallError:  # this node does not run the queue (or its producer is restarting)
        return QueueOverview(queue, None, None, _states(counts, queue))
    return QueueOverview(queue, info.limit, info.paused, _states(counts, queue))


async def queue_overviews(conn: Any) -> list[QueueOverview]:
    """Every queue this node runs or that has jobs (the product's first), with its counts
    by state (all nodes) and this node's limit and pause; the API and the admin page."""
    counts = await _counts(conn)
    names = sorted(set(DEFAULT_QUEUES) | set(counts), key=lambda q: (q not in DEFAULT_QUEUES, q))
    return [await _overview(counts, name) for name in names]


async def _counts(conn: Any) -> dict[str, dict[str, int]]:
    rows = await conn.fetch("SELECT queue, state, count(*)::int AS n FROM jobs GROUP BY 1, 2")
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["queue"], {})[row["state"]] = row["n"]
    return counts


@blueprint.get("/queues")
@operation(
    "The queues: jobs by state, this node's limit and pause",
    tag="admin",
    response=list[QueueOverview],
    admin=True,
)
async def queues() -> Response:
    require_admin()
    async with connection() as conn:
        return json_response(await queue_overviews(conn))


async def _control(name: str, pause: bool) -> Response:
    require_admin()
    async with connection() as conn:
        counts = await _counts(conn)
        try:
            local = await (pause_local(name) if pause else resume_local(name))
        except NoProc:
            local = None
        if local is None and name not in counts and name not in DEFAULT_QUEUES:
            raise NotFound(f"there is no queue {name[:64]!r}")
        await (pause_queue(conn, name) if pause else resume_queue(conn, name))
        action = Action.QUEUE_PAUSED if pause else Action.QUEUE_RESUMED
        await audit(conn, action, target_type="queue", target_id=name)
    if local is None:
        return json_response(QueueOverview(name, None, None, _states(counts, name)))
    return json_response(QueueOverview(name, local.limit, local.paused, _states(counts, name)))


@blueprint.post("/queues/<name>/pause")
@operation(
    "Stop starting jobs of a queue on every node (running jobs go on)",
    tag="admin",
    response=QueueOverview,
    admin=True,
    errors=(404,),
)
async def pause(name: str) -> Response:
    return await _control(name, pause=True)


@blueprint.post("/queues/<name>/resume")
@operation(
    "Start running a paused queue again on every node",
    tag="admin",
    response=QueueOverview,
    admin=True,
    errors=(404,),
)
async def resume(name: str) -> Response:
    return await _control(name, pause=False)


# -- jobs ------------------------------------------------------------------------------------


@blueprint.get("/jobs")
@operation(
    "Every job, newest first (keyset paging with ?before=)",
    tag="admin",
    query=JobQuery,
    response=JobPage,
    admin=True,
)
async def jobs() -> Response:
    require_admin()
    query = read_query(JobQuery)
    async with connection() as conn:
        rows = await conn.fetch(
            f"""{_SELECT}
                WHERE ($1::text IS NULL OR j.state = $1) AND ($2::text IS NULL OR j.queue = $2)
                  AND ($3::bigint IS NULL OR j.id < $3)
                ORDER BY j.id DESC LIMIT $4""",
            query.state,
            query.queue,
            query.before,
            query.limit,
        )
    items = [_job(row) for row in rows]
    next_before = items[-1].id if len(items) == query.limit else None
    return json_response(JobPage(items, next_before))


@blueprint.post("/jobs/<job_id>/retry")
@operation("Run any job again now", tag="admin", response=AdminJob, admin=True, errors=(404, 409))
async def retry(job_id: str) -> Response:
    require_admin()
    async with connection() as conn:
        job = await _get_job(conn, _job_id(job_id))
        if job.user_id is not None:
            await retry_job(conn, job.user_id, job.id)  # as its owner: the track follows
            assert job.track_id is not None
            await announce_status(conn, job.user_id, job.track_id)
        elif job.state in ("available", "executing"):
            raise LibraryConflict(f"job {job.id} is already {job.state}; there is nothing to retry")
        else:
            await engine.retry_job(conn, job.id)
        await audit(
            conn,
            Action.JOB_RETRIED,
            target_type="job",
            target_id=job.id,
            details={"queue": job.queue, "worker": job.worker, "owner": job.user_id},
        )
        return json_response(await _get_job(conn, job.id))


@blueprint.post("/jobs/<job_id>/cancel")
@operation(
    "Stop any job that has not finished",
    tag="admin",
    response=AdminJob,
    admin=True,
    errors=(404, 409),
)
async def cancel(job_id: str) -> Response:
    require_admin()
    async with connection() as conn:
        job = await _get_job(conn, _job_id(job_id))
        if job.user_id is not None:
            await cancel_job(conn, job.user_id, job.id)
            assert job.track_id is not None
            await announce_status(conn, job.user_id, job.track_id)
        elif job.state in ("completed", "discarded"):
            raise LibraryConflict(f"job {job.id} has already finished ({job.state})")
        else:
            await engine.cancel_job(conn, job.id)
        await audit(
            conn,
            Action.JOB_CANCELLED,
            target_type="job",
            target_id=job.id,
            details={"queue": job.queue, "worker": job.worker, "owner": job.user_id},
        )
        return json_response(await _get_job(conn, job.id))
