"""``/api/v1/stems/{id}/edits`` and ``/render``: the DAW's lanes over HTTP.

A lane is one original stem of a separation with its non-destructive edit list
(:mod:`soundforge.music.daw`): read it, append an edit (trim, split, fade in/out, gain,
mute), undo and redo; every command answers with the whole lane, so a page redraws from
one response. Rendering queues a job (202 with it) that stores the edited audio as the
stem's next version; its progress arrives on ``track:<id>`` over ``/ws`` and from
``GET .../renders/{job_id}``. Another user's stem is a 404, like a missing one.

    curl -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"op": "gain", "start_ms": 1000, "end_ms": 4000, "gain_db": -6}' \\
         "$SF/api/v1/stems/$STEM/edits"
    curl -X POST -H "Authorization: Bearer $TOKEN" "$SF/api/v1/stems/$STEM/render"
"""

from __future__ import annotations

from quart import Blueprint, Response

from soundforge.jobs.render import enqueue_render
from soundforge.music.daw import (
    Lane,
    NewEdit,
    RenderJob,
    add_edit,
    get_lane,
    get_render,
    redo,
    undo,
)
from soundforge.web.api._common import connection
from soundforge.web.auth import require_user
from soundforge.web.http import json_response, read_body
from soundforge.web.openapi import operation

__all__ = ["blueprint"]

blueprint = Blueprint("daw", __name__)


@blueprint.get("/stems/<stem_id>/edits")
@operation(
    "A stem's DAW lane: its edit list, clips and rendered versions",
    tag="daw",
    response=Lane,
    errors=(404, 409),
)
async def lane(stem_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await get_lane(conn, user.id, stem_id))


@blueprint.post("/stems/<stem_id>/edits")
@operation(
    "Append a region edit to a stem's lane (drops the undone edits)",
    tag="daw",
    body=NewEdit,
    response=Lane,
    status=201,
    errors=(404, 409, 422),
)
async def edit(stem_id: str) -> Response:
    user = require_user()
    body = await read_body(NewEdit)
    async with connection() as conn:
        return json_response(await add_edit(conn, user.id, stem_id, body), status=201)


@blueprint.post("/stems/<stem_id>/edits/undo")
@operation("Undo the lane's last edit", tag="daw", response=Lane, errors=(404, 409))
async def undo_(stem_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await undo(conn, user.id, stem_id))


@blueprint.post("/stems/<stem_id>/edits/redo")
@operation("Redo the lane's last undone edit", tag="daw", response=Lane, errors=(404, 409))
async def redo_(stem_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await redo(conn, user.id, stem_id))


@blueprint.post("/stems/<stem_id>/render")
@operation(
    "Render the lane's edits into a new version of the stem (the original stays)",
    tag="daw",
    response=RenderJob,
    status=202,
    errors=(404, 409),
)
async def render(stem_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await enqueue_render(conn, user.id, stem_id), status=202)


@blueprint.get("/stems/<stem_id>/renders/<job_id>")
@operation(
    "One render of a lane: state, progress, and the version it stored",
    tag="daw",
    response=RenderJob,
    errors=(404,),
)
async def render_job(stem_id: str, job_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await get_render(conn, user.id, stem_id, job_id))
