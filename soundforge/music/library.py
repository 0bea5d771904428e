"""The library as the dashboard and the JSON API see it: queries and commands per user.

A Phoenix context's public face: each function takes an asyncpg connection or pool
(``conn``) and the acting ``user_id``, and every statement carries ``user_id`` itself, so
ownership is enforced in SQL and not by a check a caller could forget. Another user's
track, stem or job is indistinguishable from a missing one (404), and so is an id that is
not even well-formed. Results are frozen msgspec Structs that encode straight to JSON.

    page = await list_tracks(pool, user.id, TrackFilter(q="daft pu", sort="bpm", order="asc"))
    for track in page.items:
        print(track.title, track.tempo_bpm, [(s.stage, s.state) for s in track.stages])

Jobs name their track only in ``args->>'track_id'`` (the queue has no foreign keys), so a
track's jobs are found through ``job_track_id(args)`` and its index
(``db/migrations/0004_library.sql``). Only the pipeline's workers count as a track's jobs.

These functions change rows, never PubSub: after a command, the caller (the web layer)
publishes what changed (``TrackStatusChanged``, ``StageChanged``) if pages should see it live.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import msgspec

from soundforge.audio.separation.export import stem_filename
from soundforge.audio.separation.options import (
    InvalidSeparationOptions,
    SeparationOptions,
    check_options,
)
from soundforge.errors import SoundForgeError
from soundforge.music import tracks
from soundforge.music.tracks import TrackNotFound
from soundforge.queue import engine
from soundforge.queue.job import INCOMPLETE_STATES

__all__ = [
    "SORTS",
    "STATUSES",
    "AnalysisNotFound",
    "AnalysisSummary",
    "AttemptFailure",
    "Cue",
    "InvalidFilter",
    "InvalidSeparation",
    "JobNotFound",
    "JobView",
    "LibraryConflict",
    "Loop",
    "Separation",
    "StageView",
    "StemFileMissing",
    "StemInfo",
    "StemNotFound",
    "StemView",
    "TrackDetail",
    "TrackFilter",
    "TrackNotFound",
    "TrackPage",
    "TrackSummary",
    "UnsafePath",
    "analysis_document",
    "cancel_job",
    "compatible_camelot",
    "data_file",
    "delete_track",
    "delete_tracks",
    "get_job_view",
    "get_owned_track",
    "get_track_summary",
    "list_tracks",
    "parse_filter",
    "reseparate",
    "retry_job",
    "stem_path",
    "track_detail",
    "track_jobs",
]

log = logging.getLogger(__name__)

#: The values of ``tracks.status``, in pipeline order (also the order of ``sort=status``).
STATUSES: Final = ("pending", "downloading", "separating", "analysing", "ready", "failed")
#: ``TrackFilter.sort`` values.
SORTS: Final = ("created", "title", "artist", "bpm", "key", "camelot", "duration", "status")
_MAX_LIMIT: Final = 200
_MAX_WORDS: Final = 16
_MAX_SEARCH: Final = 200
_CAMELOT: Final = re.compile(r"^(1[0-2]|[1-9])([AB])$")
_KEY: Final = re.compile(r"^([A-G])([#b♯♭]?)\s*(major|minor|maj|min|m)?$", re.IGNORECASE)
_LETTERS: Final = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MODEL: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")  # the schema's identifier domain
#: What a user may choose for a re-separation. Not models_dir (a server path) nor download
#: (whether the server fetches weights), which are the operator's business.
_SEPARATION_KEYS: Final = frozenset(
    {"engine", "model", "device", "format", "bit_depth", "segment", "shifts", "overlap"}
    | {"chunk_seconds", "chunk_overlap"}
)
_MEDIA_TYPES: Final = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg"}


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


# -- the pipeline's stages -------------------------------------------------------------------


class _Stage(msgspec.Struct, frozen=True):
    name: str  # download, separate, analyze
    worker: str  # the queue worker's name
    status: str  # tracks.status while it runs


@functools.cache
def _stages() -> tuple[_Stage, ...]:
    # Imported here: the pipeline imports this package, so it cannot be imported at its top.
    from soundforge.jobs.pipeline import Analyze, Download, Separate

    return tuple(_Stage(str(w.stage), w.name, w.status) for w in (Download, Separate, Analyze))


def _stage_of(worker: str) -> _Stage:
    return next(s for s in _stages() if s.worker == worker)


def _literal(value: str) -> str:
    if "'" in value or "\\" in value:
        raise ValueError(f"{value!r} cannot be an SQL literal here")
    return f"'{value}'"


@functools.cache
def _stage_sql() -> tuple[str, str, str]:
    """``(workers IN-list, CASE worker -> stage, CASE worker -> pipeline position)``."""
    stages = _stages()
    workers = "(" + ", ".join(_literal(s.worker) for s in stages) + ")"
    name = " ".join(f"WHEN {_literal(s.worker)} THEN {_literal(s.name)}" for s in stages)
    position = " ".join(f"WHEN {_literal(s.worker)} THEN {i}" for i, s in enumerate(stages))
    return workers, f"CASE j.worker {name} END", f"CASE j.worker {position} END"


_PROGRESS: Final = """CASE WHEN j.state = 'completed' THEN 1.0
    WHEN jsonb_typeof(j.meta->'progress') = 'number'
    THEN least(greatest((j.meta->>'progress')::float8, 0.0), 1.0) ELSE 0.0 END"""


# -- ids -------------------------------------------------------------------------------------


def _uuid(value: object, error: type[SoundForgeError], what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise error(f"there is no {what} {value!r}") from None


def _track_id(value: object) -> str:
    return _uuid(value, TrackNotFound, "track")


def _job_id(value: object) -> int:
    text = str(value)
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**63:
        raise JobNotFound(f"there is no job {value!r}")
    return int(text)


@asynccontextmanager
async def _connection(conn: Any) -> AsyncIterator[Any]:
    """``conn`` itself, or a connection taken from it when it is a pool."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as taken:
            yield taken
    else:
        yield conn


