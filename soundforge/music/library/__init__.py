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

from soundforge.music.library._files import data_file, stem_path
from soundforge.music.library._filters import (
    SORTS,
    STATUSES,
    compatible_camelot,
    parse_filter,
)
from soundforge.music.library._jobs import cancel_job, get_job_view, retry_job, track_jobs
from soundforge.music.library._queries import (
    analysis_document,
    get_owned_track,
    get_track_summary,
    library_version,
    list_tracks,
    track_detail,
)
from soundforge.music.library._tracks import delete_track, delete_tracks, reseparate
from soundforge.music.library._values import (
    AnalysisNotFound,
    AnalysisSummary,
    AttemptFailure,
    Cue,
    InvalidFilter,
    InvalidSeparation,
    JobNotFound,
    JobView,
    LibraryConflict,
    Loop,
    Separation,
    StageView,
    StemFileMissing,
    StemInfo,
    StemNotFound,
    StemView,
    TrackDetail,
    TrackFilter,
    TrackPage,
    TrackSummary,
    UnsafePath,
)
from soundforge.music.tracks import TrackNotFound

# isort: split
# Private, not exported: tests, and scripts that EXPLAIN the list's statement, reach these
# through the package, as they did when it was one module.
from soundforge.music.library._filters import _SORTS as _SORTS
from soundforge.music.library._filters import _filter_sql as _filter_sql
from soundforge.music.library._filters import _key_code as _key_code
from soundforge.music.library._queries import _summaries_sql as _summaries_sql
from soundforge.music.library._queries import _summary as _summary

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
    "library_version",
    "list_tracks",
    "parse_filter",
    "reseparate",
    "retry_job",
    "stem_path",
    "track_detail",
    "track_jobs",
]
