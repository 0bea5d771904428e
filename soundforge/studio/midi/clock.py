"""MIDI clock: reading a device's tempo (clock in) and sending ours (clock out).

MIDI clock is 24 ``0xF8`` ticks per quarter note, plus ``start``, ``stop`` and
``continue``. :class:`ClockTracker` (pure) turns a device's ticks into beats per minute, a
rolling average over the last 24 intervals (one beat), timed by the timestamps rtmidi gives
each message rather than by when the event loop got to it, so loop jitter does not show in
the tempo. Each :class:`~soundforge.studio.midi.input.MidiInput` keeps one and publishes
``MidiClock`` on ``midi:clock`` once a beat.

:class:`ClockOut` is the other direction: a virtual output port ``SoundForge Clock`` that
drum machines, sequencers and DAWs can follow. While the focused session's transport plays
it sends 24 ticks per beat at the track's analysed BPM × its ``rate``, ``start`` (from the
top) or ``continue`` (from elsewhere) when it starts playing, and ``stop`` when it stops.
Ticks are scheduled on the loop's timer at absolute times (each one beat/24 after the
previous *scheduled* time), so they do not drift; a tempo change applies from the next
tick.

Like Erlang's timer module, the ticking timer belongs to the actor: it is cancelled when
the actor stops and by an exit hook when it is killed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Final

import msgspec

from soundforge.runtime import pubsub
from soundforge.runtime.gen_server import Continue, GenServer, Init, NoReply
from soundforge.runtime.process import current_process
from soundforge.studio import mixers
from soundforge.studio.events import MixerChanged
from soundforge.studio.midi.backend import MidiBackend, Port
from soundforge.studio.midi.messages import MidiMessage, encode

__all__ = ["CLOCK_PORT", "PPQN", "ClockOut", "ClockOutOptions", "ClockTracker"]

log = logging.getLogger(__name__)

#: MIDI clock's resolution: ticks per quarter note.
PPQN: Final = 24
#: The virtual output port the clock is sent on.
CLOCK_PORT: Final = "SoundForge Clock"
#: How often ClockOut checks which session is focused (a tab opening another track).
FOCUS_POLL: Final = 1.0


class ClockTracker:
    """One device's incoming clock: ticks in, beats per minute out."""

    def __init__(self, window: int = PPQN) -> None:
        self._intervals: deque[float] = deque(maxlen=window)
        self._last: float | None = None
        self._ticks = 0
        self.running = False

    @property
    def bpm(self) -> float | None:
        """The tempo over the last ``window`` intervals, or None before a full window."""
        if len(self._intervals) < (self._intervals.maxlen or PPQN):
            return None
        mean = sum(self._intervals) / len(self._intervals)
        return 60.0 / (mean * PPQN) if mean > 0 else None

    def tick(self, at: float) -> bool:
        """A tick at time ``at`` (seconds); True when it completes a beat (every 24th)."""
        if self._last is not None and at > self._last:
            self._intervals.append(at - self._last)
        self._last = at
        self._ticks += 1
        return self._ticks % PPQN == 0

    def start(self) -> None:
        """``start``: from the top; the tempo is measured afresh."""
        self.running = True
        self._ticks = 0
        self._last = None

    def resume(self) -> None:
        """``continue``: running again from where it stopped."""
        self.running = True
        self._last = None

    def stop(self) -> None:
        self.running = False
        self._last = None


class ClockOutOptions(msgspec.Struct, frozen=True):
    backend: Any  # MidiBackend (not a msgspec type)
    pubsub: str


class _State:
    def __init__(self, port: Port, backend: MidiBackend) -> None:
        self.port = port
        self.backend = backend
        self.playing = False
        self.bpm: float | None = None
        self.rate = 1.0
        self.focus: Any = None
        self.timer: asyncio.TimerHandle | None = None
        self.next_at = 0.0
        self.sent = 0


class _Poll(msgspec.Struct, frozen=True):
    pass


