"""The pipeline's events on PubSub: what a page, a CLI progress bar or another node hears.

Topics: ``track:<track_id>`` carries everything about one track (stage changes, progress,
status); ``tracks:<user_id>`` carries the new tracks, status changes and duplicates of a
user's library (what the dashboard's list needs, without the progress chatter). Every event
is a tagged msgspec Struct, so it crosses nodes through the PostgreSQL bridge and reaches
browsers as JSON with a ``type`` field. ``docs/pipeline.md`` documents them.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

__all__ = [
    "EVENT_TYPES",
    "DuplicateFound",
    "Stage",
    "StageChanged",
    "StageProgress",
    "StageState",
    "TrackCreated",
    "TrackDeleted",
    "TrackEvent",
    "TrackStatusChanged",
    "track_topic",
    "user_topic",
]


class Stage(enum.StrEnum):
    """The pipeline's stages, in order."""

    DOWNLOAD = "download"
    SEPARATE = "separate"
    ANALYZE = "analyze"


class StageState(enum.StrEnum):
    """What happened to a stage's job."""

    STARTED = "started"
    COMPLETED = "completed"
    RETRYING = "retrying"  # this attempt failed; the queue tries again after a backoff
    FAILED = "failed"  # no more attempts, or an error that retrying cannot fix
    CANCELLED = "cancelled"


class StageChanged(msgspec.Struct, frozen=True, tag="track.stage"):
    track_id: str
    stage: Stage
    state: StageState
    attempt: int
    job_id: int
    #: The failure in one sentence (RETRYING, FAILED).
    error: str | None = None


class StageProgress(msgspec.Struct, frozen=True, tag="track.progress"):
    track_id: str
    stage: Stage
    #: 0..1 of this stage.
    fraction: float
    #: What the stage is doing ("downloading", "separating", "beats"...).
    label: str


class TrackCreated(msgspec.Struct, frozen=True, tag="track.created"):
    """An import created a track (published once its row and download job have committed)."""

    track_id: str
    user_id: str
    title: str
    #: ``spotify``, ``youtube``, ``url``, ``upload`` or ``local``.
    source_kind: str


class TrackDeleted(msgspec.Struct, frozen=True, tag="track.deleted"):
    """The track was deleted with its files (published after the deletion committed)."""

    track_id: str
    user_id: str


class TrackStatusChanged(msgspec.Struct, frozen=True, tag="track.status"):
    """The track's library status (``tracks.status``) changed."""

    track_id: str
    user_id: str
    status: str
    error: str | None = None


class DuplicateFound(msgspec.Struct, frozen=True, tag="track.duplicate"):
    """An import turned out to be a track the user already has; nothing was re-imported."""

    user_id: str
    existing_id: str
    #: ``spotify_id`` or ``content``.
    reason: str
    #: The import's own track id when a row had been created for it (then deleted).
    track_id: str | None = None


TrackEvent = (
    StageChanged | StageProgress | TrackCreated | TrackDeleted | TrackStatusChanged | DuplicateFound
)

#: The event types that cross nodes (``soundforge.supervisors.root.PUBSUB_TYPES``).
EVENT_TYPES: Final = (
    StageChanged,
    StageProgress,
    TrackCreated,
    TrackDeleted,
    TrackStatusChanged,
    DuplicateFound,
)


def track_topic(track_id: object) -> str:
    return f"track:{track_id}"


def user_topic(user_id: object) -> str:
    return f"tracks:{user_id}"
