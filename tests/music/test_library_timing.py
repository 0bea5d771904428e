"""How fast the dashboard's list is: 50 tracks of one user among 2,000 tracks with ~8,000
pipeline jobs and 20,000 unrelated jobs. Prints the timings and the plan (not asserted:
machines differ); asserts only that the plan finds jobs through their track index."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest

from soundforge.accounts import create_user
from soundforge.music import library
from soundforge.music.library import TrackFilter
from soundforge.queue import insert_all, new_job
from tests.music.conftest import STAGE_WORKERS

pytestmark = pytest.mark.timeout(300)

USERS = 10
TRACKS_PER_USER = 200


async def fill(pool: Any) -> list[str]:
    users = [
        (await create_user(pool, f"dj{n}@example.com", "correct horse battery")).id
        for n in range(USERS)
    ]
    await pool.execute(
        """INSERT INTO tracks (user_id, source_kind, source_name, title, artists, status,
                               duration_ms, created_at)
           SELECT u, 'upload', 'song' || n || '.wav', 'Song ' || n, ARRAY['Artist ' || (n % 37)],
                  CASE WHEN n % 10 = 0 THEN 'separating' ELSE 'ready' END, 180000 + n,
                  now() - make_interval(secs => n)
           FROM unnest($1::uuid[]) AS u, generate_series(1, $2::int) AS n""",
        users,
        TRACKS_PER_USER,
    )
    await pool.execute(
        """INSERT INTO analyses (track_id, user_id, version, result, tempo_bpm, key, camelot,
                                 loudness_lufs)
           SELECT id, user_id, 1, '{}', 80 + (duration_ms % 80), 'A minor', '8A', -9
           FROM tracks WHERE status = 'ready'"""
    )
    rows = await pool.fetch("SELECT id::text AS id, status FROM tracks ORDER BY id")
    jobs = []
    for row in rows:
        stages = ["download", "separate"] if row["status"] != "ready" else list(STAGE_WORKERS)
        for stage in stages:
            args: dict[str, Any] = {"track_id": row["id"]}
            jobs.append(new_job(STAGE_WORKERS[stage], args, unique=None))
        if hash(row["id"]) % 3 == 0:  # a retried download: two jobs for one stage
            jobs.append(new_job(STAGE_WORKERS["download"], {"track_id": row["id"]}, unique=None))
    jobs += [new_job("bench.noop", {"n": n}) for n in range(20_000)]
    await insert_all(pool, jobs)
    await pool.execute(
        """UPDATE jobs SET state = 'completed', attempt = 1, completed_at = now()
           WHERE worker <> 'soundforge.separate' OR id % 10 <> 0"""
    )
    await pool.execute(
        """UPDATE jobs SET state = 'executing', attempt = 1, attempted_at = now(),
                  meta = '{"progress": 0.5, "label": "separating"}'
           WHERE worker = 'soundforge.separate' AND id % 10 = 0"""
    )
    await pool.execute("ANALYZE")
    return users


async def timed(pool: Any, user_id: str, f: TrackFilter, runs: int = 40) -> float:
    await library.list_tracks(pool, user_id, f)  # warm: the pool's connection and plan cache
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        page = await library.list_tracks(pool, user_id, f)
        took.append(time.perf_counter() - start)
    assert len(page.items) == min(f.limit, page.total)
    return statistics.median(took) * 1000


async def test_list_tracks_timing_and_plan(db_pool: Any) -> None:
    users = await fill(db_pool)
    user = users[3]
    page = await library.list_tracks(db_pool, user, TrackFilter())
    assert page.total == TRACKS_PER_USER and len(page.items) == 50
    assert all(item.stages for item in page.items)

    filters = {
        "newest 50": TrackFilter(),
        "by bpm, 50 from 100": TrackFilter(sort="bpm", order="desc", offset=100),
        "search 'song 1'": TrackFilter(q="song 1"),
        "compatible with 8A, 100-140 BPM": TrackFilter(
            compatible_with="8A", bpm_min=100, bpm_max=140
        ),
    }
    async with db_pool.acquire() as c:  # the round trip alone, for scale
        took = []
        for _ in range(40):
            start = time.perf_counter()
            await c.fetchval("SELECT 1")
            took.append(time.perf_counter() - start)
    print(f"\nSELECT 1      p50 {statistics.median(took) * 1000:6.2f} ms  (one round trip)")
    for label, f in filters.items():
        print(f"list_tracks p50 {await timed(db_pool, user, f):6.2f} ms  {label}")

    sql, order = library._filter_sql(user, TrackFilter())
    limit, offset = sql.param(50), sql.param(0)
    statement = library._summaries_sql(sql.clause, library._SORTS["created"], order, limit, offset)
    plan = "\n".join(
        r[0] for r in await db_pool.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *sql.args)
    )
    print(plan)
    assert "jobs_track_idx" in plan
    assert "Seq Scan on jobs" not in plan
