"""The OSC server's way out: mixer changes to the surfaces that registered for feedback.

Every ``MixerChanged`` of a focused session (the focused track session and its user's DJ
console) goes to every registered client as OSC (``_address.feedback_args``): one message,
or a bundle when a change moved several values. The surface a change came from does not
get back the values it set itself (it shows them already; echoing them would fight a
finger still on the fader), but does get what they caused (``transport.toggle`` →
``/sf/transport/playing``) and what the mixer clamped.

When the focus moves to another track, every client gets that session's whole state plus
``/sf/track/title`` and ``/sf/bpm``; ``/sf/sync`` sends the same to the one who asks.
"""

from __future__ import annotations

from typing import Any

import msgspec

from soundforge.errors import SoundForgeError
from soundforge.runtime.errors import ActorError
from soundforge.runtime.process import Pid, current_process, send
from soundforge.studio import controls, mixers
from soundforge.studio.events import Focus, MixerChanged, MixerSnapshot
from soundforge.studio.osc._address import address_for, feedback_args
from soundforge.studio.osc._clients import MAX_FAILURES, open_client
from soundforge.studio.osc._state import ServerState, log
from soundforge.studio.osc._wire import encode

__all__ = [
    "ClientFailed",
    "check_focus",
    "focused",
    "heard_from",
    "on_changed",
    "on_client_failed",
    "on_snapshot",
    "register",
    "sync",
    "unregister",
]

Messages = list[tuple[str, list[Any]]]


class ClientFailed(msgspec.Struct, frozen=True):
    """A send to a client's address failed (ICMP port unreachable ...)."""

    key: tuple[str, int]
    error: str


def focused() -> Focus | None:
    return mixers.focused()


def heard_from(state: ServerState, address: tuple[str, int]) -> None:
    """A datagram from ``address``: a client sending to us is alive."""
    host, source_port = address
    for client in state.clients.values():
        if client.host == host and client.source_port == source_port:
            client.failures = 0


async def register(state: ServerState, host: str, port: int, source_port: int) -> None:
    key = (host, port)
    old = state.clients.pop(key, None)
    if old is not None:
        old.close()
    while len(state.clients) >= state.options.max_clients:
        oldest = next(iter(state.clients))
        state.clients.pop(oldest).close()
        limit = state.options.max_clients
        log.info("OSC: dropped client %s:%d for a new one (at most %d)", *oldest, limit)
    me = current_process()
    assert me is not None
    pid = me.pid
    try:
        client = await open_client(host, port, source_port, lambda e: _failed(pid, key, e))
    except OSError as error:
        state.note(f"register:{host}", f"cannot send feedback to {host}:{port} ({error})")
        return
    state.clients[key] = client
    log.info("OSC: %s:%d registered for feedback", host, port)
    await _send_state(state, [client])


def unregister(state: ServerState, host: str, source_port: int) -> None:
    origin = f"osc:{host}:{source_port}"
    for key, client in list(state.clients.items()):
        if client.is_origin(origin):
            state.clients.pop(key).close()
            log.info("OSC: %s:%d unregistered", *key)


async def sync(state: ServerState, address: tuple[str, int]) -> None:
    """The whole state to whoever asked: its registered address, else where it sent from."""
    origin = f"osc:{address[0]}:{address[1]}"
    clients = [c for c in state.clients.values() if c.is_origin(origin)]
    if clients:
        await _send_state(state, clients)
        return
    transport = state.transport
    if transport is None:
        return
    for dgram in encode(await _state_messages(state)):
        transport.sendto(dgram, address)
        state.counters.feedback += 1


def on_client_failed(state: ServerState, msg: ClientFailed) -> None:
    client = state.clients.get(msg.key)
    if client is None:
        return
    client.failures += 1
    if client.failures >= MAX_FAILURES:
        state.clients.pop(msg.key).close()
        state.counters.dropped_clients += 1
        log.info("OSC: dropped client %s:%d (%s)", msg.key[0], msg.key[1], msg.error)


