"""The pipeline end to end on a real node: a file goes in, stems and an analysis come out.

Everything is real: PostgreSQL, the queue, the port programs (downloader, separator with
the embedded engine, analyzer), the files under the data directory and the PubSub events.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psutil
import pytest

from soundforge.accounts import update_preferences
from soundforge.actors import port_pool, repo
from soundforge.audio.errors import UnsupportedSource
from soundforge.music import tracks
from soundforge.music.events import (
    DuplicateFound,
    StageChanged,
    StageProgress,
    StageState,
    TrackStatusChanged,
    track_topic,
    user_topic,
)
from soundforge.music.imports import import_source
from soundforge.queue import list_jobs, retry_job
from soundforge.runtime import pubsub
from soundforge.runtime.process import receive
from soundforge.supervisors.root import NAMES
from tests.jobs.conftest import Studio, write_noise, write_song

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def follow(studio: Studio, track_id: str, timeout: float = 180.0) -> list[Any]:
    """Events of ``track_id`` until it is ready, failed or a duplicate (bounded)."""
    events: list[Any] = []
    async with asyncio.timeout(timeout):
        while True:
            event = await receive()
            events.append(event)
            match event:
                case TrackStatusChanged(track_id=tid, status="ready" | "failed") if tid == track_id:
                    return events
                case DuplicateFound(track_id=tid) if tid == track_id:
                    return events


async def settled_job(studio: Studio, worker: str, timeout: float = 10.0) -> Any:
    """The stage's job once the producer recorded its outcome (not executing any more)."""
    async with asyncio.timeout(timeout):
        while True:
            (job,) = await list_jobs(repo.pool(NAMES.repo), worker=worker, limit=1)
            if job.state != "executing":
                return job
            await asyncio.sleep(0.05)


async def import_one(studio: Studio, source: str) -> str:
    outcome = await import_source(studio.context, studio.user_id, source, allow_paths=True)
    (track_id,) = outcome.created
    pubsub.subscribe(studio.context.pubsub, track_topic(track_id))
    return track_id


async def test_a_file_becomes_stems_and_an_analysis(studio: Studio, tmp_path: Path) -> None:
    song = write_song(tmp_path / "Night Drive.wav", seconds=10.0, bpm=120.0)
    pubsub.subscribe(studio.context.pubsub, user_topic(studio.user_id))
    track_id = await import_one(studio, str(song))
    events = await follow(studio, track_id)

    pool = repo.pool(NAMES.repo)
    track = await tracks.get_track(pool, track_id)
    assert track.status == "ready", (track, events[-3:])
    assert track.source_kind == "local" and track.source_name == "Night Drive.wav"
    assert track.title == "Night Drive" and track.duration_ms == 10_000
    assert (studio.data_dir / track.original_path).read_bytes() == song.read_bytes()

    stems = await tracks.stems_of(pool, track_id)
    assert {s.stem for s in stems} == {"vocals", "drums", "bass", "other"}
    for stem in stems:
        assert stem.engine == "default" and stem.path.startswith(f"tracks/{track_id}/stems/")
        assert (studio.data_dir / stem.path).stat().st_size == stem.size_bytes
        assert stem.duration_ms == 10_000

    row = await pool.fetchrow(
        "SELECT tempo_bpm, key, camelot, result FROM analyses WHERE track_id = $1 AND is_current",
        track_id,
    )
    assert any(abs(row["tempo_bpm"] * m - 120.0) < 120.0 * 0.04 for m in (0.5, 1.0, 2.0))
    assert row["key"] and row["camelot"]
    assert (studio.data_dir / "tracks" / track_id / "analysis.json").is_file()

    # Every stage started and completed, in order, with progress in between.
    changes = [(e.stage, e.state) for e in events if isinstance(e, StageChanged)]
    assert changes == [
        (stage, state)
        for stage in ("download", "separate", "analyze")
        for state in (StageState.STARTED, StageState.COMPLETED)
    ]
    for stage in ("separate", "analyze"):
        fractions = [
            e.fraction for e in events if isinstance(e, StageProgress) and e.stage == stage
        ]
        assert fractions and fractions == sorted(fractions), (stage, fractions)
    statuses = [e.status for e in events if isinstance(e, TrackStatusChanged)]
    assert statuses[-1] == "ready" and "separating" in statuses and "analysing" in statuses

    # The queue kept the history: one completed job per stage (of this track: the studio's
    # cron may have run its provider check meanwhile).
    jobs = [j for j in await list_jobs(pool, limit=10) if j.args.get("track_id") == track_id]
    assert sorted((j.worker, j.state) for j in jobs) == [
        ("soundforge.analyze", "completed"),
        ("soundforge.download", "completed"),
        ("soundforge.separate", "completed"),
    ]

    # The same file again is reported as a duplicate, not imported.
    again = await import_source(studio.context, studio.user_id, str(song), allow_paths=True)
    assert again.created == [] and [d.existing_id for d in again.duplicates] == [track_id]


