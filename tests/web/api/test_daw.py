"""``/api/v1/stems/{id}/edits`` and ``/render`` over HTTP: a lane's edit list with undo and
redo, validation (422) and state conflicts (409) in one sentence, a render through the real
queue into a new version whose audio is served beside the untouched original, and ownership:
another user's stem, edits and renders are 404s like missing ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from tests.web.api.helpers import Seeded, User, fresh_user, seed_track, session_client
from tests.web.conftest import WebServer, api_client

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Owner(msgspec.Struct):
    user: User
    seeded: Seeded

    @property
    def vocals(self) -> str:
        return f"/api/v1/stems/{self.seeded.stems['vocals']}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def owner(api_server: WebServer) -> AsyncIterator[Owner]:
    user = await fresh_user(api_server, "daw")
    seeded = await seed_track(api_server, user.id, stems=("vocals", "drums"), seconds=2.0)
    yield Owner(user, seeded)
    await user.client.aclose()


async def post(client: Any, path: str, body: Any = None, status: int = 200) -> Any:
    response = await client.post(path, json=body) if body is not None else await client.post(path)
    assert response.status_code == status, response.text
    return response.json()


def live_ops(lane: dict[str, Any]) -> list[str]:
    return [e["op"] for e in lane["edits"] if not e["undone"]]


async def test_an_edit_list_with_undo_and_redo(owner: Owner) -> None:
    client, lane_url = owner.user.client, f"{owner.vocals}/edits"
    lane = (await client.get(lane_url)).json()
    assert lane["edits"] == [] and lane["clips"] == [{"start_ms": 0, "end_ms": 2000}]
    assert lane["stem"] == "vocals" and lane["duration_ms"] == 2000
    lane = await post(client, lane_url, {"op": "split", "start_ms": 1000}, 201)
    assert lane["clips"] == [{"start_ms": 0, "end_ms": 1000}, {"start_ms": 1000, "end_ms": 2000}]
    body = {"op": "gain", "start_ms": 0, "end_ms": 1000, "gain_db": -3.5}
    lane = await post(client, lane_url, body, 201)
    assert lane["edits"][1] | {"id": None, "created_at": None} == {
        "id": None,
        "position": 1,
        "op": "gain",
        "start_ms": 0,
        "end_ms": 1000,
        "gain_db": -3.5,
        "undone": False,
        "created_at": None,
    }
    lane = await post(client, f"{lane_url}/undo")
    assert live_ops(lane) == ["split"] and lane["can_redo"]
    lane = await post(client, f"{lane_url}/redo")
    assert live_ops(lane) == ["split", "gain"] and not lane["can_redo"]
    await post(client, f"{lane_url}/undo")
    lane = await post(client, lane_url, {"op": "mute", "start_ms": 1500, "end_ms": 1600}, 201)
    assert live_ops(lane) == ["split", "mute"] and len(lane["edits"]) == 2  # the gain is gone
    for _ in range(2):
        await post(client, f"{lane_url}/undo")
    response = await client.post(f"{lane_url}/undo")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "There is nothing to undo in this lane."


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"op": "reverse", "start_ms": 0, "end_ms": 10}, "body is invalid"),
        ({"op": "mute", "start_ms": -1, "end_ms": 10}, "body is invalid"),
        ({"op": "gain", "start_ms": 0, "end_ms": 10, "gain_db": 30}, "body is invalid"),
        ({"op": "mute", "start_ms": 0, "end_ms": 10, "colour": "red"}, "body is invalid"),
        ({"op": "mute", "start_ms": 10}, "mute needs a region"),
        ({"op": "fade_out", "start_ms": 1500, "end_ms": 2500}, "past the stem's end"),
        ({"op": "split", "start_ms": 2000}, "a split must fall inside the stem"),
    ],
)
async def test_invalid_edits_are_422(owner: Owner, body: dict[str, Any], words: str) -> None:
    response = await owner.user.client.post(f"{owner.vocals}/edits", json=body)
    assert response.status_code == 422, response.text
    assert words in response.json()["error"]["message"].lower()


async def rendered(client: Any, stem_url: str, job_id: int, timeout: float = 60.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            job = (await client.get(f"{stem_url}/renders/{job_id}")).json()
            if job["state"] in ("completed", "cancelled", "discarded"):
                return job
            await asyncio.sleep(0.1)


async def test_a_render_stores_a_new_version_and_the_original_stays(
    api_server: WebServer,
) -> None:
    user = await fresh_user(api_server, "renderer")
    seeded = await seed_track(api_server, user.id, stems=("vocals",), seconds=1.0)
    stem_url = f"/api/v1/stems/{seeded.stems['vocals']}"
    original = seeded.files["vocals"].read_bytes()
    async with user.client as client:
        response = await client.post(f"{stem_url}/render")
        assert response.status_code == 409
        assert "no edits to render" in response.json()["error"]["message"]
        await post(client, f"{stem_url}/edits", {"op": "mute", "start_ms": 0, "end_ms": 500}, 201)
        job = await post(client, f"{stem_url}/render", status=202)
        assert job["stem_id"] == seeded.stems["vocals"] and job["track_id"] == seeded.track_id
        done = await rendered(client, stem_url, job["job_id"])
        assert done["state"] == "completed" and done["version"] == 2, done
        assert done["progress"] == 1.0 and done["error"] is None
        lane = (await client.get(f"{stem_url}/edits")).json()
        assert [(v["id"], v["version"]) for v in lane["versions"]] == [
            (done["rendered_stem_id"], 2)
        ]
        audio = await client.get(f"/api/v1/stems/{done['rendered_stem_id']}/audio?download=1")
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        assert "vocals v2" in audio.headers["content-disposition"]
        assert (await client.get(f"{stem_url}/audio")).content == original
        assert seeded.files["vocals"].read_bytes() == original
        track = (await client.get(f"/api/v1/tracks/{seeded.track_id}")).json()
        versions = [(s["stem"], s["version"]) for s in track["separations"][0]["stems"]]
        assert versions == [("vocals", 1), ("vocals", 2)]
        response = await client.get(f"/api/v1/stems/{done['rendered_stem_id']}/edits")
        assert response.status_code == 409 and "is a render" in response.text


async def test_another_users_lane_is_a_404(api_server: WebServer, owner: Owner) -> None:
    edit = {"op": "mute", "start_ms": 0, "end_ms": 10}
    await post(owner.user.client, f"{owner.vocals}/edits", edit, 201)
    render = await post(owner.user.client, f"{owner.vocals}/render", status=202)
    await rendered(owner.user.client, owner.vocals, render["job_id"])
    before = (await owner.user.client.get(f"{owner.vocals}/edits")).json()
    mallory = await fresh_user(api_server, "mallory")
    mine = await seed_track(api_server, mallory.id, stems=("vocals",))
    async with mallory.client as client:
        probes = [
            client.get(f"{owner.vocals}/edits"),
            client.post(f"{owner.vocals}/edits", json=edit),
            client.post(f"{owner.vocals}/edits/undo"),
            client.post(f"{owner.vocals}/edits/redo"),
            client.post(f"{owner.vocals}/render"),
            client.get(f"{owner.vocals}/renders/{render['job_id']}"),
            # Her own stem with his job id: still not hers.
            client.get(f"/api/v1/stems/{mine.stems['vocals']}/renders/{render['job_id']}"),
            client.get("/api/v1/stems/not-a-uuid/edits"),
            client.get(f"{owner.vocals}/renders/not-a-number"),
        ]
        for probe in probes:
            response = await probe
            assert response.status_code == 404, (response.request.url, response.text)
            assert response.json()["error"]["status"] == 404
    async with api_client(api_server) as anonymous:
        response = await anonymous.get(f"{owner.vocals}/edits")
        assert response.status_code == 401
    assert (await owner.user.client.get(f"{owner.vocals}/edits")).json() == before


async def test_the_daw_page_is_the_owners_only(api_server: WebServer, owner: Owner) -> None:
    page = f"/tracks/{owner.seeded.track_id}/daw"
    async with await session_client(api_server, owner.user.id) as browser:
        response = await browser.get(page)
        assert response.status_code == 200
        assert response.text.count('class="daw-lane"') == 2
        assert 'id="daw-data"' in response.text and "Original" in response.text
    stranger = await fresh_user(api_server, "stranger")
    async with await session_client(api_server, stranger.id) as browser:
        assert (await browser.get(page)).status_code == 404
        assert (await browser.get("/tracks/not-a-uuid/daw")).status_code == 404
    await stranger.client.aclose()
