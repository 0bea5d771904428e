"""Mixer sessions on a real server: values, triggers, decks, persistence, the socket and API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pytest
import websockets

from soundforge.actors import repo
from soundforge.runtime.exit import KILL
from soundforge.runtime.gen_server import whereis
from soundforge.runtime.process import exit as exit_process
from soundforge.studio import ControlError, Focus, MixerChanged, SessionNotFound, mixers
from soundforge.studio.mixer_state import session_name
from soundforge.supervisors.root import NAMES
from tests.helpers import Follower, eventually
from tests.web.api.helpers import fresh_user, seed_track
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _track(server: WebServer, **options: Any) -> tuple[str, str]:
    user = await fresh_user(server)
    seeded = await seed_track(server, user.id, **options)
    return user.id, seeded.track_id


async def _saved(user_id: str, key: str) -> dict[str, Any]:
    async with repo.connection(NAMES.repo) as conn:
        raw = await conn.fetchval(
            'SELECT "values"::text FROM mixer_sessions WHERE user_id = $1::uuid AND key = $2',
            user_id,
            key,
        )
    return {} if raw is None else dict(json.loads(raw))


async def test_a_track_session_starts_from_the_tracks_stems(api_server: WebServer) -> None:
    user_id, track_id = await _track(api_server, stems=("vocals", "drums", "bass"))
    snapshot = await mixers.snapshot(user_id, f"track:{track_id}")
    assert snapshot.info["stems"] == ["vocals", "drums", "bass"]
    assert snapshot.info["bpm"] == 120.0
    assert snapshot.values["stem.bass.volume"] == 1.0
    assert snapshot.values["rate"] == 1.0 and snapshot.values["transport.playing"] is False


async def test_changes_are_clamped_and_only_what_changed_is_broadcast(
    api_server: WebServer,
) -> None:
    user_id, track_id = await _track(api_server)
    key = f"track:{track_id}"
    changed = await mixers.control(
        user_id, key, {"stem.vocals.volume": -0.3, "stem.drums.mute": 1, "rate": 1.0}, "api"
    )
    assert changed.values == {"stem.vocals.volume": 0.0, "stem.drums.mute": True}
    assert "rate" not in changed.values  # it was 1.0 already
    again = await mixers.control(user_id, key, {"stem.drums.mute": True}, "api")
    assert again.values == {} and again.version == changed.version


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"stem.guitar.volume": 0.5}, "not a control"),
        ({"stem.vocals.mute": "yes"}, "on or off"),
        ({"rate": "fast"}, "takes a number"),
        ({"loop.a_ms": 5000, "loop.b_ms": 1000, "loop.enabled": True}, "must come after"),
    ],
)
async def test_a_bad_request_changes_nothing(
    api_server: WebServer, values: dict[str, Any], message: str
) -> None:
    user_id, track_id = await _track(api_server)
    key = f"track:{track_id}"
    before = await mixers.snapshot(user_id, key)
    with pytest.raises(ControlError, match=message):
        await mixers.control(user_id, key, {"stem.vocals.volume": 0.2, **values}, "api")
    after = await mixers.snapshot(user_id, key)
    assert after.values == before.values and after.version == before.version


async def test_another_users_track_is_not_found(api_server: WebServer) -> None:
    _, track_id = await _track(api_server)
    stranger = await fresh_user(api_server, "stranger")
    with pytest.raises(SessionNotFound):
        await mixers.snapshot(stranger.id, f"track:{track_id}")
    with pytest.raises(SessionNotFound):
        await mixers.control(stranger.id, "dj", {"deck.1.track_id": track_id}, "api")


async def test_transport_triggers_move_the_playhead(api_server: WebServer) -> None:
    user_id, track_id = await _track(api_server, seconds=4.0)
    key = f"track:{track_id}"
    await mixers.control(user_id, key, {"transport.position_ms": 1500}, "api")
    played = await mixers.control(user_id, key, {"transport.toggle": 1}, "api")
    assert played.values["transport.playing"] is True
    await asyncio.sleep(0.2)
    paused = await mixers.control(user_id, key, {"transport.toggle": 1}, "api")
    assert paused.values["transport.playing"] is False
    assert 1600 <= paused.values["transport.position_ms"] <= 3000  # it kept playing meanwhile
    await mixers.control(
        user_id, key, {"loop.a_ms": 500, "loop.b_ms": 2500, "loop.enabled": True}, "api"
    )
    stopped = await mixers.control(user_id, key, {"transport.stop": 1}, "api")
    assert stopped.values["transport.position_ms"] == 500.0  # back to the loop's start


async def test_the_trainer_raises_the_rate_every_n_loop_passes(api_server: WebServer) -> None:
    user_id, track_id = await _track(api_server, seconds=4.0)
    key = f"track:{track_id}"
    await mixers.control(
        user_id,
        key,
        {
            "loop.a_ms": 0,
            "loop.b_ms": 100,
            "loop.enabled": True,
            "rate": 0.7,
            "practice.trainer.step": 0.1,
            "practice.trainer.target": 0.85,
            "practice.trainer.every": 2,
            "practice.trainer.enabled": True,
        },
        "api",
    )
    rates = []
    for _ in range(6):
        await asyncio.sleep(0.16)  # longer than a pass at this rate: each one counts
        changed = await mixers.control(user_id, key, {"practice.loop_pass": 1}, "ws:player")
        rates.append((await mixers.snapshot(user_id, key)).values["rate"])
        assert "practice.passes" in changed.values
    assert rates == pytest.approx([0.7, 0.8, 0.8, 0.85, 0.85, 0.85])
    # A second tab reporting the same pass at once is not counted again.
    passes = (await mixers.snapshot(user_id, key)).values["practice.passes"]
    await asyncio.sleep(0.16)
    await mixers.control(user_id, key, {"practice.loop_pass": 1}, "ws:other")
    await mixers.control(user_id, key, {"practice.loop_pass": 1}, "ws:other")
    assert (await mixers.snapshot(user_id, key)).values["practice.passes"] == passes + 1


async def test_dj_decks_load_sync_cue_and_hot_cues(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    one = await seed_track(api_server, user.id, tempo=120.0, seconds=8.0)
    two = await seed_track(api_server, user.id, tempo=126.0, seconds=8.0)
    structure = [{"start_ms": 0, "label": "intro"}, {"start_ms": 2000, "label": "drop"}]
    async with repo.connection(NAMES.repo) as conn:
        await conn.execute(
            "UPDATE analyses SET result = result || $2::jsonb WHERE track_id = $1::uuid",
            one.track_id,
            json.dumps({"structure": structure}),
        )
    loaded = await mixers.control(
        user.id, "dj", {"deck.1.track_id": one.track_id, "deck.2.track_id": two.track_id}, "api"
    )
    assert loaded.info is not None
    assert loaded.info["decks"]["1"]["bpm"] == 120.0
    assert loaded.values["deck.1.hotcue.1"] == 0 and loaded.values["deck.1.hotcue.2"] == 2000
    assert loaded.values["deck.1.stem.vocals.mute"] is False
    synced = await mixers.control(user.id, "dj", {"deck.1.sync": 1}, "api")
    assert synced.values["deck.1.rate"] == pytest.approx(126.0 / 120.0)
    await mixers.control(user.id, "dj", {"deck.1.position_ms": 3000}, "api")
    cued = await mixers.control(user.id, "dj", {"deck.1.cue": 1}, "api")  # paused: set cue
    assert cued.values["deck.1.cue_ms"] == 3000.0
    await mixers.control(user.id, "dj", {"deck.1.play": 1}, "api")
    back = await mixers.control(user.id, "dj", {"deck.1.cue": 1}, "api")  # playing: back to cue
    assert back.values["deck.1.playing"] is False
    assert back.values["deck.1.position_ms"] == 3000.0
    jumped = await mixers.control(user.id, "dj", {"deck.1.hotcue.2.trigger": 1}, "api")
    assert jumped.values["deck.1.position_ms"] == 2000.0
    set_ = await mixers.control(user.id, "dj", {"deck.2.hotcue.3.trigger": 1}, "api")
    assert set_.values["deck.2.hotcue.3"] == 0  # empty: set at the playhead
    await mixers.control(user.id, "dj", {"deck.1.hotcue.2.clear": 1}, "api")
    async with repo.connection(NAMES.repo) as conn:
        rows = await conn.fetch(
            "SELECT hot_index, position_ms, source FROM cue_points"
            " WHERE track_id = $1::uuid ORDER BY hot_index",
            one.track_id,
        )
    assert [tuple(r) for r in rows] == [(0, 0, "analysis")]
    with pytest.raises(ControlError, match=r"no analysed BPM|Load a track"):
        await mixers.control(user.id, "dj", {"deck.2.track_id": None, "deck.1.sync": 1}, "api")


async def test_a_crashed_session_comes_back_with_its_values(api_server: WebServer) -> None:
    user_id, track_id = await _track(api_server)
    key = f"track:{track_id}"
    await mixers.control(user_id, key, {"stem.vocals.volume": 0.25, "pitch": -3}, "api")
    async with asyncio.timeout(5):  # saved a moment after the change
        while (await _saved(user_id, key)).get("pitch") != -3.0:  # noqa: ASYNC110 - polls the db
            await asyncio.sleep(0.05)
    first = whereis(session_name(mixers.REGISTRY, user_id, key))
    assert first is not None
    api_server.studio.node.attach()
    exit_process(first, KILL)
    await eventually(
        lambda: whereis(session_name(mixers.REGISTRY, user_id, key)) not in (None, first), 5
    )
    snapshot = await mixers.snapshot(user_id, key)
    assert snapshot.values["stem.vocals.volume"] == 0.25 and snapshot.values["pitch"] == -3.0


async def test_surfaces_act_on_the_focused_session(api_server: WebServer) -> None:
    user_id, track_id = await _track(api_server)
    key = f"track:{track_id}"
    await mixers.focus(user_id, key)
    await eventually(lambda: mixers.focused() == Focus(user_id, key))
    changed = await mixers.control_focused({"master.volume": 0.5}, "osc:127.0.0.1:9000")
    assert changed is not None and changed.key == key
    dj = await mixers.control_focused({"crossfader": 0.1}, "midi:test")
    assert dj is not None and dj.key == "dj" and dj.user_id == user_id


async def test_a_socket_follows_and_controls_its_session(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    seeded = await seed_track(api_server, user.id)
    topic = mixers.topic(user.id, f"track:{seeded.track_id}")
    ws_url = api_server.url.replace("http", "ws", 1) + f"/ws?token={user.token}"
    async with websockets.connect(ws_url) as one, websockets.connect(ws_url) as two:
        for socket in (one, two):
            await socket.send(json.dumps({"op": "subscribe", "topic": topic}))
            assert json.loads(await socket.recv())["type"] == "subscribed"
            snapshot = json.loads(await socket.recv())
            assert snapshot["type"] == "mixer.snapshot"
            assert snapshot["values"]["stem.vocals.volume"] == 1.0
        control = {"stem.vocals.volume": 0.3}
        await one.send(
            json.dumps({"op": "control", "topic": topic, "values": control, "origin": "ws:1"})
        )
        for socket in (one, two):
            event = json.loads(await asyncio.wait_for(socket.recv(), 5))
            assert event["type"] == "mixer.changed" and event["origin"] == "ws:1"
            assert event["values"] == {"stem.vocals.volume": 0.3}
        await two.send(json.dumps({"op": "control", "topic": topic, "values": {"rate": "x"}}))
        error = json.loads(await asyncio.wait_for(two.recv(), 5))
        assert error["type"] == "error" and "takes a number" in error["message"]
        stranger = await fresh_user(api_server, "stranger")
        await two.send(json.dumps({"op": "subscribe", "topic": mixers.topic(stranger.id, "dj")}))
        refused = json.loads(await asyncio.wait_for(two.recv(), 5))
        assert refused["type"] == "error" and "may not follow" in refused["message"]


async def test_the_api_reads_and_changes_sessions(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    seeded = await seed_track(api_server, user.id)
    key = f"track:{seeded.track_id}"
    api_server.studio.node.attach()
    async with Follower(NAMES.pubsub, mixers.topic(user.id, key)) as follower:
        response = await user.client.post(
            f"/api/v1/studio/mixers/{key}", json={"values": {"stem.drums.solo": True}}
        )
        assert response.status_code == 200, response.text
        assert response.json()["values"] == {"stem.drums.solo": True}
        await eventually(lambda: bool(follower.events), 5)
        assert isinstance(follower.events[0], MixerChanged)
        assert follower.events[0].origin == "api"
    got = await user.client.get(f"/api/v1/studio/mixers/{key}")
    assert got.json()["values"]["stem.drums.solo"] is True
    paths = [
        c["path"] for c in (await user.client.get(f"/api/v1/studio/mixers/{key}/controls")).json()
    ]
    assert "stem.drums.volume" in paths and "practice.trainer.step" in paths
    bad = await user.client.post(f"/api/v1/studio/mixers/{key}", json={"values": {"nope": 1}})
    assert bad.status_code == 422 and "not a control" in bad.json()["error"]["message"]
    other = await fresh_user(api_server, "other")
    assert (await other.client.get(f"/api/v1/studio/mixers/{key}")).status_code == 404


async def test_the_registry_name_is_the_roots() -> None:
    assert NAMES.registry == mixers.REGISTRY
    assert msgspec.json.decode(msgspec.json.encode(Focus("u", "dj")), type=mixers.Focus)
