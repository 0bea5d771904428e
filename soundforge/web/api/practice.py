"""``/api/v1/tracks/{id}/practice-presets``: a song's practice presets — list, save, rename,
load one, delete.

A preset (``soundforge.music.practice``) remembers a practice setup for one track: the A–B
loop, the count-in, rate, pitch and the step-up trainer. ``POST`` creates one (409 when the
name is taken); ``PUT …/<name-or-id>`` saves over the preset it names, or creates one of that
name (201) — what a "Save as" box wants; a ``name`` in its body renames. Another user's track
is a 404, like a missing one. Loading a preset is the page's business: it sends the preset's
values to the track's mixer session as one ``control`` op, so every surface follows.

    curl -X PUT -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"settings": {"rate": 0.7, "loop": {"a_ms": 61000, "b_ms": 79500}}}' \\
         "$SF/api/v1/tracks/$TRACK/practice-presets/solo%20slow"
"""

from __future__ import annotations

import msgspec
from quart import Blueprint, Response

from soundforge.music.practice import (
    PracticePreset,
    PracticeSettings,
    PresetName,
    PresetNotFound,
    create_preset,
    delete_preset,
    get_preset,
    list_presets,
    put_preset,
    update_preset,
)
from soundforge.web.api._common import connection
from soundforge.web.auth import require_user
from soundforge.web.http import json_response, read_body
from soundforge.web.openapi import operation

__all__ = ["PresetBody", "PresetPut", "blueprint"]

blueprint = Blueprint("practice", __name__)

_COLLECTION = "/tracks/<track_id>/practice-presets"
_ONE = "/tracks/<track_id>/practice-presets/<ref>"

#: A preset's name or id in the path; longer is no preset at all.
_MAX_REF = 100


class PresetBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new preset."""

    #: Unique among the track's presets (surrounding spaces are dropped).
    name: PresetName
    settings: PracticeSettings = PracticeSettings()


class PresetPut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Save over a preset (or create it under the path's name); ``name`` renames it."""

    settings: PracticeSettings | None = None
    #: A new name for it.
    name: PresetName | None = None


def _ref(ref: str) -> str:
    if not ref or len(ref) > _MAX_REF or "\x00" in ref:
        raise PresetNotFound(f"this track has no practice preset {ref[:_MAX_REF]!r}")
    return ref


@blueprint.get(_COLLECTION)
@operation(
    "A track's practice presets, by name",
    tag="practice",
    response=list[PracticePreset],
    errors=(404,),
)
async def list_(track_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await list_presets(conn, user.id, track_id))


@blueprint.post(_COLLECTION)
@operation(
    "Save the practice settings as a new preset of the track",
    tag="practice",
    body=PresetBody,
    response=PracticePreset,
    status=201,
    errors=(404, 409),
)
async def create(track_id: str) -> Response:
    user = require_user()
    body = await read_body(PresetBody)
    async with connection() as conn:
        preset = await create_preset(conn, user.id, track_id, body.name, body.settings)
    return json_response(preset, status=201)


@blueprint.get(_ONE)
@operation(
    "One practice preset, by name or id", tag="practice", response=PracticePreset, errors=(404,)
)
async def show(track_id: str, ref: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await get_preset(conn, user.id, track_id, _ref(ref)))


@blueprint.put(_ONE)
@operation(
    "Save over a preset (by name or id), or create it under this name; a name renames it",
    tag="practice",
    body=PresetPut,
    response=PracticePreset,
    errors=(404, 409),
    description="Answers 201 when it created the preset, 200 when it changed one.",
)
async def put(track_id: str, ref: str) -> Response:
    user = require_user()
    body = await read_body(PresetPut)
    ref = _ref(ref)
    async with connection() as conn:
        if body.settings is not None and body.name is None:
            preset, created = await put_preset(conn, user.id, track_id, ref, body.settings)
            return json_response(preset, status=201 if created else 200)
        preset = await update_preset(
            conn, user.id, track_id, ref, name=body.name, settings=body.settings
        )
    return json_response(preset)


@blueprint.delete(_ONE)
@operation("Delete a practice preset (by name or id)", tag="practice", status=204, errors=(404,))
async def delete(track_id: str, ref: str) -> Response:
    user = require_user()
    async with connection() as conn:
        await delete_preset(conn, user.id, track_id, _ref(ref))
    return Response(status=204)
