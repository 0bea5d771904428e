"""The server-rendered pages (``soundforge.web.pages``) against a whole running server.

Sign-in, registration and sign-out as a browser does them (forms with the CSRF field), what
they refuse (wrong password, suspended account, missing CSRF token, a redirect off the site),
the library's search/filter/sort/pages without JavaScript, settings, the security headers,
and the PWA files (manifest, icons, service worker).
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import struct
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from soundforge.accounts import list_entries, set_status
from soundforge.actors import repo
from soundforge.music.tracks import NewTrack, create_track
from soundforge.music.tracks import set_status as set_track_status
from soundforge.supervisors.root import NAMES
from soundforge.web.app import SECURITY_HEADERS
from tests.web.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    WebServer,
    api_client,
    new_user,
    sign_in,
)


@contextlib.asynccontextmanager
async def form_client(server: WebServer) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A cookie-keeping client that has loaded the login page, and its CSRF token."""
    async with api_client(server) as client:
        page = await client.get("/login")
        assert page.status_code == 200
        yield client, client.cookies.get("sf_csrf") or ""


@contextlib.asynccontextmanager
async def signed_in(
    server: WebServer, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> AsyncIterator[httpx.AsyncClient]:
    client = await sign_in(server, email, password)
    try:
        yield client
    finally:
        await client.aclose()


async def post_login(client: httpx.AsyncClient, csrf: str, **fields: str) -> httpx.Response:
    return await client.post("/login", data={"csrf_token": csrf, **fields})


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


# -- signing in and out ---------------------------------------------------------------------


async def test_login_then_logout(server: WebServer) -> None:
    async with form_client(server) as (client, csrf):
        assert csrf, "the login page sets the CSRF cookie"
        response = await post_login(client, csrf, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        set_cookie = response.headers["set-cookie"]
        assert "sf_session=" in set_cookie and "HttpOnly" in set_cookie
        assert "SameSite=Lax" in set_cookie

        library = await client.get("/")
        assert library.status_code == 200
        assert 'href="/admin"' in library.text  # the first account is an admin
        assert 'action="/logout"' in library.text

        # Signed in, the login page sends you on.
        again = await client.get("/login?next=/settings")
        assert (again.status_code, again.headers["location"]) == (303, "/settings")

        out = await client.post("/logout", data={"csrf_token": client.cookies.get("sf_csrf")})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        gone = await client.get("/")
        assert gone.status_code == 302
        assert gone.headers["location"] == "/login?next=%2F"

    async with repo.connection(NAMES.repo) as conn:
        actions = [e.action for e in await list_entries(conn, actor_id=server.admin_id)]
    assert "user.login" in actions and "user.logout" in actions


async def test_a_wrong_password_is_refused_and_audited(server: WebServer) -> None:
    async with form_client(server) as (client, csrf):
        response = await post_login(client, csrf, email=ADMIN_EMAIL, password="not the password")
        assert response.status_code == 401
        assert "Wrong email or password." in response.text
        assert f'value="{ADMIN_EMAIL}"' in response.text  # the form keeps the email
        assert "sf_session" not in client.cookies
        unknown = await post_login(client, csrf, email="nobody@example.com", password="whatever1")
        assert unknown.status_code == 401
        assert "Wrong email or password." in unknown.text  # the same words: no account probing
    async with repo.connection(NAMES.repo) as conn:
        failures = await list_entries(conn, action="user.login_failed")
    assert {f.details["reason"] for f in failures} == {"wrong password", "unknown email"}


async def test_a_suspended_account_cannot_sign_in(server: WebServer) -> None:
    await new_user("dancer@example.com", "a long password")
    async with repo.connection(NAMES.repo) as conn:
        user_id = await conn.fetchval(
            "SELECT id::text FROM users WHERE email = $1", "dancer@example.com"
        )
        await set_status(conn, user_id, "suspended")
    async with form_client(server) as (client, csrf):
        response = await post_login(
            client, csrf, email="dancer@example.com", password="a long password"
        )
        assert response.status_code == 403
        assert "suspended" in response.text
        assert "sf_session" not in client.cookies


@pytest.mark.parametrize("path", ["/login", "/register"])
async def test_forms_without_the_csrf_token_are_refused(server: WebServer, path: str) -> None:
    async with form_client(server) as (client, _):
        fields = {
            "email": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD,
            "password_again": ADMIN_PASSWORD,
        }
        response = await client.post(path, data=fields)
        assert response.status_code == 403
        assert "reload the page" in response.text
        forged = await client.post(path, data={**fields, "csrf_token": "forged"})
        assert forged.status_code == 403


async def test_logout_needs_the_csrf_token(server: WebServer) -> None:
    async with signed_in(server) as client:
        del client.headers["X-CSRF-Token"]
        response = await client.post("/logout")
        assert response.status_code == 403
        assert (await client.get("/")).status_code == 200  # still signed in


@pytest.mark.parametrize(
    ("target", "lands"),
    [
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/settings", "/settings"),
        ("/?q=daft&sort=bpm", "/?q=daft&sort=bpm"),
    ],
)
async def test_login_redirects_only_within_the_site(
    server: WebServer, target: str, lands: str
) -> None:
    async with api_client(server) as client:
        page = await client.get("/login", params={"next": target})
        assert hidden(page.text, "next") == lands.replace("&", "&amp;")
        response = await post_login(
            client,
            client.cookies["sf_csrf"],
            email=ADMIN_EMAIL,
            password=ADMIN_PASSWORD,
            next=target,
        )
        assert response.status_code == 303
        assert response.headers["location"] == lands


async def test_pages_send_anonymous_visitors_to_the_login(server: WebServer) -> None:
    async with api_client(server) as client:
        for path in ("/", "/settings", "/?q=x"):
            response = await client.get(path)
            assert response.status_code == 302
            location = urlsplit(response.headers["location"])
            assert location.path == "/login"
            assert parse_qs(location.query)["next"] == [path.rstrip("?")]


# -- registration -------------------------------------------------------------------------------


async def register(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    csrf = client.cookies.get("sf_csrf") or ""
    return await client.post("/register", data={"csrf_token": csrf, **fields})


async def test_register_signs_the_new_user_in(server: WebServer) -> None:
    async with api_client(server) as client:
        assert (await client.get("/register")).status_code == 200
        response = await register(
            client,
            email="mc@example.com",
            display_name="MC",
            password="microphone check",
            password_again="microphone check",
        )
        assert (response.status_code, response.headers["location"]) == (303, "/")
        library = await client.get("/")
        assert library.status_code == 200
        assert "MC" in library.text
        assert 'href="/admin"' not in library.text  # not the first account: no admin
        assert (await client.get("/register")).headers["location"] == "/"
    async with repo.connection(NAMES.repo) as conn:
        entries = await list_entries(conn, action="user.registered")
    assert [e.details for e in entries] == [{"role": "user"}]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (
            {"password": "long enough 1", "password_again": "long enough 2"},
            "The two passwords differ",
        ),
        ({"password": "short", "password_again": "short"}, "at least 8 characters"),
        ({"email": ADMIN_EMAIL}, "already exists"),
        ({"email": "not an email"}, "is not an email address"),
    ],
)
async def test_register_says_what_is_wrong(
    server: WebServer, fields: dict[str, str], words: str
) -> None:
    form = {"email": "new@example.com", "password": "long enough", "password_again": "long enough"}
    async with api_client(server) as client:
        await client.get("/register")
        response = await register(client, **{**form, **fields})
        assert response.status_code == 422
        assert words in response.text
        assert "sf_session" not in client.cookies


# -- pages for a signed-in user -----------------------------------------------------------------


async def test_pages_render_for_a_signed_in_user(server: WebServer) -> None:
    async with signed_in(server) as client:
        library = await client.get("/")
        assert library.status_code == 200
        assert "Your library is empty" in library.text
        assert f'data-user-id="{server.admin_id}"' in library.text
        settings = await client.get("/settings")
        assert settings.status_code == 200
        assert 'name="separation_engine"' in settings.text
        assert 'name="analysis_hpss"' in settings.text
        assert "You have no API tokens." in settings.text
        offline = await client.get("/offline")
        assert offline.status_code == 200
        assert ADMIN_EMAIL not in offline.text  # precached: nobody's data in it
        assert 'name="csrf-token"' not in offline.text
        for page in (library, settings, offline):
            assert_strict_page(page.text)


def assert_strict_page(html: str) -> None:
    """What the CSP forbids is absent: inline scripts, inline styles, handler attributes."""
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)
    for script in re.findall(r"<script\b[^>]*>", html):
        assert 'type="module"' in script and "src=" in script, script