@asynccontextmanager
async def _transaction(conn: Any) -> AsyncIterator[Any]:
    async with _connection(conn) as c, c.transaction():
        yield c


# -- filters ---------------------------------------------------------------------------------


def parse_filter(params: Mapping[str, Any]) -> TrackFilter:
    """A filter from query parameters (strings); empty values mean "not given"."""
    given = {k: v for k, v in params.items() if v not in ("", None)}
    try:
        return msgspec.convert(given, TrackFilter, strict=False)
    except msgspec.ValidationError as error:
        raise InvalidFilter(f"the filter is not valid: {error}") from None


def _key_code(key: str) -> str:
    """The Camelot code of a key in any spelling: "A minor", "Am", "a min", "Ebm", "F#".

    The same wheel as ``soundforge.audio.analysis.keys`` (the tests hold them equal), which
    is not imported: its package loads the whole analyzer (scipy, librosa)."""
    match = _KEY.match(key.strip())
    if match is None:
        raise InvalidFilter(f"{key!r} is not a key; write it like 'A minor', 'F# major' or 'Ebm'")
    letter, accidental, mode = match.groups()
    pitch = _LETTERS[letter.upper()] + {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)
    # "Am" and "a min" are minor; "AM" is DJ shorthand for major.
    minor = mode is not None and mode != "M" and mode.lower() in ("minor", "min", "m")
    major = (pitch + 3) % 12 if minor else pitch % 12  # a minor key shares its relative's hour
    return f"{(major * 7 + 7) % 12 + 1}{'A' if minor else 'B'}"


def _camelot_code(code: str, field: str) -> str:
    match = _CAMELOT.match(code.strip().upper())
    if match is None:
        raise InvalidFilter(f"{field} {code!r} is not a Camelot code; use 1A to 12B, like 8A")
    return match.group(0)


def compatible_camelot(code: str) -> list[str]:
    """The codes a DJ mixes into from ``code``: itself, one hour either way, its relative."""
    match = _CAMELOT.match(_camelot_code(code, "compatible_with"))
    assert match is not None  # checked just above
    number, letter = int(match.group(1)), match.group(2)
    other = "B" if letter == "A" else "A"
    below, above = (number - 2) % 12 + 1, number % 12 + 1
    return [f"{number}{letter}", f"{below}{letter}", f"{above}{letter}", f"{number}{other}"]


