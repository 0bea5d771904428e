"""``/ws``: one WebSocket per browser tab, carrying the PubSub topics it may see.

The connection is a process of the node (the endpoint runs every WebSocket as one), so it
subscribes to PubSub like any actor and events arrive in its mailbox; it writes each one to
the socket as JSON::

    client → {"op": "subscribe", "topic": "track:5b7c..."}
    server → {"type": "subscribed", "topic": "track:5b7c..."}
    server → {"type": "track.progress", "track_id": "5b7c...", "stage": "separate",
              "fraction": 0.42, "label": "separating"}
    client → {"op": "unsubscribe", "topic": "track:5b7c..."}
    server → {"type": "error", "message": "..."}          (the socket stays open)

Authentication is the session cookie (with an Origin check: another site cannot open a
socket with the user's cookie) or an API token in ``?token=`` or the Authorization header.
Who may subscribe to what: ``tracks:<user id>`` (one's own library), ``track:<id>`` (one's
own tracks); admins any of them. ``mixer:<user id>:<session>`` (one's own mixer sessions,
``docs/studio.md``): the first event is the session's ``mixer.snapshot``, and the tab may
then send ``{"op": "control", "topic": ..., "values": {...}, "origin": "ws:<tab id>"}`` and
``{"op": "focus", "topic": ...}``. Events are sent as they are published, each a JSON object
whose dotted ``type`` says what it is (``docs/pipeline.md``); a tab following both a track
and its owner's library may get an event twice, and applying one twice changes nothing.

A client that reads too slowly to keep up is disconnected (1008) rather than let its backlog
grow without bound; when PubSub restarts the socket closes with 1012 and the page reconnects
and resubscribes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, Final

import msgspec
from quart import Blueprint, websocket

from soundforge.accounts import User, session_user, token_user
from soundforge.accounts.events import ACCOUNTS_TOPIC, CredentialsChanged
from soundforge.actors import repo
from soundforge.actors.observer import TOPIC as OBSERVER_TOPIC
from soundforge.runtime import pubsub
from soundforge.runtime.process import Exit, Pid, current_process, receive, send
from soundforge.studio import ControlError, mixers
from soundforge.web.auth import SESSION_COOKIE
from soundforge.web.context import web
from soundforge.web.metrics import WEBSOCKET_CONNECT, WEBSOCKET_DISCONNECT

__all__ = ["MAX_BACKLOG", "MAX_TOPICS", "blueprint", "may_subscribe"]

log = logging.getLogger(__name__)

blueprint = Blueprint("live", __name__)

MAX_TOPICS: Final = 200
#: Events waiting for a slow client before it is disconnected.
MAX_BACKLOG: Final = 2_000
#: The local topic the endpoint's shutdown is announced on.
STOP_TOPIC: Final = "soundforge.endpoint:stopping"


class Subscribe(msgspec.Struct, frozen=True, tag="subscribe", tag_field="op"):
    topic: str


class Unsubscribe(msgspec.Struct, frozen=True, tag="unsubscribe", tag_field="op"):
    topic: str


class Control(msgspec.Struct, frozen=True, tag="control", tag_field="op"):
    """Set values of a followed mixer session (``docs/studio.md``)."""

    topic: str
    values: dict[str, Any]
    #: The tab's own id (``ws:<random>``): its changes come back with it, and it skips them.
    origin: str = "ws"


class FocusOp(msgspec.Struct, frozen=True, tag="focus", tag_field="op"):
    """Point the control surfaces at a followed track session (the tab came to the front)."""

    topic: str


ClientMessage = Subscribe | Unsubscribe | Control | FocusOp

_decode_client = msgspec.json.Decoder(ClientMessage).decode
_encode = msgspec.json.Encoder().encode


class Stopping(msgspec.Struct, frozen=True):
    """Broadcast locally on STOP_TOPIC when the endpoint shuts down."""


async def may_subscribe(user: User, topic: str) -> bool:
    kind, _, key = topic.partition(":")
    if not key:
        return False
    if kind == "tracks":
        return key == user.id or user.role == "admin"
    if kind == "mixer":  # one's own mixer sessions (soundforge.studio)
        owner, _, session = key.partition(":")
        return owner == user.id and _is_session_key(session)
    if kind == "midi":  # one's own MIDI learn results, and the MIDI clock (docs/midi.md)
        return key == user.id or key == "clock"
    if kind == "admin":  # the admin console: the node's tree (soundforge.actors.observer)
        return user.role == "admin" and topic == OBSERVER_TOPIC
    if kind == "track":
        try:
            uuid.UUID(key)
        except ValueError:
            return False
        if user.role == "admin":
            return True
        async with repo.connection(web().repo) as conn:
            return bool(
                await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM tracks"
                    " WHERE id = $1::uuid AND user_id = $2::uuid)",
                    key,
                    user.id,
                )
            )
    return False


async def _user() -> User | None:
    secret = websocket.args.get("token")
    header = websocket.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        secret = header[7:].strip()
    async with repo.connection(web().repo) as conn:
        if secret:
            return await token_user(conn, secret)
        cookie = websocket.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        origin = websocket.headers.get("Origin")
        if origin and origin.rstrip("/") != websocket.host_url.rstrip("/").replace("ws", "http", 1):
            return None
        return await session_user(conn, cookie)


@blueprint.websocket("/ws")
async def socket() -> None:
    context = web()
    user = await _user()
    await websocket.accept()  # then close with a reason the page can read (not a bare 403)
    if user is None:
        await websocket.close(1008, "sign in first")
        return
    me = current_process()
    assert me is not None
    me.trap_exit = True  # a PubSub restart arrives as a message, and we close with 1012
    pubsub.subscribe(context.pubsub, STOP_TOPIC)
    pubsub.subscribe(context.pubsub, ACCOUNTS_TOPIC)
    if context.stopping.is_set():
        await websocket.close(1001, "the server is stopping")
        return
    topics: set[str] = set()
    context.metrics.websocket_clients += 1
    tele = me.node.telemetry
    connected = time.monotonic()
    if tele.wants(WEBSOCKET_CONNECT):
        tele.execute(WEBSOCKET_CONNECT, {"count": 1}, {"user_id": user.id})
    reader = asyncio.ensure_future(_read_until_closed(user, topics, me.pid))
    try:
        await _write(me, user)
    finally:
        context.metrics.websocket_clients -= 1
        reader.cancel()
        if tele.wants(WEBSOCKET_DISCONNECT):
            seconds = time.monotonic() - connected
            tele.execute(WEBSOCKET_DISCONNECT, {"duration": seconds}, {"user_id": user.id})


class _ClientGone(msgspec.Struct, frozen=True):
    """From the reader to the writer: the client closed the socket (or sent garbage)."""


async def _read_until_closed(user: User, topics: set[str], me: Pid) -> None:
    try:
        await _read(user, topics)
    finally:
        send(me, _ClientGone())


async def _read(user: User, topics: set[str]) -> None:
    context = web()
    while True:
        raw = await websocket.receive()
        try:
            message = _decode_client(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            await _send({"type": "error", "message": 'send {"op": "subscribe", "topic": ...}'})
            continue
        topic = message.topic
        if isinstance(message, Control | FocusOp):
            await _mixer_op(user, topics, message)
        elif isinstance(message, Unsubscribe):
            if topic in topics:
                topics.discard(topic)
                pubsub.unsubscribe(context.pubsub, topic)
            await _send({"type": "unsubscribed", "topic": topic})
        elif topic in topics:
            await _send({"type": "subscribed", "topic": topic})
        elif len(topics) >= MAX_TOPICS:
            await _send({"type": "error", "message": f"at most {MAX_TOPICS} topics per socket"})
        elif await may_subscribe(user, topic):
            topics.add(topic)
            pubsub.subscribe(context.pubsub, topic, topic)
            await _send({"type": "subscribed", "topic": topic})
            if topic.startswith("mixer:") and not await _open_mixer(user, topic):
                topics.discard(topic)
                pubsub.unsubscribe(context.pubsub, topic)
        else:
            await _send({"type": "error", "topic": topic, "message": f"you may not follow {topic}"})


def _is_session_key(key: str) -> bool:
    if key == "dj":
        return True
    kind, _, track_id = key.partition(":")
    try:
        return kind == "track" and str(uuid.UUID(track_id)) == track_id
    except ValueError:
        return False


async def _open_mixer(user: User, topic: str) -> bool:
    """Sends a followed session's snapshot (after subscribing, so no change falls between)."""
    session = topic.split(":", 2)[2]
    try:
        snapshot = await mixers.snapshot(user.id, session)
    except ControlError as error:
        await _send({"type": "error", "topic": topic, "message": str(error)})
        return False
    await _send(snapshot)
    if session != "dj":
        await mixers.focus(user.id, session)
    return True