class ClockOut(GenServer[_State]):
    """Sends MIDI clock for the focused session on the ``SoundForge Clock`` port."""

    async def init(self, options: ClockOutOptions) -> Init[_State]:
        port = await asyncio.to_thread(options.backend.open_virtual_output, CLOCK_PORT)
        state = _State(port, options.backend)
        me = current_process()
        assert me is not None
        me.add_exit_hook(lambda _proc, _reason: _stop_ticking(state))
        pubsub.subscribe(options.pubsub, mixers.STUDIO_TOPIC)
        return Init(state, Continue("focus"))

    async def handle_continue(self, _arg: Any, state: _State) -> NoReply[_State]:
        await self._refocus(state)
        self._poll_later()
        return NoReply(state)

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State]:
        if isinstance(msg, _Poll):
            if mixers.focused() != state.focus:
                await self._refocus(state)
            self._poll_later()
        elif isinstance(msg, MixerChanged):
            focus = state.focus
            if focus is not None and (msg.user_id, msg.key) == (focus.user_id, focus.key):
                if msg.info is not None:
                    state.bpm = _bpm(msg.info)
                rate = msg.values.get("rate")
                if isinstance(rate, int | float) and rate > 0:
                    state.rate = float(rate)
                if "transport.playing" in msg.values:
                    position = msg.values.get("transport.position_ms")
                    self._play(state, bool(msg.values["transport.playing"]), position)
        return NoReply(state)

    async def terminate(self, reason: Any, state: _State) -> None:
        if state.playing:
            state.port.send(encode(MidiMessage("stop")))
        _halt(state)
        await asyncio.to_thread(state.port.close)

    def format_status(self, state: _State) -> str:
        tempo = f"{state.bpm * state.rate:.1f} BPM" if state.bpm else "no tempo"
        return f"{'playing' if state.playing else 'stopped'}, {tempo}, {state.sent} ticks sent"

    # -- internals ----------------------------------------------------------------------

    def _poll_later(self) -> None:
        me = current_process()
        assert me is not None
        me.node.clock.call_later(FOCUS_POLL, me.deliver, _Poll())

    async def _refocus(self, state: _State) -> None:
        focus = mixers.focused()
        state.focus = focus
        if focus is None or focus.key == "dj":
            self._play(state, False, None)
            return
        snapshot = await mixers.snapshot(focus.user_id, focus.key)
        state.bpm = _bpm(snapshot.info)
        rate = snapshot.values.get("rate")
        state.rate = float(rate) if isinstance(rate, int | float) and rate > 0 else 1.0
        playing = bool(snapshot.values.get("transport.playing"))
        self._play(state, playing, snapshot.values.get("transport.position_ms"))

    def _play(self, state: _State, playing: bool, position: Any) -> None:
        if playing == state.playing:
            return
        state.playing = playing
        if not playing:
            _halt(state)
            state.port.send(encode(MidiMessage("stop")))
            return
        from_top = not isinstance(position, int | float) or position <= 0
        state.port.send(encode(MidiMessage("start" if from_top else "continue")))
        loop = asyncio.get_running_loop()
        state.next_at = loop.time()
        _tick(state, loop)


def _bpm(info: Any) -> float | None:
    bpm = info.get("bpm") if isinstance(info, dict) else None
    return float(bpm) if isinstance(bpm, int | float) and bpm > 0 else None


_TICK: Final = encode(MidiMessage("clock"))


def _tick(state: _State, loop: asyncio.AbstractEventLoop) -> None:
    """Send one tick and schedule the next at its exact time (a loop timer, not a message:
    a busy mailbox must not delay the clock)."""
    state.timer = None
    if not state.playing or state.port.closed:
        return
    if state.bpm is not None:
        state.port.send(_TICK)
        state.sent += 1
        state.next_at += 60.0 / (state.bpm * state.rate * PPQN)
    else:
        state.next_at = loop.time() + 0.1  # no tempo yet (no analysis): look again soon
    now = loop.time()
    if state.next_at < now - 0.5:
        state.next_at = now  # the loop stalled: resynchronise rather than burst
    state.timer = loop.call_at(state.next_at, _tick, state, loop)


def _stop_ticking(state: _State) -> None:
    _halt(state)
    state.port.close_soon()


def _halt(state: _State) -> None:
    if state.timer is not None:
        state.timer.cancel()
        state.timer = None
