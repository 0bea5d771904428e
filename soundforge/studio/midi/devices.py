"""MidiDevices: the studio's MIDI manager (registered ``soundforge.midi``).

It mirrors the original's ``MIDI.DeviceManager`` + ``Dispatcher``, as one actor that

* picks the MIDI system (ALSA, then JACK; :mod:`~soundforge.studio.midi.backend`) or, where
  there is none, keeps the one sentence that says so (:func:`status`) while the rest of
  the server runs;
* owns a DynamicSupervisor (started linked in ``init``, stopped in ``terminate``) with one
  :class:`~soundforge.studio.midi.input.MidiInput` per connected input device and the
  :class:`~soundforge.studio.midi.clock.ClockOut`;
* polls the port names every ``poll_interval`` (1 s), starting an input for each device
  that appeared and stopping the input of each one that went away — hot-plug without a
  restart (the original polled every 5 s);
* keeps the mappings of the *focused* user (the ``midi_mappings`` rows, per device) and
  hands each input its device's: after a crash or a replug the new input asks for them, so
  it comes back mapped; :func:`mappings_changed` reloads them after the API changed them;
* runs MIDI learn: :func:`learn` arms it for a user and a control path, the next control
  moved on any device is saved as that user's mapping for that device and announced as
  ``midi.learned`` on ``midi:<user_id>``; after ``learn_timeout`` (30 s) without one,
  ``midi.learn_timeout`` is announced instead;
* keeps the last messages for the monitor of the ``/studio/midi`` page.

The DynamicSupervisor is linked and trapped: if it gives up (a device actor crashing in a
loop), this actor stops with its reason and the Studio supervisor restarts both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Final

import msgspec

from soundforge.actors import repo
from soundforge.errors import SoundForgeError
from soundforge.runtime import dynamic_supervisor, pubsub
from soundforge.runtime.child_spec import ChildSpec, Restart
from soundforge.runtime.dynamic_supervisor import DynamicSupervisor
from soundforge.runtime.exit import SHUTDOWN
from soundforge.runtime.gen_server import (
    Continue,
    GenServer,
    Init,
    NoReply,
    Reply,
    Stop,
    call,
    cast,
    resolve,
    stop,
    whereis,
)
from soundforge.runtime.process import Exit, From, current_process
from soundforge.runtime.results import Ok
from soundforge.studio import controls, mixers
from soundforge.studio.midi import store
from soundforge.studio.midi._learn import Armed, LearnArmed, MidiOff, arm_control
from soundforge.studio.midi.backend import CLIENT_NAME, MidiBackend, Unavailable, select_backend
from soundforge.studio.midi.clock import ClockOut, ClockOutOptions
from soundforge.studio.midi.events import MidiLearned, MidiLearnTimeout, user_topic
from soundforge.studio.midi.input import (
    InputOptions,
    LearnCandidate,
    Learning,
    MappingsFor,
    MidiInput,
    Seen,
    SetMappings,
    feedback_port,
    input_name,
)
from soundforge.studio.midi.mapping import Mapping, learned_mapping
from soundforge.studio.midi.messages import describe

__all__ = [
    "DEFAULT_NAME",
    "DeviceInfo",
    "LearnArmed",
    "MidiDevices",
    "MidiOff",
    "MidiOptions",
    "MidiStatus",
    "MonitorEntry",
    "cancel_learn",
    "learn",
    "mappings_changed",
    "status",
]

log = logging.getLogger(__name__)

DEFAULT_NAME: Final = "soundforge.midi"
#: Messages the monitor keeps.
MONITOR_SIZE: Final = 50


class MidiOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What MidiDevices needs: the node's Repo and PubSub names and the MIDI settings."""

    repo: str = repo.DEFAULT_NAME
    pubsub: str = "soundforge.pubsub"
    #: ``settings.midi``: False keeps MIDI off (the status says so).
    enabled: bool = True
    poll_interval: float = 1.0
    learn_timeout: float = 30.0
    #: Send MIDI clock on a virtual port ``SoundForge Clock``.
    clock_out: bool = True
    client_name: str = CLIENT_NAME
    name: str = DEFAULT_NAME


