"""``/api/v1/studio/midi``: status and devices, mappings, learn (202 then a socket event),
presets, and the page — on the module's server with MidiDevices and a virtual device."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from soundforge.runtime.gen_server import get_state, stop, whereis
from soundforge.runtime.results import Ok
from soundforge.studio import Focus, mixers
from soundforge.studio.midi import MidiDevices, MidiOff, MidiOptions, learn, status
from soundforge.studio.midi.input import input_name
from tests.helpers import eventually
from tests.studio.midi.conftest import VirtualDevice
from tests.web.api.helpers import User, fresh_user, seed_track
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _focused(server: WebServer) -> tuple[User, str]:
    user = await fresh_user(server)
    seeded = await seed_track(server, user.id, stems=("vocals", "drums", "bass"))
    key = f"track:{seeded.track_id}"
    await mixers.focus(user.id, key)
    await eventually(lambda: mixers.focused() == Focus(user.id, key), 5)
    return user, key


async def test_the_overview_lists_devices_status_and_presets(
    midi_server: WebServer, device: VirtualDevice
) -> None:
    user = await fresh_user(midi_server)
    await eventually(lambda: whereis(input_name(device.device_name)) is not None, 5)
    body = (await user.client.get("/api/v1/studio/midi")).json()
    assert body["midi"]["available"] is True
    assert body["midi"]["status"] == "MIDI controllers are served through JACK."
    names = {d["name"]: d["feedback"] for d in body["midi"]["devices"]}
    assert names[device.device_name] is True
    assert [p["name"] for p in body["presets"]] == ["generic", "dj"]
    assert body["mappings"] == []


async def test_mappings_are_created_replaced_listed_and_deleted(midi_server: WebServer) -> None:
    user = await fresh_user(midi_server)
    mapping = {
        "device_name": "Pad:Pad",
        "message_type": "cc",
        "number": 7,
        "action": "stem.vocals.volume",
    }
    first = await user.client.post("/api/v1/studio/midi/mappings", json=mapping)
    assert first.status_code == 201, first.text
    assert first.json()["mode"] == "absolute" and first.json()["soft_takeover"] is True
    # The same path on another knob moves it there; the same knob for another path replaces.
    moved = await user.client.post("/api/v1/studio/midi/mappings", json={**mapping, "number": 8})
    assert moved.status_code == 201
    listed = (await user.client.get("/api/v1/studio/midi/mappings")).json()
    assert [(m["number"], m["action"]) for m in listed] == [(8, "stem.vocals.volume")]
    replaced = await user.client.post(
        "/api/v1/studio/midi/mappings", json={**mapping, "number": 8, "action": "rate"}
    )
    listed = (await user.client.get("/api/v1/studio/midi/mappings")).json()
    assert [(m["number"], m["action"]) for m in listed] == [(8, "rate")]
    other = await fresh_user(midi_server, "other")
    gone = await other.client.delete(f"/api/v1/studio/midi/mappings/{replaced.json()['id']}")
    assert gone.status_code == 404
    deleted = await user.client.delete(f"/api/v1/studio/midi/mappings/{replaced.json()['id']}")
    assert deleted.status_code == 204
    assert (await user.client.get("/api/v1/studio/midi/mappings")).json() == []
    bad = await user.client.post(
        "/api/v1/studio/midi/mappings", json={**mapping, "action": "Stem Volume"}
    )
    assert bad.status_code == 422
    channel = await user.client.post(
        "/api/v1/studio/midi/mappings", json={**mapping, "channel": 16}
    )
    assert channel.status_code == 422


async def test_learn_answers_202_and_the_result_arrives_on_the_socket(
    midi_server: WebServer, device: VirtualDevice
) -> None:
    user, _key = await _focused(midi_server)
    await eventually(lambda: whereis(input_name(device.device_name)) is not None, 5)
    await get_state(input_name(device.device_name))
    ws_url = midi_server.url.replace("http", "ws", 1) + f"/ws?token={user.token}"
    async with websockets.connect(ws_url) as socket:
        await socket.send(json.dumps({"op": "subscribe", "topic": f"midi:{user.id}"}))
        answer = json.loads(await asyncio.wait_for(socket.recv(), 5))
        if answer["type"] == "error":
            pytest.fail(f"the socket refused midi:<user id> (live.may_subscribe): {answer}")
        armed = await user.client.post("/api/v1/studio/midi/learn", json={"path": "stem.bass.solo"})
        assert armed.status_code == 202, armed.text
        assert armed.json() == {"path": "stem.bass.solo", "timeout": 30.0}
        device.cc(64, 127)
        event = json.loads(await asyncio.wait_for(socket.recv(), 5))
    assert event["type"] == "midi.learned" and event["path"] == "stem.bass.solo"
    assert event["mapping"]["number"] == 64 and event["mapping"]["mode"] == "toggle"
    listed = (await user.client.get("/api/v1/studio/midi/mappings")).json()
    assert [(m["device_name"], m["action"]) for m in listed] == [
        (device.device_name, "stem.bass.solo")
    ]


async def test_learn_refuses_a_path_the_session_lacks(midi_server: WebServer) -> None:
    user, _key = await _focused(midi_server)
    refused = await user.client.post(
        "/api/v1/studio/midi/learn", json={"path": "stem.guitar.volume"}
    )
    assert refused.status_code == 422 and "not a control" in refused.json()["error"]["message"]
    stranger = await fresh_user(midi_server, "stranger")  # has no track open
    none = await stranger.client.post("/api/v1/studio/midi/learn", json={"path": "rate"})
    assert none.status_code == 422 and "Open the track" in none.json()["error"]["message"]
    assert (await stranger.client.delete("/api/v1/studio/midi/learn")).status_code == 404


async def test_a_preset_maps_a_device_with_the_tracks_stems(midi_server: WebServer) -> None:
    user, _key = await _focused(midi_server)
    applied = await user.client.post(
        "/api/v1/studio/midi/presets", json={"device_name": "nano:nano", "preset": "generic"}
    )
    assert applied.status_code == 201, applied.text
    by_number = {m["number"]: m["action"] for m in applied.json()}
    assert by_number[0] == "stem.vocals.volume" and by_number[2] == "stem.bass.volume"
    assert by_number[7] == "master.volume"
    dj = await user.client.post(
        "/api/v1/studio/midi/presets", json={"device_name": "ddj:ddj", "preset": "dj"}
    )
    assert dj.status_code == 201
    listed = (await user.client.get("/api/v1/studio/midi/mappings")).json()
    assert {m["device_name"] for m in listed} == {"nano:nano", "ddj:ddj"}
    assert all(m["source"] == "preset" for m in listed)


async def test_the_page_renders_for_a_signed_in_user(midi_server: WebServer) -> None:
    user = await fresh_user(midi_server)
    page = await user.client.get("/studio/midi")
    assert page.status_code == 200
    assert "MIDI controllers are served through JACK." in page.text
    assert 'src="/static/js/studio-midi.js"' in page.text


async def test_without_midi_the_studio_says_so_and_learn_is_refused(
    midi_server: WebServer,
) -> None:
    off = await MidiDevices.start(
        MidiOptions(enabled=False, name="test.midi.off"), name="test.midi.off"
    )
    assert isinstance(off, Ok)
    try:
        found = await status("test.midi.off")
        assert not found.available and found.devices == []
        assert found.status == (
            "MIDI is turned off on this server (SOUNDFORGE_MIDI=0); everything else works."
        )
        with pytest.raises(MidiOff, match="turned off"):
            await learn("00000000-0000-0000-0000-000000000000", "rate", server="test.midi.off")
    finally:
        await stop(off.pid)
    missing = await status("no.such.midi")
    assert not missing.available and "not running on this node" in missing.status
