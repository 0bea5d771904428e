"""MidiInput: the actor that owns one controller's input port (and its feedback output).

One per connected input device, started and stopped by
:class:`~soundforge.studio.midi.devices.MidiDevices` under its dynamic supervisor and
registered under :func:`input_name`. rtmidi calls back on its own thread; the backend hands
each message to the loop with ``call_soon_threadsafe`` and from there into this actor's
mailbox as a :class:`~soundforge.studio.midi.backend.Received`, so everything below runs
as ordinary actor code, one message at a time, in the order the device sent them.

For each message:

* clock (``0xF8``, start/stop/continue) feeds the :class:`ClockTracker` and is published
  on ``midi:clock`` once a beat;
* everything else is reported to MidiDevices for the monitor; while MIDI learn is armed the
  first control moved is handed to MidiDevices instead of acting;
* otherwise the :class:`MappingEngine` turns it into control values for the focused
  session, applied with ``mixers.control_focused(..., origin="midi:<device>")``.

It follows every mixer change on ``studio:mixers``: a change from another source re-arms
soft takeover for that path and is sent back to the device's output port (LEDs, motor
faders) when the device has one — never a change that came from this device.

The mappings come from MidiDevices (which keeps them per user) after ``init``, so a
restarted actor has them back; while running it gets new ones by cast. If the device is
gone when the actor (re)starts, ``init`` returns ``IGNORE`` and the supervisor forgets it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Final

import msgspec

from soundforge.runtime import pubsub
from soundforge.runtime.gen_server import Continue, GenServer, Init, NoReply, call, cast
from soundforge.runtime.process import current_process, send
from soundforge.runtime.results import IGNORE
from soundforge.studio import controls, mixers
from soundforge.studio.events import MixerChanged
from soundforge.studio.midi.backend import MidiBackend, Port, Received
from soundforge.studio.midi.clock import ClockTracker
from soundforge.studio.midi.events import CLOCK_TOPIC, MidiClock
from soundforge.studio.midi.mapping import Mapping, MappingEngine, message_key
from soundforge.studio.midi.messages import CLOCK_KINDS, MidiMessage, encode, parse

__all__ = [
    "InputOptions",
    "LearnCandidate",
    "Learning",
    "MappingsFor",
    "MidiInput",
    "Seen",
    "SetMappings",
    "feedback_port",
    "input_name",
    "is_dj_path",
]

log = logging.getLogger(__name__)

_INPUT: Final = "soundforge.midi.input"


def input_name(device: str) -> tuple[str, str]:
    """The local name the input actor of ``device`` is registered under."""
    return (_INPUT, device)


def is_dj_path(path: str) -> bool:
    """Paths of the DJ console, which always go to the focused user's ``dj`` session."""
    return path.startswith("deck.") or path == "crossfader" or path.startswith("crossfader.")


class InputOptions(msgspec.Struct, frozen=True):
    device: str
    backend: Any  # MidiBackend
    devices: str  # MidiDevices' registered name
    pubsub: str


# -- messages between MidiDevices and its inputs ------------------------------------------


class MappingsFor(msgspec.Struct, frozen=True):
    """Call to MidiDevices: the mappings of ``device`` for ``user_id``."""

    device: str
    user_id: str


class SetMappings(msgspec.Struct, frozen=True):
    """Cast to an input: use these mappings (of ``user_id``) from now on."""

    user_id: str
    mappings: tuple[Mapping, ...]


class Learning(msgspec.Struct, frozen=True):
    """Cast to an input: MIDI learn is armed (or no longer)."""

    armed: bool


class LearnCandidate(msgspec.Struct, frozen=True):
    """Cast to MidiDevices: the first control moved while learning was armed."""

    device: str
    message: MidiMessage


class Seen(msgspec.Struct, frozen=True):
    """Cast to MidiDevices: a message arrived (for the monitor)."""

    device: str
    message: MidiMessage


class _View:
    """What this actor knows of one mixer session: its values and info."""

    __slots__ = ("info", "values")

    def __init__(self, values: dict[str, Any], info: dict[str, Any]) -> None:
        self.values = values
        self.info = info


class _State:
    def __init__(self, options: InputOptions, port: Port, out: Port | None) -> None:
        self.device = options.device
        self.origin = f"midi:{options.device}"
        self.devices = options.devices
        self.pubsub = options.pubsub
        self.port = port
        self.out = out
        self.engine = MappingEngine()
        self.user_id: str | None = None
        self.views: dict[tuple[str, str], _View] = {}
        self.learning = False
        self.clock = ClockTracker()
        self.clock_at = 0.0
        self.handled = 0


