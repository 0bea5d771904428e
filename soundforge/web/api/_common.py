"""What the ``/api/v1`` resources share: the database, the audit trail, ids, attachments.

Kept private to the package: the resources' public face is their routes. Every helper
here works on the current request (``quart.request``/``g``) and the app's
:class:`~soundforge.web.context.WebContext`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Final
from urllib.parse import quote

import msgspec

from soundforge.accounts import record
from soundforge.music import get_owned_track, track_topic, user_topic
from soundforge.music.events import TrackDeleted, TrackStatusChanged
from soundforge.runtime import pubsub
from soundforge.web import db
from soundforge.web.auth import client_ip, current_user
from soundforge.web.context import web

__all__ = [
    "MAX_BATCH",
    "NO_NUL",
    "Id",
    "Page",
    "announce_status",
    "attachment",
    "audit",
    "connection",
    "transaction",
]

#: The most ids one batch request may name.
MAX_BATCH: Final = 200

#: Text that PostgreSQL can store: it refuses NUL in text values (a 500 otherwise).
NO_NUL: Final = "^[^\x00]*$"

#: A path or body id: short, so a pasted novel is a 422 and not a database round trip.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_NUL)]

#: ``limit`` of the paged lists.
Page = Annotated[int, msgspec.Meta(ge=1, le=200)]


@asynccontextmanager
async def connection() -> AsyncIterator[Any]:
    """The request's connection of the node's Repo (``soundforge.web.db``)."""
    async with db.connection() as conn:
        yield conn


@asynccontextmanager
async def transaction() -> AsyncIterator[Any]:
    async with db.transaction() as conn:
        yield conn


async def audit(
    conn: Any,
    action: str,
    *,
    target_type: str,
    target_id: str | int | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record ``action`` by the signed-in user, from the request's address."""
    user = current_user()
    await record(
        conn,
        action,
        actor_id=user.id if user is not None else None,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details,
        ip=client_ip(),
    )


async def announce_status(conn: Any, user_id: str, track_id: str) -> None:
    """Tell pages following the track or its owner's library its status after a command
    (the library functions change rows, never PubSub)."""
    track = await get_owned_track(conn, user_id, track_id)
    event = TrackStatusChanged(track.id, track.user_id, track.status, track.error)
    context = web()
    pubsub.broadcast(context.pubsub, track_topic(track.id), event)
    pubsub.broadcast(context.pubsub, user_topic(track.user_id), event)


def announce_deleted(user_id: str, track_ids: list[str]) -> None:
    """Tell pages following the tracks or their owner's library that they are gone."""
    context = web()
    for track_id in track_ids:
        event = TrackDeleted(track_id, user_id)
        pubsub.broadcast(context.pubsub, track_topic(track_id), event)
        pubsub.broadcast(context.pubsub, user_topic(user_id), event)


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` value that downloads as ``filename`` (RFC 6266).

    ``filename`` carries an ASCII stand-in for old clients (accents stripped, anything else
    replaced by ``_``, quotes and backslashes removed); ``filename*`` carries the real name,
    UTF-8 and percent-encoded, which every current browser prefers.
    """
    decomposed = unicodedata.normalize("NFKD", filename)
    ascii_name = "".join(
        c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "_"
        for c in decomposed
        if not unicodedata.combining(c)
    )
    value = f'attachment; filename="{ascii_name or "download"}"'
    if ascii_name != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value
