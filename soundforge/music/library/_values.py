"""The library's values and errors: the frozen Structs its functions return (they encode
straight to JSON) and the errors they raise, each with the HTTP status and exit code a user
sees. ``TrackNotFound`` lives with the tracks themselves (``soundforge.music.tracks``)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from soundforge.errors import SoundForgeError

# -- errors ----------------------------------------------------------------------------------


class InvalidFilter(SoundForgeError):
    status = 422
    exit_code = 2


class InvalidSeparation(SoundForgeError):
    status = 422
    exit_code = 2


class JobNotFound(SoundForgeError):
    status = 404
    exit_code = 66


class StemNotFound(SoundForgeError):
    status = 404
    exit_code = 66


class AnalysisNotFound(SoundForgeError):
    status = 404
    exit_code = 66


class StemFileMissing(SoundForgeError):
    """The row exists but its file does not (a disk restored without it, a manual delete)."""

    status = 404
    exit_code = 66


class UnsafePath(SoundForgeError):
    """A stored path resolves outside the data directory (a symlink planted inside it)."""

    status = 403
    exit_code = 77  # EX_NOPERM


class LibraryConflict(SoundForgeError):
    """The command does not fit the track's or job's current state."""

    status = 409
    exit_code = 75  # EX_TEMPFAIL


# -- values ----------------------------------------------------------------------------------


class TrackFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What the library list shows. ``order`` None is the sort's natural order: newest first
    for ``created``, ascending for the others. ``key`` matches any spelling of the key
    ("A minor", "Am", "a min"); ``compatible_with`` a Camelot code's mixable neighbours."""

    q: str | None = None
    status: str | None = None
    bpm_min: float | None = None
    bpm_max: float | None = None
    key: str | None = None
    camelot: str | None = None
    compatible_with: str | None = None
    sort: str = "created"
    order: str | None = None
    limit: int = 50
    offset: int = 0


class StageView(msgspec.Struct, frozen=True):
    """The latest job of one pipeline stage of a track."""

    stage: str
    job_id: int
    state: str
    attempt: int
    max_attempts: int
    progress: float
    label: str | None
    #: The last failure in one sentence, while the job has not completed.
    error: str | None
    scheduled_at: datetime
    attempted_at: datetime | None
    completed_at: datetime | None


class TrackSummary(msgspec.Struct, frozen=True):
    id: str
    title: str
    artists: list[str]
    album: str | None
    artwork_url: str | None
    source_kind: str
    source_url: str | None
    source_name: str | None
    duration_ms: int | None
    status: str
    error: str | None
    created_at: datetime
    tempo_bpm: float | None
    key: str | None
    camelot: str | None
    loudness_lufs: float | None
    #: In pipeline order; a stage that never had a job is absent.
    stages: list[StageView]


class TrackPage(msgspec.Struct, frozen=True):
    items: list[TrackSummary]
    total: int
    limit: int
    offset: int


class StemView(msgspec.Struct, frozen=True):
    id: str
    stem: str
    format: str
    size_bytes: int | None
    duration_ms: int | None
    sample_rate: int | None
    channels: int | None
    version: int


class Separation(msgspec.Struct, frozen=True):
    """The stems one engine and model produced (renders included, as versions > 1)."""

    engine: str
    model: str
    created_at: datetime
    stems: list[StemView]


class AnalysisSummary(msgspec.Struct, frozen=True):
    id: str
    version: int
    tempo_bpm: float | None
    key: str | None
    camelot: str | None
    loudness_lufs: float | None
    duration_ms: int | None
    created_at: datetime


class Cue(msgspec.Struct, frozen=True):
    id: str
    kind: str
    hot_index: int | None
    position_ms: int
    label: str | None
    color: str | None
    source: str
    confidence: float | None


class Loop(msgspec.Struct, frozen=True):
    id: str
    stem_id: str | None
    start_ms: int
    end_ms: int
    bars: float | None
    label: str | None
    color: str | None
    source: str
    score: float | None


class AttemptFailure(msgspec.Struct, frozen=True):
    """One failed attempt of a job (the traceback stays in the database)."""

    attempt: int
    kind: str
    message: str
    at: datetime | None = None


class JobView(msgspec.Struct, frozen=True):
    id: int
    track_id: str
    worker: str
    stage: str
    state: str
    attempt: int
    max_attempts: int
    errors: list[AttemptFailure]
    progress: float
    label: str | None
    inserted_at: datetime
    scheduled_at: datetime
    attempted_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    discarded_at: datetime | None


class TrackDetail(TrackSummary, frozen=True):
    """A track's page: the summary's fields, then everything hanging off the track."""

    separations: list[Separation]
    analysis: AnalysisSummary | None
    cue_points: list[Cue]
    loops: list[Loop]
    jobs: list[JobView]


class StemInfo(msgspec.Struct, frozen=True):
    id: str
    track_id: str
    engine: str
    model: str
    stem: str
    format: str
    version: int
    size_bytes: int | None
    duration_ms: int | None
    sample_rate: int | None
    channels: int | None
    #: A readable download name, ``"Artist - Title (vocals).wav"``.
    filename: str
    media_type: str