async def test_security_headers_on_every_kind_of_response(server: WebServer) -> None:
    async with signed_in(server) as client:
        for path in ("/", "/login", "/settings", "/sw.js", "/manifest.webmanifest", "/nowhere"):
            response = await client.get(path)
            for header, value in SECURITY_HEADERS.items():
                assert response.headers.get(header) == value, (path, header)
        assert "script-src 'self'" in SECURITY_HEADERS["Content-Security-Policy"]


async def test_error_pages_are_pages(server: WebServer) -> None:
    async with signed_in(server) as client:
        response = await client.get("/nowhere", headers={"Accept": "text/html"})
        assert response.status_code == 404
        assert "There is nothing at this address." in response.text
        assert '<link rel="stylesheet" href="/static/css/app.css">' in response.text


# -- the library without JavaScript ---------------------------------------------------------


async def add_track(
    user_id: str,
    title: str,
    artist: str,
    *,
    status: str = "ready",
    bpm: float | None = None,
    key: str | None = None,
    camelot: str | None = None,
) -> str:
    async with repo.transaction(NAMES.repo) as conn:
        track_id = await create_track(
            conn,
            NewTrack(
                user_id=user_id,
                source_kind="upload",
                title=title,
                artists=[artist],
                duration_ms=180_000,
            ),
        )
        await set_track_status(conn, track_id, status)
        if bpm is not None:
            await conn.execute(
                """INSERT INTO analyses
                     (track_id, user_id, version, result, tempo_bpm, key, camelot)
                   VALUES ($1::uuid, $2::uuid, 1, '{}'::jsonb, $3, $4, $5)""",
                track_id,
                user_id,
                bpm,
                key,
                camelot,
            )
    return track_id


