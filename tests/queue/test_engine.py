"""Inserting and managing jobs: transactions, uniqueness under races, cancel, retry, complete."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest

from soundforge.queue import (
    INCOMPLETE_STATES,
    InvalidJob,
    JobState,
    Unique,
    _sql,
    cancel_job,
    complete_job,
    get_job,
    insert,
    insert_all,
    list_jobs,
    live_counts,
    new_job,
    retry_job,
    signals,
)
from soundforge.queue.executor import Completed, Released
from tests.queue.workers import Noop, Scripted


class UniqueTrack(Noop):
    name = "test.UniqueTrack"
    queue = "download"
    unique = Unique(period=None, keys=("track_id",), states=INCOMPLETE_STATES)


class Args(msgspec.Struct):
    track_id: int
    note: str = ""


async def test_insert_uses_the_workers_options(pool: Any) -> None:
    job = await insert(pool, UniqueTrack, Args(7, "x"), meta={"by": "test"})
    assert job.state == JobState.AVAILABLE
    assert (job.queue, job.worker, job.priority, job.max_attempts) == (
        "download",
        "test.UniqueTrack",
        0,
        20,
    )
    assert job.args == {"track_id": 7, "note": "x"}
    assert job.meta == {"by": "test"}
    assert job.attempt == 0 and job.errors == [] and not job.conflict
    assert await get_job(pool, job.id) == job


async def test_insert_all_keeps_the_order_and_mixes_unique_jobs(pool: Any) -> None:
    jobs = [new_job(Noop, {"i": i}) for i in range(5)]
    jobs.insert(2, new_job(UniqueTrack, {"track_id": 1}))
    jobs.append(new_job(UniqueTrack, {"track_id": 1}))
    records = await insert_all(pool, jobs)
    assert [r.args for r in records] == [j.args for j in jobs]
    assert records[2].id == records[-1].id and records[-1].conflict
    assert len(await list_jobs(pool)) == 6


async def test_insert_all_records_match_the_stored_rows_whatever_varies(pool: Any) -> None:
    # A batch sends a column that is the same for every job once, the others as arrays:
    # every shape must store, and return, exactly what was asked for.
    later = datetime.now(UTC) + timedelta(hours=1)
    batches = [
        [new_job(Noop, None) for _ in range(3)],
        [new_job(Noop, {"i": i}, queue="q" + str(i % 2), priority=i % 3) for i in range(4)],
        [
            new_job(Noop, {"x": [1, 2.5, None]}, meta={"m": "1"}, max_attempts=2),
            new_job(Noop, {}, scheduled_at=later),
            new_job(Noop, {}, schedule_in=60.0),
            new_job("other.Worker", {"a": {"b": True}}),
        ],
        [new_job(Noop, {}, schedule_in=30.0) for _ in range(2)],
    ]
    for batch in batches:
        records = await insert_all(pool, batch)
        assert len(records) == len(batch)
        for job, record in zip(batch, records, strict=True):
            assert await get_job(pool, record.id) == record
            assert (record.queue, record.worker, record.args, record.meta) == (
                job.queue,
                job.worker,
                job.args,
                job.meta,
            )
            waits = job.scheduled_at is not None or job.schedule_in is not None
            assert record.state == (JobState.SCHEDULED if waits else JobState.AVAILABLE)
        assert [r.id for r in records] == sorted(r.id for r in records)
    assert (await insert_all(pool, batches[2][1:2]))[0].scheduled_at == later


async def test_a_rolled_back_transaction_leaves_no_job_and_sends_no_notification(
    pool: Any, jobs_url: str
) -> None:
    listener = await asyncpg.connect(jobs_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(signals.CHANNEL, lambda *a: heard.put_nowait(a[-1]))
    try:
        async with pool.acquire() as conn:
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await insert(conn, Noop, {"n": 1})
                    raise RuntimeError("the domain write failed")
            assert await list_jobs(pool) == []
            async with conn.transaction():
                job = await insert(conn, Noop, {"n": 2})
                await asyncio.sleep(0.1)
                assert heard.empty()  # nothing is delivered before the commit
        assert signals.decode(await asyncio.wait_for(heard.get(), 5)) == signals.Insert("default")
        assert [j.id for j in await list_jobs(pool)] == [job.id]
    finally:
        await listener.close()


async def test_two_nodes_racing_on_a_unique_job_insert_one(jobs_url: str) -> None:
    conns = [await asyncpg.connect(jobs_url) for _ in range(8)]
    try:
        for round_ in range(5):

            async def one(conn: Any, round_: int = round_) -> Any:
                async with conn.transaction():
                    job = await insert(conn, UniqueTrack, {"track_id": round_})
                    await asyncio.sleep(0.01)  # hold the lock while the others pile up
                    return job

            results = await asyncio.gather(*(one(c) for c in conns))
            assert len({r.id for r in results}) == 1
            assert sum(not r.conflict for r in results) == 1
        assert len(await list_jobs(conns[0])) == 5
    finally:
        for conn in conns:
            await conn.close()


async def test_uniqueness_respects_states_and_period(pool: Any) -> None:
    first = await insert(pool, UniqueTrack, {"track_id": 1})
    assert (await insert(pool, UniqueTrack, {"track_id": 1, "note": "other"})).conflict
    assert not (await insert(pool, UniqueTrack, {"track_id": 2})).conflict
    await cancel_job(pool, first.id)  # cancelled is not an incomplete state
    assert not (await insert(pool, UniqueTrack, {"track_id": 1})).conflict
    short = Unique(period=0.2)
    assert not (await insert(pool, Noop, {"a": 1}, unique=short)).conflict
    assert (await insert(pool, Noop, {"a": 1}, unique=short)).conflict
    await asyncio.sleep(0.3)
    assert not (await insert(pool, Noop, {"a": 1}, unique=short)).conflict


async def test_retry_job_and_complete_job(pool: Any) -> None:
    job = await insert(pool, Scripted, {"script": ["ok"]})
    async with pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET state = 'executing', attempt = 1 WHERE id = $1", job.id)
        running = await get_job(conn, job.id)
        assert running is not None
        async with conn.transaction():
            assert await complete_job(conn, running)
    assert (await get_job(pool, job.id)).state == JobState.COMPLETED  # type: ignore[union-attr]
    assert not await complete_job(pool, running)  # that attempt is no longer executing
    again = await retry_job(pool, job.id)
    assert again is not None and again.state == JobState.AVAILABLE
    assert again.completed_at is None and again.max_attempts >= 2
    assert (await retry_job(pool, job.id)).state == JobState.AVAILABLE  # type: ignore[union-attr]
    assert await retry_job(pool, 10**9) is None


async def test_acknowledgements_are_guarded_by_the_attempt(pool: Any) -> None:
    jobs = await insert_all(pool, [new_job(Noop, {"i": i}) for i in range(3)])
    async with pool.acquire() as conn:
        claimed = await _sql.claim(conn, "n", "default", 3)
        assert [j.attempt for j in claimed] == [1, 1, 1]
        first, second, third = claimed
        stale = Completed(second.id, attempt=7)  # an attempt that is no longer running
        recorded = await _sql.ack(
            conn, [Completed(first.id, 1), stale, Released(third.id, 1), Completed(first.id, 1)]
        )
    assert recorded == 2
    states = {j.id: (j.state, j.attempt) for j in await list_jobs(pool)}
    assert states == {
        jobs[0].id: (JobState.COMPLETED, 1),
        jobs[1].id: (JobState.EXECUTING, 1),
        jobs[2].id: (JobState.AVAILABLE, 0),  # released: the attempt is not used up
    }
    released = await get_job(pool, jobs[2].id)
    assert released is not None and (released.attempted_at, released.attempted_by) == (None, None)


@pytest.mark.parametrize("how", ["ack", "ack and claim", "ack with another outcome"])
async def test_a_job_acknowledged_for_two_attempts_completes_by_the_running_one(
    pool: Any, how: str
) -> None:
    # Its first attempt ended after the job was claimed again (attempt 2): both completions
    # can reach one batch, the stale one first. Only attempt 2 may complete the job.
    job, other = await insert_all(pool, [new_job(Noop, None), new_job(Noop, None)])
    async with pool.acquire() as conn:
        await _sql.claim(conn, "n", "default", 2)
        await conn.execute("UPDATE jobs SET attempt = 2 WHERE id = $1", job.id)
        acks: list[Any] = [Completed(job.id, 1), Completed(job.id, 2)]
        if how == "ack":
            assert await _sql.ack(conn, acks) == 1
        elif how == "ack and claim":
            assert await _sql.ack_and_claim(conn, "n", "default", acks, 1) == []
        else:
            assert await _sql.ack(conn, [*acks, Released(other.id, 1)]) == 2
    completed = await get_job(pool, job.id)
    assert completed is not None and (completed.state, completed.attempt) == (
        JobState.COMPLETED,
        2,
    )


@pytest.mark.parametrize("released", [False, True], ids=["completions", "mixed"])
async def test_a_step_records_finished_attempts_and_claims_the_next_jobs(
    pool: Any, released: bool
) -> None:
    # Completions only: one statement does both; any other outcome: two. Same result.
    jobs = await insert_all(pool, [new_job(Noop, {"i": i}) for i in range(6)])
    async with pool.acquire() as conn:
        first, second, third = await _sql.claim(conn, "n", "default", 3)
        acks: list[Any] = [Completed(first.id, 1), Completed(second.id, attempt=7)]  # stale
        if released:
            acks.append(Released(third.id, 1))
        claimed = await _sql.ack_and_claim(conn, "n", "default", acks, 2)
    # Fetch order; a released job is available again first, so it is claimed again first.
    expected = [jobs[2], jobs[3]] if released else [jobs[3], jobs[4]]
    assert [j.id for j in claimed] == [j.id for j in expected]
    for job in claimed:
        assert (job.state, job.attempt, job.attempted_by) == (JobState.EXECUTING, 1, "n")
        assert await get_job(pool, job.id) == job
    states = {j.id: (j.state, j.attempt) for j in await list_jobs(pool)}
    executing = (JobState.EXECUTING, 1)
    assert states == {
        jobs[0].id: (JobState.COMPLETED, 1),
        jobs[1].id: executing,  # the stale acknowledgement changed nothing
        jobs[2].id: executing,
        jobs[3].id: executing,
        jobs[4].id: (JobState.AVAILABLE, 0) if released else executing,
        jobs[5].id: (JobState.AVAILABLE, 0),
    }


async def test_a_claim_reaches_its_rows_through_indexes_however_long_the_history(
    pool: Any,
) -> None:
    # History is kept, so the table is mostly finished jobs. Written as `id IN (subquery)`,
    # a claim of 250 over 20,000 rows of history was planned as a hash join over a scan of
    # the whole table (cheaper on paper than 250 index lookups): every claim read it all.
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO jobs (state, worker, attempt, completed_at)
               SELECT 'completed', 'old.Worker', 1, now() FROM generate_series(1, 20000)"""
        )
        await insert_all(conn, [new_job(Noop, None) for _ in range(500)])
        await conn.execute("ANALYZE jobs")
        done = list(range(1, 251))
        for demand in (5, 250, 500):
            for sql, params in [
                (_sql._CLAIM, ("n", "default", demand)),
                (_sql._COMPLETE_AND_CLAIM, ("n", "default", demand, done, [1] * 250)),
            ]:
                plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {sql}", *params))
                assert "Seq Scan" not in plan, plan


