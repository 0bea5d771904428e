"""``library_version``: moved by every change the library list shows, in the same
transaction, by whoever makes it (``0005_library_versions.sql``); untouched by the rest."""

from __future__ import annotations

from typing import Any

from soundforge.bench.queue import Noop
from soundforge.music import library_version, tracks
from soundforge.queue import insert
from tests.music.conftest import Users, add_job, add_track, analysed


async def test_every_change_the_list_shows_moves_the_owners_version(
    db_pool: Any, users: Users
) -> None:
    seen = [await library_version(db_pool, users.alice)]
    assert seen == [0]

    async def moved() -> bool:
        seen.append(await library_version(db_pool, users.alice))
        return seen[-1] > seen[-2]

    track_id = await add_track(db_pool, users.alice, "One")
    assert await moved()
    await tracks.set_status(db_pool, track_id, "failed", "the download failed")
    assert await moved()
    job = await add_job(db_pool, track_id, "separate", "executing")
    assert await moved()
    await db_pool.execute(
        """UPDATE jobs SET meta = meta || '{"progress": 0.5}' WHERE id = $1""", job.id
    )
    assert await moved()
    await analysed(db_pool, track_id)
    assert await moved()
    await db_pool.execute("DELETE FROM jobs WHERE id = $1", job.id)
    assert await moved()
    await db_pool.execute("DELETE FROM tracks WHERE id = $1::uuid", track_id)
    assert await moved()
    assert await library_version(db_pool, users.bob) == 0


async def test_a_rolled_back_change_leaves_the_version(db_pool: Any, users: Users) -> None:
    await add_track(db_pool, users.alice, "One")
    before = await library_version(db_pool, users.alice)
    async with db_pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("UPDATE tracks SET title = 'Renamed' WHERE user_id = $1", users.alice)
        assert await library_version(conn, users.alice) == before + 1  # inside it
        await transaction.rollback()
    assert await library_version(db_pool, users.alice) == before


async def test_jobs_without_a_track_move_nothing_and_a_user_can_still_be_deleted(
    db_pool: Any, users: Users
) -> None:
    await add_track(db_pool, users.alice, "One")
    versions = await db_pool.fetch("SELECT user_id, version FROM library_versions")
    job = await insert(db_pool, Noop, {})
    odd = await insert(db_pool, Noop, {"track_id": "not a uuid"})
    await db_pool.execute(
        "UPDATE jobs SET state = 'completed' WHERE id = ANY($1::bigint[])", [job.id, odd.id]
    )
    await db_pool.execute("DELETE FROM jobs WHERE id = ANY($1::bigint[])", [job.id, odd.id])
    assert await db_pool.fetch("SELECT user_id, version FROM library_versions") == versions
    # Deleting a user deletes its tracks, whose triggers write its version row again: no
    # foreign key stands in the way.
    await db_pool.execute("DELETE FROM users WHERE id = $1::uuid", users.alice)
    assert await db_pool.fetchval("SELECT count(*) FROM tracks") == 0
