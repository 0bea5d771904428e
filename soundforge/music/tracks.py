"""Tracks: creating imports, recording each stage's results, statuses and duplicates.

Each function takes an asyncpg connection or pool; those that write several rows expect the
caller's transaction (a stage's results and the next stage's job commit together, see
``soundforge.jobs.pipeline``). Paths stored are relative to the data directory
(``tracks/<id>/source.mp3``), as the schema requires.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from soundforge.errors import SoundForgeError

__all__ = [
    "NewTrack",
    "StemRow",
    "Track",
    "TrackNotFound",
    "create_track",
    "delete_track",
    "find_duplicate",
    "get_track",
    "record_analysis",
    "record_download",
    "record_stems",
    "set_status",
    "stems_of",
]

_TRACK_COLUMNS: Final = """id::text, user_id::text, source_kind, source_url, source_name,
    spotify_id, encode(content_hash, 'hex') AS content_hash, title, artists, album, artwork_url,
    duration_ms, original_path, original_size, status, error"""


class TrackNotFound(SoundForgeError):
    status = 404
    exit_code = 66  # EX_NOINPUT


class NewTrack(msgspec.Struct, frozen=True, kw_only=True):
    """What an import knows before any audio arrived."""

    user_id: str
    source_kind: str  # spotify, youtube, url, upload, local
    title: str
    source_url: str | None = None
    source_name: str | None = None
    spotify_id: str | None = None
    isrc: str | None = None
    content_hash: str | None = None
    artists: list[str] = msgspec.field(default_factory=list)
    album: str | None = None
    artwork_url: str | None = None
    duration_ms: int | None = None


class Track(msgspec.Struct, frozen=True):
    id: str
    user_id: str
    source_kind: str
    source_url: str | None
    source_name: str | None
    spotify_id: str | None
    content_hash: str | None
    title: str
    artists: list[str]
    album: str | None
    artwork_url: str | None
    duration_ms: int | None
    original_path: str | None
    original_size: int | None
    status: str
    error: str | None


class StemRow(msgspec.Struct, frozen=True):
    id: str
    engine: str
    model: str
    stem: str
    format: str
    path: str
    size_bytes: int | None
    sample_rate: int | None
    channels: int | None
    bit_depth: int | None
    duration_ms: int | None


def _track(row: Any) -> Track:
    return msgspec.convert(dict(row), Track)


def _hash(value: str | None) -> bytes | None:
    return bytes.fromhex(value) if value else None


async def create_track(conn: Any, track: NewTrack) -> str:
    """Insert a pending track; returns its id."""
    track_id = await conn.fetchval(
        """INSERT INTO tracks (user_id, source_kind, source_url, source_name, spotify_id, isrc,
               content_hash, title, artists, album, artwork_url, duration_ms)
           VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           RETURNING id::text""",
        track.user_id,
        track.source_kind,
        track.source_url,
        track.source_name,
        track.spotify_id,
        track.isrc,
        _hash(track.content_hash),
        track.title[:500] or "Untitled",
        track.artists,
        track.album[:500] if track.album else None,
        track.artwork_url,
        track.duration_ms,
    )
    return str(track_id)


async def find_duplicate(
    conn: Any,
    user_id: str,
    *,
    spotify_id: str | None = None,
    content_hash: str | None = None,
    excluding: str | None = None,
) -> tuple[str, str] | None:
    """``(existing_track_id, reason)`` when the user already has this track, else None."""
    row = await conn.fetchrow(
        """SELECT id::text,
                  CASE WHEN $2::text IS NOT NULL AND spotify_id = $2 THEN 'spotify_id'
                       ELSE 'content' END AS reason
           FROM tracks
           WHERE user_id = $1::uuid AND id IS DISTINCT FROM $4::uuid
             AND ((spotify_id = $2 AND $2 IS NOT NULL)
                  OR (content_hash = $3 AND $3 IS NOT NULL))
           ORDER BY created_at LIMIT 1""",
        user_id,
        spotify_id,
        _hash(content_hash),
        excluding,
    )
    return (row["id"], row["reason"]) if row else None


async def get_track(conn: Any, track_id: str) -> Track:
    row = await conn.fetchrow(
        f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE id = $1::uuid", _uuid(track_id)
    )
    if row is None:
        raise TrackNotFound(f"there is no track {track_id}; it may have been deleted")
    return _track(row)


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise TrackNotFound(f"{value!r} is not a track id (ids look like a UUID)") from None


async def set_status(conn: Any, track_id: str, status: str, error: str | None = None) -> None:
    await conn.execute(
        "UPDATE tracks SET status = $2, error = $3 WHERE id = $1::uuid",
        track_id,
        status,
        error if status == "failed" else None,
    )


async def record_download(
    conn: Any,
    track_id: str,
    *,
    original_path: str,
    original_size: int,
    content_hash: str,
    duration_ms: int,
    title: str | None = None,
    artists: Sequence[str] | None = None,
    album: str | None = None,
    source_name: str | None = None,
) -> None:
    """The audio arrived: keep its file, hash and length; fill metadata the import lacked."""
    await conn.execute(
        """UPDATE tracks SET original_path = $2, original_size = $3, content_hash = $4,
               duration_ms = $5, title = coalesce($6, title),
               artists = CASE WHEN cardinality(artists) = 0 THEN coalesce($7, artists)
                              ELSE artists END,
               album = coalesce(album, $8), source_name = coalesce(source_name, $9),
               status = 'separating', error = NULL
           WHERE id = $1::uuid""",
        track_id,
        original_path,
        original_size,
        _hash(content_hash),
        duration_ms,
        title[:500] if title else None,
        list(artists) if artists else None,
        album[:500] if album else None,
        source_name[:255] if source_name else None,
    )


async def record_stems(
    conn: Any, track_id: str, engine: str, model: str, stems: Sequence[Any], options: Any
) -> None:
    """Upsert one row per stem file of a separation (same engine/model replaces in place)."""
    for stem in stems:
        await conn.execute(
            """INSERT INTO stems (track_id, engine, model, stem, format, path, size_bytes,
                   sample_rate, channels, bit_depth, duration_ms, options)
               VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
               ON CONFLICT (track_id, engine, model, stem, version) DO UPDATE SET
                   format = excluded.format, path = excluded.path,
                   size_bytes = excluded.size_bytes, sample_rate = excluded.sample_rate,
                   channels = excluded.channels, bit_depth = excluded.bit_depth,
                   duration_ms = excluded.duration_ms, options = excluded.options,
                   created_at = now()""",
            track_id,
            engine,
            model,
            stem.name,
            stem.format,
            stem.path,
            stem.size_bytes,
            stem.sample_rate,
            stem.channels,
            stem.bit_depth if stem.format != "mp3" else None,
            stem.duration_ms,
            msgspec.json.encode(options).decode(),
        )
    await conn.execute(
        "UPDATE tracks SET status = 'analysing', error = NULL WHERE id = $1::uuid", track_id
    )


async def stems_of(conn: Any, track_id: str) -> list[StemRow]:
    rows = await conn.fetch(
        """SELECT id::text, engine, model, stem, format, path, size_bytes, sample_rate,
                  channels, bit_depth, duration_ms
           FROM stems WHERE track_id = $1::uuid AND version = 1
           ORDER BY created_at DESC, stem""",
        track_id,
    )
    return [msgspec.convert(dict(r), StemRow) for r in rows]


async def record_analysis(
    conn: Any,
    track_id: str,
    *,
    version: int,
    result_json: bytes,
    options: Any,
    tempo: float | None,
    key: str | None,
    camelot: str | None,
    loudness_lufs: float | None,
    duration_ms: int | None,
) -> None:
    """Insert the analysis (it becomes current) and mark the track ready."""
    await conn.execute(
        """INSERT INTO analyses (track_id, user_id, version, result, options, tempo_bpm, key,
               camelot, loudness_lufs, duration_ms)
           SELECT id, user_id, $2, $3::jsonb, $4::jsonb, $5, $6, $7, $8, $9
           FROM tracks WHERE id = $1::uuid""",
        track_id,
        version,
        result_json.decode(),
        msgspec.json.encode(options).decode(),
        tempo,
        key,
        camelot,
        loudness_lufs,
        duration_ms,
    )
    await conn.execute(
        "UPDATE tracks SET status = 'ready', error = NULL WHERE id = $1::uuid", track_id
    )


async def delete_track(conn: Any, track_id: str) -> bool:
    status = await conn.execute("DELETE FROM tracks WHERE id = $1::uuid", track_id)
    return bool(status == "DELETE 1")
