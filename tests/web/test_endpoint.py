"""The endpoint as a client sees it over real sockets: start, health, metrics, /ws, shutdown."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from soundforge.config import Settings
from soundforge.music.events import TrackStatusChanged, track_topic, user_topic
from soundforge.runtime import pubsub
from soundforge.runtime.node import Node
from soundforge.runtime.results import Error
from soundforge.supervisors.root import NAMES
from soundforge.web import Endpoint, EndpointOptions, PortInUse
from soundforge.web.app import SECURITY_HEADERS
from tests.web.conftest import WebServer, api_client, api_token, new_user


def ws_url(server: WebServer, token: str | None = None) -> str:
    base = server.url.replace("http://", "ws://") + "/ws"
    return f"{base}?token={token}" if token else base


async def next_json(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_health_reports_database_queues_and_storage(server: WebServer) -> None:
    async with api_client(server) as client:
        response = await client.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["storage"]["ok"]
    assert isinstance(body["queues"], dict)
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value


async def test_errors_are_json_sentences(server: WebServer) -> None:
    async with api_client(server) as client:
        missing = await client.get("/api/v1/no-such-thing")
        bad_token = await client.get("/api/v1/me", headers={"Authorization": "Bearer sf_nope"})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "There is nothing at this address."
    assert bad_token.status_code == 401
    assert "API token" in bad_token.json()["error"]["message"]


async def test_metrics_need_an_admin(server: WebServer) -> None:
    user = await new_user("listener@example.com")
    async with api_client(server) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401
    async with api_client(server, await api_token(user)) as client:
        assert (await client.get("/metrics")).status_code == 403
    async with api_client(server, await api_token(server.admin_id)) as admin:
        await admin.get("/api/openapi.json")
        response = await admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert "# TYPE soundforge_http_requests_total counter" in text
    assert 'soundforge_http_requests_total{group="read",status="2xx"}' in text
    assert "soundforge_process_resident_memory_bytes " in text


async def test_the_openapi_document_describes_the_api(server: WebServer) -> None:
    async with api_client(server) as client:
        document = (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert "/health" not in document["paths"]  # only /api/ routes are in the API document
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]


async def test_a_socket_follows_the_topics_its_user_may_see(server: WebServer) -> None:
    other = await new_user("other@example.com")
    token = await api_token(server.admin_id)
    mine = user_topic(server.admin_id)
    async with connect(ws_url(server, await api_token(other))) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topic": mine}))
        refused = await next_json(ws)
        assert refused["type"] == "error" and mine in refused["message"]
        await ws.send("not json")
        assert (await next_json(ws))["type"] == "error"
    async with connect(ws_url(server, token)) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topic": mine}))
        assert await next_json(ws) == {"type": "subscribed", "topic": mine}
        event = TrackStatusChanged("5b7c0f4e-0000-4000-8000-000000000000", server.admin_id, "ready")
        pubsub.broadcast(NAMES.pubsub, mine, event)
        received = await next_json(ws)
        assert received == {
            "type": "track.status",
            "track_id": event.track_id,
            "user_id": server.admin_id,
            "status": "ready",
            "error": None,
        }
        await ws.send(json.dumps({"op": "unsubscribe", "topic": mine}))
        assert (await next_json(ws))["type"] == "unsubscribed"
        pubsub.broadcast(NAMES.pubsub, mine, event)
        with pytest.raises(TimeoutError):
            await next_json(ws, timeout=0.3)


async def test_a_socket_may_follow_only_its_own_tracks(server: WebServer) -> None:
    other = await new_user("neighbour@example.com")
    topic = track_topic("5b7c0f4e-0000-4000-8000-000000000001")  # not this user's
    async with connect(ws_url(server, await api_token(other))) as ws:
        for wanted in (topic, "track:not-a-uuid", "admin:tree", "nonsense"):
            await ws.send(json.dumps({"op": "subscribe", "topic": wanted}))
            assert (await next_json(ws))["type"] == "error"


async def test_a_socket_without_credentials_is_closed(server: WebServer) -> None:
    async with connect(ws_url(server)) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_sockets_close_at_once_when_the_server_stops(database_url: str) -> None:
    from soundforge.web import url
    from tests.jobs.conftest import running_studio

    async with running_studio(database_url, {"port": 0}, web=True) as studio:
        token = await api_token(studio.user_id)
        base = (await url()).replace("http://", "ws://")
        ws = await connect(f"{base}/ws?token={token}")
        await ws.send(json.dumps({"op": "subscribe", "topic": user_topic(studio.user_id)}))
        await next_json(ws)
        loop = asyncio.get_running_loop()
        started = loop.time()
        studio.app.request_stop("test")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert loop.time() - started < 2.0
    # ... and the server stopped without waiting out Hypercorn's grace period for it
    assert loop.time() - started < 4.0


async def test_a_taken_port_fails_the_start_in_one_sentence(node: Node, tmp_path: Any) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        options = EndpointOptions(
            Settings(data_dir=tmp_path), "repo", "pubsub", port=port, name="test.endpoint"
        )
        shell = node.attach()
        shell.trap_exit = True
        result = await Endpoint.start_link(options, name="test.endpoint")
    finally:
        taken.close()
    assert isinstance(result, Error) and isinstance(result.reason, PortInUse)
    assert f"127.0.0.1:{port}" in str(result.reason) and "--port" in str(result.reason)


async def test_a_killed_endpoint_comes_back_on_the_same_port(database_url: str) -> None:
    from soundforge.runtime import process
    from soundforge.runtime.exit import KILL
    from soundforge.runtime.gen_server import whereis
    from soundforge.web import DEFAULT_NAME, url
    from tests.jobs.conftest import running_studio

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    async with running_studio(database_url, {"port": port}, web=True):
        first = whereis(DEFAULT_NAME)
        assert first is not None
        process.exit(first, KILL)  # terminate cannot run: the exit hook stops the server
        async with asyncio.timeout(10):
            while (second := whereis(DEFAULT_NAME)) in (None, first):  # noqa: ASYNC110 (a restart has no event to wait on)
                await asyncio.sleep(0.02)
        # The name is taken before init binds; a call is answered once init is done.
        assert await url() == f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get("/health")
        assert response.status_code == 200 and second != first


async def test_health_is_503_with_the_reason_when_degraded(
    server: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soundforge.web import health

    monkeypatch.setattr(health, "MIN_FREE_BYTES", 1 << 62)  # more room than any disk has
    async with api_client(server) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["database"]["ok"]
    assert not body["storage"]["ok"] and "free some space" in body["storage"]["detail"]


async def test_websockets_decline_compression(server: WebServer) -> None:
    # Browsers offer permessage-deflate; the endpoint declines it (memory per idle socket).
    async with connect(ws_url(server, await api_token(server.admin_id))) as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        await ws.send(json.dumps({"op": "subscribe", "topic": user_topic(server.admin_id)}))
        assert (await next_json(ws))["type"] == "subscribed"
