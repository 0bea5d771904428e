"""``/api/v1/jobs/{id}``: one pipeline job of your tracks — status, progress, attempts,
errors — and retrying or cancelling it.

A job is yours when its track is (``soundforge.music.library`` checks that in SQL); any
other id is a 404. Retrying and cancelling are recorded in the audit log and change the
track's status, which is announced to open pages.

    curl -X POST -H "Authorization: Bearer $TOKEN" "$SF/api/v1/jobs/42/retry"
"""

from __future__ import annotations

from quart import Blueprint, Response

from soundforge.accounts import Action
from soundforge.music import JobView, cancel_job, get_job_view, retry_job
from soundforge.web.api._common import announce_status, audit, connection
from soundforge.web.auth import require_user
from soundforge.web.http import json_response
from soundforge.web.openapi import operation

__all__ = ["blueprint"]

blueprint = Blueprint("jobs", __name__)


@blueprint.get("/jobs/<job_id>")
@operation(
    "One job: state, progress, attempts and errors", tag="jobs", response=JobView, errors=(404,)
)
async def get(job_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await get_job_view(conn, user.id, job_id))


@blueprint.post("/jobs/<job_id>/retry")
@operation(
    "Run a failed, cancelled or waiting job again now",
    tag="jobs",
    response=JobView,
    errors=(404, 409),
)
async def retry(job_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        job = await retry_job(conn, user.id, job_id)
        await audit(
            conn,
            Action.JOB_RETRIED,
            target_type="job",
            target_id=job.id,
            details={"track_id": job.track_id, "stage": job.stage},
        )
        await announce_status(conn, user.id, job.track_id)
    return json_response(job)


@blueprint.post("/jobs/<job_id>/cancel")
@operation("Stop a job that has not finished", tag="jobs", response=JobView, errors=(404, 409))
async def cancel(job_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        job = await cancel_job(conn, user.id, job_id)
        await audit(
            conn,
            Action.JOB_CANCELLED,
            target_type="job",
            target_id=job.id,
            details={"track_id": job.track_id, "stage": job.stage},
        )
        await announce_status(conn, user.id, job.track_id)
    return json_response(job)