def _tsquery(q: str) -> str | None:
    """Every word as a prefix (``daft:* & pu:*``). Each word is quoted, so the search
    parser splits it exactly as it split the document ("AC/DC", "T.N.T.")."""
    if len(q) > _MAX_SEARCH:
        raise InvalidFilter(f"the search is too long; use at most {_MAX_SEARCH} characters")
    words = [w for w in q.split() if any(c.isalnum() for c in w)]
    if len(words) > _MAX_WORDS:
        raise InvalidFilter(f"the search has {len(words)} words; use at most {_MAX_WORDS}")
    quoted = ("'" + w.replace("\\", "\\\\").replace("'", "''") + "':*" for w in words)
    return " & ".join(quoted) or None


def _bpm(value: float | None, field: str) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 < value < 1000):
        raise InvalidFilter(f"{field} must be a tempo above 0 and below 1000 BPM, not {value}")
    return value


class _Sql:
    """A WHERE clause under construction, numbering its parameters."""

    def __init__(self, *args: Any) -> None:
        self.args: list[Any] = list(args)
        self.conditions: list[str] = []
        self.uses_analysis = False

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def where(self, condition: str, *, analysis: bool = False) -> None:
        """Add a condition; ``analysis`` when it reads the current analysis (alias ``a``)."""
        self.conditions.append(condition)
        self.uses_analysis = self.uses_analysis or analysis

    @property
    def clause(self) -> str:
        return " AND ".join(self.conditions)


class _Sort(msgspec.Struct, frozen=True):
    key: str
    #: What orders ties before the fallback (newest first, then the id).
    then: str = "NULL"
    #: A key that can be NULL sorts it last in either direction. The others say nothing, so
    #: that an index (tracks_user_created_idx, tracks_user_title_idx) can give the order.
    nullable: bool = True


_SORTS: Final = {
    "created": _Sort("t.created_at", nullable=False),
    "title": _Sort("lower(t.title)", nullable=False),
    "artist": _Sort("lower(t.artists[1])", then="lower(t.title)"),
    "bpm": _Sort("a.tempo_bpm"),
    "key": _Sort("a.key"),
    # 1A, 1B, 2A ... 12B: the number first, minor before major.
    "camelot": _Sort("left(a.camelot, -1)::int * 2 + (right(a.camelot, 1) = 'B')::int"),
    "duration": _Sort("t.duration_ms"),
    "status": _Sort(
        "array_position(ARRAY['" + "', '".join(STATUSES) + "'], t.status)", nullable=False
    ),
}


def _filter_sql(user_id: str, f: TrackFilter) -> tuple[_Sql, str]:
    """The WHERE clause of ``f`` (validated) and its ORDER BY direction."""
    sql = _Sql(user_id)
    sql.where("t.user_id = $1::uuid")
    if f.sort not in SORTS:
        raise InvalidFilter(f"cannot sort by {f.sort!r}; use one of {', '.join(SORTS)}")
    order = f.order or ("desc" if f.sort == "created" else "asc")
    if order not in ("asc", "desc"):
        raise InvalidFilter(f"order must be asc or desc, not {f.order!r}")
    if not 1 <= f.limit <= _MAX_LIMIT:
        raise InvalidFilter(f"limit must be between 1 and {_MAX_LIMIT}, not {f.limit}")
    if not 0 <= f.offset < 2**31:
        raise InvalidFilter(f"offset must be 0 or more, not {f.offset}")
    if f.q is not None:
        query = _tsquery(f.q)
        if query is not None:
            sql.where(f"t.search @@ to_tsquery('simple', {sql.param(query)})")
    if f.status is not None:
        if f.status not in STATUSES:
            raise InvalidFilter(f"status {f.status!r} is unknown; use one of {', '.join(STATUSES)}")
        sql.where(f"t.status = {sql.param(f.status)}")
    low, high = _bpm(f.bpm_min, "bpm_min"), _bpm(f.bpm_max, "bpm_max")
    if low is not None and high is not None and low > high:
        raise InvalidFilter(f"bpm_min ({low:g}) is above bpm_max ({high:g})")
    if low is not None:
        sql.where(f"a.tempo_bpm >= {sql.param(low)}", analysis=True)
    if high is not None:
        sql.where(f"a.tempo_bpm <= {sql.param(high)}", analysis=True)
    # Keys are matched through their Camelot code, so every enharmonic spelling matches.
    if f.key is not None:
        sql.where(f"a.camelot = {sql.param(_key_code(f.key))}", analysis=True)
    if f.camelot is not None:
        sql.where(f"a.camelot = {sql.param(_camelot_code(f.camelot, 'camelot'))}", analysis=True)
    if f.compatible_with is not None:
        sql.where(
            f"a.camelot = ANY({sql.param(compatible_camelot(f.compatible_with))}::text[])",
            analysis=True,
        )
    return sql, order