async def test_live_counts_count_each_queue_by_live_state(pool: Any) -> None:
    async with pool.acquire() as conn:
        await insert_all(conn, [new_job(Noop, None, queue="a") for _ in range(3)])
        await insert(conn, Noop, None, queue="b", schedule_in=3600)
        await conn.execute(
            """UPDATE jobs SET state = 'executing', attempt = 1, attempted_by = 'n'
               WHERE id = (SELECT min(id) FROM jobs WHERE queue = 'a')"""
        )
        await conn.execute("INSERT INTO jobs (queue, worker, state) VALUES ('b', 'w', 'completed')")
        assert await live_counts(conn) == {
            "a": {"available": 2, "executing": 1},
            "b": {"scheduled": 1},
        }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"priority": 10}, "priority must be an integer from 0"),
        ({"max_attempts": 0}, "max_attempts must be an integer of at least 1"),
        ({"schedule_in": 1, "scheduled_at": object()}, "not both"),
        ({"args": [1, 2]}, "must be a dict or a msgspec struct"),
        ({"args": {"x": object()}}, "JSON-encodable"),
    ],
)
async def test_invalid_jobs_are_refused_with_a_clear_message(
    pool: Any, options: dict[str, Any], message: str
) -> None:
    args = options.pop("args", {})
    with pytest.raises(InvalidJob, match=message):
        await insert(pool, Noop, args, **options)
    assert await list_jobs(pool) == []
