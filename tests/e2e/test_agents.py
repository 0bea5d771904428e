"""The agents page in headless Chromium, against the fake Anthropic API: the deterministic
mix plan with no model, the chat panel saying how to add one, a streamed planner reply with
its tool activity and plan, and a cue proposal confirmed from the panel. The ``problems``
fixture fails a test on any console error or CSP violation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from soundforge.actors import repo
from soundforge.llm import (
    DEFAULT_NAME,
    LlmOptions,
    ModelRegistry,
    NewProvider,
    create_provider,
    llm_context,
)
from soundforge.runtime.gen_server import resolve, stop
from soundforge.runtime.results import Ok
from soundforge.supervisors.root import NAMES
from tests.agents import library
from tests.e2e.conftest import Problems, watch
from tests.fakes.anthropic_api import FakeAnthropic, Reply, ToolUse
from tests.web.conftest import WebServer

pytestmark = [pytest.mark.timeout(300)]

AGENT_OPTIONS = "[data-agent-chat] select[data-part=agent] option"


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key="sk-ant-e2e") as server:
        yield server


@pytest.fixture
async def registry(server: WebServer) -> AsyncIterator[None]:
    """The server's ModelRegistry, with no environment providers; started here while the
    tree does not run one."""
    if resolve(DEFAULT_NAME) is not None:
        yield
        return
    options = LlmOptions(data_dir=server.studio.data_dir, environ={})
    assert isinstance(await ModelRegistry.start(options), Ok)
    yield
    await stop(DEFAULT_NAME)


async def give_model(server: WebServer, fake: FakeAnthropic) -> None:
    async with repo.connection(NAMES.repo) as conn:
        await create_provider(
            conn,
            llm_context().keyring,
            server.admin_id,
            NewProvider(name="Fake Claude", kind="anthropic", model="claude-sonnet-4-6",
                        base_url=fake.base_url, api_key="sk-ant-e2e"),
        )  # fmt: skip


async def tracks(server: WebServer) -> tuple[str, str]:
    async with repo.transaction(NAMES.repo) as conn:
        calm = await library.track(conn, server.admin_id, "Calm Opener", tempo=122.0,
                                   level_db=-16.0)  # fmt: skip
        loud = await library.track(conn, server.admin_id, "Loud Closer", tempo=128.0,
                                   camelot="9A", key="E minor", level_db=-6.0)  # fmt: skip
    return calm, loud


async def confirm_proposal(page: Any) -> None:
    """Confirm the chat's proposal and wait until the panel shows it confirmed."""
    await page.locator(".agent-proposal [data-action=confirm]").click()
    await page.wait_for_function(
        "() => document.querySelector('.agent-proposal')?.dataset.status === 'confirmed'"
    )


async def ask_for_a_cue(
    server: WebServer, context: Any, problems: Problems, fake: FakeAnthropic
) -> Any:
    """A page where the cue planner was asked about a track with a model whose script
    proposes hot cue 1 on the drop; returns as soon as the question is sent. No earlier
    chat is offered before it."""
    calm, _ = await tracks(server)
    await give_model(server, fake)
    cues = [{"kind": "hot", "hot_index": 0, "position_ms": 46440, "label": "Drop"}]
    fake.script.extend(
        [
            Reply(text="Let me look. ", tool_calls=(ToolUse("propose_cues", {"cues": cues}),)),
            Reply(text="I put hot cue 1 on the drop."),
        ]
    )
    page = await watch(context, problems)
    await page.goto(f"{server.url}/agents?track={calm}")
    await page.locator(AGENT_OPTIONS).first.wait_for(state="attached")
    assert await page.locator("[data-agent-chat] [data-part=history]").is_hidden()
    await page.select_option("[data-agent-chat] select[data-part=agent]", "cue_planner")
    await page.fill("[data-agent-chat] textarea", "Cue the drop")
    await page.click("[data-agent-chat] [data-part=send]")
    return page


@pytest.mark.usefixtures("registry")
async def test_the_plan_needs_no_model_and_the_chat_says_how_to_add_one(
    server: WebServer, admin_context: Any, problems: Problems
) -> None:
    calm, loud = await tracks(server)
    page = await watch(admin_context, problems)
    await page.goto(f"{server.url}/agents")
    rows = page.locator("#mix-plan .plan-track")
    assert await rows.evaluate_all("rows => rows.map(r => r.dataset.trackId)") == [calm, loud]
    transition = page.locator("#mix-plan [data-part=transition]").first
    assert "adjacent (+1)" in await transition.inner_text()

    await page.select_option("#mix-flow", "steady")
    await page.wait_for_function(
        "() => new URL(location.href).searchParams.get('flow') === 'steady'"
    )
    assert await rows.count() == 2

    notice = page.locator("[data-agent-chat] [data-part=notice]")
    await notice.wait_for(state="visible")
    assert "Settings → AI providers" in await notice.inner_text()
    assert await page.locator(AGENT_OPTIONS).all_inner_texts() == ["Mix planner"]
    await page.fill("[data-agent-chat] textarea", "Plan my set")
    await page.click("[data-agent-chat] [data-part=send]")
    error = page.locator(".agent-msg--error")
    await error.wait_for()
    assert await error.get_attribute("data-error-kind") == "no_provider"
    assert "ANTHROPIC_API_KEY" in await error.inner_text()