# -- summaries -------------------------------------------------------------------------------


def _order_by(sort: _Sort, order: str, table: str = "") -> str:
    # The newest first among equals, then the id: pages never overlap nor skip a track.
    nulls = " NULLS LAST" if sort.nullable else ""
    t = table
    return f"{t}sort_key {order}{nulls}, {t}sort_then {order}, {t}created_at DESC, {t}id"


def _summaries_sql(where: str, sort: _Sort, order: str, limit: str, offset: str) -> str:
    """The page's tracks, each with the latest job of each stage: a correlated aggregate over
    ``jobs_track_idx``, run for the page's rows only (the LIMIT is inside ``page``)."""
    workers, stage_name, stage_position = _stage_sql()
    return f"""
    WITH page AS (
        SELECT t.id, t.title, t.artists, t.album, t.artwork_url, t.source_kind, t.source_url,
               t.source_name, t.duration_ms, t.status, t.error, t.created_at,
               a.tempo_bpm, a.key, a.camelot, a.loudness_lufs,
               {sort.key} AS sort_key, {sort.then} AS sort_then
        FROM tracks t
        LEFT JOIN analyses a ON a.track_id = t.id AND a.is_current
        WHERE {where}
        ORDER BY {_order_by(sort, order)}
        LIMIT {limit} OFFSET {offset}
    )
    SELECT page.id::text AS id, {", ".join(f"page.{f}" for f in _SUMMARY_FIELDS[1:])}, s.*
    FROM page
    LEFT JOIN LATERAL (
        SELECT array_agg({stage_name}) AS s_stage,
               array_agg(j.id) AS s_job_id,
               array_agg(j.state) AS s_state,
               array_agg(j.attempt) AS s_attempt,
               array_agg(j.max_attempts) AS s_max_attempts,
               array_agg({_PROGRESS}) AS s_progress,
               array_agg(j.meta->>'label') AS s_label,
               array_agg(CASE WHEN j.state <> 'completed'
                         THEN left(split_part(j.errors->-1->>'message', E'\\n', 1), 500) END
                        ) AS s_error,
               array_agg(j.scheduled_at) AS s_scheduled_at,
               array_agg(j.attempted_at) AS s_attempted_at,
               array_agg(j.completed_at) AS s_completed_at
        -- aggregated in pipeline order: the arrays follow their input's order
        FROM (SELECT * FROM (SELECT DISTINCT ON (j.worker) j.* FROM jobs j
                             WHERE job_track_id(j.args) = page.id AND j.worker IN {workers}
                             ORDER BY j.worker, j.id DESC) j
              ORDER BY {stage_position}) j
    ) s ON true
    ORDER BY {_order_by(sort, order, "page.")}
    """


# tracks.Track's columns (tracks.py keeps its own list private).
_TRACK_COLUMNS: Final = """id::text, user_id::text, source_kind, source_url, source_name,
    spotify_id, encode(content_hash, 'hex') AS content_hash, title, artists, album, artwork_url,
    duration_ms, original_path, original_size, status, error"""
_ANALYSIS_JOIN: Final = "JOIN analyses a ON a.track_id = t.id AND a.is_current"
_SUMMARY_FIELDS: Final = tuple(f for f in TrackSummary.__struct_fields__ if f != "stages")


def _summary(row: Any) -> TrackSummary:
    """A row of ``_summaries_sql``: TrackSummary's fields in order, then one array per
    StageView field (asyncpg decodes arrays of scalars in C; building JSON per job cost
    PostgreSQL most of the page's time, and arrays of records decode slowly in Python)."""
    values = tuple(row)
    n = len(_SUMMARY_FIELDS)
    columns = values[n:]
    stages = [StageView(*fields) for fields in zip(*columns, strict=True)] if columns[0] else []
    return TrackSummary(*values[:n], stages)  # type: ignore[call-arg]  # n fields, then stages


