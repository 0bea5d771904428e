"""``/api/v1`` tracks and jobs over HTTP: listing, details, commands, and ownership (IDOR).

Tracks are seeded with real files and rows (``helpers.seed_track``), so nothing here waits
for the pipeline; jobs are parked in a queue no node runs, and the processing queue is
paused while a re-separation is queued, so no worker picks anything up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import msgspec
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect

from soundforge.queue.queues import pause_local, resume_local
from tests.web.api.helpers import (
    Seeded,
    User,
    audit_entries,
    fresh_user,
    seed_job,
    seed_track,
)
from tests.web.conftest import WebServer, api_client

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Victim(msgspec.Struct):
    user: User
    seeded: Seeded
    job_id: int
    token_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def victim(api_server: WebServer) -> AsyncIterator[Victim]:
    """User A, whose things user B probes for."""
    user = await fresh_user(api_server, "victim")
    seeded = await seed_track(api_server, user.id)
    job_id = await seed_job(seeded.track_id)
    tokens = (await user.client.get("/api/v1/tokens")).json()
    yield Victim(user, seeded, job_id, tokens[0]["id"])
    await user.client.aclose()


async def test_me_says_who_the_token_belongs_to(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    async with user.client:
        me = (await user.client.get("/api/v1/me")).json()
    assert me == {
        "id": user.id,
        "email": user.email,
        "display_name": None,
        "role": "user",
        "status": "active",
        "auth": "token",
    }
    async with api_client(api_server) as anonymous:
        response = await anonymous.get("/api/v1/me")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["status"] == 401 and error["message"].startswith("Sign in first")


async def test_the_list_filters_sorts_and_pages_only_your_tracks(api_server: WebServer) -> None:
    me, other = await fresh_user(api_server), await fresh_user(api_server)
    slow = await seed_track(api_server, me.id, title="Slow Motion", tempo=90.0, camelot="5A")
    fast = await seed_track(api_server, me.id, title="Fast Lane", tempo=140.0, camelot="8A")
    await seed_track(api_server, other.id, title="Fast Lane", tempo=140.0)
    async with me.client, other.client:
        page = (await me.client.get("/api/v1/tracks")).json()
        assert page["total"] == 2 and page["limit"] == 50 and page["offset"] == 0
        assert [t["id"] for t in page["items"]] == [fast.track_id, slow.track_id]  # newest first
        item = page["items"][0]
        assert item["title"] == "Fast Lane" and item["tempo_bpm"] == 140.0
        assert item["status"] == "ready" and item["camelot"] == "8A"

        async def ids(**params: str | int) -> list[str]:
            response = await me.client.get("/api/v1/tracks", params=params)
            assert response.status_code == 200, response.text
            return [t["id"] for t in response.json()["items"]]

        assert await ids(bpm_min=100) == [fast.track_id]
        assert await ids(q="slow mo") == [slow.track_id]
        assert await ids(camelot="5A") == [slow.track_id]
        assert await ids(compatible_with="9A") == [fast.track_id]
        assert await ids(sort="bpm", order="asc") == [slow.track_id, fast.track_id]
        one = (await me.client.get("/api/v1/tracks", params={"limit": 1, "offset": 1})).json()
        assert [t["id"] for t in one["items"]] == [slow.track_id] and one["total"] == 2

        refused: list[tuple[dict[str, str | int], str]] = [
            ({"limit": 0}, "limit"),
            ({"limit": 1000}, "limit"),
            ({"sort": "loudness"}, "sort"),
            ({"bpm_min": "fast"}, "bpm_min"),
            ({"camelot": "13C"}, "camelot"),
        ]
        for params, field in refused:
            response = await me.client.get("/api/v1/tracks", params=params)
            assert response.status_code == 422, (params, response.text)
            assert field in response.json()["error"]["message"]


async def test_a_track_its_analysis_and_its_jobs(api_server: WebServer) -> None:
    me = await fresh_user(api_server)
    seeded = await seed_track(api_server, me.id, title="Night Drive", artists=("Kavinsky",))
    job_id = await seed_job(seeded.track_id)
    async with me.client:
        detail = (await me.client.get(f"/api/v1/tracks/{seeded.track_id}")).json()
        (separation,) = detail["separations"]
        assert separation["model"] == "spleeter-dsp"
        assert {s["stem"]: s["id"] for s in separation["stems"]} == seeded.stems
        assert detail["analysis"]["tempo_bpm"] == 120.0
        assert [j["id"] for j in detail["jobs"]] == [job_id]

        analysis = await me.client.get(f"/api/v1/tracks/{seeded.track_id}/analysis")
        assert analysis.json()["tempo"] == {"bpm": 120.0}
        assert "content-disposition" not in analysis.headers
        download = await me.client.get(
            f"/api/v1/tracks/{seeded.track_id}/analysis", params={"download": 1}
        )
        assert download.headers["content-disposition"] == (
            'attachment; filename="Kavinsky - Night Drive (analysis).json"'
        )

        jobs = (await me.client.get(f"/api/v1/tracks/{seeded.track_id}/jobs")).json()
        assert [(j["id"], j["stage"], j["state"]) for j in jobs] == [
            (job_id, "analyze", "scheduled")
        ]
        job = (await me.client.get(f"/api/v1/jobs/{job_id}")).json()
        assert job["track_id"] == seeded.track_id and job["max_attempts"] >= 1


async def test_cancelling_and_retrying_a_job(api_server: WebServer) -> None:
    me = await fresh_user(api_server)
    seeded = await seed_track(api_server, me.id)
    job_id = await seed_job(seeded.track_id)
    async with me.client:
        cancelled = await me.client.post(f"/api/v1/jobs/{job_id}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        track = (await me.client.get(f"/api/v1/tracks/{seeded.track_id}")).json()
        assert track["status"] == "failed" and "cancelled" in track["error"]

        retried = await me.client.post(f"/api/v1/jobs/{job_id}/retry")
        assert retried.status_code == 200 and retried.json()["state"] == "available"
        again = await me.client.post(f"/api/v1/jobs/{job_id}/retry")
        assert again.status_code == 409 and "already waiting" in again.json()["error"]["message"]
        track = (await me.client.get(f"/api/v1/tracks/{seeded.track_id}")).json()
        assert track["status"] == "analysing"

    retries = [e for e in await audit_entries("job") if e.target_id == str(job_id)]
    assert [e.action for e in retries] == ["job.retried", "job.cancelled"]
    assert all(e.actor_id == me.id and e.ip == "127.0.0.1" for e in retries)


async def test_reseparating_queues_a_job_with_the_chosen_options(api_server: WebServer) -> None:
    me = await fresh_user(api_server)
    seeded = await seed_track(api_server, me.id)
    await pause_local("processing")  # the job stays queued: no separator runs here
    try:
        async with me.client:
            for body, field in [
                ({"engine": "spleeter"}, "engine"),
                ({"shifts": 0}, "shifts"),
                ({"format": "flac", "bit_depth": 32}, "32 bits"),
                ({"colour": "blue"}, "colour"),
            ]:
                url = f"/api/v1/tracks/{seeded.track_id}/reseparate"
                response = await me.client.post(url, json=body)
                assert response.status_code == 422, (body, response.text)
                assert field in response.json()["error"]["message"]
            response = await me.client.post(
                f"/api/v1/tracks/{seeded.track_id}/reseparate",
                json={"engine": "default", "format": "flac", "bit_depth": 24},
            )
            assert response.status_code == 202, response.text
            job = response.json()
            assert job["stage"] == "separate" and job["state"] == "available"
            busy = await me.client.post(f"/api/v1/tracks/{seeded.track_id}/reseparate")
            assert busy.status_code == 409
            cancelled = await me.client.post(f"/api/v1/jobs/{job['id']}/cancel")
            assert cancelled.json()["state"] == "cancelled"

            other = await seed_track(api_server, me.id)
            body = {
                "action": "reseparate",
                "ids": [seeded.track_id, other.track_id],
                "options": {"engine": "default"},
            }
            result = (await me.client.post("/api/v1/tracks/batch", json=body)).json()
            assert result == {"done": [seeded.track_id, other.track_id], "skipped": []}
            for track_id in result["done"]:
                jobs = (await me.client.get(f"/api/v1/tracks/{track_id}/jobs")).json()
                queued = [j for j in jobs if j["stage"] == "separate" and j["state"] == "available"]
                assert len(queued) == 1
                await me.client.post(f"/api/v1/jobs/{queued[0]['id']}/cancel")
    finally:
        await resume_local("processing")
    entries = [
        e for e in await audit_entries("track.reseparated") if e.target_id == seeded.track_id
    ]
    assert [e.details["options"]["format"] for e in entries] == ["wav", "flac"]
    assert {e.actor_id for e in entries} == {me.id}


async def test_deleting_a_track_removes_its_rows_and_files(api_server: WebServer) -> None:
    me = await fresh_user(api_server)
    seeded = await seed_track(api_server, me.id)
    folder = api_server.studio.data_dir / "tracks" / seeded.track_id
    assert folder.is_dir()
    ws_url = api_server.url.replace("http://", "ws://") + f"/ws?token={me.token}"
    async with me.client, connect(ws_url) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topic": f"tracks:{me.id}"}))
        assert json.loads(await ws.recv())["type"] == "subscribed"
        response = await me.client.delete(f"/api/v1/tracks/{seeded.track_id}")
        assert response.status_code == 204 and response.content == b""
        event = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert event == {"type": "track.deleted", "track_id": seeded.track_id, "user_id": me.id}
        assert (await me.client.get(f"/api/v1/tracks/{seeded.track_id}")).status_code == 404
        assert (await me.client.delete(f"/api/v1/tracks/{seeded.track_id}")).status_code == 404
    assert not folder.exists()
    (entry,) = [e for e in await audit_entries("track.deleted") if e.target_id == seeded.track_id]
    assert entry.actor_id == me.id and entry.details == {"title": "Night Drive"}


async def test_batch_actions_report_each_track(api_server: WebServer) -> None:
    me, other = await fresh_user(api_server), await fresh_user(api_server)
    mine = [await seed_track(api_server, me.id) for _ in range(3)]
    theirs = await seed_track(api_server, other.id)
    job_id = await seed_job(mine[2].track_id)
    async with me.client, other.client:
        ids = [mine[0].track_id, mine[1].track_id.upper(), theirs.track_id, "not-an-id"]
        result = (
            await me.client.post("/api/v1/tracks/batch", json={"action": "delete", "ids": ids})
        ).json()
        assert result["done"] == [mine[0].track_id, mine[1].track_id]
        assert [s["id"] for s in result["skipped"]] == [theirs.track_id, "not-an-id"]
        assert (await other.client.get(f"/api/v1/tracks/{theirs.track_id}")).status_code == 200

        body = {"action": "retry", "ids": [mine[2].track_id, theirs.track_id]}
        result = (await me.client.post("/api/v1/tracks/batch", json=body)).json()
        assert result["done"] == [mine[2].track_id]
        assert result["skipped"][0]["id"] == theirs.track_id
        job = (await me.client.get(f"/api/v1/jobs/{job_id}")).json()
        assert job["state"] == "available"

        for bad in [
            {"action": "explode", "ids": [mine[2].track_id]},
            {"action": "delete", "ids": []},
            {"action": "delete", "ids": ["x"] * 201},
        ]:
            response = await me.client.post("/api/v1/tracks/batch", json=bad)
            assert response.status_code == 422, bad


IDOR_ROUTES = [
    ("GET", "/api/v1/tracks/{track}"),
    ("DELETE", "/api/v1/tracks/{track}"),
    ("GET", "/api/v1/tracks/{track}/analysis"),
    ("GET", "/api/v1/tracks/{track}/jobs"),
    ("POST", "/api/v1/tracks/{track}/reseparate"),
    ("GET", "/api/v1/tracks/{track}/stems.zip"),
    ("GET", "/api/v1/stems/{stem}/audio"),
    ("GET", "/api/v1/jobs/{job}"),
    ("POST", "/api/v1/jobs/{job}/retry"),
    ("POST", "/api/v1/jobs/{job}/cancel"),
    ("DELETE", "/api/v1/tokens/{token}"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def intruder(api_server: WebServer) -> AsyncIterator[User]:
    """User B, probing for A's things."""
    user = await fresh_user(api_server, "intruder")
    yield user
    await user.client.aclose()


