"""``/api/v1/admin/actors`` over HTTP against a real server: the tree, one process with its
crash reports, and restart/stop/kill with the supervisors' real reactions."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import connect

from soundforge.runtime import dynamic_supervisor
from soundforge.runtime.child_spec import Restart
from soundforge.runtime.port import Port, PortOptions
from soundforge.runtime.process import self_pid
from soundforge.runtime.results import Ok
from soundforge.supervisors.root import NAMES
from tests.web.api.helpers import User, audit_entries, fresh_user
from tests.web.conftest import WebServer, api_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROUTES = [
    ("GET", "/api/v1/admin/actors", None),
    ("GET", "/api/v1/admin/actors/process?target=Queues", None),
    ("POST", "/api/v1/admin/actors/restart", {"target": "pruner"}),
    ("POST", "/api/v1/admin/actors/stop", {"target": "pruner"}),
    ("POST", "/api/v1/admin/actors/kill", {"target": "pruner"}),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(api_server: WebServer) -> AsyncIterator[User]:
    user = await fresh_user(api_server, "admin", admin=True)
    yield user
    await user.client.aclose()


def walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from walk(node.get("children", []))


async def tree(admin: User) -> list[dict[str, Any]]:
    response = await admin.client.get("/api/v1/admin/actors")
    assert response.status_code == 200, response.text
    snapshot = response.json()
    assert snapshot["type"] == "admin.actors" and snapshot["processes"] > 10
    nodes: list[dict[str, Any]] = snapshot["tree"]
    return nodes


def named(nodes: list[dict[str, Any]], child_id: str) -> dict[str, Any]:
    found = [
        n
        for n in walk(nodes)
        if child_id in (n.get("child_id"), n.get("name"))
        or (n.get("behaviour") == child_id and n["kind"] == "supervisor")
    ]
    assert len(found) == 1, (child_id, found)
    return found[0]


async def act(admin: User, action: str, target: str) -> Any:
    response = await admin.client.post(f"/api/v1/admin/actors/{action}", json={"target": target})
    return response


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
async def test_only_admins_may(
    api_server: WebServer, method: str, route: str, body: dict[str, str] | None
) -> None:
    user = await fresh_user(api_server, "plain")
    async with user.client, api_client(api_server) as anonymous:
        response = await user.client.request(method, route, json=body)
        assert response.status_code == 403, response.text
        assert (await anonymous.request(method, route, json=body)).status_code == 401
        # and the pruner is untouched
        assert (await user.client.get("/api/v1/me")).status_code == 200


async def test_the_tree_shows_kinds_supervisors_and_queues(admin: User) -> None:
    nodes = await tree(admin)
    root = named(nodes, "Root")
    assert root["kind"] == "supervisor" and root["intensity_used"] == 0
    assert root["summary"]["strategy"] == "one_for_one"
    queues = named(nodes, "Queues")
    producers = [n for n in walk([queues]) if n.get("child_id") == "producer"]
    assert {p["summary"]["queue"] for p in producers} == {"download", "processing", "analysis"}
    for producer in producers:
        assert set(producer["counts"]) == {"available", "executing", "retryable", "scheduled"}
    assert named(nodes, "soundforge.observer")["kind"] == "gen_server"
    assert named(nodes, "soundforge.endpoint")["kind"] == "gen_server"
    # the request being answered, folded with any other into one entry at the top
    (requests,) = [n for n in nodes if n["kind"] == "http"]
    assert requests["pid"] is None and requests["status"].endswith(" open")
    second = await tree(admin)  # rates need two samples
    assert named(second, "Queues")["rate"] is not None
    assert all(n["uptime_s"] >= 0 for n in walk(second) if n.get("pid"))


async def test_restarting_a_supervisor_restarts_its_subtree_in_order(admin: User) -> None:
    before = named(await tree(admin), "Queues")
    old = {n["pid"] for n in walk([before]) if n.get("pid")}
    response = await act(admin, "restart", "Queues")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["before"] == before["pid"] and result["after"] != before["pid"]
    after = named(await tree(admin), "Queues")
    assert after["pid"] == result["after"] and after["status"] != "stopped"
    children = [c for c in after["children"] if c.get("pid")]
    assert [c["child_id"] for c in children] == [c["child_id"] for c in before["children"]]
    assert not old & {n["pid"] for n in walk([after]) if n.get("pid")}
    # started in spec order: pids are handed out in sequence
    numbers = [int(c["pid"].split(".")[1]) for c in children]
    assert numbers == sorted(numbers)
    entry = (await audit_entries("actor.restarted"))[0]
    assert entry.target_id == "Queues" and entry.actor_id == admin.id


async def test_killing_a_child_its_supervisor_restarts_it_and_keeps_the_report(
    admin: User,
) -> None:
    before = named(await tree(admin), "notifier")
    response = await act(admin, "kill", "notifier")
    assert response.status_code == 200, response.text
    assert response.json()["before"] == before["pid"]
    deadline = time.monotonic() + 1.0
    while True:  # the console shows the restart within a second
        now = named(await tree(admin), "notifier")
        if now.get("pid") not in (None, before["pid"]):
            break
        assert time.monotonic() < deadline, now
        await asyncio.sleep(0.05)
    assert now["restarts"] >= 1
    detail = await admin.client.get("/api/v1/admin/actors/process", params={"target": "notifier"})
    assert detail.status_code == 200
    reports = detail.json()["crash_reports"]
    assert reports[-1]["reason"] == "killed" and reports[-1]["pid"] == before["pid"]
    supervisor = await admin.client.get("/api/v1/admin/actors/process", params={"target": "Queues"})
    assert any(r["pid"] == before["pid"] for r in supervisor.json()["crash_reports"])
    assert (await audit_entries("actor.killed"))[0].target_id == "notifier"


async def test_a_stopped_child_stays_stopped_until_restarted(admin: User) -> None:
    response = await act(admin, "stop", "pruner")
    assert response.status_code == 200, response.text
    assert named(await tree(admin), "pruner")["status"] == "stopped"
    await asyncio.sleep(0.2)
    assert named(await tree(admin), "pruner")["status"] == "stopped"
    response = await act(admin, "restart", "pruner")
    assert response.status_code == 200, response.text
    assert response.json()["before"] is None
    assert named(await tree(admin), "pruner")["pid"] == response.json()["after"]
    assert (await audit_entries("actor.stopped"))[0].target_id == "pruner"


def sleepers(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ports = [n for n in walk(nodes) if n["kind"] == "port" and n.get("summary")]
    return [p for p in ports if p["summary"]["name"] == "sleeper"]


async def test_a_killed_port_program_shows_its_crash_report(
    api_server: WebServer, admin: User
) -> None:
    program = "import time\nwhile True: time.sleep(1)\n"
    options = PortOptions(
        [sys.executable, "-c", program], name="sleeper", framing=False, owner=self_pid()
    )
    spec = Port.child_spec(options).with_(restart=Restart.PERMANENT)
    started = await dynamic_supervisor.start_child(NAMES.ports, spec)
    assert isinstance(started, Ok)
    deadline = time.monotonic() + 3.0
    while True:  # memory is sampled off the loop, the first time a second after the start
        (sleeper,) = sleepers(await tree(admin))
        if sleeper.get("rss_bytes") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert sleeper["os_pid"] > 0 and sleeper["rss_bytes"] > 0
    os.kill(sleeper["os_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 1.0
    while True:
        again = sleepers(await tree(admin))
        if again and again[0]["os_pid"] != sleeper["os_pid"]:
            break
        assert time.monotonic() < deadline, again
        await asyncio.sleep(0.05)
    detail = await admin.client.get(
        "/api/v1/admin/actors/process", params={"target": "PortSupervisor"}
    )
    reports = detail.json()["crash_reports"]
    assert any(r["pid"] == sleeper["pid"] and "SIGKILL" in r["reason"] for r in reports), reports
    stopped = await dynamic_supervisor.terminate_child(NAMES.ports, again[0]["pid"])
    assert stopped is not None


async def test_targets_that_cannot_be_acted_on_say_why(admin: User) -> None:
    for target in ("Root", "soundforge.endpoint"):
        response = await act(admin, "kill", target)
        assert response.status_code == 409, response.text
        assert "server" in response.json()["error"]["message"]
    response = await act(admin, "restart", "producer")
    assert response.status_code == 409
    assert "names 3 processes" in response.json()["error"]["message"]
    response = await act(admin, "restart", "no such actor")
    assert response.status_code == 404
    response = await admin.client.get(
        "/api/v1/admin/actors/process", params={"target": "no such actor"}
    )
    assert response.status_code == 404


async def test_admins_follow_the_tree_over_the_websocket(
    api_server: WebServer, admin: User
) -> None:
    url = api_server.url.replace("http", "ws", 1) + "/ws"
    plain = await fresh_user(api_server, "follower")
    headers = {"Authorization": f"Bearer {plain.token}"}
    async with connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topic": "admin:actors"}))
        assert json.loads(await ws.recv())["type"] == "error"
    await plain.client.aclose()
    headers = {"Authorization": f"Bearer {admin.token}"}
    async with connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topic": "admin:actors"}))
        assert json.loads(await ws.recv())["type"] == "subscribed"
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 3.0))
    assert snapshot["type"] == "admin.actors"
    assert any(n.get("child_id") == "Queues" for n in walk(snapshot["tree"]))


async def test_a_child_id_many_share_is_found_under_its_supervisor(admin: User) -> None:
    before = named(await tree(admin), "queue:analysis")
    (producer,) = [c for c in before["children"] if c.get("child_id") == "producer"]
    body = {"target": "producer", "supervisor": "queue:analysis"}
    response = await admin.client.post("/api/v1/admin/actors/stop", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["message"] == f"producer ({producer['pid']}) was stopped."
    after = named(await tree(admin), "queue:analysis")
    assert [c["status"] for c in after["children"] if c.get("child_id") == "producer"] == [
        "stopped"
    ]
    response = await admin.client.post("/api/v1/admin/actors/kill", json=body)
    assert response.status_code == 409  # nothing runs to be killed
    response = await admin.client.post("/api/v1/admin/actors/restart", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (
        result["before"] is None
        and result["message"] == f"producer was restarted as {result['after']}."
    )
    body = {"target": "no such child", "supervisor": "queue:analysis"}
    response = await admin.client.post("/api/v1/admin/actors/restart", json=body)
    assert response.status_code == 404