async def _mixer_op(user: User, topics: set[str], message: Control | FocusOp) -> None:
    topic = message.topic
    if topic not in topics or not topic.startswith("mixer:"):
        await _send({"type": "error", "topic": topic, "message": f"subscribe to {topic} first"})
        return
    session = topic.split(":", 2)[2]
    if isinstance(message, FocusOp):
        if session != "dj":
            await mixers.focus(user.id, session)
        return
    try:
        await mixers.control(user.id, session, message.values, message.origin)
    except ControlError as error:
        await _send({"type": "error", "topic": topic, "message": str(error)})


async def _write(me: Any, user: User) -> None:
    context = web()
    while True:
        msg = await receive()
        if isinstance(msg, _ClientGone):
            return
        if isinstance(msg, CredentialsChanged):
            if msg.user_id == user.id:
                await websocket.close(1008, "your account changed; sign in again")
                return
            continue
        if isinstance(msg, Stopping):
            await websocket.close(1001, "the server is stopping")
            return
        if isinstance(msg, Exit):
            await websocket.close(1012, "the server is restarting a part; reconnect")
            return
        if len(me.mailbox) > MAX_BACKLOG:
            context.metrics.websocket_dropped += 1
            await websocket.close(1008, "too slow to keep up with the events")
            return
        if isinstance(msg, msgspec.Struct):
            await websocket.send(_encode(msg).decode())
            context.metrics.websocket_events += 1


async def _send(value: Any) -> None:
    await websocket.send(_encode(value).decode())
