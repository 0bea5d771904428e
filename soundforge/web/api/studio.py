"""``/api/v1/studio/mixers``: your mixer sessions — read, change, list their controls.

A session is ``track:<track id>`` (the track page's player and practice settings) or ``dj``
(the DJ console). Changes made here go through the same session actor as the browser's,
MIDI's and OSC's, so every open tab and surface follows them (``docs/studio.md``).

    curl -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"values": {"stem.vocals.volume": 0.4, "rate": 0.8}}' \\
         "$SF/api/v1/studio/mixers/track:$TRACK"
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from quart import Blueprint, Response

from soundforge.studio import Control, MixerChanged, MixerSnapshot, controls, mixers
from soundforge.web.auth import require_user
from soundforge.web.http import json_response, read_body
from soundforge.web.openapi import operation

__all__ = ["ControlBody", "blueprint"]

blueprint = Blueprint("studio", __name__)


class ControlBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: Control paths and their new values, e.g. {"stem.vocals.mute": true, "rate": 0.75}.
    values: Annotated[dict[str, Any], msgspec.Meta(min_length=1, max_length=256)]
    #: Who makes the change; surfaces skip changes that carry their own origin.
    origin: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] = "api"


@blueprint.get("/studio/mixers/<key>")
@operation(
    "A mixer session's values and what it plays",
    tag="studio",
    response=MixerSnapshot,
    errors=(404, 422),
)
async def get_mixer(key: str) -> Response:
    user = require_user()
    return json_response(await mixers.snapshot(user.id, key))


@blueprint.post("/studio/mixers/<key>")
@operation(
    "Change a mixer session's controls (every tab and surface follows)",
    tag="studio",
    body=ControlBody,
    response=MixerChanged,
    errors=(404, 422),
)
async def change_mixer(key: str) -> Response:
    user = require_user()
    body = await read_body(ControlBody)
    return json_response(await mixers.control(user.id, key, dict(body.values), body.origin))


@blueprint.get("/studio/mixers/<key>/controls")
@operation(
    "Every control of a mixer session: path, kind and range",
    tag="studio",
    response=list[Control],
    errors=(404, 422),
)
async def list_controls(key: str) -> Response:
    user = require_user()
    snapshot = await mixers.snapshot(user.id, key)
    return json_response(controls.controls(key, snapshot.info))
