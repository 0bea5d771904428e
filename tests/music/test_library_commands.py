"""The library's commands: retry, cancel, re-separate, delete; and serving stem files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from soundforge.music import library
from soundforge.music.library import LibraryConflict, StemFileMissing, UnsafePath
from soundforge.queue import list_jobs
from tests.music.conftest import (
    Users,
    add_job,
    add_track,
    analysed,
    downloaded,
    job_state,
    separated,
    track_status,
)


@pytest.mark.parametrize(
    ("stage", "state", "status"),
    [
        ("download", "cancelled", "downloading"),
        ("download", "retryable", "downloading"),
        ("separate", "discarded", "separating"),
        ("analyze", "scheduled", "analysing"),
    ],
)
async def test_retry_runs_the_job_again_and_shows_its_stage(
    db_pool: Any, users: Users, stage: str, state: str, status: str
) -> None:
    track_id = await add_track(db_pool, users.alice, "Retry", status="failed", error="it broke")
    job = await add_job(db_pool, track_id, stage, state, errors=["it broke"])
    view = await library.retry_job(db_pool, users.alice, job.id)
    assert (view.id, view.state, view.stage) == (job.id, "available", stage)
    assert view.cancelled_at is None and view.discarded_at is None
    assert await track_status(db_pool, track_id) == (status, None)


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ("completed", "has already completed; there is nothing to retry"),
        ("executing", "is running; wait for it to finish or cancel it"),
        ("available", "is already waiting to run"),
    ],
)
async def test_retry_refuses_jobs_that_need_none(
    db_pool: Any, users: Users, state: str, words: str
) -> None:
    track_id = await add_track(db_pool, users.alice, "Busy")
    job = await add_job(db_pool, track_id, "separate", state)
    with pytest.raises(LibraryConflict, match=words) as error:
        await library.retry_job(db_pool, users.alice, job.id)
    assert error.value.status == 409
    assert await job_state(db_pool, job.id) == state


async def test_retry_refuses_a_second_queued_job_of_the_stage(db_pool: Any, users: Users) -> None:
    track_id = await add_track(db_pool, users.alice, "Twice")
    old = await add_job(db_pool, track_id, "separate", "cancelled")
    new = await add_job(db_pool, track_id, "separate", "available")
    with pytest.raises(LibraryConflict, match=f"already queued as job {new.id}"):
        await library.retry_job(db_pool, users.alice, old.id)
    assert await job_state(db_pool, old.id) == "cancelled"


@pytest.mark.parametrize("state", ["available", "scheduled", "retryable", "executing"])
async def test_cancel_stops_the_job_and_fails_the_track(
    db_pool: Any, users: Users, state: str
) -> None:
    track_id = await add_track(db_pool, users.alice, "Cancel", status="separating")
    job = await add_job(db_pool, track_id, "separate", state)
    view = await library.cancel_job(db_pool, users.alice, job.id)
    assert (view.state, view.cancelled_at is not None) == ("cancelled", True)
    status, error = await track_status(db_pool, track_id)
    assert status == "failed" and error is not None and "cancelled by you" in error
    again = await library.cancel_job(db_pool, users.alice, job.id)  # harmless twice
    assert again.state == "cancelled"
    # ... and a retry carries on.
    assert (await library.retry_job(db_pool, users.alice, job.id)).state == "available"
    assert await track_status(db_pool, track_id) == ("separating", None)


@pytest.mark.parametrize("state", ["completed", "discarded"])
async def test_cancel_refuses_finished_jobs(db_pool: Any, users: Users, state: str) -> None:
    track_id = await add_track(db_pool, users.alice, "Done")
    job = await add_job(db_pool, track_id, "download", state)
    with pytest.raises(LibraryConflict, match="has already finished") as error:
        await library.cancel_job(db_pool, users.alice, job.id)
    assert error.value.status == 409
    assert await track_status(db_pool, track_id) == ("pending", None)


async def test_reseparate_queues_one_separation_at_a_time(db_pool: Any, users: Users) -> None:
    track_id = await add_track(db_pool, users.alice, "Again")
    with pytest.raises(LibraryConflict, match="audio has not arrived yet"):
        await library.reseparate(db_pool, users.alice, track_id, {})
    await downloaded(db_pool, track_id)
    first = await add_job(db_pool, track_id, "separate", "completed")
    await separated(db_pool, track_id, model="htdemucs")
    await analysed(db_pool, track_id)
    assert await track_status(db_pool, track_id) == ("ready", None)

    # A completed separation does not block another one.
    options = {"engine": "demucs", "model": "htdemucs_6s", "format": "flac", "bit_depth": 24}
    view = await library.reseparate(db_pool, users.alice, track_id, options)
    assert view.id != first.id and (view.stage, view.state) == ("separate", "available")
    assert await track_status(db_pool, track_id) == ("separating", None)
    (job,) = [j for j in await list_jobs(db_pool, states=None) if j.id == view.id]
    assert job.args == {"track_id": track_id, "options": options}

    # A queued (or running) one does.
    with pytest.raises(LibraryConflict, match=f"already separating \\(job {view.id}\\)"):
        await library.reseparate(db_pool, users.alice, track_id, {"model": "htdemucs"})
    await db_pool.execute("UPDATE jobs SET state = 'executing' WHERE id = $1", view.id)
    with pytest.raises(LibraryConflict, match="already separating"):
        await library.reseparate(db_pool, users.alice, track_id)

    # Once it is done, the stems of both models are there side by side.
    await db_pool.execute("UPDATE jobs SET state = 'completed' WHERE id = $1", view.id)
    await separated(db_pool, track_id, model="htdemucs_6s", names=("vocals", "guitar"))
    detail = await library.track_detail(db_pool, users.alice, track_id)
    assert {s.model for s in detail.separations} == {"htdemucs", "htdemucs_6s"}
    again = await library.reseparate(db_pool, users.alice, track_id)
    assert again.id > view.id


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"models_dir": "/etc"}, "unknown separation option 'models_dir'"),
        ({"download": True}, "unknown separation option 'download'"),
        ({"format": "ogg"}, "not valid"),
        ({"shifts": 99}, "shifts must be between 0 and 20"),
        ({"model": ".."}, "is not a model name"),
        ({"model": "HTDEMUCS"}, "is not a model name"),
    ],
)
async def test_reseparate_refuses_bad_options(
    db_pool: Any, users: Users, options: dict[str, Any], words: str
) -> None:
    track_id = await add_track(db_pool, users.alice, "Options")
    await downloaded(db_pool, track_id)
    with pytest.raises(library.InvalidSeparation, match=words) as error:
        await library.reseparate(db_pool, users.alice, track_id, options)
    assert error.value.status == 422
    assert await list_jobs(db_pool) == []


async def test_delete_removes_rows_files_and_cancels_jobs(
    db_pool: Any, users: Users, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    doomed = await add_track(db_pool, users.alice, "Doomed")
    kept = await add_track(db_pool, users.alice, "Kept")
    bobs = await add_track(db_pool, users.bob, "Bob's")
    for track_id in (doomed, kept, bobs):
        await separated(db_pool, track_id, data)
    running = await add_job(db_pool, doomed, "separate", "executing")
    done = await add_job(db_pool, doomed, "download", "completed")
    kept_job = await add_job(db_pool, kept, "download", "available")

    deleted = await library.delete_tracks(
        db_pool, users.alice, [doomed, bobs, "not-an-id", doomed.upper()], data
    )
    assert deleted == [doomed]
    assert not (data / "tracks" / doomed).exists()
    assert (data / "tracks" / kept).is_dir() and (data / "tracks" / bobs).is_dir()
    remaining = await db_pool.fetch("SELECT id::text FROM tracks ORDER BY title")
    assert {r["id"] for r in remaining} == {kept, bobs}
    assert await db_pool.fetchval("SELECT count(*) FROM stems WHERE track_id = $1", doomed) == 0
    assert await job_state(db_pool, running.id) == "cancelled"
    assert await job_state(db_pool, done.id) == "completed"  # history stays
    assert await job_state(db_pool, kept_job.id) == "available"

    with pytest.raises(library.TrackNotFound):
        await library.delete_track(db_pool, users.alice, doomed, data)
    await library.delete_track(db_pool, users.alice, kept, data)
    assert not (data / "tracks" / kept).exists()


async def test_delete_only_removes_folders_inside_data_tracks(
    db_pool: Any, users: Users, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "tracks").mkdir(parents=True)
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    linked = await add_track(db_pool, users.alice, "Linked")
    os.symlink(outside, data / "tracks" / linked)  # a planted link to somewhere else
    sibling = await add_track(db_pool, users.alice, "Sibling")
    other = await add_track(db_pool, users.alice, "Other")
    (data / "tracks" / other).mkdir()
    (data / "tracks" / other / "audio.wav").write_bytes(b"x")
    os.symlink(data / "tracks" / other, data / "tracks" / sibling)  # another track's folder

    assert await library.delete_tracks(db_pool, users.alice, [linked, sibling], data) == [
        linked,
        sibling,
    ]
    assert (outside / "keep.txt").read_text() == "mine"
    assert (data / "tracks" / other / "audio.wav").exists()


async def test_stem_path_serves_files_inside_the_data_dir(
    db_pool: Any, users: Users, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    track_id = await add_track(db_pool, users.alice, "Song", artists=["AC/DC"])
    contents = await separated(db_pool, track_id, data)
    detail = await library.track_detail(db_pool, users.alice, track_id)
    by_name = {s.stem: s.id for s in detail.separations[0].stems}

    info, path = await library.stem_path(db_pool, users.alice, by_name["vocals"], data)
    assert path.read_bytes() == contents["vocals"]
    assert path == (data / "tracks" / track_id / "stems/htdemucs/vocals.wav").resolve()
    assert (info.stem, info.model, info.track_id) == ("vocals", "htdemucs", track_id)
    assert (info.filename, info.media_type) == ("AC-DC - Song (vocals).wav", "audio/wav")

    (data / "tracks" / track_id / "stems/htdemucs/drums.wav").unlink()
    with pytest.raises(StemFileMissing, match="re-separate the track") as missing:
        await library.stem_path(db_pool, users.alice, by_name["drums"], data)
    assert missing.value.status == 404

    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"not yours")
    bass = data / "tracks" / track_id / "stems/htdemucs/bass.wav"
    bass.unlink()
    bass.symlink_to(secret)
    with pytest.raises(UnsafePath, match="outside the data directory"):
        await library.stem_path(db_pool, users.alice, by_name["bass"], data)


async def test_delete_removes_an_upload_no_download_took(
    db_pool: Any, users: Users, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    folder = data / "uploads" / "5b7c0f4e0000400080000000000000aa"
    folder.mkdir(parents=True)
    (folder / "take.wav").write_bytes(b"RIFF")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.wav").write_bytes(b"RIFF")
    failed = await add_track(db_pool, users.alice, "Failed upload")
    job = await add_job(db_pool, failed, "download", "discarded")
    sneaky = await add_track(db_pool, users.alice, "Sneaky")
    sneaky_job = await add_job(db_pool, sneaky, "download", "discarded")
    for job_id, path in ((job.id, folder / "take.wav"), (sneaky_job.id, outside / "keep.wav")):
        request = {"source": {"type": "upload", "path": str(path), "filename": path.name}}
        await db_pool.execute(
            "UPDATE jobs SET args = jsonb_set(args, '{request}', $2::jsonb) WHERE id = $1",
            job_id,
            msgspec.json.encode(request).decode(),
        )
    deleted = await library.delete_tracks(db_pool, users.alice, [failed, sneaky], data)
    assert deleted == [failed, sneaky]
    assert not folder.exists()
    assert (outside / "keep.wav").exists()  # only folders directly under <data>/uploads go
