"""``/api/v1/tracks``: the library — list and filter, one track, delete, batch actions,
the analysis document, a track's jobs and re-separation.

Every query goes through :mod:`soundforge.music.library`, which carries the user's id into
its SQL, so another user's track is a 404 exactly like a missing one. Commands record an
audit entry and then announce the track's new status on PubSub, so open pages follow.

    curl -H "Authorization: Bearer $TOKEN" "$SF/api/v1/tracks?q=daft&sort=bpm&limit=20"
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from quart import Blueprint, Response, request

from soundforge.accounts import Action, get_preferences, separation_options
from soundforge.audio.separation.export import stem_filename
from soundforge.errors import SoundForgeError
from soundforge.music import (
    JobView,
    TrackDetail,
    TrackFilter,
    TrackPage,
    analysis_document,
    delete_tracks,
    get_owned_track,
    library_version,
    list_tracks,
    reseparate,
    retry_job,
    track_detail,
    track_jobs,
)
from soundforge.web.api._common import (
    MAX_BATCH,
    NO_NUL,
    Id,
    Page,
    announce_deleted,
    announce_status,
    attachment,
    audit,
    connection,
)
from soundforge.web.auth import require_user
from soundforge.web.context import web
from soundforge.web.http import JSON, NotFound, json_response, read_body, read_query
from soundforge.web.openapi import operation

__all__ = [
    "BatchBody",
    "BatchResult",
    "DownloadQuery",
    "ReseparateBody",
    "Skipped",
    "TrackQuery",
    "blueprint",
]

blueprint = Blueprint("tracks", __name__)

_CAMELOT = r"^(1[0-2]|[1-9])[ABab]$"
_MODEL = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
Tempo = Annotated[float, msgspec.Meta(gt=0, lt=1000)]


class TrackQuery(msgspec.Struct, frozen=True, kw_only=True):
    """The library list's filter (``soundforge.music.library.TrackFilter``), with limits."""

    #: Words matched as prefixes against title, artists and album.
    q: Annotated[str, msgspec.Meta(max_length=200, pattern=NO_NUL)] | None = None
    status: (
        Literal["pending", "downloading", "separating", "analysing", "ready", "failed"] | None
    ) = None
    bpm_min: Tempo | None = None
    bpm_max: Tempo | None = None
    #: Any spelling: "A minor", "Am", "F# major", "Ebm".
    key: Annotated[str, msgspec.Meta(max_length=16, pattern=NO_NUL)] | None = None
    camelot: Annotated[str, msgspec.Meta(pattern=_CAMELOT)] | None = None
    #: A Camelot code: tracks in it, one hour either way, or its relative key.
    compatible_with: Annotated[str, msgspec.Meta(pattern=_CAMELOT)] | None = None
    sort: Literal["created", "title", "artist", "bpm", "key", "camelot", "duration", "status"] = (
        "created"
    )
    #: Default: newest first for ``created``, ascending otherwise.
    order: Literal["asc", "desc"] | None = None
    limit: Page = 50
    offset: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0


# A filter's cache key (its fields in declaration order) and the page's encoder.
_QUERY_KEY = msgspec.msgpack.Encoder()
_PAGE = msgspec.json.Encoder()


class DownloadQuery(msgspec.Struct, frozen=True):
    #: 1: send as an attachment with a readable file name.
    download: bool = False


class ReseparateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What to separate with; a field left out takes the user's setting."""

    engine: Literal["auto", "default", "demucs"] | None = None
    model: Annotated[str, msgspec.Meta(pattern=_MODEL)] | None = None
    format: Literal["wav", "flac", "mp3"] | None = None
    bit_depth: Literal[16, 24, 32] | None = None
    shifts: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None


class BatchBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    action: Literal["delete", "retry", "reseparate"]
    ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]
    #: For ``reseparate``.
    options: ReseparateBody | None = None


class Skipped(msgspec.Struct, frozen=True):
    id: str
    reason: str


class BatchResult(msgspec.Struct, frozen=True):
    done: list[str]
    skipped: list[Skipped]


@blueprint.get("/tracks")
@operation("List and filter your tracks", tag="tracks", query=TrackQuery, response=TrackPage)
async def list_() -> Response:
    user = require_user()
    query = read_query(TrackQuery)
    pages = web().pages
    key = _QUERY_KEY.encode(query)
    async with connection() as conn:
        # The version first: a page built after it is at least as new (see page_cache).
        version = await library_version(conn, user.id)
        body = pages.get(user.id, version, key)
        if body is None:
            filter = TrackFilter(**msgspec.structs.asdict(query))
            body = _PAGE.encode(await list_tracks(conn, user.id, filter))
            pages.put(user.id, version, key, body)
    return Response(body, content_type=JSON)


@blueprint.get("/tracks/<track_id>")
@operation(
    "One track: stems, analysis, cues, loops, jobs",
    tag="tracks",
    response=TrackDetail,
    errors=(404,),
)
async def get(track_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await track_detail(conn, user.id, track_id))


