"""A whole SoundForge server for web tests: the real tree with its endpoint on a free port.

``server`` is ``soundforge serve`` as a user runs it (Repo, queues, port pools with the real
audio programs, the endpoint serving pages, API and WebSockets), on the test's database and
a data directory of its own, listening on 127.0.0.1 with a port the OS picked. The first
account (``dj@example.com``, an admin) exists; :func:`sign_in` and :func:`api_token` give
clients for it or for new users.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from soundforge.accounts import create_token, create_user
from soundforge.actors import repo
from soundforge.supervisors.root import NAMES
from soundforge.web import url
from tests.jobs.conftest import Studio, running_studio

ADMIN_EMAIL = "dj@example.com"
ADMIN_PASSWORD = "correct horse battery"


class WebServer(msgspec.Struct):
    studio: Studio
    url: str

    @property
    def admin_id(self) -> str:
        return self.studio.user_id


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[WebServer]:
    settings = {"port": 0, "allow_private_urls": True}
    async with running_studio(database_url, settings, web=True) as studio:
        yield WebServer(studio, await url())


async def new_user(email: str, password: str = "a long password", admin: bool = False) -> str:
    async with repo.connection(NAMES.repo) as conn:
        return (await create_user(conn, email, password, admin=admin)).id


async def api_token(user_id: str, name: str = "tests") -> str:
    async with repo.connection(NAMES.repo) as conn:
        _, secret = await create_token(conn, user_id, name)
    return secret


def api_client(server: WebServer, token: str | None = None, **options: Any) -> httpx.AsyncClient:
    """An HTTP client for the server, authenticated with ``token`` when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30.0, **options)


async def sign_in(
    server: WebServer, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> httpx.AsyncClient:
    """A browser-like client with a session cookie, sending the CSRF header on writes."""
    client = api_client(server)
    page = await client.get("/login")
    csrf = client.cookies.get("sf_csrf") or ""
    response = await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf}
    )
    assert response.status_code in (302, 303), (
        page.status_code,
        response.status_code,
        response.text[:300],
    )
    client.headers["X-CSRF-Token"] = client.cookies.get("sf_csrf") or csrf
    return client