async def list_tracks(conn: Any, user_id: str, filter: TrackFilter | None = None) -> TrackPage:
    """One page of the user's library; ``total`` counts every track the filter matches.

    Two statements at most: the page, then the count, which a page shorter than ``limit``
    makes unnecessary. (A window count in the page query would save that round trip, but it
    makes PostgreSQL read, join and sort every matching track instead of reading the first
    page from an index: 78 ms against 11 for both statements, in a 20,000-track library.)"""
    f = filter or TrackFilter()
    sql, order = _filter_sql(user_id, f)
    where = sql.clause
    limit, offset = sql.param(f.limit), sql.param(f.offset)
    statement = _summaries_sql(where, _SORTS[f.sort], order, limit, offset)
    async with _connection(conn) as c:
        rows = await c.fetch(statement, *sql.args)
        if (rows and len(rows) < f.limit) or (not rows and f.offset == 0):
            total = f.offset + len(rows)
        else:
            joins = _ANALYSIS_JOIN if sql.uses_analysis else ""
            count = f"SELECT count(*) FROM tracks t {joins} WHERE {where}"
            total = int(await c.fetchval(count, *sql.args[:-2]))  # less limit and offset
    return TrackPage([_summary(r) for r in rows], total, f.limit, f.offset)


async def get_track_summary(conn: Any, user_id: str, track_id: str) -> TrackSummary:
    """One track as the list shows it (e.g. to redraw its row after an event)."""
    where = "t.user_id = $1::uuid AND t.id = $2::uuid"
    statement = _summaries_sql(where, _SORTS["created"], "asc", "1", "0")
    async with _connection(conn) as c:
        row = await c.fetchrow(statement, user_id, _track_id(track_id))
    if row is None:
        raise TrackNotFound(f"there is no track {track_id}; it may have been deleted")
    return _summary(row)


async def get_owned_track(conn: Any, user_id: str, track_id: str) -> tracks.Track:
    """The track row when ``user_id`` owns it; else TrackNotFound."""
    row = await conn.fetchrow(
        f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE id = $1::uuid AND user_id = $2::uuid",
        _track_id(track_id),
        user_id,
    )
    if row is None:
        raise TrackNotFound(f"there is no track {track_id}; it may have been deleted")
    return msgspec.convert(dict(row), tracks.Track)


async def _require_track(c: Any, user_id: str, track_id: str) -> str:
    """The canonical id of a track ``user_id`` owns; else TrackNotFound."""
    tid = _track_id(track_id)
    found = await c.fetchval(
        "SELECT true FROM tracks WHERE id = $1::uuid AND user_id = $2::uuid", tid, user_id
    )
    if not found:
        raise TrackNotFound(f"there is no track {track_id}; it may have been deleted")
    return tid


# -- a track's page --------------------------------------------------------------------------


async def track_detail(conn: Any, user_id: str, track_id: str) -> TrackDetail:
    """Everything about one track: summary, separations, analysis, cues, loops, jobs."""
    async with _connection(conn) as c:
        summary = await get_track_summary(c, user_id, track_id)
        stems = await c.fetch(
            """SELECT id::text, engine, model, stem, format, size_bytes, duration_ms,
                      sample_rate, channels, version, created_at
               FROM stems WHERE track_id = $1::uuid ORDER BY engine, model, stem, version""",
            summary.id,
        )
        analysis = await c.fetchrow(
            """SELECT id::text, version, tempo_bpm, key, camelot, loudness_lufs, duration_ms,
                      created_at
               FROM analyses WHERE track_id = $1::uuid AND is_current""",
            summary.id,
        )
        cues = await c.fetch(
            """SELECT id::text, kind, hot_index, position_ms, label, color, source, confidence
               FROM cue_points WHERE track_id = $1::uuid ORDER BY position_ms, id""",
            summary.id,
        )
        loops = await c.fetch(
            """SELECT id::text, stem_id::text, start_ms, end_ms, bars, label, color, source, score
               FROM loops WHERE track_id = $1::uuid ORDER BY start_ms, id""",
            summary.id,
        )
        jobs = await _jobs_of(c, summary.id)
    return TrackDetail(
        **msgspec.structs.asdict(summary),
        separations=_separations(stems),
        analysis=None if analysis is None else AnalysisSummary(**dict(analysis)),
        cue_points=[Cue(**dict(r)) for r in cues],
        loops=[Loop(**dict(r)) for r in loops],
        jobs=jobs,
    )


