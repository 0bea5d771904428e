"""A lane's edit list: reading it, appending an edit, undo and redo.

The list is ``stem_edits`` (``db/migrations/0001_core.sql``): edits in ``position`` order;
undo marks the last live edit undone, redo clears the mark of the first undone one (undone
edits are always the list's tail), and a new edit deletes the undone ones first. Every
command locks the stem's row, so two tabs editing one lane take turns.

Only a separation's originals (version 1) have lanes: a render is the output of a lane, not
one itself. Ownership is in each statement (``tracks.user_id``), so another user's stem, and
an id that is not even a uuid, is the same StemNotFound as a missing one.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import msgspec

from soundforge.audio.render import RegionEdit, clips
from soundforge.music.daw._values import (
    MAX_EDITS,
    Edit,
    EditConflict,
    InvalidEdit,
    Lane,
    NewEdit,
    StemVersion,
)
from soundforge.music.library import StemNotFound
from soundforge.storage.connections import connection, transaction

_STEM: Final = """SELECT s.id::text, s.track_id::text, s.engine, s.model, s.stem, s.version,
        s.format, s.path, COALESCE(s.duration_ms, t.duration_ms) AS duration_ms,
        s.sample_rate, s.channels
    FROM stems s JOIN tracks t ON t.id = s.track_id"""


class StemRow(msgspec.Struct, frozen=True):
    """The stem behind a lane, as the DAW reads it."""

    id: str
    track_id: str
    engine: str
    model: str
    stem: str
    version: int
    format: str
    path: str
    duration_ms: int | None
    sample_rate: int | None
    channels: int | None


def stem_uuid(stem_id: object) -> str:
    try:
        return str(uuid.UUID(str(stem_id)))
    except ValueError:
        raise StemNotFound(f"there is no stem {stem_id!r}") from None


def _lock(lock: bool) -> str:
    return "FOR UPDATE OF s" if lock else ""


async def owned_stem(c: Any, user_id: str, stem_id: str, *, lock: bool = False) -> StemRow:
    """The stem when ``user_id`` owns its track (its row locked with ``lock``)."""
    row = await c.fetchrow(
        f"{_STEM} WHERE s.id = $1::uuid AND t.user_id = $2::uuid {_lock(lock)}",
        stem_uuid(stem_id),
        user_id,
    )
    if row is None:
        raise StemNotFound(f"there is no stem {stem_id}; the track may have been deleted")
    return msgspec.convert(dict(row), StemRow)


async def stem_row(c: Any, stem_id: str, *, lock: bool = False) -> StemRow | None:
    """The stem whoever owns it (for the render job, which acts for the owner)."""
    row = await c.fetchrow(f"{_STEM} WHERE s.id = $1::uuid {_lock(lock)}", stem_uuid(stem_id))
    return None if row is None else msgspec.convert(dict(row), StemRow)


def _require_original(stem: StemRow) -> None:
    if stem.version != 1:
        raise EditConflict(
            f"version {stem.version} of {stem.stem} is a render and has no edit list; "
            "edit the original stem's lane and render again"
        )


async def _edits(c: Any, stem_id: str) -> list[Edit]:
    rows = await c.fetch(
        """SELECT id::text, position, op, start_ms, end_ms,
                  round(gain_db::numeric, 2)::float8 AS gain_db,
                  undone_at IS NOT NULL AS undone, created_at
           FROM stem_edits WHERE stem_id = $1::uuid ORDER BY position""",
        stem_id,
    )
    return [Edit(**dict(r)) for r in rows]


def region_edits(edits: list[Edit]) -> list[RegionEdit]:
    """The live edits, in position order, as the renderer takes them."""
    return [RegionEdit(e.op, e.start_ms, e.end_ms, e.gain_db) for e in edits if not e.undone]


async def live_edits(conn: Any, stem_id: str) -> list[RegionEdit]:
    """The stem's live edits in position order (what a render applies)."""
    async with connection(conn) as c:
        return region_edits(await _edits(c, stem_uuid(stem_id)))


async def _lane(c: Any, stem: StemRow) -> Lane:
    # Imported here: _renders imports this module.
    from soundforge.music.daw._renders import pending_render

    edits = await _edits(c, stem.id)
    versions = await c.fetch(
        """SELECT id::text, version, format, size_bytes, duration_ms, created_at
           FROM stems WHERE parent_stem_id = $1::uuid ORDER BY version""",
        stem.id,
    )
    live = region_edits(edits)
    return Lane(
        stem_id=stem.id,
        track_id=stem.track_id,
        stem=stem.stem,
        engine=stem.engine,
        model=stem.model,
        format=stem.format,
        duration_ms=stem.duration_ms,
        sample_rate=stem.sample_rate,
        channels=stem.channels,
        edits=edits,
        clips=clips(stem.duration_ms, live) if stem.duration_ms else [],
        can_undo=bool(live),
        can_redo=any(e.undone for e in edits),
        versions=[StemVersion(**dict(r)) for r in versions],
        render=await pending_render(c, stem),
    )