async def test_not_audio_fails_the_track_in_one_sentence(studio: Studio, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp3"
    bogus.write_bytes(b"these are my lyrics, not audio\n" * 50)
    track_id = await import_one(studio, str(bogus))
    await follow(studio, track_id, timeout=60)
    track = await tracks.get_track(repo.pool(NAMES.repo), track_id)
    assert track.status == "failed"
    assert track.error is not None and "notes.mp3" in track.error and "\n" not in track.error
    job = await settled_job(studio, "soundforge.download")
    assert job.state == "cancelled" and job.errors[-1].message == track.error


async def test_an_unsupported_source_is_refused_before_anything_is_created(
    studio: Studio,
) -> None:
    with pytest.raises(UnsupportedSource):
        await import_source(studio.context, studio.user_id, "ftp://example.com/song.mp3")
    assert await repo.pool(NAMES.repo).fetchval("SELECT count(*) FROM tracks") == 0


async def test_a_killed_separator_is_retried_and_leaves_no_orphan(
    studio: Studio, tmp_path: Path
) -> None:
    song = write_song(tmp_path / "long.wav", seconds=40.0)
    track_id = await import_one(studio, str(song))
    async with asyncio.timeout(120):
        while True:
            event = await receive()
            if isinstance(event, StageProgress) and event.stage == "separate":
                break
    status = await port_pool.status(port_pool.pool_name("separator"))
    (separator_pid,) = status.os_pids
    psutil.Process(separator_pid).kill()

    pool = repo.pool(NAMES.repo)
    async with asyncio.timeout(30):
        while True:
            (job,) = await list_jobs(pool, worker="soundforge.separate", limit=1)
            if job.state == "retryable":
                break
            await asyncio.sleep(0.1)
    assert "separator program failed" in job.errors[-1].message
    assert (
        not psutil.pid_exists(separator_pid) or psutil.Process(separator_pid).status() == "zombie"
    )
    track = await tracks.get_track(pool, track_id)
    assert track.original_path is not None and track.status == "separating"

    # Retrying now (instead of after the backoff) completes the track on a fresh program.
    await retry_job(pool, job.id)
    events = await follow(studio, track_id)
    assert isinstance(events[-1], TrackStatusChanged) and events[-1].status == "ready"
    assert (await port_pool.status(port_pool.pool_name("separator"))).os_pids != [separator_pid]


async def test_short_noise_still_gets_a_valid_analysis(studio: Studio, tmp_path: Path) -> None:
    track_id = await import_one(studio, str(write_noise(tmp_path / "blip.wav", seconds=1.0)))
    await follow(studio, track_id)
    track = await tracks.get_track(repo.pool(NAMES.repo), track_id)
    assert track.status == "ready", track.error


async def test_an_upload_is_imported_under_its_own_name(studio: Studio, tmp_path: Path) -> None:
    from soundforge.audio.sources import Upload

    received = write_song(tmp_path / "upload-3f9a.tmp", seconds=4.0)
    outcome = await import_source(
        studio.context, studio.user_id, Upload(str(received), "My Demo.wav")
    )
    (track_id,) = outcome.created
    pubsub.subscribe(studio.context.pubsub, track_topic(track_id))
    await follow(studio, track_id)
    track = await tracks.get_track(repo.pool(NAMES.repo), track_id)
    assert track.status == "ready", track.error
    assert (track.source_kind, track.source_name, track.title) == (
        "upload",
        "My Demo.wav",
        "My Demo",
    )
    assert received.exists(), "the received file is the web layer's to delete"


async def test_the_owners_settings_choose_the_separation_and_analysis(
    studio: Studio, tmp_path: Path
) -> None:
    pool = repo.pool(NAMES.repo)
    await update_preferences(
        pool,
        studio.user_id,
        {"stem_format": "flac", "bit_depth": 24, "analysis_min_bpm": 70.0},
    )
    song = write_song(tmp_path / "Settings.wav", seconds=6.0, bpm=100.0)
    track_id = await import_one(studio, str(song))
    await follow(studio, track_id)
    stems = await tracks.stems_of(pool, track_id)
    assert stems and {(s.format, s.bit_depth) for s in stems} == {("flac", 24)}
    assert all(s.path.endswith(".flac") for s in stems)
    jobs = {j.worker: j for j in await list_jobs(pool, limit=10)}
    assert jobs["soundforge.separate"].args["options"]["format"] == "flac"
    assert jobs["soundforge.analyze"].args["options"]["min_bpm"] == 70.0