class DeviceInfo(msgspec.Struct, frozen=True):
    name: str
    #: An output of the same controller exists, for LEDs and motor faders.
    feedback: bool


class MonitorEntry(msgspec.Struct, frozen=True):
    at: float
    device: str
    message: str


class MidiStatus(msgspec.Struct, frozen=True):
    """What ``GET /api/v1/studio/midi`` shows: is MIDI usable, the devices, the monitor."""

    available: bool
    #: One sentence for the page: which MIDI system serves, or why none does.
    status: str
    backend: str | None
    devices: list[DeviceInfo]
    learning: LearnArmed | None
    recent: list[MonitorEntry]


class _Poll(msgspec.Struct, frozen=True):
    pass


class _LearnExpired(msgspec.Struct, frozen=True):
    serial: int


class _Status(msgspec.Struct, frozen=True):
    pass


class _Learn(msgspec.Struct, frozen=True):
    user_id: str
    path: str
    mode: str | None


class _CancelLearn(msgspec.Struct, frozen=True):
    user_id: str


class _Reload(msgspec.Struct, frozen=True):
    user_id: str


class _State:
    def __init__(self, options: MidiOptions, backend: MidiBackend | None, why: str) -> None:
        self.options = options
        self.backend = backend
        self.status = why
        self.sup: Any = None
        self.devices: list[DeviceInfo] = []
        #: Devices we started an input for (its pid changes when it is restarted).
        self.started: set[str] = set()
        #: Mappings of each user we loaded (the focused one, at least), all devices.
        self.mappings: dict[str, list[Mapping]] = {}
        self.focus_user: str | None = None
        self.learning: Armed | None = None
        self.serial = 0
        self.recent: deque[MonitorEntry] = deque(maxlen=MONITOR_SIZE)


