"""MIDI clock out: a sequencer following the server's "SoundForge Clock" port over JACK.

The focused track session (120 BPM) plays: the port sends ``start`` and then 24 ticks per
beat (48 a second), twice as slow at rate 0.5, and ``stop`` when the transport pauses.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import rtmidi

from soundforge.studio import Focus, mixers
from soundforge.studio.midi import CLOCK_PORT
from tests.helpers import eventually
from tests.web.api.helpers import fresh_user, seed_track
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

START, CLOCK, STOP = 0xFA, 0xF8, 0xFC


class Sequencer:
    """A JACK MIDI input connected to the clock port, recording (status byte, time)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, float]] = []
        self._lock = threading.Lock()
        self._in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="sequencer")
        self._in.ignore_types(sysex=True, timing=False, active_sense=True)
        ports = self._in.get_ports()
        found = [i for i, name in enumerate(ports) if name.endswith(CLOCK_PORT)]
        assert found, ports
        self._in.open_port(found[0])
        self._in.set_callback(self._on_message)

    def _on_message(self, event: tuple[list[int], float], _data: object) -> None:
        with self._lock:
            self.events.append((event[0][0], time.monotonic()))

    def since(self, mark: int) -> list[tuple[int, float]]:
        with self._lock:
            return list(self.events[mark:])

    def close(self) -> None:
        self._in.close_port()
        self._in.delete()


def _tick_rate(events: list[tuple[int, float]]) -> float:
    ticks = [at for status, at in events if status == CLOCK]
    assert len(ticks) >= 10, events[:5]
    return (len(ticks) - 1) / (ticks[-1] - ticks[0])


async def test_the_clock_follows_the_focused_transport(midi_server: WebServer) -> None:
    user = await fresh_user(midi_server)
    seeded = await seed_track(midi_server, user.id, tempo=120.0, seconds=30.0)
    key = f"track:{seeded.track_id}"
    await mixers.focus(user.id, key)
    await eventually(lambda: mixers.focused() == Focus(user.id, key), 5)
    sequencer = await asyncio.to_thread(Sequencer)
    try:
        await mixers.control(user.id, key, {"transport.play": 1}, "test")
        await eventually(lambda: len(sequencer.since(0)) > 30, 5, "ticks")
        played = sequencer.since(0)
        assert played[0][0] == START, played[:3]
        await asyncio.sleep(1.0)
        assert 40 <= _tick_rate(sequencer.since(1)) <= 56  # 120 BPM × 24 ppqn = 48 a second

        await mixers.control(user.id, key, {"rate": 0.5}, "test")
        await asyncio.sleep(0.3)  # the change reaches the clock
        mark = len(sequencer.since(0))
        await asyncio.sleep(1.5)
        assert 19 <= _tick_rate(sequencer.since(mark)) <= 29  # 60 BPM: 24 a second

        await mixers.control(user.id, key, {"transport.pause": 1}, "test")
        await eventually(lambda: any(s == STOP for s, _ in sequencer.since(0)), 5, "stop")
        stopped = len(sequencer.since(0))
        await asyncio.sleep(0.3)
        assert all(s != CLOCK for s, _ in sequencer.since(stopped))
    finally:
        await asyncio.to_thread(sequencer.close)
