"""``/api/v1/studio/osc``: the OSC server's port and counters, and a TouchOSC layout.

``GET /api/v1/studio/osc`` tells a surface where to send (host, port) and how things go
(messages applied, malformed, unknown, feedback clients); an administrator also sees the
clients' addresses and the focused session. ``GET /api/v1/studio/osc/layout.tosc`` is a
TouchOSC layout with a strip per stem of ``?track=<id>`` (one of yours; default four
stems), the transport, rate, pitch, loop and the DJ console (``docs/osc.md``).

    curl -H "Authorization: Bearer $TOKEN" -o soundforge.tosc \\
         "$SF/api/v1/studio/osc/layout.tosc?track=$TRACK"
"""

from __future__ import annotations

import re
from typing import Annotated, Final

import msgspec
from quart import Blueprint, Response

from soundforge.music import track_detail
from soundforge.runtime.errors import ActorError
from soundforge.studio.osc import Counters, OscStatus, status
from soundforge.studio.osc.touchosc import DEFAULT_STEMS, layout
from soundforge.web.api._common import NO_NUL, attachment, connection
from soundforge.web.auth import require_user
from soundforge.web.context import web
from soundforge.web.http import json_response, read_query
from soundforge.web.openapi import operation

__all__ = ["LayoutQuery", "blueprint"]

blueprint = Blueprint("studio_osc", __name__)

_STEM_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class LayoutQuery(msgspec.Struct, frozen=True):
    #: A track of yours whose stems get a strip each; default four (vocals, drums, bass, other).
    track: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_NUL)] | None = None


@blueprint.get("/studio/osc")
@operation(
    "The OSC server: where to send, its feedback clients and counters",
    tag="studio",
    response=OscStatus,
)
async def get_osc() -> Response:
    user = require_user()
    try:
        found: OscStatus = await status()
    except ActorError:
        settings = web().settings
        found = OscStatus(
            host=settings.osc_host,
            port=None,
            listening=False,
            error="The OSC server is not running on this node.",
            clients=[],
            counters=Counters(),
            focused=None,
        )
    if user.role != "admin":
        # Surfaces' addresses and other users' focus are the administrator's business.
        own = found.focused is not None and found.focused.startswith(f"{user.id} ")
        found = msgspec.structs.replace(found, clients=[], focused=found.focused if own else None)
    return json_response(found)


@blueprint.get("/studio/osc/layout.tosc")
@operation(
    "A TouchOSC layout for a track's stems, the transport and the DJ console",
    tag="studio",
    query=LayoutQuery,
    media_type="application/octet-stream",
    errors=(404,),
)
async def get_layout() -> Response:
    user = require_user()
    query = read_query(LayoutQuery)
    stems: list[str] = list(DEFAULT_STEMS)
    title = "SoundForge"
    if query.track is not None:
        async with connection() as conn:
            detail = await track_detail(conn, user.id, query.track)
        title = detail.title
        if detail.separations:
            newest = max(detail.separations, key=lambda s: s.created_at)
            names = [s.stem for s in newest.stems if _STEM_NAME.match(s.stem)]
            stems = list(dict.fromkeys(names)) or stems
    data = layout(stems, title=title, seed=query.track or "default")
    return Response(
        data,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": attachment("soundforge.tosc"),
            "Cache-Control": "no-store",
        },
    )