class MidiDevices(GenServer[_State]):
    """The MIDI manager; see the module docstring."""

    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        """``MidiDevices.child_spec(MidiOptions(...))``: registered under ``options.name``."""
        options = arg if isinstance(arg, MidiOptions) else MidiOptions()

        def start(opts: MidiOptions) -> Any:
            return cls.start_link(opts, name=opts.name)

        spec = ChildSpec(id=cls, start=start, args=(options,))
        return spec.with_(**overrides) if overrides else spec

    async def init(self, options: MidiOptions) -> Init[_State] | Stop[_State]:
        me = current_process()
        assert me is not None
        me.trap_exit = True  # our DynamicSupervisor's death arrives as a message
        if not options.enabled:
            why = "MIDI is turned off on this server (SOUNDFORGE_MIDI=0); everything else works."
            return Init(_State(options, None, why))
        found = await asyncio.to_thread(select_backend, options.client_name)
        if isinstance(found, Unavailable):
            log.warning("MIDI: %s", found.reason)
            return Init(_State(options, None, found.reason))
        state = _State(options, found, found.status)
        started = await DynamicSupervisor.start_link()
        if not isinstance(started, Ok):
            await asyncio.to_thread(found.close)
            return Stop(started)
        state.sup = started.pid
        if options.clock_out:
            spec = ClockOut.child_spec(ClockOutOptions(found, options.pubsub))
            await dynamic_supervisor.start_child(state.sup, spec)
        log.info("MIDI: %s", found.status)
        return Init(state, Continue("poll"))

    async def handle_continue(self, _arg: Any, state: _State) -> NoReply[_State]:
        await self._poll(state)
        return NoReply(state)

    async def handle_call(self, request: Any, from_: From, state: _State) -> Reply[_State]:
        if isinstance(request, MappingsFor):
            mappings = await self._mappings(state, request.user_id)
            mine = tuple(m for m in mappings if m.device_name == request.device)
            return Reply(mine, state)
        if isinstance(request, _Status):
            return Reply(self._status(state), state)
        if isinstance(request, _Learn):
            return Reply(await self._arm(request, state), state)
        if isinstance(request, _CancelLearn):
            if state.learning is not None and state.learning.user_id == request.user_id:
                self._disarm(state)
                return Reply(True, state)
            return Reply(False, state)
        raise ValueError(f"MidiDevices got an unknown call {request!r}")

    async def handle_cast(self, msg: Any, state: _State) -> NoReply[_State]:
        if type(msg) is Seen:
            state.recent.append(MonitorEntry(time.time(), msg.device, describe(msg.message)))
        elif type(msg) is LearnCandidate:
            await self._learned(msg, state)
        elif type(msg) is _Reload:
            state.mappings.pop(msg.user_id, None)
            if msg.user_id == state.focus_user:
                await self._push_mappings(state, msg.user_id)
        return NoReply(state)

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State] | Stop[_State]:
        if isinstance(msg, _Poll):
            await self._poll(state)
        elif isinstance(msg, _LearnExpired):
            armed = state.learning
            if armed is not None and armed.serial == msg.serial:
                self._disarm(state)
                timeout = MidiLearnTimeout(
                    user_topic(armed.user_id), armed.path, state.options.learn_timeout
                )
                pubsub.local_broadcast(state.options.pubsub, timeout.topic, timeout)
        elif isinstance(msg, Exit) and msg.pid == state.sup:
            return Stop(msg.reason, state)
        return NoReply(state)

    async def terminate(self, reason: Any, state: _State) -> None:
        if state.sup is not None and resolve(state.sup) is not None:
            await stop(state.sup, SHUTDOWN)
        if state.backend is not None:
            await asyncio.to_thread(state.backend.close)

    def format_status(self, state: _State) -> str:
        names = ", ".join(d.name for d in state.devices) or "no devices"
        return f"{state.status} {names}"

    # -- devices ------------------------------------------------------------------------

    async def _poll(self, state: _State) -> None:
        backend = state.backend
        me = current_process()
        assert me is not None and backend is not None
        try:
            names = backend.inputs()
            outputs = backend.outputs()
        finally:
            me.node.clock.call_later(state.options.poll_interval, me.deliver, _Poll())
        state.devices = [DeviceInfo(n, _has_output(n, outputs)) for n in names]
        for name in names:
            if whereis(input_name(name)) is None:
                await self._start_input(state, name)
        for name in sorted(state.started - set(names)):
            state.started.discard(name)
            pid = whereis(input_name(name))
            if pid is not None:
                await dynamic_supervisor.terminate_child(state.sup, pid)
            log.info("MIDI: %s was disconnected", name)
        focus = mixers.focused()
        user = focus.user_id if focus is not None else None
        if user is not None and user != state.focus_user:
            await self._push_mappings(state, user)

    async def _start_input(self, state: _State, name: str) -> None:
        options = InputOptions(name, state.backend, state.options.name, state.options.pubsub)

        def start(opts: InputOptions) -> Any:
            return MidiInput.start_link(opts, name=input_name(opts.device))

        spec = ChildSpec(id=None, start=start, args=(options,), restart=Restart.TRANSIENT)
        result = await dynamic_supervisor.start_child(state.sup, spec)
        if isinstance(result, Ok):
            state.started.add(name)
            log.info("MIDI: %s is connected", name)
            if state.learning is not None:
                cast(input_name(name), Learning(True))

    # -- mappings -----------------------------------------------------------------------

    async def _mappings(self, state: _State, user_id: str) -> list[Mapping]:
        cached = state.mappings.get(user_id)
        if cached is None:
            async with repo.connection(state.options.repo) as conn:
                cached = state.mappings[user_id] = await store.list_mappings(conn, user_id)
        return cached

    async def _push_mappings(self, state: _State, user_id: str) -> None:
        state.focus_user = user_id
        mappings = await self._mappings(state, user_id)
        for device in state.devices:
            mine = tuple(m for m in mappings if m.device_name == device.name)
            cast(input_name(device.name), SetMappings(user_id, mine))

    # -- learn --------------------------------------------------------------------------

    async def _arm(self, request: _Learn, state: _State) -> LearnArmed | SoundForgeError:
        if state.backend is None:
            return MidiOff(state.status)
        try:
            control = await arm_control(request.user_id, request.path)
        except controls.ControlError as error:
            return error
        state.serial += 1
        armed = Armed(request.user_id, request.path, request.mode, control, state.serial)
        state.learning = armed
        me = current_process()
        assert me is not None
        me.node.clock.call_later(
            state.options.learn_timeout, me.deliver, _LearnExpired(state.serial)
        )
        for device in state.devices:
            cast(input_name(device.name), Learning(True))
        return LearnArmed(request.path, state.options.learn_timeout)

    def _disarm(self, state: _State) -> None:
        state.learning = None
        for device in state.devices:
            cast(input_name(device.name), Learning(False))

    async def _learned(self, candidate: LearnCandidate, state: _State) -> None:
        armed = state.learning
        if armed is None:
            return  # a second device moved after the first one won: ignore it
        mapping = learned_mapping(
            candidate.device,
            candidate.message,
            armed.control,
            armed.mode,  # type: ignore[arg-type]
        )
        if mapping is None:
            return
        self._disarm(state)
        async with repo.connection(state.options.repo) as conn:
            saved = await store.save_mapping(conn, armed.user_id, mapping)
        state.mappings.pop(armed.user_id, None)
        if armed.user_id == state.focus_user or state.focus_user is None:
            await self._push_mappings(state, armed.user_id)
        event = MidiLearned(
            user_topic(armed.user_id),
            armed.path,
            candidate.device,
            msgspec.to_builtins(saved),
            describe(candidate.message),
        )
        pubsub.local_broadcast(state.options.pubsub, event.topic, event)

    def _status(self, state: _State) -> MidiStatus:
        armed = state.learning
        return MidiStatus(
            available=state.backend is not None,
            status=state.status,
            backend=state.backend.name if state.backend is not None else None,
            devices=list(state.devices),
            learning=LearnArmed(armed.path, state.options.learn_timeout) if armed else None,
            recent=list(state.recent),
        )


