"""A library to query: two users on a fresh migrated database, and helpers that build tracks
with jobs, stems and analyses through the product's own functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from soundforge.accounts import create_user
from soundforge.jobs.pipeline import Analyze, Download, Separate
from soundforge.music import tracks
from soundforge.queue import JobRecord, Worker, insert

STAGE_WORKERS: dict[str, type[Worker]] = {
    "download": Download,
    "separate": Separate,
    "analyze": Analyze,
}


class Users(msgspec.Struct, frozen=True):
    alice: str
    bob: str


class Stem(msgspec.Struct, frozen=True):
    """What tracks.record_stems reads of a separator's stem file."""

    name: str
    format: str
    path: str
    size_bytes: int | None = None
    sample_rate: int | None = 44100
    channels: int | None = 2
    bit_depth: int | None = 16
    duration_ms: int | None = 1000


@pytest.fixture
async def users(db_pool: Any) -> Users:
    alice = await create_user(db_pool, "alice@example.com", "correct horse battery")
    bob = await create_user(db_pool, "bob@example.com", "correct horse battery")
    return Users(alice.id, bob.id)


async def add_track(
    pool: Any,
    user_id: str,
    title: str,
    *,
    artists: list[str] | None = None,
    album: str | None = None,
    duration_ms: int | None = None,
    status: str | None = None,
    error: str | None = None,
) -> str:
    track_id = await tracks.create_track(
        pool,
        tracks.NewTrack(
            user_id=user_id,
            source_kind="upload",
            title=title,
            source_name=f"{title}.wav",
            artists=artists or [],
            album=album,
            duration_ms=duration_ms,
        ),
    )
    if status is not None:
        await tracks.set_status(pool, track_id, status, error)
    return track_id


async def downloaded(pool: Any, track_id: str) -> None:
    """The track's audio arrived (its row says so; no file is needed for the queries)."""
    await tracks.record_download(
        pool,
        track_id,
        original_path=f"tracks/{track_id}/source.wav",
        original_size=1000,
        content_hash=track_id.replace("-", "").ljust(64, "0"),
        duration_ms=1000,
    )


async def analysed(
    pool: Any,
    track_id: str,
    *,
    tempo: float | None = 120.0,
    key: str | None = "A minor",
    camelot: str | None = "8A",
    loudness: float | None = -9.0,
    result: dict[str, Any] | None = None,
) -> None:
    await tracks.record_analysis(
        pool,
        track_id,
        version=1,
        result_json=msgspec.json.encode(result or {"version": 1, "tempo": tempo}),
        options={},
        tempo=tempo,
        key=key,
        camelot=camelot,
        loudness_lufs=loudness,
        duration_ms=1000,
    )


async def separated(
    pool: Any,
    track_id: str,
    data_dir: Path | None = None,
    *,
    engine: str = "demucs",
    model: str = "htdemucs",
    names: tuple[str, ...] = ("vocals", "drums", "bass", "other"),
) -> dict[str, bytes]:
    """Stem rows (and files under ``data_dir`` when given); returns each stem's bytes."""
    stems = []
    contents: dict[str, bytes] = {}
    for index, name in enumerate(names):
        relative = f"tracks/{track_id}/stems/{model}/{name}.wav"
        data = bytes([index]) * 1000 + name.encode()
        contents[name] = data
        if data_dir is not None:
            path = data_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        stems.append(Stem(name, "wav", relative, size_bytes=len(data)))
    await tracks.record_stems(pool, track_id, engine, model, stems, {"model": model})
    return contents


async def add_job(
    pool: Any,
    track_id: str,
    stage: str,
    state: str = "available",
    *,
    progress: float | None = None,
    label: str | None = None,
    errors: list[str] | None = None,
    attempt: int | None = None,
) -> JobRecord:
    """A stage's job inserted through the queue, then put in ``state`` as the queue would."""
    args: dict[str, Any] = {"track_id": track_id}
    if stage == "download":
        args["request"] = {}
    job = await insert(pool, STAGE_WORKERS[stage], args, unique=None)
    failures = [
        {"attempt": n + 1, "kind": "exception", "message": m, "at": "2024-01-01T00:00:00Z"}
        for n, m in enumerate(errors or [])
    ]
    meta = {} if progress is None else {"progress": progress, "label": label}
    await pool.execute(
        """UPDATE jobs SET state = $2, meta = $3::jsonb, errors = $4::jsonb, attempt = $5,
               attempted_at = CASE WHEN $2 <> 'available' THEN now() END,
               completed_at = CASE WHEN $2 = 'completed' THEN now() END,
               cancelled_at = CASE WHEN $2 = 'cancelled' THEN now() END,
               discarded_at = CASE WHEN $2 = 'discarded' THEN now() END
           WHERE id = $1""",
        job.id,
        state,
        msgspec.json.encode(meta).decode(),
        msgspec.json.encode(failures).decode(),
        attempt if attempt is not None else (0 if state == "available" else max(1, len(failures))),
    )
    return job


async def job_state(pool: Any, job_id: int) -> str:
    return str(await pool.fetchval("SELECT state FROM jobs WHERE id = $1", job_id))


async def track_status(pool: Any, track_id: str) -> tuple[str, str | None]:
    row = await pool.fetchrow("SELECT status, error FROM tracks WHERE id = $1::uuid", track_id)
    return row["status"], row["error"]
