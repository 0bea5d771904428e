"""The DJ page (``soundforge.web.pages_dj``) against a whole running server.

Signed out it sends the visitor to the login page and back; signed in it renders both decks
and the mixer with a ``data-control`` path on every control (what MIDI learn maps), and a
data block naming the user's own ``dj`` mixer session, which the page may follow over
``/ws``. The page in a browser has its own tests (tests/e2e/test_dj.py).
"""

from __future__ import annotations

import html
import json
import re

from soundforge.studio import mixers
from tests.web.conftest import WebServer, api_client, new_user, sign_in

#: The controls every deck has, without the stem mutes (those follow the loaded track).
DECK_CONTROLS = (
    "play",
    "cue",
    "sync",
    "rate",
    "volume",
    "eq.low",
    "eq.mid",
    "eq.high",
    *(f"hotcue.{k}.trigger" for k in range(1, 9)),
)


def data_block(page: str) -> dict[str, str]:
    match = re.search(r'<script type="application/json" id="dj-data">(.*?)</script>', page, re.S)
    assert match, "the page has no #dj-data block"
    value: dict[str, str] = json.loads(match.group(1))
    return value


async def test_signed_out_visitors_are_sent_to_the_login_page(server: WebServer) -> None:
    async with api_client(server) as client:
        response = await client.get("/dj")
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login?next=")
    assert "%2Fdj" in response.headers["location"] or "/dj" in response.headers["location"]


async def test_the_page_names_the_users_own_session_and_every_control(server: WebServer) -> None:
    client = await sign_in(server)
    try:
        response = await client.get("/dj")
    finally:
        await client.aclose()
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert data_block(page) == {
        "user_id": server.admin_id,
        "topic": mixers.topic(server.admin_id, "dj"),
    }
    controls = set(re.findall(r'data-control="([^"]+)"', page))
    expected = {f"deck.{n}.{part}" for n in (1, 2) for part in DECK_CONTROLS}
    expected |= {"crossfader", "crossfader.curve", "master.volume"}
    assert controls == expected
    # The navigation links here, marked as the current page; no inline script or style.
    assert re.search(r'<a href="/dj" aria-current="page">DJ</a>', page)
    assert "<style" not in page and " style=" not in page
    scripts = re.findall(r"<script(?: [^>]*)?>(.*?)</script>", page, re.S)
    assert all(not body.strip() or body.strip().startswith("{") for body in scripts)
    assert '<script type="module" src="/static/js/dj.js">' in html.unescape(page)


async def test_each_user_gets_their_own_session(server: WebServer) -> None:
    user_id = await new_user("second-dj@example.com")
    client = await sign_in(server, "second-dj@example.com", "a long password")
    try:
        page = (await client.get("/dj")).text
    finally:
        await client.aclose()
    assert data_block(page)["topic"] == f"mixer:{user_id}:dj"
    assert data_block(page)["user_id"] == user_id