async def get_lane(conn: Any, user_id: str, stem_id: str) -> Lane:
    """A stem's lane: its edits (live and undone), clips and renders."""
    async with connection(conn) as c:
        stem = await owned_stem(c, user_id, stem_id)
        _require_original(stem)
        return await _lane(c, stem)


async def track_lanes(
    conn: Any, user_id: str, track_id: str, engine: str, model: str
) -> list[Lane]:
    """The lanes of one separation of a track (its original stems), by stem name."""
    async with connection(conn) as c:
        rows = await c.fetch(
            f"""{_STEM} WHERE s.track_id = $1::uuid AND t.user_id = $2::uuid
                AND s.engine = $3 AND s.model = $4 AND s.version = 1 ORDER BY s.stem""",
            track_id,
            user_id,
            engine,
            model,
        )
        return [await _lane(c, msgspec.convert(dict(r), StemRow)) for r in rows]


def _seconds(ms: int) -> str:
    return f"{ms / 1000:g} s"


def check_edit(edit: NewEdit, duration_ms: int | None, splits: list[int]) -> None:
    """Refuse an edit that does not fit a lane of ``duration_ms`` with those splits."""
    if edit.op == "split":
        if edit.end_ms is not None or edit.gain_db is not None:
            raise InvalidEdit("a split takes a position (start_ms) only")
        if edit.start_ms <= 0 or (duration_ms is not None and edit.start_ms >= duration_ms):
            raise InvalidEdit(
                f"a split must fall inside the stem, between 0 s and {_seconds(duration_ms or 0)}"
            )
        if edit.start_ms in splits:
            raise InvalidEdit(f"the lane is already split at {_seconds(edit.start_ms)}")
        return
    if edit.end_ms is None:
        raise InvalidEdit(f"{edit.op} needs a region: give start_ms and end_ms")
    if edit.end_ms <= edit.start_ms:
        raise InvalidEdit("the region's end must come after its start")
    if duration_ms is not None and edit.end_ms > duration_ms:
        raise InvalidEdit(
            f"the region ends at {_seconds(edit.end_ms)}, past the stem's end at "
            f"{_seconds(duration_ms)}"
        )
    if (edit.op == "gain") != (edit.gain_db is not None):
        raise InvalidEdit(
            "a gain edit needs gain_db" if edit.op == "gain" else f"{edit.op} takes no gain_db"
        )
    if edit.gain_db is not None and not -96.0 <= edit.gain_db <= 24.0:
        raise InvalidEdit("gain_db must lie between -96 and 24 dB")


async def add_edit(conn: Any, user_id: str, stem_id: str, edit: NewEdit) -> Lane:
    """Append ``edit`` to the lane (dropping the undone edits first); the lane after it."""
    async with transaction(conn) as c:
        stem = await owned_stem(c, user_id, stem_id, lock=True)
        _require_original(stem)
        edits = await _edits(c, stem.id)
        live = [e for e in edits if not e.undone]
        if len(live) >= MAX_EDITS:
            raise EditConflict(
                f"a lane holds at most {MAX_EDITS} edits; render it or undo some first"
            )
        check_edit(edit, stem.duration_ms, [e.start_ms for e in live if e.op == "split"])
        await c.execute(
            "DELETE FROM stem_edits WHERE stem_id = $1::uuid AND undone_at IS NOT NULL", stem.id
        )
        await c.execute(
            """INSERT INTO stem_edits (stem_id, position, op, start_ms, end_ms, gain_db)
               SELECT $1::uuid, COALESCE(max(position) + 1, 0), $2, $3, $4, $5
               FROM stem_edits WHERE stem_id = $1::uuid""",
            stem.id,
            edit.op,
            edit.start_ms,
            edit.end_ms,
            edit.gain_db,
        )
        return await _lane(c, stem)


async def undo(conn: Any, user_id: str, stem_id: str) -> Lane:
    """Mark the lane's last live edit undone; EditConflict when there is none."""
    async with transaction(conn) as c:
        stem = await owned_stem(c, user_id, stem_id, lock=True)
        _require_original(stem)
        done = await c.fetchval(
            """UPDATE stem_edits SET undone_at = now()
               WHERE id = (SELECT id FROM stem_edits
                           WHERE stem_id = $1::uuid AND undone_at IS NULL
                           ORDER BY position DESC LIMIT 1)
               RETURNING id""",
            stem.id,
        )
        if done is None:
            raise EditConflict("there is nothing to undo in this lane")
        return await _lane(c, stem)


async def redo(conn: Any, user_id: str, stem_id: str) -> Lane:
    """Bring back the lane's first undone edit; EditConflict when there is none."""
    async with transaction(conn) as c:
        stem = await owned_stem(c, user_id, stem_id, lock=True)
        _require_original(stem)
        done = await c.fetchval(
            """UPDATE stem_edits SET undone_at = NULL
               WHERE id = (SELECT id FROM stem_edits
                           WHERE stem_id = $1::uuid AND undone_at IS NOT NULL
                           ORDER BY position LIMIT 1)
               RETURNING id""",
            stem.id,
        )
        if done is None:
            raise EditConflict("there is nothing to redo in this lane")
        return await _lane(c, stem)
