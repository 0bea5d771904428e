"""The OSC server over real UDP on 127.0.0.1: python-osc's client in, a real socket out."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from soundforge.runtime.gen_server import stop
from soundforge.runtime.results import Ok
from soundforge.studio import mixers
from soundforge.studio.osc import OscOptions, OscServer, OscStatus, status
from tests.studio.osc.osc_helpers import (
    bound_port,
    focused_track,
    osc_server,
    receiver,
    value_becomes,
)
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_message_changes_the_mixer(api_server: WebServer) -> None:
    async with osc_server() as name:
        client = SimpleUDPClient("127.0.0.1", await bound_port(name))
        user_id, key = await focused_track(api_server)
        client.send_message("/sf/stem/vocals/volume", 0.25)
        client.send_message("/sf/rate", 0.8)
        client.send_message("/sf/pitch", -2)
        await value_becomes(user_id, key, "stem.vocals.volume", 0.25)
        await value_becomes(user_id, key, "rate", 0.800000011920929)  # a 32-bit OSC float
        await value_becomes(user_id, key, "pitch", -2.0)
        client.send_message("/sf/crossfader", 0.75)
        await value_becomes(user_id, "dj", "crossfader", 0.75)


async def test_a_bundle_is_applied_at_once(api_server: WebServer) -> None:
    async with osc_server() as name:
        client = SimpleUDPClient("127.0.0.1", await bound_port(name))
        user_id, key = await focused_track(api_server)
        before = (await mixers.snapshot(user_id, key)).version
        bundle = OscBundleBuilder(IMMEDIATELY)
        for address, value in (
            ("/sf/pitch", 3),
            ("/sf/stem/drums/mute", 1.0),
            ("/sf/stem/vocals/solo", 1),
        ):
            message = OscMessageBuilder(address)
            message.add_arg(value)
            bundle.add_content(message.build())
        client.send(bundle.build())
        await value_becomes(user_id, key, "stem.vocals.solo", True)
        snapshot = await mixers.snapshot(user_id, key)
        assert snapshot.values["pitch"] == 3.0 and snapshot.values["stem.drums.mute"] is True
        assert snapshot.version == before + 1  # one apply, one broadcast


async def test_toggles_and_triggers(api_server: WebServer) -> None:
    async with osc_server() as name:
        client = SimpleUDPClient("127.0.0.1", await bound_port(name))
        user_id, key = await focused_track(api_server)
        client.send_message("/sf/stem/vocals/mute", 1.0)
        await value_becomes(user_id, key, "stem.vocals.mute", True)
        client.send_message("/sf/stem/vocals/mute", 0.2)
        await value_becomes(user_id, key, "stem.vocals.mute", False)
        # A TouchOSC button: 1 on press, 0 on release; the trigger fires once.
        client.send_message("/sf/transport/toggle", 1.0)
        client.send_message("/sf/transport/toggle", 0.0)
        client.send_message("/sf/stem/drums/solo", 1)
        await value_becomes(user_id, key, "stem.drums.solo", True)
        assert (await mixers.snapshot(user_id, key)).values["transport.playing"] is True
        client.send_message("/sf/transport/toggle", [])
        await value_becomes(user_id, key, "transport.playing", False)


async def test_malformed_packets_are_counted_and_ignored(api_server: WebServer) -> None:
    async with osc_server() as name:
        osc_port = await bound_port(name)
        client = SimpleUDPClient("127.0.0.1", osc_port)
        user_id, key = await focused_track(api_server)
        before: OscStatus = await status(name)
        good = OscMessageBuilder("/sf/master/volume")
        good.add_arg(0.5)
        dgram = good.build().dgram
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            raw.sendto(b"\x00garbage that is not OSC", ("127.0.0.1", osc_port))
            raw.sendto(dgram[:-4], ("127.0.0.1", osc_port))  # truncated
            raw.sendto(
                b"/sf/rate\x00\x00\x00\x00,x\x00\x00\x00\x00\x00\x01", ("127.0.0.1", osc_port)
            )
        client.send_message("/sf/nothing/here", 1.0)
        client.send_message("/sf/master/volume", 0.5)
        await value_becomes(user_id, key, "master.volume", 0.5)
        after: OscStatus = await status(name)
        assert after.counters.malformed == before.counters.malformed + 3
        assert after.counters.unknown == before.counters.unknown + 1
        assert after.counters.last_malformed == "an unsupported type tag 'x'"
        assert after.listening and after.error is None


async def test_feedback_reaches_registered_clients_but_not_the_origin(
    api_server: WebServer,
) -> None:
    async with osc_server() as name, receiver() as surface, receiver() as other:
        osc_port = await bound_port(name)
        user_id, key = await focused_track(api_server)
        surface.send(osc_port, "/sf/register")  # feedback to the port it sends from
        other.send(osc_port, "/sf/register", other.port)
        # Registering sends the focused session's state, with the track's title and BPM.
        assert await surface.wait_for("/sf/track/title") == ["Night Drive"]
        assert await other.wait_for("/sf/bpm") == [pytest.approx(120.0)]
        await other.wait_for("/sf/track/title")
        surface.clear()
        other.clear()
        surface.send(osc_port, "/sf/stem/vocals/volume", 0.3)
        assert (await other.wait_for("/sf/stem/vocals/volume"))[0] == pytest.approx(0.3)
        # What it caused does reach the origin; what it set itself does not.
        surface.send(osc_port, "/sf/transport/toggle", 1.0)
        assert await surface.wait_for("/sf/transport/playing") == [1.0]
        assert all(v[0] != pytest.approx(0.3) for v in surface.values("/sf/stem/vocals/volume"))
        # A browser's change (origin ws:...) reaches both.
        await mixers.control(user_id, key, {"rate": 1.5}, "ws:tab-1")
        assert await surface.wait_for("/sf/rate") == [1.5]
        assert await other.wait_for("/sf/rate") == [1.5]


async def test_the_dj_consoles_master_has_its_own_address(api_server: WebServer) -> None:
    async with osc_server() as name, receiver() as surface:
        osc_port = await bound_port(name)
        user_id, key = await focused_track(api_server)
        await mixers.snapshot(user_id, "dj")  # the console is open in a tab
        track_master = (await mixers.snapshot(user_id, key)).values["master.volume"]
        surface.send(osc_port, "/sf/register")
        await surface.wait_for("/sf/track/title")
        surface.clear()
        surface.send(osc_port, "/sf/dj/master/volume", 0.25)
        await value_becomes(user_id, "dj", "master.volume", 0.25)
        assert (await mixers.snapshot(user_id, key)).values["master.volume"] == track_master
        # A browser moving the console's master: surfaces see it at /sf/dj/..., never as
        # the track's master.
        await mixers.control(user_id, "dj", {"master.volume": 0.5}, "ws:tab-1")
        assert (await surface.wait_for("/sf/dj/master/volume"))[0] == pytest.approx(0.5)
        assert all(v[0] != pytest.approx(0.5) for v in surface.values("/sf/master/volume"))


async def test_a_client_that_went_away_is_dropped(api_server: WebServer) -> None:
    async with osc_server() as name, receiver() as surface:
        osc_port = await bound_port(name)
        user_id, key = await focused_track(api_server)
        async with receiver() as gone:
            gone.send(osc_port, "/sf/register")
            await gone.wait_for("/sf/track/title")
        surface.send(osc_port, "/sf/register")
        await surface.wait_for("/sf/track/title")
        surface.clear()
        for volume in (0.1, 0.2, 0.3, 0.4, 0.5):
            await mixers.control(user_id, key, {"master.volume": volume}, "api")
            await asyncio.sleep(0.02)

        async def clients() -> int:
            return len((await status(name)).clients)

        for _ in range(200):
            if await clients() == 1:
                break
            await asyncio.sleep(0.01)
        found: OscStatus = await status(name)
        assert [c.port for c in found.clients] == [surface.port]
        assert found.counters.dropped_clients >= 1


async def test_a_flood_ends_with_the_last_value_applied(api_server: WebServer) -> None:
    async with osc_server() as name:
        client = SimpleUDPClient("127.0.0.1", await bound_port(name))
        user_id, key = await focused_track(api_server)
        before: OscStatus = await status(name)
        # 2,000 messages at about 1,000 a second: ten every 10 ms.
        for i in range(2000):
            client.send_message("/sf/stem/drums/volume", (i % 1000) / 1000)
            if i % 10 == 9:
                await asyncio.sleep(0.01)
        client.send_message("/sf/stem/drums/volume", 0.5)
        await value_becomes(user_id, key, "stem.drums.volume", 0.5, timeout=10.0)
        after: OscStatus = await status(name)
        assert after.counters.messages - before.counters.messages == 2001
        assert after.counters.calls - before.counters.calls < 2001  # coalesced


async def test_a_taken_port_leaves_the_server_up_and_unavailable(api_server: WebServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        # init succeeds (a taken port is a configuration problem, not a crash loop).
        started = await OscServer.start(
            OscOptions(port=busy, name="test.osc.busy", retry_every=0.2), name="test.osc.busy"
        )
        assert isinstance(started, Ok)
        try:
            found: OscStatus = await status("test.osc.busy")
            assert not found.listening and found.port is None
            assert found.error == (
                f"OSC cannot listen on 127.0.0.1:{busy} (Address already in use); set "
                "SOUNDFORGE_OSC_PORT to a free port (it tries again every 0.2 s)."
            )
            taken.close()

            async def listening() -> bool:
                return bool((await status("test.osc.busy")).listening)

            for _ in range(300):
                if await listening():
                    break
                await asyncio.sleep(0.01)
            assert (await status("test.osc.busy")).port == busy
        finally:
            await stop("test.osc.busy")
