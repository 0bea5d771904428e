"""Practice presets: named practice settings remembered per song (``practice_presets``).

A musician learning a song keeps a few setups for it — "solo slow" (bars 33–41 at 70 %, two
bars of count-in, a trainer raising the tempo by 5 % every 3 passes up to 100 %), "chorus in
D" (pitch −2) — and loads one with a click. A preset belongs to a track and through it to the
track's owner: every query joins ``tracks`` on ``user_id``, so another user's track (or its
presets) is a :class:`~soundforge.music.tracks.TrackNotFound` (404), exactly like a missing one.

The settings are one typed value, :class:`PracticeSettings`, stored as a JSON object; its
fields mirror the mixer's practice paths (``docs/practice.md``), so loading a preset is one
``control`` op of :meth:`PracticeSettings.mixer_values`. A preset is named by its name or its
id (``ref``); names are unique per track.

    async with repo.transaction(NAMES.repo) as conn:
        preset = await create_preset(conn, user_id, track_id, "solo slow",
                                     PracticeSettings(rate=0.7, loop=PracticeLoop(61_000, 79_500)))
        await mixers.control(user_id, f"track:{track_id}", preset.settings.mixer_values())
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Final

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import msgspec

from soundforge.errors import SoundForgeError
from soundforge.music.library import get_owned_track

__all__ = [
    "PracticeLoop",
    "PracticePreset",
    "PracticeSettings",
    "PresetConflict",
    "PresetName",
    "PresetNameInvalid",
    "PresetNotFound",
    "TrainerSettings",
    "create_preset",
    "delete_preset",
    "get_preset",
    "list_presets",
    "put_preset",
    "update_preset",
]


class PresetNotFound(SoundForgeError):
    status = 404
    exit_code = 66  # EX_NOINPUT


class PresetConflict(SoundForgeError):
    """Another preset of the track has that name already."""

    status = 409
    exit_code = 75  # EX_TEMPFAIL


class PresetNameInvalid(SoundForgeError):
    status = 422
    exit_code = 2


#: A preset's name (the table allows 1–100 characters; NUL cannot be stored). Surrounding
#: spaces are dropped when it is stored, and a name of spaces only is refused.
PresetName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern="^[^\x00]*$")]

#: Positions in the song, in milliseconds (a day is more than any track).
Millis = Annotated[int, msgspec.Meta(ge=0, le=86_400_000)]


class PracticeLoop(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The A–B loop: ``a_ms`` < ``b_ms``."""

    a_ms: Millis
    b_ms: Millis

    def __post_init__(self) -> None:
        if self.b_ms <= self.a_ms:
            raise ValueError("the loop's end (b_ms) must come after its start (a_ms)")


class TrainerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The step-up trainer: every ``every`` loop passes, ``rate`` rises by ``step`` until
    it reaches ``target``."""

    enabled: bool = False
    step: Annotated[float, msgspec.Meta(ge=0.01, le=0.25)] = 0.05
    target: Annotated[float, msgspec.Meta(ge=0.25, le=2.0)] = 1.0
    every: Annotated[int, msgspec.Meta(ge=1, le=16)] = 2


class PracticeSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a preset remembers. Defaults are the player's neutral state."""

    #: The A–B loop, or none (no loop).
    loop: PracticeLoop | None = None
    #: Beats of count-in before playback starts from A (0: none).
    count_in: Annotated[int, msgspec.Meta(ge=0, le=8)] = 0
    #: Tempo factor (pitch kept).
    rate: Annotated[float, msgspec.Meta(ge=0.25, le=2.0)] = 1.0
    #: Pitch shift in semitones (tempo kept).
    pitch: Annotated[float, msgspec.Meta(ge=-12.0, le=12.0)] = 0.0
    trainer: TrainerSettings = TrainerSettings()

    def mixer_values(self) -> dict[str, Any]:
        """The settings as the track mixer's control paths (``studio_spec``), for one
        ``control`` op. Without a loop, only ``loop.enabled`` is switched off (the mixer
        keeps its last A and B)."""
        values: dict[str, Any] = {
            "rate": self.rate,
            "pitch": self.pitch,
            "practice.count_in": self.count_in,
            "practice.trainer.enabled": self.trainer.enabled,
            "practice.trainer.step": self.trainer.step,
            "practice.trainer.target": self.trainer.target,
            "practice.trainer.every": self.trainer.every,
        }
        if self.loop is None:
            values["loop.enabled"] = False
        else:
            values.update(
                {"loop.a_ms": self.loop.a_ms, "loop.b_ms": self.loop.b_ms, "loop.enabled": True}
            )
        return values


class PracticePreset(msgspec.Struct, frozen=True):
    id: str
    track_id: str
    name: str
    settings: PracticeSettings
    created_at: datetime
    updated_at: datetime


_COLUMNS: Final = "p.id::text, p.track_id::text, p.name, p.settings, p.created_at, p.updated_at"
#: The presets of one track of one user: $1 the track, $2 the user.
_OWNED: Final = """practice_presets p JOIN tracks t ON t.id = p.track_id
    WHERE p.track_id = $1::uuid AND t.user_id = $2::uuid"""
_ENCODER: Final = msgspec.json.Encoder()