async def on_changed(state: ServerState, event: MixerChanged) -> None:
    session = (event.user_id, event.key)
    if event.info is not None:
        state.infos[session] = event.info
    echo = state.echo.pop((event.user_id, event.key, event.version), None)
    if not state.clients or not _is_focused(event.user_id, event.key):
        return
    try:
        info = await state.info(*session)
    except (ActorError, SoundForgeError) as error:  # the session stopped meanwhile
        state.note("feedback", f"no feedback for {event.key} ({error})")
        return
    messages = _messages(event.key, info, event.values)
    if event.info is not None and event.key.startswith("track:"):
        messages += _track_labels(event.info)
    for client in list(state.clients.values()):
        if client.is_origin(event.origin):
            own = echo[1] if echo is not None else frozenset(event.values)
            skip = {address_for(path, _session(event.key)) for path in own}
            _send(state, client, [m for m in messages if m[0] not in skip])
        else:
            _send(state, client, messages)


async def on_snapshot(state: ServerState, event: MixerSnapshot) -> None:
    """A session (re)started and told its followers its state: the surfaces follow too."""
    state.infos[(event.user_id, event.key)] = event.info
    if state.clients and _is_focused(event.user_id, event.key):
        messages = _messages(event.key, event.info, event.values)
        if event.key.startswith("track:"):
            messages += _track_labels(event.info)
        for client in list(state.clients.values()):
            _send(state, client, messages)


async def check_focus(state: ServerState) -> None:
    """If a browser tab moved the focus, every surface gets the new session's state."""
    now = mixers.focused()
    if now == state.focus:
        return
    state.focus = now
    if now is not None and state.clients:
        await _send_state(state, list(state.clients.values()))


async def _send_state(state: ServerState, clients: list[Any]) -> None:
    messages = await _state_messages(state)
    for client in clients:
        _send(state, client, messages)


async def _state_messages(state: ServerState) -> Messages:
    focus = mixers.focused()
    if focus is None or not focus.key.startswith("track:"):
        return []
    messages: Messages = []
    keys = [focus.key]
    if (focus.user_id, "dj") in state.infos:
        keys.append("dj")
    for key in keys:
        try:
            snapshot = await mixers.snapshot(focus.user_id, key)
        except (ActorError, SoundForgeError) as error:  # the session went away meanwhile
            state.note("sync", f"could not read the mixer for {key} ({error})")
            continue
        state.infos[(focus.user_id, key)] = snapshot.info
        messages += _messages(key, snapshot.info, snapshot.values)
        if key.startswith("track:"):
            messages += _track_labels(snapshot.info)
    return messages


def _messages(key: str, info: dict[str, Any], values: dict[str, Any]) -> Messages:
    messages: Messages = []
    for path, value in values.items():
        try:
            control = controls.control_for(key, path, info)
        except controls.ControlError:
            continue  # read-only values (anchor_at) have no address
        args = feedback_args(control, value)
        if args is not None:
            messages.append((address_for(path, _session(key)), args))
    return messages


def _track_labels(info: dict[str, Any]) -> Messages:
    title = info.get("title")
    bpm = info.get("bpm")
    return [
        ("/sf/track/title", [title if isinstance(title, str) else ""]),
        ("/sf/bpm", [float(bpm) if isinstance(bpm, int | float) else 0.0]),
    ]


def _send(state: ServerState, client: Any, messages: Messages) -> None:
    if not messages:
        return
    datagrams = encode(messages)
    client.send(datagrams)
    state.counters.feedback += len(datagrams)


def _session(key: str) -> str:
    return "dj" if key == "dj" else "track"


def _is_focused(user_id: str, key: str) -> bool:
    focus = mixers.focused()
    if focus is None or focus.user_id != user_id:
        return False
    return key == focus.key or key == "dj"


def _failed(pid: Pid, key: tuple[str, int], error: OSError) -> None:
    send(pid, ClientFailed(key, error.strerror or str(error)))