def _separations(rows: Iterable[Any]) -> list[Separation]:
    """Stems grouped by (engine, model), the newest separation first."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row["engine"], row["model"]), []).append(row)
    separations = [
        Separation(
            engine=engine,
            model=model,
            created_at=max(r["created_at"] for r in group),
            stems=[StemView(**{f: r[f] for f in StemView.__struct_fields__}) for r in group],
        )
        for (engine, model), group in groups.items()
    ]
    return sorted(separations, key=lambda s: s.created_at, reverse=True)


async def analysis_document(conn: Any, user_id: str, track_id: str) -> dict[str, Any]:
    """The current analysis document (``docs/analysis.md``), as stored."""
    row = await conn.fetchrow(
        """SELECT a.result::text AS result FROM tracks t
           LEFT JOIN analyses a ON a.track_id = t.id AND a.is_current
           WHERE t.id = $1::uuid AND t.user_id = $2::uuid""",
        _track_id(track_id),
        user_id,
    )
    if row is None:
        raise TrackNotFound(f"there is no track {track_id}; it may have been deleted")
    if row["result"] is None:
        raise AnalysisNotFound("this track has not been analysed yet; wait for its analysis")
    document: dict[str, Any] = msgspec.json.decode(row["result"], type=dict[str, Any])
    return document


# -- stems on disk ---------------------------------------------------------------------------


def _resolve_inside(data_dir: Path, relative: str) -> Path | None:
    root = data_dir.resolve()
    path = (root / relative).resolve()
    return path if path != root and path.is_relative_to(root) else None


def data_file(data_dir: Path, relative: str) -> Path:
    """The file a row names (``relative`` to ``data_dir``), every symlink resolved; refused
    when that lies outside ``data_dir`` or is not a file. The schema already refuses '..'
    and absolute paths; a symlink planted under the data directory is what this catches.
    Blocking (it touches the disk): call it in a thread."""
    path = _resolve_inside(data_dir, relative)
    if path is None:
        raise UnsafePath("the stem's file lies outside the data directory; it is not served")
    if not path.is_file():
        raise StemFileMissing("the stem's file is missing; re-separate the track")
    return path


async def stem_path(conn: Any, user_id: str, stem_id: str, data_dir: Path) -> tuple[StemInfo, Path]:
    """A stem the user owns and its file, checked to exist inside ``data_dir``."""
    row = await conn.fetchrow(
        """SELECT s.id::text, s.track_id::text, s.engine, s.model, s.stem, s.format, s.version,
                  s.size_bytes, s.duration_ms, s.sample_rate, s.channels, s.path,
                  t.title, t.artists
           FROM stems s JOIN tracks t ON t.id = s.track_id
           WHERE s.id = $1::uuid AND t.user_id = $2::uuid""",
        _uuid(stem_id, StemNotFound, "stem"),
        user_id,
    )
    if row is None:
        raise StemNotFound(f"there is no stem {stem_id}; the track may have been deleted")
    path = await asyncio.to_thread(data_file, data_dir, row["path"])
    label = row["stem"] if row["version"] == 1 else f"{row['stem']} v{row['version']}"
    artist = ", ".join(row["artists"]) or None
    filename = stem_filename(label, row["format"], artist=artist, title=row["title"])
    values = {f: row[f] for f in StemInfo.__struct_fields__ if f not in ("filename", "media_type")}
    info = StemInfo(**values, filename=filename, media_type=_MEDIA_TYPES[row["format"]])
    return info, path


# -- jobs ------------------------------------------------------------------------------------


@functools.cache
def _job_columns() -> str:
    _, stage_name, _ = _stage_sql()
    return f"""j.id, job_track_id(j.args)::text AS track_id, j.worker, {stage_name} AS stage,
        j.state, j.attempt, j.max_attempts, j.errors::text AS errors, {_PROGRESS} AS progress,
        j.meta->>'label' AS label, j.inserted_at, j.scheduled_at, j.attempted_at,
        j.completed_at, j.cancelled_at, j.discarded_at"""


_FAILURES: Final = msgspec.json.Decoder(list[AttemptFailure])
_JOB_FIELDS: Final = tuple(f for f in JobView.__struct_fields__ if f != "errors")


def _job_view(row: Any) -> JobView:
    values = {f: row[f] for f in _JOB_FIELDS}
    return JobView(**values, errors=_FAILURES.decode(row["errors"]))


async def _jobs_of(c: Any, track_id: str) -> list[JobView]:
    workers, _, _ = _stage_sql()
    rows = await c.fetch(
        f"""SELECT {_job_columns()} FROM jobs j
            WHERE job_track_id(j.args) = $1::uuid AND j.worker IN {workers} ORDER BY j.id""",
        track_id,
    )
    return [_job_view(r) for r in rows]


async def _owned_job(c: Any, user_id: str, job_id: object, *, lock: bool = False) -> JobView:
    workers, _, _ = _stage_sql()
    row = await c.fetchrow(
        f"""SELECT {_job_columns()} FROM jobs j JOIN tracks t ON t.id = job_track_id(j.args)
            WHERE j.id = $1 AND t.user_id = $2::uuid AND j.worker IN {workers}
            {"FOR UPDATE OF j, t" if lock else ""}""",
        _job_id(job_id),
        user_id,
    )
    if row is None:
        raise JobNotFound(f"there is no job {job_id}; its track may have been deleted")
    return _job_view(row)


async def track_jobs(conn: Any, user_id: str, track_id: str) -> list[JobView]:
    """Every pipeline job of the track, oldest first."""
    async with _connection(conn) as c:
        return await _jobs_of(c, await _require_track(c, user_id, track_id))


async def get_job_view(conn: Any, user_id: str, job_id: int | str) -> JobView:
    async with _connection(conn) as c:
        return await _owned_job(c, user_id, job_id)


async def _queued_twin(c: Any, job: JobView) -> int | None:
    """Another incomplete job of the same track and stage (uniqueness holds while
    incomplete, so retrying this one beside it would run the stage twice)."""
    twin: int | None = await c.fetchval(
        """SELECT id FROM jobs
           WHERE job_track_id(args) = $1::uuid AND worker = $2 AND id <> $3
             AND state = ANY($4::text[])
           LIMIT 1""",
        job.track_id,
        job.worker,
        job.id,
        [str(s) for s in INCOMPLETE_STATES],
    )
    return twin


async def retry_job(conn: Any, user_id: str, job_id: int | str) -> JobView:
    """Run a failed, cancelled or waiting job again now; the track shows that stage again."""
    async with _transaction(conn) as c:
        job = await _owned_job(c, user_id, job_id, lock=True)
        what = f"the {job.stage} job {job.id}"
        if job.state == "completed":
            hint = "; re-separate the track to run it again" if job.stage == "separate" else ""
            raise LibraryConflict(f"{what} has already completed; there is nothing to retry{hint}")
        if job.state == "executing":
            raise LibraryConflict(f"{what} is running; wait for it to finish or cancel it")
        if job.state == "available":
            raise LibraryConflict(f"{what} is already waiting to run")
        twin = await _queued_twin(c, job)
        if twin is not None:
            raise LibraryConflict(f"the track's {job.stage} stage is already queued as job {twin}")
        await engine.retry_job(c, job.id)
        await tracks.set_status(c, job.track_id, _stage_of(job.worker).status)
        return await _owned_job(c, user_id, job.id)


async def cancel_job(conn: Any, user_id: str, job_id: int | str) -> JobView:
    """Stop a job that has not finished (killing it if it runs); the track is marked failed,
    as when the pipeline gives up, and a retry carries on. Cancelling twice is harmless."""
    async with _transaction(conn) as c:
        job = await _owned_job(c, user_id, job_id, lock=True)
        if job.state == "cancelled":
            return job
        if job.state in ("completed", "discarded"):
            raise LibraryConflict(
                f"the {job.stage} job {job.id} has already finished ({job.state}); "
                "there is nothing to cancel"
            )
        await engine.cancel_job(c, job.id)
        message = f"the {job.stage} stage was cancelled by you; retry it to carry on"
        await tracks.set_status(c, job.track_id, "failed", message)
        return await _owned_job(c, user_id, job.id)


# -- commands on tracks ----------------------------------------------------------------------


def _separation_options(options: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - _SEPARATION_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_SEPARATION_KEYS))
        raise InvalidSeparation(f"unknown separation option {unknown[0]!r}; use {allowed}")
    try:
        parsed = msgspec.convert(dict(options), SeparationOptions)
        check_options(parsed)
    except msgspec.ValidationError as error:
        raise InvalidSeparation(f"the separation options are not valid: {error}") from None
    except InvalidSeparationOptions as error:
        raise InvalidSeparation(str(error)) from None
    if parsed.model is not None and not _MODEL.match(parsed.model):
        raise InvalidSeparation(
            f"{parsed.model!r} is not a model name (lower-case letters, digits, . _ - only)"
        )
    return dict(options)  # as given: the separator fills in its defaults


async def reseparate(
    conn: Any, user_id: str, track_id: str, options: Mapping[str, Any] | None = None
) -> JobView:
    """Queue a new separation of a downloaded track (its analysis follows, as in the
    pipeline). Another engine or model adds stems beside the earlier ones; the same one
    replaces its own rows. Refused while a separation of the track is queued or running."""
    from soundforge.jobs.pipeline import Separate, SeparateArgs  # see _stages()

    chosen = _separation_options(options or {})
    tid = _track_id(track_id)
    async with _transaction(conn) as c:
        row = await c.fetchrow(
            """SELECT original_path FROM tracks WHERE id = $1::uuid AND user_id = $2::uuid
               FOR UPDATE""",
            tid,
            user_id,
        )
        if row is None:
            raise TrackNotFound(f"there is no track {track_id}; it may have been deleted")
        if row["original_path"] is None:
            raise LibraryConflict(
                "the track's audio has not arrived yet; wait for its download to finish"
            )
        # Separate is unique per track among incomplete jobs only, so a completed earlier
        # separation does not block this one, and a queued or running one does.
        job = await engine.insert(c, Separate, SeparateArgs(tid, chosen))
        if job.conflict:
            raise LibraryConflict(
                f"the track is already separating (job {job.id}); wait for it or cancel it"
            )
        await tracks.set_status(c, tid, "separating")
        return await _owned_job(c, user_id, job.id)


async def delete_tracks(
    conn: Any, user_id: str, track_ids: Iterable[str], data_dir: Path
) -> list[str]:
    """Delete the user's tracks among ``track_ids`` (others' and unknown ids are skipped):
    their unfinished jobs are cancelled, their rows deleted (stems, analyses... cascade),
    then their folders removed. Returns the ids deleted, in the order given."""
    wanted = list(dict.fromkeys(_valid_ids(track_ids)))
    if not wanted:
        return []
    workers, _, _ = _stage_sql()
    async with _transaction(conn) as c:
        owned = await c.fetch(
            """SELECT id FROM tracks WHERE id = ANY($1::uuid[]) AND user_id = $2::uuid
               ORDER BY id FOR UPDATE""",
            wanted,
            user_id,
        )
        ids = [r["id"] for r in owned]
        running = await c.fetch(
            f"""SELECT id FROM jobs
                WHERE job_track_id(args) = ANY($1::uuid[]) AND worker IN {workers}
                  AND state = ANY($2::text[]) ORDER BY id""",
            ids,
            [str(s) for s in INCOMPLETE_STATES],
        )
        for job in running:
            await engine.cancel_job(c, job["id"])
        deleted = await c.fetch(
            "DELETE FROM tracks WHERE id = ANY($1::uuid[]) RETURNING id::text", ids
        )
    gone = {r["id"] for r in deleted}
    await asyncio.to_thread(_remove_track_dirs, data_dir, sorted(gone))
    return [tid for tid in wanted if tid in gone]


def _valid_ids(values: Iterable[str]) -> Iterable[str]:
    for value in values:
        try:
            yield str(uuid.UUID(str(value)))
        except ValueError:
            continue  # malformed: no track of anyone's, skipped like another user's


def _remove_track_dirs(data_dir: Path, track_ids: Iterable[str]) -> None:
    """Remove ``<data>/tracks/<id>`` of each id: only a real folder that resolves to exactly
    that place (never a symlink's target, never another track's folder)."""
    root = (data_dir / "tracks").resolve()
    for track_id in track_ids:
        folder = data_dir / "tracks" / track_id
        if folder.is_symlink() or not folder.is_dir() or folder.resolve() != root / track_id:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():  # the rows are gone already; the leftovers are only disk space
            log.warning("could not remove all of %s", folder)


async def delete_track(conn: Any, user_id: str, track_id: str, data_dir: Path) -> None:
    """Delete one track the user owns; else TrackNotFound."""
    if not await delete_tracks(conn, user_id, [_track_id(track_id)], data_dir):
        raise TrackNotFound(f"there is no track {track_id}; it may have been deleted")
