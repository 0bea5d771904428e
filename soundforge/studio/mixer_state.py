"""MixerState: one user's mixer session (a track's player, or the DJ console) as an actor.

Every change — from a browser tab, an OSC surface, a MIDI controller, the API — arrives as a
:class:`Apply` call naming control paths (``soundforge.studio.controls``). The session checks
and clamps the values, applies triggers (play, cue, sync, hot cues, the trainer's loop
passes) to the values they move, and broadcasts one :class:`MixerChanged` with only what
changed, stamped with the next version and the change's origin. Because every source goes
through this one process, changes are applied once and in one order, and every surface ends
up showing the same state (a Phoenix channel's process per topic, with the state kept here
instead of in each client).

The values are saved to ``mixer_sessions`` a moment after they change and when the session
stops; a restarted session (a crash, a server restart) starts from them and broadcasts a
snapshot so the tabs still following it resynchronise. Playing flags survive only a quick
restart (a crash): a session opened after a while starts paused, as no tab is playing it.

A session with no follower and no change for ``idle_after`` seconds stops (``normal``; the
dynamic supervisor does not restart transient children for that) and is started again by
the next request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

import msgspec

from soundforge.actors import repo
from soundforge.runtime import pubsub
from soundforge.runtime.child_spec import ChildSpec, Restart
from soundforge.runtime.exit import NORMAL, ExitReason
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Reply, Stop
from soundforge.runtime.process import From, current_process
from soundforge.runtime.registry import Via
from soundforge.studio import _db
from soundforge.studio._semantics import Session, apply_values, needs_database
from soundforge.studio.controls import ControlError, SessionNotFound
from soundforge.studio.events import STUDIO_TOPIC, MixerChanged, MixerSnapshot

__all__ = ["Apply", "GetSnapshot", "MixerOptions", "MixerState", "session_name", "topic"]

log = logging.getLogger(__name__)

#: A session restarted within this many seconds of its last save keeps its playing flags.
_RESUME_PLAYING_S: Final = 10.0


def topic(user_id: str, key: str) -> str:
    """The PubSub topic a session's events go out on (browser tabs follow it)."""
    return f"mixer:{user_id}:{key}"


def session_name(registry: str, user_id: str, key: str) -> Via:
    """The registered name of the session (user, key)."""
    return Via(registry, ("mixer", user_id, key))


class MixerOptions(msgspec.Struct, frozen=True):
    repo: str
    pubsub: str
    registry: str
    #: Seconds after a change before the values are saved.
    save_delay: float = 1.0
    #: Seconds with no follower and no change before the session stops.
    idle_after: float = 600.0


class Apply(msgspec.Struct, frozen=True):
    """Call: set these control values; replies the :class:`MixerChanged` or a ControlError."""

    values: dict[str, Any]
    origin: str


class GetSnapshot(msgspec.Struct, frozen=True):
    """Call: the whole state (:class:`MixerSnapshot`)."""


class _Save(msgspec.Struct, frozen=True):
    pass


class _IdleCheck(msgspec.Struct, frozen=True):
    pass


@dataclass
class _State:
    options: MixerOptions
    session: Session
    version: int
    saved_version: int
    save_pending: bool = False
    last_change: float = field(default_factory=time.monotonic)