@pytest.mark.parametrize(("method", "route"), IDOR_ROUTES)
async def test_another_users_things_are_not_found(
    victim: Victim, intruder: User, method: str, route: str
) -> None:
    path = route.format(
        track=victim.seeded.track_id,
        stem=victim.seeded.stems["vocals"],
        job=victim.job_id,
        token=victim.token_id,
    )
    response = await intruder.client.request(method, path)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["status"] == 404
    # Nothing changed for the owner.
    owner = victim.user.client
    assert (await owner.get(f"/api/v1/tracks/{victim.seeded.track_id}")).status_code == 200
    job = (await owner.get(f"/api/v1/jobs/{victim.job_id}")).json()
    assert job["state"] == "scheduled"
    assert (await owner.get("/api/v1/me")).status_code == 200  # the token still works


async def test_batch_commands_skip_another_users_tracks(victim: Victim, intruder: User) -> None:
    for action in ("delete", "retry", "reseparate"):
        body = {"action": action, "ids": [victim.seeded.track_id]}
        result = (await intruder.client.post("/api/v1/tracks/batch", json=body)).json()
        assert result["done"] == [] and len(result["skipped"]) == 1, (action, result)
    assert (
        await victim.user.client.get(f"/api/v1/tracks/{victim.seeded.track_id}")
    ).status_code == 200
