"""Mixers: opens mixer sessions on demand and keeps the studio's focus; the studio's API.

``Mixers`` (registered ``"soundforge.mixers"``) starts one
:class:`~soundforge.studio.mixer_state.MixerState` per (user, key) under the mixer
supervisor, once — concurrent openers of one session get the same process — and records the
**focus**: the track session a browser tab opened last, for the control surfaces (OSC, MIDI)
that have no login. The focus lives in the registry (key ``"studio.focus"``, and one per user)
so that :func:`focused` is a plain read, like an ETS lookup.

The functions here are what the rest of the product calls::

    changed = await mixers.control(user_id, "track:" + track_id, {"stem.vocals.volume": 0.5}, "api")
    snapshot = await mixers.snapshot(user_id, "dj")
    await mixers.control_focused({"crossfader": 0.2}, origin="osc:10.0.0.7:9000")

Paths starting with ``deck.`` or ``crossfader`` go to the focused user's ``dj`` session; the
others to the focused track session. A request names the session's pid directly after the
first lookup (a registry read), so a control costs one call to the session.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Final

import msgspec

from soundforge.runtime import dynamic_supervisor, registry
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.errors import CallTimeout, NoProc, ServerExited
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Reply, call, cast, whereis
from soundforge.runtime.process import From
from soundforge.runtime.results import Error, Ok, StartResult
from soundforge.studio.controls import ControlError
from soundforge.studio.events import STUDIO_TOPIC, Focus, MixerChanged, MixerSnapshot
from soundforge.studio.mixer_state import (
    Apply,
    GetSnapshot,
    MixerOptions,
    MixerState,
    session_name,
    topic,
)

__all__ = [
    "DEFAULT_NAME",
    "FOCUS_KEY",
    "REGISTRY",
    "STUDIO_TOPIC",
    "Mixers",
    "control",
    "control_focused",
    "focus",
    "focused",
    "snapshot",
    "topic",
]

log = logging.getLogger(__name__)

DEFAULT_NAME: Final = "soundforge.mixers"
#: The node's unique registry (``supervisors.root.NAMES.registry``; a test pins the two).
REGISTRY: Final = "soundforge.registry"
FOCUS_KEY: Final = "studio.focus"
#: Paths that always act on the user's DJ session.
_DJ_PREFIXES: Final = ("deck.", "crossfader")


class Open(msgspec.Struct, frozen=True):
    """Call: the session's pid, started if need be (``Ok(pid)`` or a ControlError)."""

    user_id: str
    key: str


class SetFocus(msgspec.Struct, frozen=True):
    """Cast: the control surfaces now act on this session (and its user's DJ console)."""

    user_id: str
    key: str


class MixersOptions(msgspec.Struct, frozen=True):
    mixer: MixerOptions
    supervisor: str


class Mixers(GenServer[MixersOptions]):
    """Starts mixer sessions once each and keeps the focus."""

    kind: ClassVar[str] = "gen_server"

    @classmethod
    def spec(cls, options: MixersOptions) -> ChildSpec:
        """The child spec, registered as :data:`DEFAULT_NAME`."""
        return ChildSpec(id=cls, start=_start, args=(options,))

    def init(self, options: MixersOptions) -> Init[MixersOptions]:
        return Init(options)

    async def handle_call(self, request: Any, from_: From, state: MixersOptions) -> Reply[Any]:
        if isinstance(request, Open):
            return Reply(await self._open(request, state), state)
        raise ValueError(f"unknown mixers request {request!r}")

    def handle_cast(self, msg: Any, state: MixersOptions) -> NoReply[MixersOptions]:
        if isinstance(msg, SetFocus):
            focus = Focus(msg.user_id, msg.key)
            for key in (FOCUS_KEY, (FOCUS_KEY, msg.user_id)):
                if registry.update_value(state.mixer.registry, key, lambda _: focus) is None:
                    registry.register(state.mixer.registry, key, focus)
        return NoReply(state)

    def format_status(self, state: MixersOptions) -> Any:
        return {"focus": focused(state.mixer.registry)}

    async def _open(self, request: Open, state: MixersOptions) -> Any:
        name = session_name(state.mixer.registry, request.user_id, request.key)
        pid = whereis(name)
        if pid is not None:
            return Ok(pid)
        spec = MixerState.spec(state.mixer, request.user_id, request.key)
        started = await dynamic_supervisor.start_child(state.supervisor, spec)
        if isinstance(started, Ok):
            return started
        reason = started.reason if isinstance(started, Error) else started
        if isinstance(reason, ControlError):
            return reason
        log.warning("mixer session %s did not start: %r", request.key, reason)
        return ControlError(f"The mixer for {request.key} could not start; try again.")


async def control(user_id: str, key: str, values: dict[str, Any], origin: str) -> MixerChanged:
    """Applies control values to a session; raises :class:`ControlError` with a sentence."""
    return await _request(user_id, key, Apply(values, origin))  # type: ignore[no-any-return]


async def snapshot(user_id: str, key: str) -> MixerSnapshot:
    """A session's whole state (opening it if need be)."""
    return await _request(user_id, key, GetSnapshot())  # type: ignore[no-any-return]


async def focus(user_id: str, key: str) -> None:
    """Points the control surfaces at this session (a browser tab opened it)."""
    cast(DEFAULT_NAME, SetFocus(user_id, key))


def focused(registry_name: str = REGISTRY, user_id: str | None = None) -> Focus | None:
    """The focused session (of ``user_id``'s, when given), or None before any tab opened one."""
    key: Any = FOCUS_KEY if user_id is None else (FOCUS_KEY, user_id)
    entries = registry.lookup(registry_name, key)
    return entries[0][1] if entries else None


async def control_focused(
    values: dict[str, Any], origin: str, *, user_id: str | None = None, dj_only: bool = False
) -> MixerChanged | None:
    """Applies values for a control surface: to the focused sessions; None when none is.

    Paths go to the DJ console (``deck.…``, ``crossfader…``) or the focused track by their
    first part; with ``dj_only`` every one goes to the console (OSC's ``/sf/dj/…``)."""
    found = focused(REGISTRY, user_id)
    if found is None:
        return None
    if dj_only:
        return await control(found.user_id, "dj", values, origin)
    dj = {p: v for p, v in values.items() if p.startswith(_DJ_PREFIXES)}
    rest = {p: v for p, v in values.items() if not p.startswith(_DJ_PREFIXES)}
    result = None
    if dj:
        result = await control(found.user_id, "dj", dj, origin)
    if rest:
        result = await control(found.user_id, found.key, rest, origin)
    return result


async def _request(user_id: str, key: str, request: Any) -> Any:
    for attempt in range(2):
        pid = whereis(session_name(REGISTRY, user_id, key))
        if pid is None:
            opened = await call(DEFAULT_NAME, Open(user_id, key))
            if isinstance(opened, ControlError):
                raise opened
            pid = opened.value
        try:
            result = await call(pid, request)
        except (NoProc, ServerExited, CallTimeout):
            if attempt:
                raise ControlError(f"The mixer for {key} is restarting; try again.") from None
            continue  # the session stopped (idle) between the lookup and the call
        if isinstance(result, ControlError):
            raise result
        return result
    raise AssertionError("unreachable")


async def _start(options: MixersOptions) -> StartResult:
    return await Mixers.start_link(options, name=DEFAULT_NAME)
