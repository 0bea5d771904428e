"""``/api/v1/admin`` over HTTP: roles and suspension, the audit log, queues and any job."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.web.api.helpers import (
    PARKED,
    User,
    audit_entries,
    fresh_user,
    seed_job,
    seed_track,
)
from tests.web.conftest import WebServer, api_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADMIN_ROUTES = [
    ("GET", "/api/v1/admin/users", None),
    ("PATCH", "/api/v1/admin/users/{me}", {"role": "admin"}),
    ("GET", "/api/v1/admin/audit", None),
    ("GET", "/api/v1/admin/queues", None),
    ("POST", "/api/v1/admin/queues/download/pause", None),
    ("POST", "/api/v1/admin/queues/download/resume", None),
    ("GET", "/api/v1/admin/jobs", None),
    ("POST", "/api/v1/admin/jobs/1/retry", None),
    ("POST", "/api/v1/admin/jobs/1/cancel", None),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(api_server: WebServer) -> AsyncIterator[User]:
    user = await fresh_user(api_server, "admin", admin=True)
    yield user
    await user.client.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plain(api_server: WebServer) -> AsyncIterator[User]:
    user = await fresh_user(api_server, "plain")
    yield user
    await user.client.aclose()


@pytest.mark.parametrize(("method", "route", "body"), ADMIN_ROUTES)
async def test_only_admins_may(
    api_server: WebServer, plain: User, method: str, route: str, body: dict[str, str] | None
) -> None:
    user = plain
    path = route.format(me=user.id)
    async with api_client(api_server) as anonymous:
        response = await user.client.request(method, path, json=body)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["message"] == "Only administrators can do this."
        assert (await anonymous.request(method, path, json=body)).status_code == 401
        assert (await user.client.get("/api/v1/me")).json()["role"] == "user"


async def test_listing_and_searching_users(api_server: WebServer, admin: User) -> None:
    user = await fresh_user(api_server, "findme")
    async with user.client:
        page = (await admin.client.get("/api/v1/admin/users")).json()
        assert page["total"] >= 3 and {"dj@example.com", admin.email} <= {
            u["email"] for u in page["items"]
        }
        found = (await admin.client.get("/api/v1/admin/users", params={"q": "findme-"})).json()
        assert [u["id"] for u in found["items"]] == [user.id] and found["total"] == 1
        assert found["items"][0]["last_login_at"] is None
        bad = await admin.client.get("/api/v1/admin/users", params={"limit": -1})
        assert bad.status_code == 422


async def test_roles_and_suspension(api_server: WebServer, admin: User) -> None:
    user = await fresh_user(api_server)
    url = f"/api/v1/admin/users/{user.id}"
    async with user.client:
        promoted = await admin.client.patch(url, json={"role": "admin"})
        assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
        assert (await user.client.get("/api/v1/admin/queues")).status_code == 200

        suspended = await admin.client.patch(url, json={"role": "user", "status": "suspended"})
        assert suspended.json()["status"] == "suspended" and suspended.json()["role"] == "user"
        assert (await user.client.get("/api/v1/me")).status_code == 401  # at once
        await admin.client.patch(url, json={"status": "active"})
        assert (await user.client.get("/api/v1/me")).status_code == 200

        for body in ({}, {"role": "owner"}, {"status": "banned"}, {"email": "x@example.com"}):
            assert (await admin.client.patch(url, json=body)).status_code == 422, body
        missing = await admin.client.patch(
            "/api/v1/admin/users/00000000-0000-0000-0000-000000000000", json={"role": "user"}
        )
        assert missing.status_code == 404
    changes = [e for e in await audit_entries("user") if e.target_id == user.id]
    assert [(e.action, e.details["to"]) for e in changes] == [
        ("user.status_changed", "active"),
        ("user.status_changed", "suspended"),
        ("user.role_changed", "user"),
        ("user.role_changed", "admin"),
    ]
    assert {e.actor_id for e in changes} == {admin.id}


async def test_the_last_admin_stays(api_server: WebServer, admin: User) -> None:
    # Every other admin is demoted first, inside the request's transaction: refused as a whole.
    page = (await admin.client.get("/api/v1/admin/users", params={"limit": 200})).json()
    others = [u for u in page["items"] if u["role"] == "admin" and u["id"] != admin.id]
    for other in others:
        await admin.client.patch(f"/api/v1/admin/users/{other['id']}", json={"role": "user"})
    try:
        response = await admin.client.patch(
            f"/api/v1/admin/users/{admin.id}", json={"status": "suspended"}
        )
        assert response.status_code == 409 and "only active admin" in response.text
    finally:
        for other in others:
            await admin.client.patch(f"/api/v1/admin/users/{other['id']}", json={"role": "admin"})


async def test_the_audit_log_pages_by_keyset(api_server: WebServer, admin: User) -> None:
    for name in ("one", "two", "three"):
        await admin.client.post("/api/v1/tokens", json={"name": name})
    query: dict[str, str | int] = {"action": "token.created", "actor": admin.id, "limit": 2}
    first = (await admin.client.get("/api/v1/admin/audit", params=query)).json()
    assert [e["details"]["name"] for e in first["items"]] == ["three", "two"]
    assert first["next_before"] == first["items"][-1]["id"]
    second = (
        await admin.client.get(
            "/api/v1/admin/audit", params={**query, "before": first["next_before"]}
        )
    ).json()
    assert [e["details"]["name"] for e in second["items"]] == ["one"]
    assert second["next_before"] is None
    entry = second["items"][0]
    assert entry["actor_email"] == admin.email and entry["ip"] == "127.0.0.1"
    every = (await admin.client.get("/api/v1/admin/audit", params={"action": "token"})).json()
    assert {e["action"] for e in every["items"]} == {"token.created"}


async def test_queues_are_counted_paused_and_resumed(api_server: WebServer, admin: User) -> None:
    queues = (await admin.client.get("/api/v1/admin/queues")).json()
    by_name = {q["queue"]: q for q in queues}
    assert {"download", "processing", "analysis"} <= set(by_name)
    assert by_name["download"]["limit"] == 3 and by_name["download"]["paused"] is False

    paused = await admin.client.post("/api/v1/admin/queues/analysis/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    queues = (await admin.client.get("/api/v1/admin/queues")).json()
    assert {q["queue"]: q["paused"] for q in queues}["analysis"] is True
    resumed = await admin.client.post("/api/v1/admin/queues/analysis/resume")
    assert resumed.json()["paused"] is False
    missing = await admin.client.post("/api/v1/admin/queues/nonesuch/pause")
    assert missing.status_code == 404
    actions = [e.action for e in await audit_entries("queue") if e.target_id == "analysis"]
    assert actions[:2] == ["queue.resumed", "queue.paused"]


async def test_any_users_job_is_listed_retried_and_cancelled(
    api_server: WebServer, admin: User
) -> None:
    owner = await fresh_user(api_server)
    seeded = await seed_track(api_server, owner.id)
    job_id = await seed_job(seeded.track_id)
    async with owner.client:
        page = (await admin.client.get("/api/v1/admin/jobs", params={"queue": PARKED})).json()
        job = next(j for j in page["items"] if j["id"] == job_id)
        assert job["user_id"] == owner.id and job["user_email"] == owner.email
        assert job["track_id"] == seeded.track_id and job["state"] == "scheduled"

        cancelled = await admin.client.post(f"/api/v1/admin/jobs/{job_id}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        track = (await owner.client.get(f"/api/v1/tracks/{seeded.track_id}")).json()
        assert track["status"] == "failed"
        retried = await admin.client.post(f"/api/v1/admin/jobs/{job_id}/retry")
        assert retried.json()["state"] == "available"
        conflict = await admin.client.post(f"/api/v1/admin/jobs/{job_id}/retry")
        assert conflict.status_code == 409

        available = (
            await admin.client.get("/api/v1/admin/jobs", params={"state": "available", "limit": 1})
        ).json()
        assert [j["id"] for j in available["items"]] == [job_id]
        assert available["next_before"] == job_id
        for bad in ("0", "nope", "99999999"):
            assert (await admin.client.post(f"/api/v1/admin/jobs/{bad}/retry")).status_code == 404
    entries = [e for e in await audit_entries("job") if e.target_id == str(job_id)]
    assert [(e.action, e.actor_id) for e in entries] == [
        ("job.retried", admin.id),
        ("job.cancelled", admin.id),
    ]
