"""The OSC endpoints of the JSON API, and an OSC message reaching a browser's WebSocket."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
import zlib

import pytest
import websockets
from pythonosc.udp_client import SimpleUDPClient

from soundforge.studio import Focus, mixers
from tests.helpers import eventually
from tests.studio.osc.osc_helpers import bound_port, osc_server
from tests.web.api.helpers import fresh_user, seed_track
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_layout_names_every_stem_of_the_track(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    seeded = await seed_track(api_server, user.id, stems=("vocals", "drums", "piano"))
    async with user.client as client:
        response = await client.get(f"/api/v1/studio/osc/layout.tosc?track={seeded.track_id}")
        default = await client.get("/api/v1/studio/osc/layout.tosc")
        missing = await client.get("/api/v1/studio/osc/layout.tosc?track=nope")
    assert response.status_code == 200, response.text
    assert "soundforge.tosc" in response.headers["Content-Disposition"]
    root = ET.fromstring(zlib.decompress(response.content))
    found = {v.text for v in root.iter("value") if v.text and v.text.startswith("/sf/")}
    for stem in ("vocals", "drums", "piano"):
        assert {f"/sf/stem/{stem}/{p}" for p in ("volume", "mute", "solo")} <= found
    assert "/sf/stem/bass/volume" not in found
    default_root = ET.fromstring(zlib.decompress(default.content))
    assert "/sf/stem/bass/volume" in {v.text for v in default_root.iter("value")}
    assert missing.status_code == 404


async def test_the_status_shows_the_port_and_counters(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    async with osc_server() as name, user.client as client:
        osc_port = await bound_port(name)
        response = await client.get("/api/v1/studio/osc")
    assert response.status_code == 200, response.text
    body = response.json()
    if name == "soundforge.osc":  # the tree's server: the API reports it
        assert body["port"] == osc_port and body["listening"] is True
    assert body["clients"] == [] and "malformed" in body["counters"]


async def test_an_osc_message_reaches_a_browsers_websocket(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    seeded = await seed_track(api_server, user.id)
    topic = mixers.topic(user.id, f"track:{seeded.track_id}")
    url = api_server.url.replace("http://", "ws://") + f"/ws?token={user.token}"
    async with osc_server() as name, websockets.connect(url) as socket:
        await socket.send(json.dumps({"op": "subscribe", "topic": topic}))  # focuses it
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "subscribed"
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "mixer.snapshot"
        client = SimpleUDPClient("127.0.0.1", await bound_port(name))
        focus = Focus(user.id, f"track:{seeded.track_id}")
        await eventually(lambda: mixers.focused() == focus, 5.0)  # the focus is a cast
        client.send_message("/sf/stem/vocals/volume", 0.125)
        event = json.loads(await asyncio.wait_for(socket.recv(), 5))
    assert event["type"] == "mixer.changed"
    assert event["values"] == {"stem.vocals.volume": 0.125}
    assert event["origin"].startswith("osc:127.0.0.1:")
