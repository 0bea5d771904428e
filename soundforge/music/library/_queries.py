"""Queries that read a user's library: the list's page (``list_tracks``, one statement
built by ``_summaries_sql``), one track's summary or row, its page (``track_detail``) and its
analysis document."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec

from soundforge.music import tracks
from soundforge.music.library._db import (
    _PROGRESS,
    _stage_sql,
    _track_id,
)
from soundforge.music.library._filters import _SORTS, _filter_sql, _Sort
from soundforge.music.library._jobs import _jobs_of
from soundforge.music.library._values import (
    AnalysisNotFound,
    AnalysisSummary,
    Cue,
    Loop,
    Separation,
    StageView,
    StemView,
    TrackDetail,
    TrackFilter,
    TrackPage,
    TrackSummary,
)
from soundforge.music.tracks import TrackNotFound
from soundforge.storage.connections import connection as _connection

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


async def library_version(conn: Any, user_id: str) -> int:
    """The version of ``user_id``'s library: it moves, in the same transaction, with every
    change that :func:`list_tracks` would show (``0005_library_versions.sql``); 0 before the
    first. Equal versions mean equal pages for equal filters."""
    version = await conn.fetchval(
        "SELECT version FROM library_versions WHERE user_id = $1::uuid", user_id
    )
    return 0 if version is None else int(version)


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
