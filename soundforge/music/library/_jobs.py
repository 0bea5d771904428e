"""A track's pipeline jobs as the user sees them (``JobView``), and the commands on one:
``retry_job`` and ``cancel_job``, which move the track's status along with the job."""

from __future__ import annotations

import functools
from typing import Any, Final

import msgspec

from soundforge.music import tracks
from soundforge.music.library._db import (
    _PROGRESS,
    _job_id,
    _require_track,
    _stage_of,
    _stage_sql,
)
from soundforge.music.library._values import (
    AttemptFailure,
    JobNotFound,
    JobView,
    LibraryConflict,
)
from soundforge.queue import engine
from soundforge.queue.job import INCOMPLETE_STATES
from soundforge.storage.connections import connection as _connection
from soundforge.storage.connections import transaction as _transaction

# -- jobs ------------------------------------------------------------------------------------


@functools.cache
def _job_columns() -> str:
    _, stage_name, _ = _stage_sql()
    return f"""j.id, job_track_id(j.args)::text AS track_id, j.worker, {stage_name} AS stage,
        j.state, j.attempt, j.max_attempts, j.errors::text AS errors, {_PROGRESS} AS progress,
        j.meta->>'label' AS label, j.inserted_at, j.scheduled_at, j.attempted_at,
        j.completed_at, j.cancelled_at, j.discarded_at"""


_FAILURES: Final = msgspec.json.Decoder(list[AttemptFailure])
_JOB_FIELDS: Final = tuple(f for f in JobView.__struct_fields__ if f != "errors")


def _job_view(row: Any) -> JobView:
    values = {f: row[f] for f in _JOB_FIELDS}
    return JobView(**values, errors=_FAILURES.decode(row["errors"]))


async def _jobs_of(c: Any, track_id: str) -> list[JobView]:
    workers, _, _ = _stage_sql()
    rows = await c.fetch(
        f"""SELECT {_job_columns()} FROM jobs j
            WHERE job_track_id(j.args) = $1::uuid AND j.worker IN {workers} ORDER BY j.id""",
        track_id,
    )
    return [_job_view(r) for r in rows]


async def _owned_job(c: Any, user_id: str, job_id: object, *, lock: bool = False) -> JobView:
    workers, _, _ = _stage_sql()
    row = await c.fetchrow(
        f"""SELECT {_job_columns()} FROM jobs j JOIN tracks t ON t.id = job_track_id(j.args)
            WHERE j.id = $1 AND t.user_id = $2::uuid AND j.worker IN {workers}
            {"FOR UPDATE OF j, t" if lock else ""}""",
        _job_id(job_id),
        user_id,
    )
    if row is None:
        raise JobNotFound(f"there is no job {job_id}; its track may have been deleted")
    return _job_view(row)


async def track_jobs(conn: Any, user_id: str, track_id: str) -> list[JobView]:
    """Every pipeline job of the track, oldest first."""
    async with _connection(conn) as c:
        return await _jobs_of(c, await _require_track(c, user_id, track_id))


async def get_job_view(conn: Any, user_id: str, job_id: int | str) -> JobView:
    async with _connection(conn) as c:
        return await _owned_job(c, user_id, job_id)


async def _queued_twin(c: Any, job: JobView) -> int | None:
    """Another incomplete job of the same track and stage (uniqueness holds while
    incomplete, so retrying this one beside it would run the stage twice)."""
    twin: int | None = await c.fetchval(
        """SELECT id FROM jobs
           WHERE job_track_id(args) = $1::uuid AND worker = $2 AND id <> $3
             AND state = ANY($4::text[])
           LIMIT 1""",
        job.track_id,
        job.worker,
        job.id,
        [str(s) for s in INCOMPLETE_STATES],
    )
    return twin


async def retry_job(conn: Any, user_id: str, job_id: int | str) -> JobView:
    """Run a failed, cancelled or waiting job again now; the track shows that stage again."""
    async with _transaction(conn) as c:
        job = await _owned_job(c, user_id, job_id, lock=True)
        what = f"the {job.stage} job {job.id}"
        if job.state == "completed":
            hint = "; re-separate the track to run it again" if job.stage == "separate" else ""
            raise LibraryConflict(f"{what} has already completed; there is nothing to retry{hint}")
        if job.state == "executing":
            raise LibraryConflict(f"{what} is running; wait for it to finish or cancel it")
        if job.state == "available":
            raise LibraryConflict(f"{what} is already waiting to run")
        twin = await _queued_twin(c, job)
        if twin is not None:
            raise LibraryConflict(f"the track's {job.stage} stage is already queued as job {twin}")
        await engine.retry_job(c, job.id)
        await tracks.set_status(c, job.track_id, _stage_of(job.worker).status)
        return await _owned_job(c, user_id, job.id)


async def cancel_job(conn: Any, user_id: str, job_id: int | str) -> JobView:
    """Stop a job that has not finished (killing it if it runs); the track is marked failed,
    as when the pipeline gives up, and a retry carries on. Cancelling twice is harmless."""
    async with _transaction(conn) as c:
        job = await _owned_job(c, user_id, job_id, lock=True)
        if job.state == "cancelled":
            return job
        if job.state in ("completed", "discarded"):
            raise LibraryConflict(
                f"the {job.stage} job {job.id} has already finished ({job.state}); "
                "there is nothing to cancel"
            )
        await engine.cancel_job(c, job.id)
        message = f"the {job.stage} stage was cancelled by you; retry it to carry on"
        await tracks.set_status(c, job.track_id, "failed", message)
        return await _owned_job(c, user_id, job.id)
