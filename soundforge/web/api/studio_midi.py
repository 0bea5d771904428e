"""``/api/v1/studio/midi``: MIDI controllers — devices, your mappings, learn and presets.

Mappings are yours and per device name (``midi_mappings``); a change here reaches the
running device actors at once (``midi.mappings_changed``). MIDI learn answers 202: the
mapping is made when a control moves, and the result arrives on the WebSocket as
``midi.learned`` (or ``midi.learn_timeout`` after 30 s) on the topic ``midi:<your id>``.
Where the server has no MIDI system, ``GET`` says so in ``status`` and learn is a 409.

    curl -H "Authorization: Bearer $TOKEN" "$SF/api/v1/studio/midi"
    curl -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"path": "stem.vocals.volume"}' "$SF/api/v1/studio/midi/learn"
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from quart import Blueprint, Response

from soundforge.studio import mixers
from soundforge.studio.midi import (
    PRESETS,
    LearnArmed,
    Mapping,
    MidiStatus,
    Preset,
    delete_mapping,
    list_mappings,
    mappings_changed,
    preset_mappings,
    save_mapping,
    save_mappings,
)
from soundforge.studio.midi import cancel_learn as cancel_midi_learn
from soundforge.studio.midi import learn as midi_learn
from soundforge.studio.midi import status as midi_status
from soundforge.web.api._common import NO_NUL, connection
from soundforge.web.auth import require_user
from soundforge.web.http import NotFound, json_response, read_body
from soundforge.web.openapi import operation

__all__ = ["LearnBody", "MappingBody", "MidiOverview", "PresetBody", "blueprint"]

blueprint = Blueprint("studio_midi", __name__)

Path = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[a-z][a-z0-9_.]*$")]
DeviceName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
ModeName = Literal["absolute", "relative", "toggle", "momentary"]


class MidiOverview(msgspec.Struct, frozen=True):
    """MIDI on this server, your mappings and the presets."""

    midi: MidiStatus
    mappings: list[Mapping]
    presets: tuple[Preset, ...]


class MappingBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The device's name as ``GET /studio/midi`` lists it.
    device_name: DeviceName
    message_type: Literal["cc", "note", "pitchbend", "program"]
    #: 0–15 (the device's channels 1–16).
    channel: Annotated[int, msgspec.Meta(ge=0, le=15)] = 0
    #: CC or note number; 0 for pitch bend.
    number: Annotated[int, msgspec.Meta(ge=0, le=127)] = 0
    #: The control path, e.g. ``stem.vocals.volume`` or ``deck.1.play``.
    action: Path
    mode: ModeName = "absolute"
    soft_takeover: bool = True


class LearnBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The control path the next moved control maps to.
    path: Path
    #: How to read it; by default from the control (knobs absolute, buttons toggle).
    mode: ModeName | None = None


class PresetBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    device_name: DeviceName
    preset: Literal["generic", "dj"]


@blueprint.get("/studio/midi")
@operation(
    "MIDI here (devices, status sentence, monitor), your mappings and the presets",
    tag="studio",
    response=MidiOverview,
)
async def overview() -> Response:
    user = require_user()
    async with connection() as conn:
        mappings = await list_mappings(conn, user.id)
    return json_response(MidiOverview(await midi_status(), mappings, PRESETS))


@blueprint.get("/studio/midi/mappings")
@operation("Your MIDI mappings, by device", tag="studio", response=list[Mapping])
async def list_() -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await list_mappings(conn, user.id))


@blueprint.post("/studio/midi/mappings")
@operation(
    "Map a control of a device (replacing what it and the path were mapped to)",
    tag="studio",
    body=MappingBody,
    response=Mapping,
    status=201,
    errors=(422,),
)
async def create() -> Response:
    user = require_user()
    body = await read_body(MappingBody)
    mapping = Mapping(
        device_name=body.device_name,
        message_type=body.message_type,
        channel=body.channel,
        number=0 if body.message_type == "pitchbend" else body.number,
        action=body.action,
        mode=body.mode,
        soft_takeover=body.soft_takeover,
    )
    async with connection() as conn:
        saved = await save_mapping(conn, user.id, mapping)
    mappings_changed(user.id)
    return json_response(saved, status=201)


@blueprint.delete("/studio/midi/mappings/<mapping_id>")
@operation("Delete one of your MIDI mappings", tag="studio", status=204, errors=(404,))
async def delete(mapping_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        if await delete_mapping(conn, user.id, mapping_id[:64]) is None:
            raise NotFound(f"you have no MIDI mapping {mapping_id[:64]}")
    mappings_changed(user.id)
    return Response(status=204)


@blueprint.post("/studio/midi/learn")
@operation(
    "Start MIDI learn: the next control moved on any device maps to the path",
    tag="studio",
    body=LearnBody,
    response=LearnArmed,
    status=202,
    errors=(409, 422),
)
async def learn() -> Response:
    user = require_user()
    body = await read_body(LearnBody)
    armed = await midi_learn(user.id, body.path, mode=body.mode)
    return json_response(armed, status=202)


@blueprint.delete("/studio/midi/learn")
@operation("Stop your MIDI learn", tag="studio", status=204, errors=(404,))
async def stop_learning() -> Response:
    user = require_user()
    if not await cancel_midi_learn(user.id):
        raise NotFound("MIDI learn is not waiting for you")
    return Response(status=204)


@blueprint.post("/studio/midi/presets")
@operation(
    "Apply a preset (generic or dj) to a device",
    tag="studio",
    body=PresetBody,
    response=list[Mapping],
    status=201,
    errors=(422,),
)
async def apply_preset() -> Response:
    user = require_user()
    body = await read_body(PresetBody)
    stems: list[str] = []
    focus = mixers.focused(user_id=user.id)
    if body.preset == "generic" and focus is not None and focus.key != "dj":
        snapshot = await mixers.snapshot(user.id, focus.key)
        found = snapshot.info.get("stems")
        stems = [s for s in found if isinstance(s, str)] if isinstance(found, list) else []
    mappings = preset_mappings(body.preset, body.device_name, stems)
    async with connection() as conn:
        saved = await save_mappings(conn, user.id, mappings)
    mappings_changed(user.id)
    return json_response(saved, status=201)
