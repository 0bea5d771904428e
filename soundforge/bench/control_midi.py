"""MIDI CC → mixer state change latency, for ``soundforge bench control``.

:func:`measure_midi_cc` plays a controller through a real virtual port (the MIDI system
the node's MidiDevices uses: JACK or ALSA), maps its CC 7 to ``master.volume`` of the
focused session for the run, sends ``count`` control changes and times each one from the
moment it left the virtual port to the moment the session's ``mixer.changed`` carrying it
reached a subscriber on the session's topic — the path a knob takes to a browser tab's
fader, minus the socket. Every CC carries a value different from the one before, so each
one changes the state. The mapping and the virtual port are removed afterwards.

It needs a running node with the Studio (mixers and MidiDevices on a working MIDI system)
and a focused track session of ``user_id``::

    result = await measure_midi_cc(user_id, f"track:{track_id}", count=1000)
    print(result.p50_ms, result.p99_ms)      # the issue's target: p99 <= 10 ms
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import msgspec
import rtmidi  # type: ignore[import-untyped]  # python-rtmidi ships no type hints

from soundforge.actors import repo
from soundforge.errors import SoundForgeError
from soundforge.runtime import pubsub
from soundforge.runtime.exit import KILL
from soundforge.runtime.gen_server import get_state, whereis
from soundforge.runtime.process import exit as exit_process
from soundforge.runtime.process import receive, spawn
from soundforge.studio import mixers
from soundforge.studio.events import MixerChanged
from soundforge.studio.midi import (
    DEFAULT_NAME,
    Mapping,
    delete_mapping,
    mappings_changed,
    save_mapping,
    status,
)
from soundforge.studio.midi.input import input_name

__all__ = ["MidiBenchError", "MidiCcResult", "measure_midi_cc"]

_APIS = {"ALSA": rtmidi.API_LINUX_ALSA, "JACK": rtmidi.API_UNIX_JACK}
_PATH = "master.volume"
_CC = 7


class MidiBenchError(SoundForgeError):
    """The MIDI benchmark cannot run here (no MIDI system, nothing focused)."""


class MidiCcResult(msgspec.Struct, frozen=True):
    backend: str
    sent: int
    received: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float


async def measure_midi_cc(
    user_id: str,
    key: str,
    *,
    count: int = 1000,
    interval: float = 0.002,
    repo_name: str = repo.DEFAULT_NAME,
    pubsub_name: str = "soundforge.pubsub",
    server: str = DEFAULT_NAME,
    timeout: float = 30.0,
) -> MidiCcResult:
    """Send ``count`` CCs ``interval`` seconds apart and time each to its state change.

    Must run as a process of the node (e.g. after ``node.attach()``). Raises
    :class:`MidiBenchError` with a sentence when MIDI or the focused session is missing.
    """
    found = await status(server)
    if not found.available or found.backend not in _APIS:
        raise MidiBenchError(f"The MIDI benchmark needs MIDI: {found.status}")
    focus = mixers.focused()
    if focus is None or (focus.user_id, focus.key) != (user_id, key):
        raise MidiBenchError(f"Focus the session {key} of user {user_id} first (mixers.focus).")
    name = f"SFBench{uuid.uuid4().hex[:6]}"
    device = f"{name}:{name}"
    out = await asyncio.to_thread(_virtual_output, _APIS[found.backend], name)
    mapping_id: str | None = None
    follower: Any = None
    try:
        async with asyncio.timeout(10):
            while whereis(input_name(device)) is None:  # noqa: ASYNC110 - polls a name
                await asyncio.sleep(0.01)
            await get_state(input_name(device))  # its port is open once it answers
        mapping = Mapping(
            device_name=device,
            message_type="cc",
            channel=0,
            number=_CC,
            action=_PATH,
            soft_takeover=False,
        )
        async with repo.connection(repo_name) as conn:
            mapping_id = (await save_mapping(conn, user_id, mapping)).id
        mappings_changed(user_id, server)
        arrivals: dict[int, list[float]] = {}
        ready = asyncio.Event()
        topic = mixers.topic(user_id, key)
        origin = f"midi:{device}"

        async def follow() -> None:
            pubsub.subscribe(pubsub_name, topic)
            ready.set()
            while True:
                event = await receive()
                if isinstance(event, MixerChanged) and event.origin == origin:
                    value = event.values.get(_PATH)
                    if isinstance(value, int | float):
                        arrivals.setdefault(round(value * 127), []).append(time.perf_counter())

        follower = spawn(follow)
        await asyncio.wait_for(ready.wait(), 5)
        await _warm_up(out, arrivals)
        arrivals.clear()
        sent: list[tuple[int, float]] = []
        for i in range(count):
            value = 1 + i % 126  # never the value before: every CC changes the state
            sent.append((value, time.perf_counter()))
            out.send_message([0xB0, _CC, value])
            await asyncio.sleep(interval)
        deadline = time.monotonic() + timeout
        while sum(map(len, arrivals.values())) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return _result(found.backend, sent, arrivals)
    finally:
        if follower is not None:
            exit_process(follower, KILL)
        if mapping_id is not None:
            async with repo.connection(repo_name) as conn:
                await delete_mapping(conn, user_id, mapping_id)
            mappings_changed(user_id, server)
        await asyncio.to_thread(_close, out)


async def _warm_up(out: Any, arrivals: dict[int, list[float]]) -> None:
    """Until a CC comes through: the mapping has reached the device actor."""
    async with asyncio.timeout(10):
        while True:
            for value in (0, 127):
                out.send_message([0xB0, _CC, value])
                await asyncio.sleep(0.05)
                if arrivals.get(value):
                    return


def _result(
    backend: str, sent: list[tuple[int, float]], arrivals: dict[int, list[float]]
) -> MidiCcResult:
    latencies: list[float] = []
    queues = {value: list(times) for value, times in arrivals.items()}
    for value, at in sent:
        times = queues.get(value)
        while times and times[0] < at:
            times.pop(0)  # an arrival from an earlier round of the same value
        if times:
            latencies.append((times.pop(0) - at) * 1000)
    if not latencies:
        raise MidiBenchError("No control change reached the mixer; is the device mapped?")
    latencies.sort()

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    return MidiCcResult(
        backend=backend,
        sent=len(sent),
        received=len(latencies),
        p50_ms=round(pick(0.50), 3),
        p99_ms=round(pick(0.99), 3),
        max_ms=round(latencies[-1], 3),
        mean_ms=round(sum(latencies) / len(latencies), 3),
    )


def _virtual_output(api: int, name: str) -> Any:
    out = rtmidi.MidiOut(api, name=name)
    out.open_virtual_port(name)
    return out


def _close(out: Any) -> None:
    out.close_port()
    out.delete()
