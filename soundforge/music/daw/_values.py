"""The DAW's values, events and errors: what its functions return (frozen Structs that encode
straight to JSON), what the render job publishes, and the errors a user sees."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec

from soundforge.audio.render import Clip
from soundforge.errors import SoundForgeError

#: The render job's worker name (``jobs.worker``); ``soundforge.jobs.render.RenderStem``.
RENDER_WORKER: Final = "soundforge.render_stem"
#: The most edits one lane keeps (live and undone).
MAX_EDITS: Final = 500
#: Positions are milliseconds of a stem: 24 hours is past any stem a server keeps.
MAX_MS: Final = 24 * 3600 * 1000

# -- errors ----------------------------------------------------------------------------------


class InvalidEdit(SoundForgeError):
    """The edit does not fit the lane (outside the stem, an empty region, a gain without dB)."""

    status = 422
    exit_code = 2


class EditConflict(SoundForgeError):
    """The command does not fit the lane's state (nothing to undo, a render's lane...)."""

    status = 409
    exit_code = 75  # EX_TEMPFAIL


# -- edits -----------------------------------------------------------------------------------

Op = Literal["trim", "split", "fade_in", "fade_out", "gain", "mute"]
Millis = Annotated[int, msgspec.Meta(ge=0, le=MAX_MS)]
GainDb = Annotated[float, msgspec.Meta(ge=-96.0, le=24.0)]


class NewEdit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One region edit to append to a lane. A ``split`` names its position in ``start_ms``
    only; every other op a region ``[start_ms, end_ms)``; ``gain`` also ``gain_db``."""

    op: Op
    start_ms: Millis
    end_ms: Millis | None = None
    gain_db: GainDb | None = None


class Edit(msgspec.Struct, frozen=True):
    id: str
    position: int
    op: Op
    start_ms: int
    end_ms: int | None
    gain_db: float | None
    #: Undone edits stay until a new edit replaces them (redo brings them back).
    undone: bool
    created_at: datetime


class StemVersion(msgspec.Struct, frozen=True):
    """A render of a lane's stem (version 2, 3...); the original is version 1."""

    id: str
    version: int
    format: str
    size_bytes: int | None
    duration_ms: int | None
    created_at: datetime


class RenderJob(msgspec.Struct, frozen=True):
    """A render of a lane: the job's state and, once it completed, the version it stored."""

    job_id: int
    stem_id: str
    track_id: str
    #: The queue's state: available, scheduled, executing, retryable, completed, cancelled...
    state: str
    attempt: int
    max_attempts: int
    progress: float
    label: str | None
    #: The last failure in one sentence, while the job has not completed.
    error: str | None
    version: int | None
    rendered_stem_id: str | None
    inserted_at: datetime
    completed_at: datetime | None


class Lane(msgspec.Struct, frozen=True):
    """One stem's lane: its edit list, the clips its splits make, and its renders."""

    stem_id: str
    track_id: str
    stem: str
    engine: str
    model: str
    format: str
    duration_ms: int | None
    sample_rate: int | None
    channels: int | None
    #: Live and undone, in position order (the order a render applies the live ones).
    edits: list[Edit]
    clips: list[Clip]
    can_undo: bool
    can_redo: bool
    versions: list[StemVersion]
    #: The lane's latest render that has not finished, if any.
    render: RenderJob | None


# -- events on track:<id> --------------------------------------------------------------------


class RenderState(enum.StrEnum):
    STARTED = "started"
    COMPLETED = "completed"
    RETRYING = "retrying"  # this attempt failed; the queue tries again after a backoff
    FAILED = "failed"  # no more attempts, or an error that retrying cannot fix


class StemRenderChanged(msgspec.Struct, frozen=True, tag="stem.render"):
    track_id: str
    stem_id: str
    job_id: int
    state: RenderState
    attempt: int
    #: The stored version and its stem id (COMPLETED).
    version: int | None = None
    rendered_stem_id: str | None = None
    #: The failure in one sentence (RETRYING, FAILED).
    error: str | None = None


class StemRenderProgress(msgspec.Struct, frozen=True, tag="stem.render.progress"):
    track_id: str
    stem_id: str
    job_id: int
    #: 0..1 of the render.
    fraction: float
    label: str


#: The event types that cross nodes (``soundforge.supervisors.root.PUBSUB_TYPES``).
RENDER_EVENT_TYPES: Final = (StemRenderChanged, StemRenderProgress)
