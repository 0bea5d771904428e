"""The settings page's "AI providers" section in headless Chromium: add a provider (its key
never comes back to the page), test it against the fake Anthropic API, disable, edit and
delete it. The ``problems`` fixture fails the test on any console error or CSP violation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from soundforge.actors import repo
from soundforge.llm import LlmOptions, ModelRegistry, list_providers
from soundforge.runtime.gen_server import stop, whereis
from soundforge.runtime.results import Ok
from soundforge.supervisors.root import NAMES
from tests.e2e.conftest import Problems, watch
from tests.fakes.anthropic_api import FakeAnthropic
from tests.web.conftest import WebServer

pytestmark = pytest.mark.timeout(180)

KEY = "sk-ant-e2e-secret-Q7xz"


@pytest.fixture
async def models(server: WebServer) -> AsyncIterator[None]:
    """The server's ModelRegistry; started here while the root tree does not run one."""
    started = whereis("soundforge.models") is None
    if started:
        options = LlmOptions(data_dir=server.studio.data_dir, repo=NAMES.repo, environ={})
        assert isinstance(await ModelRegistry.start(options), Ok)
    yield
    if started:
        await stop("soundforge.models")


async def test_add_test_disable_edit_and_delete_a_provider(
    server: WebServer, models: None, admin_context: Any, problems: Problems
) -> None:
    with FakeAnthropic(api_key=KEY) as fake:
        page = await watch(admin_context, problems)
        await page.goto(f"{server.url}/settings")
        await page.wait_for_selector("#llm-providers[data-loaded]")
        assert await page.locator("#llm-empty").is_visible()
        # An administrator may make a system provider; this one stays theirs.
        assert await page.locator("[data-system-choice]").is_visible()

        form = page.locator("#llm-form")
        await form.locator('input[name="name"]').fill("My Claude")
        await form.locator('select[name="kind"]').select_option("anthropic")
        await form.locator('input[name="base_url"]').fill(fake.base_url)
        await form.locator('input[name="model"]').fill("claude-sonnet-4-6")
        await form.locator('input[name="api_key"]').fill(KEY)
        await form.locator("[data-submit]").click()
        row = page.locator("#llm-list tr", has_text="My Claude")
        await row.wait_for()
        assert "…Q7xz" in await row.inner_text()
        assert KEY not in await page.content()
        assert await form.locator('input[name="api_key"]').input_value() == ""
        assert await page.locator("#llm-empty").is_hidden()

        await row.locator('[data-action="test"]').click()
        await row.locator('[data-health="healthy"]').wait_for()
        await page.locator(".toast", has_text="My Claude answered in").wait_for()

        await row.locator('[data-action="toggle"]').click()
        await row.locator('[data-action="toggle"]', has_text="Enable").wait_for()

        await row.locator('[data-action="edit"]').click()
        assert await form.locator('input[name="name"]').input_value() == "My Claude"
        assert "…Q7xz" in (
            await form.locator('input[name="api_key"]').get_attribute("placeholder") or ""
        )
        await form.locator('input[name="model"]').fill("claude-haiku-4-5")
        await form.locator("[data-submit]").click()
        await page.locator("#llm-form [data-saved]", has_text="Saved.").wait_for()
        await row.locator("code", has_text="claude-haiku-4-5").wait_for()
        async with repo.connection(NAMES.repo) as conn:
            (stored,) = await list_providers(conn, server.admin_id)
        assert (stored.model, stored.enabled, stored.api_key_last4) == (
            "claude-haiku-4-5",
            False,
            "Q7xz",
        )

        await row.locator('[data-action="delete"]').click()
        await row.locator('[data-action="delete"]').click()  # the second click confirms
        await page.locator("#llm-empty").wait_for(state="visible")
        assert await page.locator("#llm-list tr").count() == 0
    assert fake.requests == []  # a test spends no tokens