@pytest.mark.usefixtures("registry")
async def test_a_planner_reply_streams_into_the_panel(
    server: WebServer, admin_context: Any, problems: Problems, fake: FakeAnthropic
) -> None:
    calm, loud = await tracks(server)
    await give_model(server, fake)

    def responder(body: dict[str, Any]) -> Reply:
        if len(body["messages"]) == 1:
            return Reply(tool_calls=(ToolUse("plan_mix", {"flow": "rising"}),))
        plan = {"flow": "rising", "tracks": [
            {"track_id": calm, "title": "Calm Opener"},
            {"track_id": loud, "title": "Loud Closer", "transition": "+1 on the wheel, +4.9 %"},
        ]}  # fmt: skip
        return Reply(text=json.dumps({"reply": "Open calm, close loud.", "plan": plan}))

    fake.responder = responder
    page = await watch(admin_context, problems)
    await page.goto(f"{server.url}/agents")
    await page.locator(AGENT_OPTIONS).first.wait_for(state="attached")
    assert await page.locator("[data-agent-chat] [data-part=notice]").is_hidden()
    await page.fill("[data-agent-chat] textarea", "Plan a warm-up set")
    await page.keyboard.press("Enter")

    reply = page.locator(".agent-msg--assistant").last
    await reply.locator(".agent-meta").wait_for()
    assert await reply.locator(".agent-msg-body").inner_text() == "Open calm, close loud."
    assert await reply.locator(".agent-tool").inner_text() == "Planning the mix ✓"
    items = reply.locator(".agent-plan-list li")
    assert await items.evaluate_all("items => items.map(i => i.dataset.trackId)") == [calm, loud]
    assert "Fake Claude" in await reply.locator(".agent-meta").inner_text()
    assert await page.locator(".agent-msg--user").inner_text() == "Plan a warm-up set"


@pytest.mark.usefixtures("registry")
async def test_a_cue_proposal_is_confirmed_from_the_panel(
    server: WebServer, admin_context: Any, problems: Problems, fake: FakeAnthropic
) -> None:
    page = await ask_for_a_cue(server, admin_context, problems, fake)
    card = page.locator(".agent-proposal")
    await card.wait_for()
    assert "Hot cue 1 at 0:46.4 — Drop" in await card.inner_text()
    await page.locator(".agent-msg--assistant .agent-meta").wait_for()
    async with repo.connection(NAMES.repo) as conn:
        assert await conn.fetchval("SELECT count(*) FROM cue_points") == 0
    await confirm_proposal(page)
    async with repo.connection(NAMES.repo) as conn:
        row = await conn.fetchrow("SELECT position_ms, hot_index, source FROM cue_points")
    assert tuple(row) == (46440, 0, "agent")


@pytest.mark.usefixtures("registry")
async def test_an_earlier_chat_is_drawn_again_and_continued(
    server: WebServer, admin_context: Any, problems: Problems, fake: FakeAnthropic
) -> None:
    page = await ask_for_a_cue(server, admin_context, problems, fake)
    panel = page.locator("[data-agent-chat]")
    history = panel.locator("[data-part=history]")
    await confirm_proposal(page)
    await history.wait_for(state="visible")  # refreshed after the answer

    # A new visit: the panel starts empty and offers the chat, which comes back as it was.
    await page.reload()
    await history.wait_for(state="visible")
    assert await panel.locator(".agent-msg").count() == 0
    (chat,) = await history.locator("option:not([value=''])").all()
    assert (await chat.inner_text()).startswith("Cue the drop — ")
    await history.select_option(await chat.get_attribute("value"))
    reply = panel.locator(".agent-msg--assistant")
    await reply.wait_for()
    assert await panel.locator(".agent-msg--user").inner_text() == "Cue the drop"
    assert await reply.locator(".agent-tool").inner_text() == "Proposing cue points ✓"
    assert await reply.locator(".agent-msg-body").inner_text() == (
        "Let me look. I put hot cue 1 on the drop."
    )
    card = reply.locator(".agent-proposal")
    assert await card.get_attribute("data-status") == "confirmed"
    assert await card.locator("[data-action=confirm]").is_hidden()
    assert "Fake Claude" in await reply.locator(".agent-meta").inner_text()
    assert await panel.locator("select[data-part=agent]").input_value() == "cue_planner"

    # The next question continues that conversation: the model gets the earlier turns.
    fake.script.append(Reply(text="Hot cue 1 is at 0:46.4."))
    await page.fill("[data-agent-chat] textarea", "Where is it again?")
    await page.keyboard.press("Enter")
    await panel.locator(".agent-msg--assistant").nth(1).locator(".agent-meta").wait_for()
    asked = fake.requests[-1]["messages"]
    assert "Cue the drop" in json.dumps(asked[0]) and "Where is it again?" in json.dumps(asked[-1])
    async with repo.connection(NAMES.repo) as conn:
        assert await conn.fetchval("SELECT count(*) FROM agent_conversations") == 1