class MixerState(GenServer[_State]):
    """One mixer session, registered as ``("mixer", user_id, key)``."""

    kind: ClassVar[str] = "gen_server"

    @classmethod
    def spec(cls, options: MixerOptions, user_id: str, key: str) -> ChildSpec:
        """A transient child: restarted after a crash, not after an idle stop."""
        name = session_name(options.registry, user_id, key)
        return ChildSpec(
            id=("mixer", user_id, key),
            start=_start,
            args=(options, user_id, key, name),
            restart=Restart.TRANSIENT,
        )

    async def init(self, arg: tuple[MixerOptions, str, str]) -> Init[_State] | Stop[Any]:
        options, user_id, key = arg
        proc = current_process()
        assert proc is not None
        proc.trap_exit = True  # terminate saves the values on a clean stop
        try:
            async with repo.connection(options.repo) as conn:
                session, saved = await _load(conn, user_id, key)
        except ControlError as error:
            return Stop(error)
        version = saved.version if saved else 0
        state = _State(options, session, version, version)
        recent = saved is not None and saved.age_s <= _RESUME_PLAYING_S
        if not recent:
            session.pause_all()
        elif pubsub.subscribers(options.pubsub, topic(user_id, key)):
            # Restarted after a crash: the tabs still following learn where things stand.
            self._broadcast(state, self._snapshot(state))
        proc.node.clock.call_later(options.idle_after, proc.deliver, _IdleCheck())
        return Init(state)

    async def handle_call(self, request: Any, from_: From, state: _State) -> Reply[_State]:
        if isinstance(request, Apply):
            return Reply(await self._apply(request, state), state)
        if isinstance(request, GetSnapshot):
            return Reply(self._snapshot(state), state)
        raise ValueError(f"unknown mixer request {request!r}")

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State] | Stop[_State]:
        if isinstance(msg, _Save):
            state.save_pending = False
            await self._save(state)
        elif isinstance(msg, _IdleCheck):
            idle = time.monotonic() - state.last_change
            followed = pubsub.subscribers(state.options.pubsub, self._topic(state))
            if not followed and idle >= state.options.idle_after:
                return Stop(NORMAL, state)
            proc = current_process()
            assert proc is not None
            proc.node.clock.call_later(state.options.idle_after, proc.deliver, _IdleCheck())
        return NoReply(state)

    async def terminate(self, reason: ExitReason, state: _State) -> None:
        if state.version != state.saved_version:
            try:
                await self._save(state)
            except Exception:  # the database is away: the last second of changes is lost, logged
                log.warning("mixer %s could not save its last values", state.session.key)

    def format_status(self, state: _State) -> Any:
        session = state.session
        return {"user_id": session.user_id, "key": session.key, "version": state.version}

    async def _apply(self, request: Apply, state: _State) -> MixerChanged | ControlError:
        try:
            if needs_database(request.values):
                async with repo.connection(state.options.repo) as conn:
                    changed, info_changed = await apply_values(conn, state.session, request.values)
            else:  # faders, buttons, transport: no query (1,000 OSC messages a second)
                changed, info_changed = await apply_values(None, state.session, request.values)
        except ControlError as error:
            return error
        state.last_change = time.monotonic()
        if changed or info_changed:
            state.version += 1
            self._schedule_save(state)
        session = state.session
        event = MixerChanged(
            session.user_id,
            session.key,
            state.version,
            changed,
            request.origin,
            session.info if info_changed else None,
        )
        if changed or info_changed:
            self._broadcast(state, event)
        return event

    def _snapshot(self, state: _State) -> MixerSnapshot:
        session = state.session
        return MixerSnapshot(
            session.user_id, session.key, state.version, dict(session.values), session.info
        )

    def _broadcast(self, state: _State, event: MixerChanged | MixerSnapshot) -> None:
        pubsub.local_broadcast(state.options.pubsub, self._topic(state), event)
        pubsub.local_broadcast(state.options.pubsub, STUDIO_TOPIC, event)

    def _topic(self, state: _State) -> str:
        return topic(state.session.user_id, state.session.key)

    def _schedule_save(self, state: _State) -> None:
        if state.save_pending:
            return
        state.save_pending = True
        proc = current_process()
        assert proc is not None
        proc.node.clock.call_later(state.options.save_delay, proc.deliver, _Save())

    async def _save(self, state: _State) -> None:
        version = state.version
        session = state.session
        async with repo.connection(state.options.repo) as conn:
            await _db.save_session(conn, session.user_id, session.key, session.values, version)
        state.saved_version = version


async def _load(conn: Any, user_id: str, key: str) -> tuple[Session, _db.SavedSession | None]:
    if key == "dj":
        info: dict[str, Any] = {"decks": {"1": None, "2": None}}
    elif key.startswith("track:"):
        info = await _db.track_info(conn, user_id, key.removeprefix("track:"))
    else:
        raise SessionNotFound(f"{key!r} is not a mixer session: use track:<id> or dj.")
    saved = await _db.load_session(conn, user_id, key)
    session = Session(user_id, key, info)
    await session.restore(conn, saved.values if saved else {})
    return session, saved


async def _start(options: MixerOptions, user_id: str, key: str, name: Via) -> Any:
    return await MixerState.start_link((options, user_id, key), name=name)