def _has_output(device: str, outputs: list[str]) -> bool:
    return feedback_port(device, outputs) is not None


# -- the client API ------------------------------------------------------------------------


async def status(server: str = DEFAULT_NAME) -> MidiStatus:
    """MIDI's state on this node; a node without MidiDevices says MIDI is not running."""
    if whereis(server) is None:
        why = "MIDI is not running on this node (it runs with the studio of `soundforge serve`)."
        return MidiStatus(False, why, None, [], None, [])
    result: MidiStatus = await call(server, _Status())
    return result


async def learn(
    user_id: str, path: str, *, mode: str | None = None, server: str = DEFAULT_NAME
) -> LearnArmed:
    """Arm MIDI learn: the next control moved maps to ``path`` for ``user_id``.

    Raises :class:`MidiOff` where MIDI cannot be used and ``controls.ControlError`` for a
    path the user's focused session does not have.
    """
    if whereis(server) is None:
        raise MidiOff("MIDI is not running on this node, so nothing can be learned.")
    result = await call(server, _Learn(user_id, path, mode))
    if isinstance(result, Exception):
        raise result
    assert isinstance(result, LearnArmed)
    return result


async def cancel_learn(user_id: str, server: str = DEFAULT_NAME) -> bool:
    """Disarm the user's MIDI learn; False when it was not armed (for them)."""
    if whereis(server) is None:
        return False
    return bool(await call(server, _CancelLearn(user_id)))


def mappings_changed(user_id: str, server: str = DEFAULT_NAME) -> None:
    """The user's mappings changed in the database: reload them (a no-op without MIDI)."""
    cast(server, _Reload(user_id))
