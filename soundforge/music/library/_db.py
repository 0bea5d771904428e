"""What every query of the library shares: the pipeline's stages as SQL fragments, ids
parsed so that a malformed one is as missing as another user's, ownership of a track, and
connections taken from a pool or used as given."""

from __future__ import annotations

import functools
import uuid
from typing import Any, Final

import msgspec

from soundforge.errors import SoundForgeError
from soundforge.music.library._values import JobNotFound
from soundforge.music.tracks import TrackNotFound

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


async def _require_track(c: Any, user_id: str, track_id: str) -> str:
    """The canonical id of a track ``user_id`` owns; else TrackNotFound."""
    tid = _track_id(track_id)
    found = await c.fetchval(
        "SELECT true FROM tracks WHERE id = $1::uuid AND user_id = $2::uuid", tid, user_id
    )
    if not found:
        raise TrackNotFound(f"there is no track {track_id}; it may have been deleted")
    return tid