def _preset(row: Any) -> PracticePreset:
    settings = row["settings"]
    if isinstance(settings, str):  # asyncpg hands jsonb over as text unless a codec is set
        settings = msgspec.json.decode(settings)
    return PracticePreset(
        id=row["id"],
        track_id=row["track_id"],
        name=row["name"],
        settings=msgspec.convert(settings, PracticeSettings),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _ref_clause(ref: str) -> tuple[str, str | None]:
    """``(condition on $1 the track, $3 the ref [, $4 its UUID], id or None)``: a ref shaped
    like a UUID names that preset's id, or else a preset of that name (never both)."""
    try:
        id_ = str(uuid.UUID(ref))
    except ValueError:
        return "p.name = $3", None
    by_id = "SELECT 1 FROM practice_presets q WHERE q.id = $4::uuid AND q.track_id = $1::uuid"
    return f"(p.id = $4::uuid OR (p.name = $3 AND NOT EXISTS ({by_id})))", id_


async def list_presets(conn: Any, user_id: str, track_id: str) -> list[PracticePreset]:
    """The track's presets by name (case-insensitive); TrackNotFound if it is not the user's."""
    track = await get_owned_track(conn, user_id, track_id)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM {_OWNED} ORDER BY lower(p.name), p.name", track.id, user_id
    )
    return [_preset(row) for row in rows]


async def get_preset(conn: Any, user_id: str, track_id: str, ref: str) -> PracticePreset:
    """One preset by name or id."""
    track = await get_owned_track(conn, user_id, track_id)
    row = await _find(conn, user_id, track.id, ref)
    if row is None:
        raise PresetNotFound(f"this track has no practice preset {ref[:100]!r}")
    return _preset(row)


async def create_preset(
    conn: Any, user_id: str, track_id: str, name: str, settings: PracticeSettings
) -> PracticePreset:
    """A new preset; PresetConflict if the track has one of that name already."""
    track = await get_owned_track(conn, user_id, track_id)
    name = _clean(name)
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO practice_presets AS p (track_id, name, settings)
                VALUES ($1::uuid, $2, $3::jsonb) RETURNING {_COLUMNS}""",
            track.id,
            name,
            _ENCODER.encode(settings).decode(),
        )
    except asyncpg.UniqueViolationError:
        raise PresetConflict(
            f"this track already has a preset called {name!r}; choose another name or save over it"
        ) from None
    return _preset(row)


async def update_preset(
    conn: Any,
    user_id: str,
    track_id: str,
    ref: str,
    *,
    name: str | None = None,
    settings: PracticeSettings | None = None,
) -> PracticePreset:
    """Rename a preset and/or replace its settings; what is None stays."""
    track = await get_owned_track(conn, user_id, track_id)
    condition, id_ = _ref_clause(ref)
    new_name = None if name is None else _clean(name)
    new_settings = None if settings is None else _ENCODER.encode(settings).decode()
    args: list[Any] = [track.id, user_id, ref, *([id_] if id_ else [])]
    offset = len(args)
    try:
        row = await conn.fetchrow(
            f"""UPDATE practice_presets AS p
                SET name = coalesce(${offset + 1}::text, p.name),
                    settings = coalesce(${offset + 2}::jsonb, p.settings)
                FROM tracks t
                WHERE t.id = p.track_id AND p.track_id = $1::uuid AND t.user_id = $2::uuid
                  AND {condition}
                RETURNING {_COLUMNS}""",
            *args,
            new_name,
            new_settings,
        )
    except asyncpg.UniqueViolationError:
        raise PresetConflict(
            f"this track already has a preset called {new_name!r}; choose another name"
        ) from None
    if row is None:
        raise PresetNotFound(f"this track has no practice preset {ref[:100]!r}")
    return _preset(row)


async def put_preset(
    conn: Any, user_id: str, track_id: str, ref: str, settings: PracticeSettings
) -> tuple[PracticePreset, bool]:
    """Save ``settings`` under ``ref``: over the preset it names, or as a new preset named
    ``ref`` when there is none (an id that matches nothing is PresetNotFound). Returns the
    preset and whether it was created."""
    try:
        return await update_preset(conn, user_id, track_id, ref, settings=settings), False
    except PresetNotFound:
        if _ref_clause(ref)[1] is not None:
            raise
    return await create_preset(conn, user_id, track_id, ref, settings), True


async def delete_preset(conn: Any, user_id: str, track_id: str, ref: str) -> None:
    """Forget a preset; PresetNotFound when there is none by that name or id."""
    track = await get_owned_track(conn, user_id, track_id)
    condition, id_ = _ref_clause(ref)
    deleted = await conn.fetchval(
        f"""DELETE FROM practice_presets AS p USING tracks t
            WHERE t.id = p.track_id AND p.track_id = $1::uuid AND t.user_id = $2::uuid
              AND {condition}
            RETURNING p.id::text""",
        track.id,
        user_id,
        ref,
        *([id_] if id_ else []),
    )
    if deleted is None:
        raise PresetNotFound(f"this track has no practice preset {ref[:100]!r}")


async def _find(conn: Any, user_id: str, track_id: str, ref: str) -> Any:
    condition, id_ = _ref_clause(ref)
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM {_OWNED} AND {condition}",
        track_id,
        user_id,
        ref,
        *([id_] if id_ else []),
    )


def _clean(name: str) -> str:
    """A name as stored: without surrounding spaces, 1–100 characters, no NUL."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 100 or "\x00" in cleaned:
        raise PresetNameInvalid("a preset's name must be 1 to 100 characters, not only spaces")
    return cleaned