class MidiInput(GenServer[_State]):
    """Reads one controller; see the module docstring."""

    async def init(self, options: InputOptions) -> Any:
        backend: MidiBackend = options.backend
        me = current_process()
        assert me is not None
        loop = asyncio.get_running_loop()
        deliver = functools.partial(send, me.pid)
        try:
            port = await asyncio.to_thread(backend.open_input, options.device, loop, deliver)
        except LookupError:
            return IGNORE  # unplugged before (re)starting: nothing to read
        out: Port | None = None
        feedback = feedback_port(options.device, backend.outputs())
        if feedback is not None:
            try:
                out = await asyncio.to_thread(backend.open_output, feedback)
            except LookupError:
                out = None  # its output went away: the input still works without LEDs
        state = _State(options, port, out)
        me.add_exit_hook(lambda _proc, _reason: _close_soon(state))
        pubsub.subscribe(options.pubsub, mixers.STUDIO_TOPIC)
        return Init(state, Continue("mappings"))

    async def handle_continue(self, _arg: Any, state: _State) -> NoReply[_State]:
        focus = mixers.focused()
        if focus is not None:
            await _load_mappings(state, focus.user_id)
        return NoReply(state)

    def handle_cast(self, msg: Any, state: _State) -> NoReply[_State]:
        if isinstance(msg, SetMappings):
            state.user_id = msg.user_id
            state.engine.replace(msg.mappings)
        elif isinstance(msg, Learning):
            state.learning = msg.armed
        return NoReply(state)

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State]:
        if type(msg) is Received:
            await self._received(msg, state)
        elif type(msg) is MixerChanged:
            await self._mixer_changed(msg, state)
        return NoReply(state)

    async def terminate(self, reason: Any, state: _State) -> None:
        for port in (state.port, state.out):
            if port is not None:
                port.silence()
                await asyncio.to_thread(port.close)

    def format_status(self, state: _State) -> str:
        feedback = "with feedback" if state.out is not None else "no feedback port"
        return (
            f"{state.device}: {len(state.engine.mappings)} mappings, {feedback},"
            f" {state.handled} messages"
        )

    # -- a message from the device -------------------------------------------------------

    async def _received(self, received: Received, state: _State) -> None:
        state.handled += 1
        message = parse(received.data)
        state.clock_at += received.delta
        if message.kind in CLOCK_KINDS:
            self._clock(message, state)
            return
        cast(state.devices, Seen(state.device, message))
        if state.learning and message_key(message) is not None and message.kind != "note_off":
            state.learning = False
            cast(state.devices, LearnCandidate(state.device, message))
            return
        focus = mixers.focused()
        if focus is None:
            return
        if focus.user_id != state.user_id:
            await _load_mappings(state, focus.user_id)
        mapping = state.engine.mapping_for(message)
        if mapping is None:
            return
        key = "dj" if is_dj_path(mapping.action) else focus.key
        view = await _view(state, focus.user_id, key)

        def resolve(path: str) -> tuple[controls.Control, Any] | None:
            try:
                control = controls.control_for(key, path, view.info)
            except controls.ControlError:
                return None  # mapped to a stem this track does not have
            return control, view.values.get(path)

        values = state.engine.handle(message, resolve)
        if not values:
            return
        try:
            await mixers.control_focused(values, origin=state.origin, user_id=focus.user_id)
        except controls.ControlError as error:
            log.info("MIDI %s: %s", state.device, error)

    def _clock(self, message: MidiMessage, state: _State) -> None:
        tracker = state.clock
        kind = message.kind
        if kind == "clock":
            if not tracker.tick(state.clock_at):
                return
            event = "beat"
        elif kind == "start":
            tracker.start()
            event = "start"
        elif kind == "continue":
            tracker.resume()
            event = "continue"
        else:
            tracker.stop()
            event = "stop"
        clock = MidiClock(CLOCK_TOPIC, state.device, event, tracker.running, tracker.bpm)  # type: ignore[arg-type]
        pubsub.local_broadcast(state.pubsub, CLOCK_TOPIC, clock)

    # -- a change of a mixer ----------------------------------------------------------------

    async def _mixer_changed(self, changed: MixerChanged, state: _State) -> None:
        view = state.views.get((changed.user_id, changed.key))
        if view is not None:
            view.values.update(changed.values)
            if changed.info is not None:
                view.info = dict(changed.info)
        if changed.origin == state.origin or changed.user_id != state.user_id:
            return  # our own change (never echoed), or a user whose mappings we do not hold
        focus = mixers.focused()
        dj = changed.key == "dj"
        if not dj and (focus is None or focus.key != changed.key):
            return  # a track session the controller does not drive
        for path, value in changed.values.items():
            if is_dj_path(path) != dj:
                continue
            state.engine.external_change(path)
            if state.out is None or not state.engine.shows(path):
                continue
            if view is None:  # the ranges of the session's controls are in its info
                view = await _view(state, changed.user_id, changed.key)
            info = view.info
            try:
                control = controls.control_for(changed.key, path, info)
            except controls.ControlError:
                control = None
            for message in state.engine.feedback(path, value, control):
                state.out.send(encode(message))


async def _view(state: _State, user_id: str, key: str) -> _View:
    """What we know of a session, from its snapshot the first time (then kept current by
    its changes on ``studio:mixers``)."""
    view = state.views.get((user_id, key))
    if view is None:
        snapshot = await mixers.snapshot(user_id, key)
        view = state.views[(user_id, key)] = _View(dict(snapshot.values), dict(snapshot.info))
    return view


async def _load_mappings(state: _State, user_id: str) -> None:
    mappings = await call(state.devices, MappingsFor(state.device, user_id))
    state.user_id = user_id
    state.engine.replace(mappings)


def feedback_port(device: str, outputs: list[str]) -> str | None:
    """The output of the same controller: the same name, else the same port or client name
    (JACK and some drivers name a device's input and output clients apart)."""
    if device in outputs:
        return device
    client, _, port = device.partition(":")
    for name in outputs:
        other_port = name.partition(":")[2]
        if port and other_port == port:
            return name
    for name in outputs:
        if name.partition(":")[0] == client:
            return name
    return None


def _close_soon(state: _State) -> None:
    for port in (state.port, state.out):
        if port is not None:
            port.close_soon()
