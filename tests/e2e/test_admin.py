"""The admin pages in headless Chromium: suspending a user locks out their API token at once,
reactivating lets it in again, and a queue can be paused and resumed from its row.

The ``problems`` fixture fails a test on any console error or CSP violation.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Problems, watch
from tests.web.conftest import WebServer, api_client, api_token, new_user

pytestmark = pytest.mark.timeout(180)


async def me_status(server: WebServer, token: str) -> int:
    async with api_client(server, token) as client:
        return (await client.get("/api/v1/me")).status_code


async def test_suspending_a_user_rejects_their_token_until_reactivated(
    server: WebServer, admin_context: Any, problems: Problems
) -> None:
    user_id = await new_user("ana@example.com", "a long password")
    token = await api_token(user_id)
    assert await me_status(server, token) == 200

    page = await watch(admin_context, problems)
    await page.goto(f"{server.url}/admin/users")
    row = page.locator(f'tr[data-user-id="{user_id}"]')
    # Cancelling the confirmation changes nothing.
    await row.locator('[data-action="suspend"]').click()
    await page.locator("#confirm-dialog").wait_for(state="visible")
    assert "ana@example.com" in await page.text_content("#confirm-text")
    await page.click('#confirm-dialog button[value="cancel"]')
    assert await row.get_attribute("data-status") == "active"
    assert await me_status(server, token) == 200

    await row.locator('[data-action="suspend"]').click()
    await page.click("#confirm-ok")
    await page.wait_for_selector(f'tr[data-user-id="{user_id}"][data-status="suspended"]')
    assert await row.locator('[data-action="reactivate"]').is_visible()
    assert await me_status(server, token) == 401

    await row.locator('[data-action="reactivate"]').click()
    await page.click("#confirm-ok")
    await page.wait_for_selector(f'tr[data-user-id="{user_id}"][data-status="active"]')
    assert await me_status(server, token) == 200

    # A role change asks too, and sticks across a reload.
    await row.locator(".role-select").select_option("admin")
    await page.click("#confirm-ok")
    await page.wait_for_function(
        f"""() => document.querySelector('tr[data-user-id="{user_id}"] .role-select')
                   .dataset.current === 'admin'"""
    )
    await page.reload()
    assert await page.locator(f'tr[data-user-id="{user_id}"] .role-select').input_value() == "admin"


async def test_a_queue_is_paused_and_resumed_from_its_row(
    server: WebServer, admin_context: Any, problems: Problems
) -> None:
    page = await watch(admin_context, problems)
    await page.goto(f"{server.url}/admin/queues")
    row = page.locator('tr[data-queue="download"]')
    assert "running" in await row.locator('[data-field="paused"]').text_content()
    await row.locator('[data-action="pause"]').click()
    await page.wait_for_function(
        """() => document.querySelector('tr[data-queue="download"] [data-field="paused"]')
                   .textContent.includes('paused')"""
    )
    assert await row.locator('[data-action="resume"]').is_visible()
    # The page's refresh agrees with the server: still paused after the next poll.
    await page.reload()
    assert "paused" in await row.locator('[data-field="paused"]').text_content()
    await row.locator('[data-action="resume"]').click()
    await page.wait_for_function(
        """() => document.querySelector('tr[data-queue="download"] [data-field="paused"]')
                   .textContent.includes('running')"""
    )
    async with api_client(server, await api_token(server.admin_id)) as client:
        queues = (await client.get("/api/v1/admin/queues")).json()
    assert next(q for q in queues if q["queue"] == "download")["paused"] is False
