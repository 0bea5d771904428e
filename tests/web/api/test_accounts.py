"""Tokens, settings and the password over HTTP, with sessions, CSRF and suspension."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from websockets.asyncio.client import connect

from tests.web.api.helpers import audit_entries, fresh_user, session_client, suspend
from tests.web.conftest import WebServer, api_client

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_token_is_shown_once_and_revoked(api_server: WebServer) -> None:
    me = await fresh_user(api_server)
    async with me.client:
        created = await me.client.post("/api/v1/tokens", json={"name": "backup script"})
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        token = created.json()["token"]
        assert secret.startswith("sf_") and token["prefix"] == secret[:8]
        assert token["name"] == "backup script" and token["revoked_at"] is None

        listed = await me.client.get("/api/v1/tokens")
        assert secret not in listed.text and "hash" not in listed.text
        assert {t["name"] for t in listed.json()} == {"tests", "backup script"}
        assert set(listed.json()[0]) == set(token)

        async with api_client(api_server, secret) as scripted:
            assert (await scripted.get("/api/v1/me")).json()["id"] == me.id
            taken = await me.client.post("/api/v1/tokens", json={"name": "backup script"})
            assert taken.status_code == 409
            revoked = await me.client.delete(f"/api/v1/tokens/{token['id']}")
            assert revoked.status_code == 204
            refused = await scripted.get("/api/v1/me")
            assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
        assert (await me.client.delete(f"/api/v1/tokens/{token['id']}")).status_code == 404
        for body in ({"name": ""}, {"name": "x" * 101}, {}, {"name": "a", "scope": "all"}):
            response = await me.client.post("/api/v1/tokens", json=body)
            assert response.status_code == 422, body
    entries = [e for e in await audit_entries("token") if e.target_id == token["id"]]
    assert [e.action for e in entries] == ["token.revoked", "token.created"]
    assert {(e.actor_id, e.ip) for e in entries} == {(me.id, "127.0.0.1")}


async def test_settings_are_read_and_patched(api_server: WebServer) -> None:
    me = await fresh_user(api_server)
    async with me.client:
        settings = (await me.client.get("/api/v1/settings")).json()
        assert settings["stem_format"] == "wav" and settings["bit_depth"] == 16
        patched = await me.client.patch(
            "/api/v1/settings", json={"stem_format": "flac", "bit_depth": 24}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json() == {**settings, "stem_format": "flac", "bit_depth": 24}
        assert (await me.client.get("/api/v1/settings")).json() == patched.json()
        for body, words in [
            ({"bit_depth": 32}, "32"),
            ({"nope": 1}, "nope"),
            ({"separation_shifts": 11}, "separation_shifts"),
            ({"analysis_min_bpm": 190, "analysis_max_bpm": 100}, "analysis_min_bpm"),
        ]:
            response = await me.client.patch("/api/v1/settings", json=body)
            assert response.status_code == 422, (body, response.text)
            assert words in response.json()["error"]["message"].lower()
        unchanged = await me.client.patch("/api/v1/settings", json={})
        assert unchanged.json() == patched.json()
    (entry,) = [e for e in await audit_entries("settings.changed") if e.actor_id == me.id]
    assert entry.details == {"changed": {"stem_format": "flac", "bit_depth": 24}}


async def test_a_password_change_signs_out_other_sessions(api_server: WebServer) -> None:
    me = await fresh_user(api_server)
    here = await session_client(api_server, me.id)
    elsewhere = await session_client(api_server, me.id)
    async with me.client, here, elsewhere:
        assert (await here.get("/api/v1/me")).json()["auth"] == "session"
        body = {"current": "a long password", "new": "an even longer password"}
        forged = await here.post("/api/v1/password", json=body, headers={"X-CSRF-Token": "forged"})
        assert forged.status_code == 403
        wrong = await here.post("/api/v1/password", json={**body, "current": "guess"})
        assert wrong.status_code == 403 and "current password" in wrong.json()["error"]["message"]
        short = await here.post("/api/v1/password", json={**body, "new": "short"})
        assert short.status_code == 422 and "new" in short.json()["error"]["message"]

        changed = await here.post("/api/v1/password", json=body)
        assert changed.status_code == 204, changed.text
        assert "sf_session=" in changed.headers["set-cookie"]
        assert (await here.get("/api/v1/me")).status_code == 200  # the fresh cookie
        assert (await elsewhere.get("/api/v1/me")).status_code == 401
        assert (await me.client.get("/api/v1/me")).status_code == 200  # tokens stay

        back = {"current": body["new"], "new": body["current"]}
        by_token = await me.client.post("/api/v1/password", json=back)
        assert by_token.status_code == 204 and "set-cookie" not in by_token.headers
    entries = [e for e in await audit_entries("user.password_changed") if e.actor_id == me.id]
    assert len(entries) == 2


async def test_a_suspended_users_token_and_session_stop_working(api_server: WebServer) -> None:
    me = await fresh_user(api_server)
    browser = await session_client(api_server, me.id)
    async with me.client, browser:
        assert (await me.client.get("/api/v1/tracks")).status_code == 200
        await suspend(api_server, me.id)
        response = await me.client.get("/api/v1/tracks")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "Unauthorized"
        assert (await browser.get("/api/v1/me")).status_code == 401


async def test_a_suspended_users_open_socket_is_closed(api_server: WebServer) -> None:
    me = await fresh_user(api_server)
    url = api_server.url.replace("http://", "ws://") + f"/ws?token={me.token}"
    async with me.client, connect(url) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topic": f"tracks:{me.id}"}))
        assert json.loads(await ws.recv())["type"] == "subscribed"
        await suspend(api_server, me.id)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "sign in again" in closed.value.rcvd.reason