def titles(html: str) -> list[str]:
    return re.findall(r'class="track-title" href="/tracks/[^"]+">([^<]*)<', html)


async def test_the_library_filters_sorts_and_pages_on_the_server(server: WebServer) -> None:
    me = server.admin_id
    await add_track(me, "One More Time", "Daft Punk", bpm=122.9, key="E major", camelot="12B")
    await add_track(me, "Around the World", "Daft Punk", bpm=121.3, key="A minor", camelot="8A")
    await add_track(me, "Windowlicker", "Aphex Twin", status="failed")
    other = await new_user("someone@example.com")
    await add_track(other, "Not Yours", "Daft Punk", bpm=120.0, key="A minor", camelot="8A")

    async with signed_in(server) as client:

        async def page(**query: Any) -> httpx.Response:
            response = await client.get("/", params=query)
            assert response.status_code == 200, response.text[:500]
            return response

        everything = await page()
        assert titles(everything.text) == ["Windowlicker", "Around the World", "One More Time"]
        assert "1–3 of 3 tracks" in everything.text
        assert "Not Yours" not in everything.text

        assert titles((await page(q="daft")).text) == ["Around the World", "One More Time"]
        assert titles((await page(status="failed")).text) == ["Windowlicker"]
        assert titles((await page(bpm_min=122)).text) == ["One More Time"]
        assert titles((await page(key="Am")).text) == ["Around the World"]
        assert titles((await page(camelot="12B")).text) == ["One More Time"]
        assert titles((await page(compatible_with="9A")).text) == ["Around the World"]
        by_title = await page(sort="title")
        assert titles(by_title.text) == ["Around the World", "One More Time", "Windowlicker"]
        assert '<option value="title" selected>' in by_title.text  # the form shows the query
        empty = await page(q="nothing like this")
        assert titles(empty.text) == [] and "Nothing matches" in empty.text

        first = await page(sort="title", limit=2)
        assert titles(first.text) == ["Around the World", "One More Time"]
        next_url = re.search(r'rel="next" href="([^"]+)"', first.text)
        assert next_url is not None
        second = await client.get(next_url.group(1).replace("&amp;", "&"))
        assert titles(second.text) == ["Windowlicker"]
        assert 'rel="prev"' in second.text and 'rel="next"' not in second.text

        # The rows carry the analysis and the Camelot badge; the page carries the data too.
        assert 'class="camelot camelot-12B"' in everything.text
        data = re.search(r'data-page="([^"]+)"', everything.text)
        assert data is not None
        decoded = json.loads(html.unescape(data.group(1)))
        assert decoded["total"] == 3

        invalid = await client.get("/", params={"camelot": "13Z"})
        assert invalid.status_code == 422
        assert "is not a Camelot code" in invalid.text


