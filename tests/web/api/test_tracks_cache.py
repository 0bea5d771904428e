"""``GET /api/v1/tracks`` sends a kept page only while its owner's library is unchanged.

Every change here is made the way the product makes it, or straight in PostgreSQL (as a
worker node or a person with psql would), never through the cache: the next list must show
it all the same (``page_cache.py``, ``0005_library_versions.sql``).
"""

from __future__ import annotations

from typing import Any

import pytest

from soundforge.actors import repo
from soundforge.music import tracks
from soundforge.supervisors.root import NAMES
from tests.web.api.helpers import fresh_user, seed_job, seed_track, web_context
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_repeated_list_is_sent_from_the_kept_page(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    await seed_track(api_server, user.id, title="Kept")
    pages = (await web_context()).pages
    async with user.client:
        first = await user.client.get("/api/v1/tracks")
        hits = pages.hits
        second = await user.client.get("/api/v1/tracks")
        assert pages.hits == hits + 1
        other_filter = await user.client.get("/api/v1/tracks", params={"sort": "title"})
        assert pages.hits == hits + 1  # another filter is another page
    assert first.status_code == second.status_code == other_filter.status_code == 200
    assert second.content == first.content
    assert second.headers["content-type"] == "application/json"
    assert [t["title"] for t in second.json()["items"]] == ["Kept"]


async def test_changes_made_behind_the_endpoints_back_show_at_once(
    api_server: WebServer,
) -> None:
    user = await fresh_user(api_server)
    seeded = await seed_track(api_server, user.id, title="Before", tempo=120.0)
    job_id = await seed_job(seeded.track_id)
    async with user.client:

        async def only_track() -> Any:
            items = (await user.client.get("/api/v1/tracks")).json()["items"]
            assert len(items) == 1
            return items[0]

        await only_track()
        async with repo.connection(NAMES.repo) as conn:
            await conn.execute(
                "UPDATE tracks SET title = 'After' WHERE id = $1::uuid", seeded.track_id
            )
        assert (await only_track())["title"] == "After"

        async with repo.connection(NAMES.repo) as conn:  # a worker's progress report
            await conn.execute(
                """UPDATE jobs SET meta = meta || '{"progress": 0.25, "label": "halfway"}'
                   WHERE id = $1""",
                job_id,
            )
        stage = next(s for s in (await only_track())["stages"] if s["job_id"] == job_id)
        assert (stage["progress"], stage["label"]) == (0.25, "halfway")

        async with repo.connection(NAMES.repo) as conn:  # a new analysis becomes current
            await tracks.record_analysis(
                conn,
                seeded.track_id,
                version=2,
                result_json=b'{"version": 2}',
                options={},
                tempo=128.0,
                key="C major",
                camelot="8B",
                loudness_lufs=-8.0,
                duration_ms=1000,
            )
        assert (await only_track())["tempo_bpm"] == 128.0

        async with repo.connection(NAMES.repo) as conn:  # the pruner deletes the job
            await conn.execute("DELETE FROM jobs WHERE id = $1", job_id)
        assert job_id not in [s["job_id"] for s in (await only_track())["stages"]]


async def test_a_delete_through_the_api_is_gone_from_the_next_list(
    api_server: WebServer,
) -> None:
    user = await fresh_user(api_server)
    keep = await seed_track(api_server, user.id, title="Keep")
    drop = await seed_track(api_server, user.id, title="Drop")
    async with user.client:
        titles = [t["title"] for t in (await user.client.get("/api/v1/tracks")).json()["items"]]
        assert sorted(titles) == ["Drop", "Keep"]
        assert (await user.client.delete(f"/api/v1/tracks/{drop.track_id}")).status_code == 204
        items = (await user.client.get("/api/v1/tracks")).json()["items"]
    assert [t["id"] for t in items] == [keep.track_id]


async def test_one_users_change_leaves_another_users_page_kept(api_server: WebServer) -> None:
    alice = await fresh_user(api_server, "alice")
    bob = await fresh_user(api_server, "bob")
    await seed_track(api_server, alice.id, title="Alice's")
    await seed_track(api_server, bob.id, title="Bob's")
    pages = (await web_context()).pages
    async with alice.client, bob.client:
        await alice.client.get("/api/v1/tracks")
        await seed_track(api_server, bob.id, title="Bob's second")
        hits = pages.hits
        again = (await alice.client.get("/api/v1/tracks")).json()
        assert pages.hits == hits + 1
        assert [t["title"] for t in again["items"]] == ["Alice's"]
        bobs = (await bob.client.get("/api/v1/tracks")).json()
    assert sorted(t["title"] for t in bobs["items"]) == ["Bob's", "Bob's second"]
