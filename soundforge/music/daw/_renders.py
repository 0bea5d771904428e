"""Renders of a lane: what may be rendered, the render job as its owner sees it, and the new
stem version a finished render stores.

A render is a job of ``soundforge.jobs.render.RenderStem`` (args ``track_id`` and
``stem_id``). Its result is a new ``stems`` row: the same track, engine, model and stem
name, the next free ``version`` and ``parent_stem_id`` pointing at the original, which is
never touched. :func:`next_version` locks the original's row, so two renders of one stem
finishing together get versions N and N+1, not the same N twice.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Final

import msgspec

from soundforge.audio.render import RenderedFile
from soundforge.music.daw._edits import (
    StemRow,
    _edits,
    _require_original,
    owned_stem,
    region_edits,
    stem_uuid,
)
from soundforge.music.daw._values import RENDER_WORKER, EditConflict, RenderJob
from soundforge.music.library import JobNotFound
from soundforge.queue.job import INCOMPLETE_STATES
from soundforge.storage.connections import connection

_INCOMPLETE: Final = [str(s) for s in INCOMPLETE_STATES]

_JOB_COLUMNS: Final = """j.id AS job_id, j.args->>'stem_id' AS stem_id,
    j.args->>'track_id' AS track_id, j.state, j.attempt, j.max_attempts,
    CASE WHEN j.state = 'completed' THEN 1.0
         WHEN jsonb_typeof(j.meta->'progress') = 'number'
         THEN least(greatest((j.meta->>'progress')::float8, 0.0), 1.0) ELSE 0.0 END AS progress,
    j.meta->>'label' AS label,
    CASE WHEN j.state <> 'completed'
         THEN left(split_part(j.errors->-1->>'message', E'\\n', 1), 500) END AS error,
    CASE WHEN jsonb_typeof(j.meta->'version') = 'number'
         THEN (j.meta->>'version')::int END AS version,
    j.meta->>'rendered_stem_id' AS rendered_stem_id, j.inserted_at, j.completed_at"""


def _job(row: Any) -> RenderJob:
    return msgspec.convert(dict(row), RenderJob)


async def pending_render(c: Any, stem: StemRow) -> RenderJob | None:
    """The stem's latest render job that has not finished (None when there is none)."""
    row = await c.fetchrow(
        f"""SELECT {_JOB_COLUMNS} FROM jobs j
            WHERE job_track_id(j.args) = $1::uuid AND j.worker = $2
              AND j.args->>'stem_id' = $3 AND j.state = ANY($4::text[])
            ORDER BY j.id DESC LIMIT 1""",
        stem.track_id,
        RENDER_WORKER,
        stem.id,
        _INCOMPLETE,
    )
    return None if row is None else _job(row)


async def get_render(conn: Any, user_id: str, stem_id: str, job_id: int | str) -> RenderJob:
    """A render job of the user's stem; JobNotFound for any other id."""
    text = str(job_id)
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**63:
        raise JobNotFound(f"there is no render job {job_id!r}")
    async with connection(conn) as c:
        stem = await owned_stem(c, user_id, stem_id)
        row = await c.fetchrow(
            f"""SELECT {_JOB_COLUMNS} FROM jobs j
                WHERE j.id = $1 AND j.worker = $2 AND j.args->>'stem_id' = $3
                  AND job_track_id(j.args) = $4::uuid""",
            int(text),
            RENDER_WORKER,
            stem.id,
            stem.track_id,
        )
    if row is None:
        raise JobNotFound(f"there is no render job {job_id} of this stem")
    return _job(row)


async def render_source(c: Any, user_id: str, stem_id: str) -> StemRow:
    """The user's original stem, checked to have live edits to render."""
    stem = await owned_stem(c, user_id, stem_id)
    _require_original(stem)
    if not region_edits(await _edits(c, stem.id)):
        raise EditConflict(f"the {stem.stem} lane has no edits to render; make an edit first")
    return stem


async def next_version(c: Any, stem_id: str) -> int | None:
    """The version the stem's next render gets, its original's row locked until the caller's
    transaction ends; None when the stem is gone."""
    version: int | None = await c.fetchval(
        """SELECT (SELECT COALESCE(max(r.version), 1) + 1 FROM stems r
                   WHERE r.track_id = s.track_id AND r.engine = s.engine AND r.model = s.model
                     AND r.stem = s.stem)
           FROM stems s WHERE s.id = $1::uuid FOR UPDATE OF s""",
        stem_uuid(stem_id),
    )
    return version


def render_path(stem: StemRow, version: int) -> str:
    """``tracks/<track_id>/stems/<model>/<stem>.v<N>.wav``: beside the original."""
    return str(PurePosixPath(stem.path).parent / f"{stem.stem}.v{version}.wav")


async def record_render(
    c: Any, stem: StemRow, version: int, path: str, rendered: RenderedFile
) -> str:
    """Insert the render's row (call after :func:`next_version`, in its transaction)."""
    stem_id: str = await c.fetchval(
        """INSERT INTO stems (track_id, engine, model, stem, version, parent_stem_id, format,
                              path, size_bytes, sample_rate, channels, bit_depth, duration_ms,
                              options)
           SELECT track_id, engine, model, stem, $2, id, 'wav', $3, $4, $5, $6, $7, $8,
                  jsonb_build_object('rendered_from', id::text)
           FROM stems WHERE id = $1::uuid
           RETURNING id::text""",
        stem.id,
        version,
        path,
        rendered.size_bytes,
        rendered.sample_rate,
        rendered.channels,
        rendered.bit_depth,
        rendered.duration_ms,
    )
    return stem_id
