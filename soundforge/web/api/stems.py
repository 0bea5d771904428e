"""``/api/v1/stems/{id}/audio`` and ``/api/v1/tracks/{id}/stems.zip``: stems as files.

The audio is served from disk with byte ranges and validators (``_files``), which the
stem player and ``<audio>`` elements rely on to seek; ``?download=1`` adds an attachment
name like ``"Daft Punk - One More Time (vocals).wav"``. The zip is written while it is
sent (``soundforge.music.exports.iter_zip``: stored entries, one chunk in memory), its
blocking reads run in a worker thread one chunk at a time.

    curl -H "Authorization: Bearer $TOKEN" -H "Range: bytes=0-1023" \\
         "$SF/api/v1/stems/$STEM/audio" -o head.wav
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import msgspec
from quart import Blueprint, Response

from soundforge.audio.separation.export import safe_filename
from soundforge.music import get_owned_track, stem_path
from soundforge.music.exports import iter_zip, stems_zip_entries
from soundforge.web.api._common import NO_NUL, attachment, connection
from soundforge.web.api._files import RangeNotSatisfiable, file_response
from soundforge.web.api.tracks import DownloadQuery
from soundforge.web.auth import require_user
from soundforge.web.context import web
from soundforge.web.errors import error_response
from soundforge.web.http import read_query
from soundforge.web.openapi import operation

__all__ = ["ZipQuery", "blueprint"]

blueprint = Blueprint("stems", __name__)


class ZipQuery(msgspec.Struct, frozen=True):
    #: Which separation (its model); default the newest.
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_NUL)] | None = None


@blueprint.get("/stems/<stem_id>/audio")
@operation(
    "A stem's audio, with HTTP Range and ETag (?download=1 for a file)",
    tag="stems",
    query=DownloadQuery,
    media_type="audio/*",
    errors=(404, 416),
)
async def audio(stem_id: str) -> Response:
    user = require_user()
    query = read_query(DownloadQuery)
    async with connection() as conn:
        info, path = await stem_path(conn, user.id, stem_id, web().data_dir)
    stat = await asyncio.to_thread(path.stat)
    etag = f'"{info.id}-{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    headers = {"Content-Disposition": attachment(info.filename)} if query.download else None
    try:
        return await file_response(
            path, stat, media_type=info.media_type, etag=etag, headers=headers
        )
    except RangeNotSatisfiable as error:
        response = await error_response(416, error.message, "RangeNotSatisfiable")
        response.headers["Content-Range"] = f"bytes */{error.size}"
        return response


@blueprint.get("/tracks/<track_id>/stems.zip")
@operation(
    "Every stem of a separation as one zip (streamed)",
    tag="stems",
    query=ZipQuery,
    media_type="application/zip",
    errors=(404,),
)
async def stems_zip(track_id: str) -> Response:
    user = require_user()
    query = read_query(ZipQuery)
    async with connection() as conn:
        entries = await stems_zip_entries(conn, web().data_dir, user.id, track_id, query.model)
        track = await get_owned_track(conn, user.id, track_id)
    artist = ", ".join(track.artists)
    name = safe_filename(
        f"{artist} - {track.title} (stems)" if artist else f"{track.title} (stems)"
    )
    return Response(
        _stream(iter_zip(entries)),
        content_type="application/zip",
        headers={"Content-Disposition": attachment(f"{name}.zip"), "Cache-Control": "no-store"},
    )


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The zip's chunks, each produced in a worker thread (reads block)."""
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            if chunk:
                yield chunk
    finally:
        close = getattr(chunks, "close", None)
        try:
            if close is not None:
                close()
        except ValueError:
            # The client left while a chunk was being read in its thread; the generator is
            # still running there, so it cannot be closed now. It is dropped when that read
            # returns and its file is closed with it.
            pass
