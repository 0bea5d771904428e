"""Ownership: another user's track, stem or job is indistinguishable from a missing one, and
an id that is not even well-formed is a 404 too, never a 500 (IDOR tests)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from soundforge.errors import SoundForgeError
from soundforge.music import exports, library
from soundforge.music.library import JobNotFound, StemNotFound, TrackFilter, TrackNotFound
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


class Alices(msgspec.Struct, frozen=True):
    track_id: str
    stem_id: str
    job_id: int


@pytest.fixture
async def alices(db_pool: Any, users: Users, tmp_path: Path) -> Alices:
    track_id = await add_track(db_pool, users.alice, "Alice's Secret", artists=["Alice"])
    await downloaded(db_pool, track_id)
    await separated(db_pool, track_id, tmp_path)
    await analysed(db_pool, track_id)
    job = await add_job(db_pool, track_id, "separate", "retryable", errors=["crashed"])
    stem_id = await db_pool.fetchval(
        "SELECT id::text FROM stems WHERE track_id = $1 AND stem = 'vocals'", track_id
    )
    return Alices(track_id, stem_id, job.id)


Operation = Callable[[Any, str, Any, Path], Awaitable[Any]]

TRACK_OPERATIONS: dict[str, Operation] = {
    "summary": lambda c, u, t, d: library.get_track_summary(c, u, t),
    "detail": lambda c, u, t, d: library.track_detail(c, u, t),
    "analysis": lambda c, u, t, d: library.analysis_document(c, u, t),
    "jobs": lambda c, u, t, d: library.track_jobs(c, u, t),
    "owned": lambda c, u, t, d: library.get_owned_track(c, u, t),
    "reseparate": lambda c, u, t, d: library.reseparate(c, u, t, {}),
    "delete": lambda c, u, t, d: library.delete_track(c, u, t, d),
    "zip": lambda c, u, t, d: exports.stems_zip_entries(c, d, u, t),
}
JOB_OPERATIONS: dict[str, Operation] = {
    "view": lambda c, u, j, d: library.get_job_view(c, u, j),
    "retry": lambda c, u, j, d: library.retry_job(c, u, j),
    "cancel": lambda c, u, j, d: library.cancel_job(c, u, j),
}
MALFORMED_UUIDS = ["", "42", "not-a-uuid", "' OR 1=1 --", "0" * 40, None, 7]
MALFORMED_JOBS = ["", "abc", "-1", "0", "1.5", "1e3", str(2**63), "١٢", None]


@pytest.mark.parametrize("operation", sorted(TRACK_OPERATIONS))
async def test_another_users_track_is_not_found(
    db_pool: Any, users: Users, alices: Alices, tmp_path: Path, operation: str
) -> None:
    with pytest.raises(TrackNotFound) as error:
        await TRACK_OPERATIONS[operation](db_pool, users.bob, alices.track_id, tmp_path)
    assert error.value.status == 404
    # ... just like a track that does not exist at all, with the same kind of sentence.
    with pytest.raises(TrackNotFound) as missing:
        await TRACK_OPERATIONS[operation](
            db_pool, users.bob, "00000000-0000-4000-8000-000000000000", tmp_path
        )
    assert str(error.value).split(" ")[:4] == str(missing.value).split(" ")[:4]
    assert (await library.get_track_summary(db_pool, users.alice, alices.track_id)).title
    assert (tmp_path / "tracks" / alices.track_id).is_dir()


@pytest.mark.parametrize("operation", sorted(TRACK_OPERATIONS))
async def test_malformed_track_ids_are_not_found(
    db_pool: Any, users: Users, tmp_path: Path, operation: str
) -> None:
    for track_id in MALFORMED_UUIDS:
        with pytest.raises(TrackNotFound):
            await TRACK_OPERATIONS[operation](db_pool, users.alice, track_id, tmp_path)


@pytest.mark.parametrize("operation", sorted(JOB_OPERATIONS))
async def test_another_users_job_is_not_found(
    db_pool: Any, users: Users, alices: Alices, tmp_path: Path, operation: str
) -> None:
    with pytest.raises(JobNotFound) as error:
        await JOB_OPERATIONS[operation](db_pool, users.bob, alices.job_id, tmp_path)
    assert error.value.status == 404
    assert await job_state(db_pool, alices.job_id) == "retryable"
    assert await track_status(db_pool, alices.track_id) == ("ready", None)
    with pytest.raises(JobNotFound):
        await JOB_OPERATIONS[operation](db_pool, users.bob, alices.job_id + 1000, tmp_path)


@pytest.mark.parametrize("operation", sorted(JOB_OPERATIONS))
async def test_malformed_job_ids_are_not_found(
    db_pool: Any, users: Users, tmp_path: Path, operation: str
) -> None:
    for job_id in MALFORMED_JOBS:
        with pytest.raises(JobNotFound):
            await JOB_OPERATIONS[operation](db_pool, users.alice, job_id, tmp_path)


async def test_jobs_of_other_workers_are_not_the_library_s(
    db_pool: Any, users: Users, alices: Alices
) -> None:
    from soundforge.queue import insert

    foreign = await insert(db_pool, "someone.else", {"track_id": alices.track_id})
    with pytest.raises(JobNotFound):
        await library.retry_job(db_pool, users.alice, foreign.id)


async def test_another_users_stem_is_not_found(
    db_pool: Any, users: Users, alices: Alices, tmp_path: Path
) -> None:
    with pytest.raises(StemNotFound) as error:
        await library.stem_path(db_pool, users.bob, alices.stem_id, tmp_path)
    assert error.value.status == 404
    for stem_id in MALFORMED_UUIDS:
        with pytest.raises(StemNotFound):
            await library.stem_path(db_pool, users.alice, stem_id, tmp_path)
    info, _ = await library.stem_path(db_pool, users.alice, alices.stem_id, tmp_path)
    assert info.track_id == alices.track_id


async def test_lists_and_bulk_deletes_see_only_ones_own(
    db_pool: Any, users: Users, alices: Alices, tmp_path: Path
) -> None:
    assert (await library.list_tracks(db_pool, users.bob, TrackFilter())).total == 0
    assert (await library.list_tracks(db_pool, users.bob, TrackFilter(q="secret"))).items == []
    assert await library.delete_tracks(db_pool, users.bob, [alices.track_id], tmp_path) == []
    assert (tmp_path / "tracks" / alices.track_id).is_dir()
    assert (await library.list_tracks(db_pool, users.alice, TrackFilter())).total == 1


def test_every_library_error_has_a_status() -> None:
    errors = [
        getattr(library, name)
        for name in library.__all__
        if isinstance(getattr(library, name), type)
        and issubclass(getattr(library, name), SoundForgeError)
    ]
    assert {e.__name__: e.status for e in errors} == {
        "AnalysisNotFound": 404,
        "InvalidFilter": 422,
        "InvalidSeparation": 422,
        "JobNotFound": 404,
        "LibraryConflict": 409,
        "StemFileMissing": 404,
        "StemNotFound": 404,
        "TrackNotFound": 404,
        "UnsafePath": 403,
    }
