"""MIDI through real virtual ports (JACK, dummy driver) into a running server's mixers.

Each test plays a controller as another program would (``VirtualDevice``), on the module's
server with MidiDevices: a CC moves a mixer value, learn maps the control just moved, soft
takeover ignores a far knob until it picks the value up, devices come and go without a
restart, a killed device actor comes back with its mappings, feedback reaches the
device's input port (and never echoes its own moves), and MIDI clock in measures 120 BPM.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

import pytest

from soundforge.actors import repo
from soundforge.runtime.exit import KILL
from soundforge.runtime.gen_server import get_state, whereis
from soundforge.runtime.process import exit as exit_process
from soundforge.studio import Focus, mixers
from soundforge.studio.midi import (
    CLOCK_TOPIC,
    Mapping,
    MidiClock,
    MidiLearned,
    learn,
    list_mappings,
    mappings_changed,
    save_mapping,
    status,
    user_topic,
)
from soundforge.studio.midi.input import input_name
from soundforge.supervisors.root import NAMES
from tests.helpers import Follower, eventually
from tests.studio.midi.conftest import VirtualDevice
from tests.web.api.helpers import fresh_user, seed_track
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _focused_track(server: WebServer) -> tuple[str, str]:
    user = await fresh_user(server)
    seeded = await seed_track(server, user.id, stems=("vocals", "drums"))
    key = f"track:{seeded.track_id}"
    await mixers.focus(user.id, key)
    await eventually(lambda: mixers.focused() == Focus(user.id, key), 5)
    return user.id, key


async def _connected(device_name: str) -> None:
    """Wait until the device's input actor runs with its port open (its init is done when
    it answers ``get_state``)."""
    await eventually(lambda: whereis(input_name(device_name)) is not None, 5, "connected")
    await get_state(input_name(device_name))


async def _map(user_id: str, device: VirtualDevice, **fields: Any) -> Mapping:
    mapping = Mapping(device_name=device.device_name, **fields)
    async with repo.connection(NAMES.repo) as conn:
        saved = await save_mapping(conn, user_id, mapping)
    mappings_changed(user_id)
    return saved


async def _value(user_id: str, key: str, path: str) -> Any:
    return (await mixers.snapshot(user_id, key)).values[path]


async def _until_value(user_id: str, key: str, path: str, expected: Any) -> None:
    async with asyncio.timeout(5):
        while await _value(user_id, key, path) != expected:  # noqa: ASYNC110 - polls the actor
            await asyncio.sleep(0.01)


async def _handled(device: VirtualDevice, marker: int) -> None:
    """Wait until the device actor handled everything sent before this marker CC (sent
    again every 0.1 s: an actor that is still opening its port has not heard it yet)."""
    expected = f"CC 119 = {marker} (ch 1)"
    async with asyncio.timeout(5):
        while True:
            device.cc(119, marker)
            for _ in range(10):
                if any(e.message == expected for e in (await status()).recent):
                    return
                await asyncio.sleep(0.01)


async def test_the_status_names_the_backend(midi_server: WebServer) -> None:
    found = await status()
    assert found.available and found.backend == "JACK"
    assert found.status == "MIDI controllers are served through JACK."


async def test_a_cc_moves_a_mixer_value(midi_server: WebServer, device: VirtualDevice) -> None:
    user_id, key = await _focused_track(midi_server)
    await _connected(device.device_name)
    await _map(
        user_id,
        device,
        message_type="cc",
        channel=0,
        number=7,
        action="stem.vocals.volume",
        soft_takeover=False,
    )
    await _handled(device, 1)
    device.cc(7, 64)
    await _until_value(user_id, key, "stem.vocals.volume", 64 / 127)


async def test_learn_maps_the_control_just_moved(
    midi_server: WebServer, device: VirtualDevice
) -> None:
    user_id, key = await _focused_track(midi_server)
    await _connected(device.device_name)
    async with Follower(NAMES.pubsub, user_topic(user_id)) as follower:
        armed = await learn(user_id, "stem.drums.mute")
        assert armed.path == "stem.drums.mute" and armed.timeout == 30.0
        device.note(36, 100, channel=2)
        await eventually(lambda: bool(follower.events), 5, "midi.learned")
    learned = follower.events[0]
    assert isinstance(learned, MidiLearned) and learned.device_name == device.device_name
    assert learned.message == "note on 36 velocity 100 (ch 3)"
    async with repo.connection(NAMES.repo) as conn:
        (stored,) = await list_mappings(conn, user_id, device.device_name)
    assert (stored.message_type, stored.channel, stored.number) == ("note", 2, 36)
    assert (stored.action, stored.mode) == ("stem.drums.mute", "toggle")
    device.note(36, 100, channel=2)
    await _until_value(user_id, key, "stem.drums.mute", True)
    device.note(36, 0, channel=2)  # the release does nothing; the next press toggles back
    device.note(36, 100, channel=2)
    await _until_value(user_id, key, "stem.drums.mute", False)


async def test_soft_takeover_ignores_a_far_knob_then_picks_up(
    midi_server: WebServer, device: VirtualDevice
) -> None:
    user_id, key = await _focused_track(midi_server)
    await _connected(device.device_name)
    await _map(user_id, device, message_type="cc", channel=0, number=1, action="master.volume")
    await _handled(device, 2)
    await mixers.control(user_id, key, {"master.volume": 0.2}, "api")
    device.cc(1, 127)  # far above 0.2: ignored
    await _handled(device, 3)
    assert await _value(user_id, key, "master.volume") == 0.2
    device.cc(1, 120)  # still far, still ignored
    await _handled(device, 4)
    assert await _value(user_id, key, "master.volume") == 0.2
    device.cc(1, 26)  # crosses 0.2 on its way down: picks it up
    await _until_value(user_id, key, "master.volume", 26 / 127)
    device.cc(1, 127)  # now it follows the knob
    await _until_value(user_id, key, "master.volume", 1.0)


async def test_devices_come_and_go_without_a_restart(midi_server: WebServer) -> None:
    plugged = await VirtualDevice.open(f"Plug{uuid.uuid4().hex[:6]}")
    name = input_name(plugged.device_name)
    try:
        await eventually(lambda: whereis(name) is not None, 5, "the input actor started")
        assert plugged.device_name in [d.name for d in (await status()).devices]
    finally:
        await plugged.close()
    await eventually(lambda: whereis(name) is None, 5, "the input actor stopped")
    assert plugged.device_name not in [d.name for d in (await status()).devices]


async def test_a_killed_device_actor_comes_back_with_its_mappings(
    midi_server: WebServer, device: VirtualDevice
) -> None:
    user_id, key = await _focused_track(midi_server)
    await _connected(device.device_name)
    await _map(
        user_id,
        device,
        message_type="cc",
        channel=0,
        number=9,
        action="stem.drums.volume",
        soft_takeover=False,
    )
    await _handled(device, 5)
    first = whereis(input_name(device.device_name))
    assert first is not None
    exit_process(first, KILL)
    await eventually(
        lambda: whereis(input_name(device.device_name)) not in (None, first), 5, "restarted"
    )
    await _handled(device, 6)
    device.cc(9, 32)
    await _until_value(user_id, key, "stem.drums.volume", 32 / 127)


async def test_feedback_reaches_the_device_but_never_echoes(
    midi_server: WebServer, device: VirtualDevice
) -> None:
    user_id, key = await _focused_track(midi_server)
    await _connected(device.device_name)
    await _map(
        user_id,
        device,
        message_type="cc",
        channel=0,
        number=7,
        action="stem.vocals.volume",
        soft_takeover=False,
    )
    await _map(
        user_id,
        device,
        message_type="note",
        channel=0,
        number=40,
        action="stem.vocals.mute",
        mode="toggle",
    )
    await _handled(device, 7)
    await mixers.control(user_id, key, {"stem.vocals.volume": 0.5, "stem.vocals.mute": True}, "api")
    await eventually(lambda: len(device.received) >= 2, 5, "feedback")
    await asyncio.sleep(0.3)
    assert sorted(device.received) == [[0x90, 40, 127], [0xB0, 7, 64]], device.received
    device.received.clear()
    device.cc(7, 100)  # our own move: the mixer changes, nothing comes back to us
    await _until_value(user_id, key, "stem.vocals.volume", 100 / 127)
    await _handled(device, 8)
    await mixers.control(user_id, key, {"stem.vocals.mute": False}, "api")
    await eventually(lambda: bool(device.received), 5, "feedback of the next change")
    assert device.received == [[0x90, 40, 0]]


_CLOCK_PROGRAM = """
import select, sys, time, rtmidi
out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=sys.argv[1])
out.open_virtual_port(sys.argv[1])
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0.05)[0]:
    out.send_message([0xB0, 119, 1])  # until the test heard it: we are connected