@blueprint.delete("/tracks/<track_id>")
@operation("Delete a track and its files", tag="tracks", status=204, errors=(404,))
async def delete(track_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        track = await get_owned_track(conn, user.id, track_id)
        if not await delete_tracks(conn, user.id, [track.id], web().data_dir):
            raise NotFound(f"there is no track {track_id}; it may have been deleted")
        await audit(
            conn,
            Action.TRACK_DELETED,
            target_type="track",
            target_id=track.id,
            details={"title": track.title},
        )
    announce_deleted(user.id, [track.id])
    return Response(status=204)


@blueprint.post("/tracks/batch")
@operation(
    "Delete, retry or re-separate several tracks",
    tag="tracks",
    body=BatchBody,
    response=BatchResult,
)
async def batch() -> Response:
    user = require_user()
    body = await read_body(BatchBody)
    async with connection() as conn:
        if body.action == "delete":
            result = await _delete_all(conn, user.id, body.ids)
        else:
            result = await _each(conn, user.id, body)
    return json_response(result)


async def _delete_all(conn: Any, user_id: str, ids: list[str]) -> BatchResult:
    deleted = await delete_tracks(conn, user_id, ids, web().data_dir)
    for track_id in deleted:
        await audit(conn, Action.TRACK_DELETED, target_type="track", target_id=track_id)
    announce_deleted(user_id, deleted)
    gone = set(deleted)
    skipped = [
        Skipped(i, "there is no such track")
        for i in dict.fromkeys(ids)
        if _canonical(i) not in gone
    ]
    return BatchResult(deleted, skipped)


def _canonical(track_id: str) -> str | None:
    try:
        return str(uuid.UUID(track_id))
    except ValueError:
        return None


async def _each(conn: Any, user_id: str, body: BatchBody) -> BatchResult:
    done: list[str] = []
    skipped: list[Skipped] = []
    options = None
    if body.action == "reseparate":
        options = await _separation(conn, user_id, body.options or ReseparateBody())
    for track_id in dict.fromkeys(body.ids):
        try:
            if options is not None:
                await _reseparate(conn, user_id, track_id, options)
            else:
                await _retry_track(conn, user_id, track_id)
        # Each track stands alone: one that is gone or busy is reported, the rest go on.
        # Only the product's own errors (a sentence for the user) are caught.
        except SoundForgeError as error:
            skipped.append(Skipped(track_id, error.message))
        else:
            done.append(track_id)
    return BatchResult(done, skipped)


async def _retry_track(conn: Any, user_id: str, track_id: str) -> None:
    jobs = await track_jobs(conn, user_id, track_id)
    if not jobs:
        raise NotFound("the track has no jobs to retry")
    job = jobs[-1]  # the latest stage's latest attempt
    await retry_job(conn, user_id, job.id)
    await audit(
        conn,
        Action.JOB_RETRIED,
        target_type="job",
        target_id=job.id,
        details={"track_id": job.track_id, "stage": job.stage},
    )
    await announce_status(conn, user_id, job.track_id)


@blueprint.get("/tracks/<track_id>/analysis")
@operation(
    "The track's analysis document (?download=1 for a file)",
    tag="tracks",
    query=DownloadQuery,
    response=dict[str, Any],
    errors=(404,),
)
async def analysis(track_id: str) -> Response:
    user = require_user()
    query = read_query(DownloadQuery)
    async with connection() as conn:
        document = await analysis_document(conn, user.id, track_id)
        headers = None
        if query.download:
            track = await get_owned_track(conn, user.id, track_id)
            artist = ", ".join(track.artists) or None
            name = stem_filename("analysis", "json", artist=artist, title=track.title)
            headers = {"Content-Disposition": attachment(name)}
    return json_response(document, headers=headers)


@blueprint.get("/tracks/<track_id>/jobs")
@operation(
    "The track's pipeline jobs, oldest first", tag="tracks", response=list[JobView], errors=(404,)
)
async def jobs(track_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await track_jobs(conn, user.id, track_id))


@blueprint.post("/tracks/<track_id>/reseparate")
@operation(
    "Separate the track again (another engine or model)",
    tag="tracks",
    body=ReseparateBody,
    response=JobView,
    status=202,
    errors=(404, 409),
)
async def reseparate_(track_id: str) -> Response:
    user = require_user()
    body = await read_body(ReseparateBody) if request.content_length else ReseparateBody()
    async with connection() as conn:
        options = await _separation(conn, user.id, body)
        job = await _reseparate(conn, user.id, track_id, options)
    return json_response(job, status=202)


async def _separation(conn: Any, user_id: str, body: ReseparateBody) -> dict[str, Any]:
    """The user's separation settings, overridden by what the request names."""
    chosen = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
    options = {**separation_options(await get_preferences(conn, user_id)), **chosen}
    if "engine" in chosen and "model" not in chosen:
        options.pop("model", None)  # the saved model belongs to the saved engine
    return options


async def _reseparate(conn: Any, user_id: str, track_id: str, options: dict[str, Any]) -> JobView:
    job = await reseparate(conn, user_id, track_id, options)
    await audit(
        conn,
        Action.TRACK_RESEPARATED,
        target_type="track",
        target_id=job.track_id,
        details={"job_id": job.id, "options": options},
    )
    await announce_status(conn, user_id, job.track_id)
    return job
