"""The studio's SQL: mixer sessions' saved values, what a session knows of its tracks, hot cues.

Ownership is checked in SQL like everywhere else (``music.library``): another user's track
is the same "not found" as a missing one.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from soundforge.music.library import AnalysisNotFound, TrackDetail, analysis_document, track_detail
from soundforge.music.tracks import TrackNotFound
from soundforge.studio.controls import HOT_CUES, SessionNotFound

__all__ = [
    "SavedSession",
    "clear_hot_cue",
    "hot_cues",
    "load_session",
    "save_session",
    "set_hot_cue",
    "track_info",
]

#: The order the track page shows stems in; others follow by name.
STEM_ORDER: Final = ("vocals", "drums", "bass", "other", "guitar", "piano")
#: Hot cues seeded from the analysis' sections sit at least this far apart.
_MIN_CUE_GAP_MS: Final = 1000

_json = msgspec.json.Encoder()


class SavedSession(msgspec.Struct, frozen=True):
    values: dict[str, Any]
    version: int
    #: Seconds since it was last saved.
    age_s: float


async def load_session(conn: Any, user_id: str, key: str) -> SavedSession | None:
    row = await conn.fetchrow(
        """SELECT "values"::text AS v, version,
                  extract(epoch FROM now() - updated_at)::float8 AS age
             FROM mixer_sessions WHERE user_id = $1::uuid AND key = $2""",
        user_id,
        key,
    )
    if row is None:
        return None
    return SavedSession(msgspec.json.decode(row["v"]), row["version"], row["age"])


async def save_session(
    conn: Any, user_id: str, key: str, values: dict[str, Any], version: int
) -> None:
    track_id = key.removeprefix("track:") if key.startswith("track:") else None
    await conn.execute(
        """INSERT INTO mixer_sessions (user_id, key, track_id, "values", version)
           SELECT $1::uuid, $2, $3::uuid, $4::jsonb, $5
            WHERE $3::uuid IS NULL OR EXISTS (SELECT 1 FROM tracks WHERE id = $3::uuid)
           ON CONFLICT (user_id, key) DO UPDATE
              SET "values" = EXCLUDED."values", version = EXCLUDED.version, updated_at = now()""",
        user_id,
        key,
        track_id,
        _json.encode(values).decode(),
        version,
    )


async def track_info(conn: Any, user_id: str, track_id: str) -> dict[str, Any]:
    """What a session shows of a track: title, duration, BPM, bar length and stems.

    Raises :class:`SessionNotFound` when the user has no such track.
    """
    try:
        detail = await track_detail(conn, user_id, track_id)
    except TrackNotFound:
        raise SessionNotFound(f"You have no track {track_id}.") from None
    document = await _analysis(conn, user_id, track_id) if detail.analysis else None
    rhythm = (document or {}).get("rhythm") or {}
    signature = rhythm.get("time_signature") or {}
    stems = _stems(detail)
    return {
        "track_id": detail.id,
        "title": detail.title,
        "duration_ms": detail.duration_ms
        or (detail.analysis.duration_ms if detail.analysis else None),
        "bpm": detail.analysis.tempo_bpm if detail.analysis else None,
        "beats_per_bar": signature.get("beats_per_bar") or 4,
        "stems": [s["name"] for s in stems],
        "stem_urls": stems,
    }


async def hot_cues(conn: Any, user_id: str, track_id: str) -> dict[int, int | None]:
    """The track's hot cues 1–8; seeded from the analysis' sections when it has none yet."""
    rows = await conn.fetch(
        """SELECT c.hot_index, c.position_ms FROM cue_points c JOIN tracks t ON t.id = c.track_id
            WHERE c.track_id = $1::uuid AND t.user_id = $2::uuid AND c.kind = 'hot'""",
        track_id,
        user_id,
    )
    if not rows:
        await _seed_hot_cues(conn, user_id, track_id)
        rows = await conn.fetch(
            "SELECT hot_index, position_ms FROM cue_points WHERE track_id = $1::uuid"
            " AND kind = 'hot'",
            track_id,
        )
    cues: dict[int, int | None] = dict.fromkeys(HOT_CUES)
    for row in rows:
        if row["hot_index"] + 1 in cues:
            cues[row["hot_index"] + 1] = row["position_ms"]
    return cues


async def set_hot_cue(conn: Any, track_id: str, number: int, position_ms: int) -> None:
    await conn.execute(
        """INSERT INTO cue_points (track_id, kind, hot_index, position_ms, source)
           VALUES ($1::uuid, 'hot', $2, $3, 'user')
           ON CONFLICT (track_id, hot_index) DO UPDATE
              SET position_ms = EXCLUDED.position_ms, source = 'user', label = NULL""",
        track_id,
        number - 1,
        position_ms,
    )


async def clear_hot_cue(conn: Any, track_id: str, number: int) -> None:
    await conn.execute(
        "DELETE FROM cue_points WHERE track_id = $1::uuid AND hot_index = $2",
        track_id,
        number - 1,
    )


async def _seed_hot_cues(conn: Any, user_id: str, track_id: str) -> None:
    """Hot cues at the starts of the analysed sections (intro, verse, drop...), at most 8."""
    document = await _analysis(conn, user_id, track_id)
    if document is None:
        return
    starts: list[tuple[int, str | None]] = []
    for segment in document.get("structure") or []:
        start = int(segment.get("start_ms", 0))
        if not starts or start - starts[-1][0] >= _MIN_CUE_GAP_MS:
            starts.append((start, segment.get("label")))
    await conn.executemany(
        """INSERT INTO cue_points (track_id, kind, hot_index, position_ms, label, source)
           VALUES ($1::uuid, 'hot', $2, $3, $4, 'analysis') ON CONFLICT DO NOTHING""",
        [(track_id, i, start, label) for i, (start, label) in enumerate(starts[: len(HOT_CUES)])],
    )


async def _analysis(conn: Any, user_id: str, track_id: str) -> dict[str, Any] | None:
    try:
        return await analysis_document(conn, user_id, track_id)
    except AnalysisNotFound:
        return None


def _stems(detail: TrackDetail) -> list[dict[str, str]]:
    """The newest separation's stems (each stem's original, not its DAW renders), with URLs."""
    if not detail.separations:
        return []
    first: dict[str, Any] = {}
    for stem in detail.separations[0].stems:
        if stem.stem not in first or stem.version < first[stem.stem].version:
            first[stem.stem] = stem
    rank = {name: i for i, name in enumerate(STEM_ORDER)}
    ordered = sorted(first.values(), key=lambda s: (rank.get(s.stem, len(rank)), s.stem))
    return [{"name": s.stem, "url": f"/api/v1/stems/{s.id}/audio"} for s in ordered]
