"""Commands on whole tracks: re-separating one with the options a user may choose, and
deleting tracks (their unfinished jobs cancelled, their rows and folders removed)."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from soundforge.audio.separation.options import (
    InvalidSeparationOptions,
    SeparationOptions,
    check_options,
)
from soundforge.music import tracks
from soundforge.music.library._db import _stage_sql, _stages, _track_id
from soundforge.music.library._jobs import _owned_job
from soundforge.music.library._values import InvalidSeparation, JobView, LibraryConflict
from soundforge.music.tracks import TrackNotFound
from soundforge.music.uploads import remove_upload, upload_path
from soundforge.queue import engine
from soundforge.queue.job import INCOMPLETE_STATES
from soundforge.storage.connections import transaction as _transaction

log = logging.getLogger(__name__)

_MODEL: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")  # the schema's identifier domain
#: What a user may choose for a re-separation. Not models_dir (a server path) nor download
#: (whether the server fetches weights), which are the operator's business.
_SEPARATION_KEYS: Final = frozenset(
    {"engine", "model", "device", "format", "bit_depth", "segment", "shifts", "overlap"}
    | {"chunk_seconds", "chunk_overlap"}
)


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
    from soundforge.jobs.pipeline import Separate, SeparateArgs  # see _db._stages()

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
        # Uploads a download never took (it failed for good, or never ran) go too.
        requests = await c.fetch(
            """SELECT args->'request' AS request FROM jobs
               WHERE job_track_id(args) = ANY($1::uuid[]) AND worker = $2""",
            ids,
            _stages()[0].worker,  # the download stage's worker
        )
        deleted = await c.fetch(
            "DELETE FROM tracks WHERE id = ANY($1::uuid[]) RETURNING id::text", ids
        )
    gone = {r["id"] for r in deleted}
    await asyncio.to_thread(_remove_track_dirs, data_dir, sorted(gone))
    for row in requests:
        path = upload_path(msgspec.json.decode(row["request"]) if row["request"] else {})
        if path is not None:
            await asyncio.to_thread(remove_upload, data_dir, path)
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
