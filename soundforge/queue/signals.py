"""What travels on the queue's NOTIFY channel: typed notifications between nodes.

Mirrors Oban's notifier channels ``insert`` (wake producers) and ``signal`` (pause, resume,
scale, pkill) in one PostgreSQL channel, :data:`CHANNEL`, whose payloads are the JSON of a
tagged union (``{"kind": "insert", "queue": "download"}``). The insert trigger of
``db/migrations/0002_jobs.sql`` writes the ``insert`` payload itself.

    await engine.notify(conn, Pause(queue="download"))        # every node's producer pauses

A notification is at-most-once (PostgreSQL drops it for a listener that is disconnected), so
nothing relies on one alone: producers also poll, and a notifier that reconnects tells its
producers to look again (:class:`Reconnected`, local only).

Differences from Oban: one channel instead of several; ``node`` restricts a signal to one
node (Oban's ``node:`` option); payloads are validated structs, and a malformed one is
dropped with a debug log instead of crashing the notifier.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = [
    "CHANNEL",
    "Insert",
    "Notification",
    "Pause",
    "Pkill",
    "Reconnected",
    "Resume",
    "Scale",
    "decode",
    "encode",
    "meant_for",
]

#: The PostgreSQL channel every node LISTENs on.
CHANNEL: Final = "soundforge_queue"


class _Note(msgspec.Struct, frozen=True, tag_field="kind"):
    """Base of the payloads: the tag is written as ``kind``."""


class Insert(_Note, frozen=True, tag="insert"):
    """Jobs became available in ``queue`` (insert, staging, rescue, retry)."""

    queue: str


class Pause(_Note, frozen=True, tag="pause"):
    """Stop claiming jobs in ``queue`` (running jobs go on), on ``node`` or everywhere."""

    queue: str
    node: str | None = None


class Resume(_Note, frozen=True, tag="resume"):
    """Claim jobs in ``queue`` again, on ``node`` or everywhere."""

    queue: str
    node: str | None = None


class Scale(_Note, frozen=True, tag="scale"):
    """Change the local concurrency limit of ``queue``, on ``node`` or everywhere."""

    queue: str
    limit: int
    node: str | None = None


class Pkill(_Note, frozen=True, tag="pkill"):
    """Job ``job_id`` was cancelled while executing: whoever runs it terminates its task."""

    queue: str
    job_id: int


class Reconnected(_Note, frozen=True, tag="reconnected"):
    """Local only: the notifier's connection came back; notifications may have been missed."""


Notification = Insert | Pause | Resume | Scale | Pkill

_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(Notification)


def encode(notification: Notification) -> str:
    return _ENCODER.encode(notification).decode()


def meant_for(note: Pause | Resume | Scale, node: str) -> bool:
    """Whether a pause, resume or scale signal applies to ``node`` (all nodes when unset)."""
    return note.node is None or note.node == node


def decode(payload: str) -> Notification:
    """The notification in ``payload``; raises ``msgspec.ValidationError``/``DecodeError``."""
    note: Notification = _DECODER.decode(payload)
    return note
