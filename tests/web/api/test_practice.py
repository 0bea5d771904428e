"""``/api/v1/tracks/{id}/practice-presets`` over HTTP: the typed settings round-trip, names
and ids, the statuses, and another user's track answering 404."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.web.api.helpers import fresh_user, seed_track
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

SETTINGS = {
    "loop": {"a_ms": 12_000, "b_ms": 20_500},
    "count_in": 4,
    "rate": 0.75,
    "pitch": 2.5,
    "trainer": {"enabled": True, "step": 0.05, "target": 1.0, "every": 3},
}


async def test_presets_round_trip(api_server: WebServer) -> None:
    owner = await fresh_user(api_server, "musician")
    track = (await seed_track(api_server, owner.id)).track_id
    base = f"/api/v1/tracks/{track}/practice-presets"
    async with owner.client as client:
        assert (await client.get(base)).json() == []

        created = await client.post(base, json={"name": "solo slow", "settings": SETTINGS})
        assert created.status_code == 201, created.text
        preset = created.json()
        assert preset["name"] == "solo slow" and preset["settings"] == SETTINGS
        assert preset["track_id"] == track and preset["id"]

        again = await client.post(base, json={"name": "solo slow"})
        assert again.status_code == 409
        assert "already has a preset called 'solo slow'" in again.json()["error"]["message"]

        # PUT to a new name creates (201) with defaults filled in; to a known one saves over (200).
        put = await client.put(f"{base}/{quote('chorus in D')}", json={"settings": {"pitch": -2}})
        assert put.status_code == 201, put.text
        assert put.json()["settings"] == {
            "loop": None,
            "count_in": 0,
            "rate": 1.0,
            "pitch": -2.0,
            "trainer": {"enabled": False, "step": 0.05, "target": 1.0, "every": 2},
        }
        over = await client.put(f"{base}/{quote('chorus in D')}", json={"settings": SETTINGS})
        assert over.status_code == 200 and over.json()["id"] == put.json()["id"]
        assert over.json()["settings"] == SETTINGS

        renamed = await client.put(f"{base}/{preset['id']}", json={"name": "Solo (slow)"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Solo (slow)"
        listed = (await client.get(base)).json()
        assert [p["name"] for p in listed] == ["chorus in D", "Solo (slow)"]
        one = await client.get(f"{base}/{quote('Solo (slow)')}")
        assert one.status_code == 200 and one.json()["settings"] == SETTINGS

        assert (await client.delete(f"{base}/{preset['id']}")).status_code == 204
        gone = await client.delete(f"{base}/{preset['id']}")
        assert gone.status_code == 404
        assert gone.json()["error"]["message"] == (
            f"This track has no practice preset '{preset['id']}'."
        )
        assert [p["name"] for p in (await client.get(base)).json()] == ["chorus in D"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "x", "settings": {"rate": 5}}, "Expected `float` <= 2.0 - at `$.settings.rate`"),
        ({"name": "x", "settings": {"loop": {"a_ms": 9, "b_ms": 3}}}, "must come after its start"),
        ({"name": "x", "settings": {"trainer": {"every": 20}}}, "at `$.settings.trainer.every`"),
        ({"name": "", "settings": {}}, "at `$.name`"),
        ({"name": "   "}, "not only spaces"),
        ({"name": "x", "colour": "red"}, "unknown field `colour`"),
    ],
)
async def test_bad_settings_are_a_422_naming_the_field(
    api_server: WebServer, body: dict[str, object], words: str
) -> None:
    owner = await fresh_user(api_server, "typo")
    track = (await seed_track(api_server, owner.id)).track_id
    async with owner.client as client:
        response = await client.post(f"/api/v1/tracks/{track}/practice-presets", json=body)
    assert response.status_code == 422, response.text
    assert words in response.json()["error"]["message"]


async def test_another_users_track_and_presets_are_404(api_server: WebServer) -> None:
    owner = await fresh_user(api_server, "owner")
    other = await fresh_user(api_server, "other")
    track = (await seed_track(api_server, owner.id)).track_id
    base = f"/api/v1/tracks/{track}/practice-presets"
    async with owner.client as mine, other.client as theirs:
        assert (await mine.post(base, json={"name": "mine"})).status_code == 201
        for method, path, body in [
            ("GET", base, None),
            ("POST", base, {"name": "theirs"}),
            ("GET", f"{base}/mine", None),
            ("PUT", f"{base}/mine", {"settings": SETTINGS}),
            ("DELETE", f"{base}/mine", None),
        ]:
            response = await theirs.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"]["message"].startswith("There is no track")
        assert [p["name"] for p in (await mine.get(base)).json()] == ["mine"]
        assert (await mine.get(f"{base}/{'x' * 101}")).status_code == 404
        missing = await mine.get("/api/v1/tracks/not-a-track/practice-presets")
        assert missing.status_code == 404
