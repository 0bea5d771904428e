"""``/admin/actors`` as a browser without JavaScript receives it: the frame of the actors
console for admins (the tree itself is drawn by ``web/static/js/admin-actors.js``, see
``tests/e2e/test_admin_actors.py``), the 403 page for everyone else signed in, the login
page for visitors."""

from __future__ import annotations

import re
from contextlib import aclosing

import pytest

from soundforge.web.app import CSP
from tests.web.conftest import WebServer, api_client, new_user, sign_in

pytestmark = pytest.mark.timeout(180)


async def test_an_admin_gets_the_console_under_the_csp(server: WebServer) -> None:
    async with aclosing(await sign_in(server)) as browser:
        response = await browser.get("/admin/actors")
        overview = await browser.get("/admin")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Security-Policy"] == CSP
    page = response.text
    assert '<script type="module" src="/static/js/admin-actors.js' in page
    assert "/static/css/admin.css" in page
    assert 'id="actors-table"' in page and 'id="inspect"' in page
    assert 'id="actors-status"' in page and 'role="status"' in page
    assert 'id="confirm-dialog"' in page  # the layout's confirmation, which the script uses
    # Nothing the CSP would block: no inline script, style attribute or event handler.
    assert "style=" not in page and not re.search(r"\son[a-z]+=", page)
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", page)
    # Every admin page links to it, and it marks itself as the current one.
    assert 'href="/admin/actors"' in overview.text
    assert re.search(r'href="/admin/actors" aria-current="page"', page)


async def test_a_user_is_refused_and_a_visitor_sent_to_sign_in(server: WebServer) -> None:
    await new_user("user@example.com", "a long password")
    async with aclosing(await sign_in(server, "user@example.com", "a long password")) as browser:
        page = await browser.get("/admin/actors")
        as_json = await browser.get("/admin/actors", headers={"Accept": "application/json"})
        snapshot = await browser.get("/api/v1/admin/actors")
    assert page.status_code == 403 and "administrators" in page.text
    assert as_json.status_code == 403 and as_json.json()["error"]["status"] == 403
    assert snapshot.status_code == 403  # the data behind the page is refused too
    async with api_client(server) as anonymous:
        response = await anonymous.get("/admin/actors")
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/login?next=%2Fadmin%2Factors"