# -- the progressive web app -----------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_manifest_and_its_icons(server: WebServer) -> None:
    async with api_client(server) as client:
        response = await client.get("/manifest.webmanifest")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/manifest+json"
        manifest = response.json()
        assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
        assert manifest["name"] and manifest["short_name"]
        assert manifest["theme_color"].startswith("#") and manifest["background_color"].startswith(
            "#"
        )
        purposes = set()
        for icon in manifest["icons"]:
            image = await client.get(icon["src"])
            assert image.status_code == 200, icon["src"]
            purposes.add(icon["purpose"])
            if icon["type"] == "image/png":
                size = int(icon["sizes"].split("x")[0])
                assert png_size(image.content) == (size, size)
        sizes = {i["sizes"] for i in manifest["icons"]}
        assert {"192x192", "512x512"} <= sizes and "maskable" in purposes


async def test_the_service_worker_is_served_from_the_root(server: WebServer) -> None:
    async with api_client(server) as client:
        response = await client.get("/sw.js")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.headers["service-worker-allowed"] == "/"
        assert "no-store" in response.headers["cache-control"]
        assert "__SOUNDFORGE_SHELL_VERSION__" not in response.text
        assert re.search(r"const VERSION = '[^']+-[0-9a-f]{12}';", response.text)
        # Every file the worker precaches exists.
        shell = re.search(r"const SHELL = \[(.*?)\];", response.text, re.S)
        assert shell is not None
        for path in [*re.findall(r"'(/[^']*)'", shell.group(1)), "/offline"]:
            assert (await client.get(path)).status_code == 200, path


async def test_closed_registration_refuses_new_accounts(database_url: str) -> None:
    from soundforge.web import url
    from tests.jobs.conftest import running_studio

    settings = {"port": 0, "open_registration": False}
    # (The items of one ``with`` are entered in order: url() runs once the server is up.)
    async with (
        running_studio(database_url, settings, web=True),
        httpx.AsyncClient(base_url=await url()) as client,
    ):
        form = await client.get("/register")
        assert form.status_code == 403 and "Registration is closed" in form.text
        csrf = client.cookies.get("sf_csrf") or ""
        posted = await client.post(
            "/register",
            data={
                "email": "late@example.com",
                "password": "a long password",
                "password_again": "a long password",
                "csrf_token": csrf,
            },
        )
    assert posted.status_code == 403