sys.stdin.readline()
interval = 60 / (120 * 24)
out.send_message([0xFA])
due = time.perf_counter()
for _ in range(24 * 4):
    while time.perf_counter() < due:
        time.sleep(0.0002)
    out.send_message([0xF8])
    due += interval
out.send_message([0xFC])
sys.stdin.readline()
"""


async def test_clock_in_measures_the_tempo(midi_server: WebServer) -> None:
    # A drum machine of its own (another OS process), so its ticks keep time whatever the
    # test process does.
    name = f"Clock{uuid.uuid4().hex[:6]}"
    program = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CLOCK_PROGRAM,
        name,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert program.stdin is not None and program.stdout is not None
    try:
        assert await asyncio.wait_for(program.stdout.readline(), 10) == b"ready\n"
        device = f"{name}:{name}"
        await _connected(device)
        async with asyncio.timeout(5):
            while not any(e.device == device for e in (await status()).recent):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        async with Follower(NAMES.pubsub, CLOCK_TOPIC) as follower:
            program.stdin.write(b"go\n")
            await eventually(
                lambda: any(
                    isinstance(e, MidiClock) and e.event == "stop" for e in follower.events
                ),
                10,
                "clock stop",
            )
    finally:
        program.stdin.write(b"done\n")
        await asyncio.wait_for(program.wait(), 10)
    mine = [e for e in follower.events if isinstance(e, MidiClock) and e.device_name == device]
    assert mine[0].event == "start" and mine[0].running, mine
    beats = [e.bpm for e in mine if e.event == "beat" and e.bpm is not None]
    assert len(beats) >= 2, mine
    # The drum machine is another process on a busy 2-core machine: a tick it sends late
    # (scheduling) shortens one beat's average; the tracker's arithmetic is exact in
    # test_mapping.py. So: every beat near 120, and at least one within 2 BPM.
    assert all(102.0 <= bpm <= 138.0 for bpm in beats), beats
    assert any(118.0 <= bpm <= 122.0 for bpm in beats), beats
    assert mine[-1].event == "stop" and not mine[-1].running
