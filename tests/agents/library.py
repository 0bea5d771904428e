"""Library rows for the agent tests, without the pipeline: users, and tracks with a full
analysis document (docs/analysis.md's shape, numbers a real 124 BPM A-minor house track
would have), stems and cue points."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from soundforge.accounts import create_user
from soundforge.audio.separation.options import StemFile
from soundforge.music import tracks

BAR_MS = 1935  # 4 beats at 124 BPM
DURATION_MS = 240_000

STRUCTURE = [
    ("intro", 0, 30_960, 0.4, 0),
    ("build-up", 30_960, 46_440, 0.62, 1),
    ("drop", 46_440, 108_360, 1.0, 2),
    ("breakdown", 108_360, 139_320, 0.35, 3),
    ("drop", 139_320, 201_240, 0.98, 2),
    ("outro", 201_240, DURATION_MS, 0.3, 0),
]


def document(
    *,
    tempo: float = 124.0,
    key: str = "A minor",
    camelot: str = "8A",
    level_db: float = -14.2,
    duration_ms: int = DURATION_MS,
) -> dict[str, Any]:
    curve = [0.05 + 0.01 * (i % 40) for i in range(duration_ms // 500)]
    return {
        "version": 1,
        "duration_ms": duration_ms,
        "sample_rate": 44100,
        "channels": 2,
        "tempo": tempo,
        "key": key,
        "camelot": camelot,
        "loudness_lufs": -8.1,
        "rhythm": {
            "confidence": 0.91,
            "half_bpm": tempo / 2,
            "double_bpm": tempo * 2,
            "candidates": [{"bpm": tempo, "strength": 1.0}],
            "beat_jitter_ms": 3.2,
            "time_signature": {"beats_per_bar": 4, "beat_unit": 4, "confidence": 0.8},
            "beats_ms": [480 + i * 484 for i in range(400)],
            "downbeats_ms": [480 + i * BAR_MS for i in range(120)],
            "bars": [],
        },
        "tonality": {
            "tonic": key.split()[0],
            "mode": key.split()[1],
            "confidence": 0.78,
            "margin": 0.12,
            "tuning_cents": -3.0,
            "profile": "temperley+krumhansl+edma",
            "candidates": [
                {"key": key, "camelot": camelot, "score": 0.78},
                {"key": "C major", "camelot": "8B", "score": 0.7},
                {"key": "E minor", "camelot": "9A", "score": 0.6},
            ],
        },
        "chords": [
            {"start_ms": i * BAR_MS, "end_ms": (i + 1) * BAR_MS, "label": label}
            for i, label in enumerate(["Am", "F", "C", "G"] * 30)
        ],
        "loudness": {"range_lu": 5.2, "true_peak_dbtp": -0.8},
        "energy": {
            "rms": {"mean": 0.2, "std": 0.05, "min": 0.0, "max": 0.5},
            "rms_db": {"mean": level_db, "std": 3.0, "min": -60.0, "max": -4.0},
            "curve": {"hop_ms": 500, "values": curve},
        },
        "structure": [
            {
                "start_ms": s,
                "end_ms": min(e, duration_ms),
                "label": label,
                "group": g,
                "energy": en,
                "confidence": 0.7,
            }
            for label, s, e, en, g in STRUCTURE
            if s < duration_ms
        ],
        "loops": [
            {
                "start_ms": 46_440,
                "end_ms": 46_440 + 8 * BAR_MS,
                "start_bar": 24,
                "bars": 8,
                "beats": 32,
                "score": 0.93,
                "repetition": 0.9,
                "seam": 0.95,
                "energy": 1.0,
                "section": "drop",
            }
        ],
        "markers": [
            {"kind": "build-up", "position_ms": 30_960, "end_ms": 46_440, "intensity": 0.6,
             "detail": "rising for 8 bars"},
            {"kind": "drop", "position_ms": 46_440, "end_ms": 108_360, "intensity": 0.9,
             "detail": "level jumps 9.5 dB"},
            {"kind": "breakdown", "position_ms": 108_360, "end_ms": 139_320, "intensity": 0.5,
             "detail": "level falls 8.0 dB"},
        ],
    }  # fmt: skip


async def user(conn: Any, name: str = "dj") -> str:
    created = await create_user(
        conn, f"{name}-{uuid.uuid4().hex[:8]}@example.com", "long password 1"
    )
    return created.id


async def track(
    conn: Any,
    user_id: str,
    title: str = "Night Drive",
    *,
    artists: tuple[str, ...] = ("Kavinsky",),
    analysed: bool = True,
    stems: tuple[str, ...] = ("vocals", "drums", "bass", "other"),
    **analysis: Any,
) -> str:
    """A track with the analysis ``document(**analysis)`` and separated stems (rows only)."""
    track_id = await tracks.create_track(
        conn,
        tracks.NewTrack(user_id=user_id, source_kind="upload", title=title, artists=list(artists)),
    )
    duration = analysis.get("duration_ms", DURATION_MS)
    await tracks.record_download(
        conn,
        track_id,
        original_path=f"tracks/{track_id}/source.wav",
        original_size=1000,
        content_hash=uuid.uuid4().hex * 2,
        duration_ms=duration,
    )
    if stems:
        files = [
            StemFile(
                name=stem,
                path=f"tracks/{track_id}/stems/htdemucs/{stem}.wav",
                filename=f"{stem}.wav",
                format="wav",
                sample_rate=44100,
                channels=2,
                bit_depth=16,
                duration_ms=duration,
                size_bytes=1000,
            )
            for stem in stems
        ]
        await tracks.record_stems(conn, track_id, "demucs", "htdemucs", files, {})
    if analysed:
        doc = document(**analysis)
        await tracks.record_analysis(
            conn,
            track_id,
            version=1,
            result_json=msgspec.json.encode(doc),
            options={},
            tempo=doc["tempo"],
            key=doc["key"],
            camelot=doc["camelot"],
            loudness_lufs=doc["loudness_lufs"],
            duration_ms=duration,
        )
    return track_id


async def hot_cue(conn: Any, track_id: str, index: int, position_ms: int) -> None:
    await conn.execute(
        """INSERT INTO cue_points (track_id, kind, hot_index, position_ms, label)
           VALUES ($1::uuid, 'hot', $2, $3, 'mine')""",
        track_id,
        index,
        position_ms,
    )
