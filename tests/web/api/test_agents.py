"""``/api/v1/agents``: the agents list, streamed chats against the fake Anthropic API (each
user has their own provider row pointing at it), proposals confirmed over HTTP, another
user's tracks and conversations as 404s, the no-provider answer, and the mix plan."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

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
from tests.fakes.anthropic_api import FakeAnthropic, Reply, ToolUse
from tests.web.api.helpers import User, fresh_user
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key="sk-ant-agents") as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def registry(api_server: WebServer) -> AsyncIterator[None]:
    """The server's ModelRegistry; started here while the tree does not run one."""
    if resolve(DEFAULT_NAME) is not None:
        yield
        return
    options = LlmOptions(data_dir=api_server.studio.data_dir, environ={})
    assert isinstance(await ModelRegistry.start(options), Ok)
    yield
    await stop(DEFAULT_NAME)


async def with_model(server: WebServer, fake: FakeAnthropic, name: str = "dj") -> User:
    """A user whose own provider is the fake Anthropic API."""
    user = await fresh_user(server, name)
    async with repo.connection(NAMES.repo) as conn:
        await create_provider(
            conn,
            llm_context().keyring,
            user.id,
            NewProvider(
                name="Fake Claude",
                kind="anthropic",
                model="claude-sonnet-4-6",
                base_url=fake.base_url,
                api_key="sk-ant-agents",
            ),
        )
    return user


async def analysed_track(user: User, title: str = "Night Drive", **analysis: Any) -> str:
    async with repo.transaction(NAMES.repo) as conn:
        return await library.track(conn, user.id, title, **analysis)


async def events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """The server-sent events of a streamed response."""
    found, kind = [], None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            assert kind is not None
            found.append((kind, json.loads(line.removeprefix("data: "))))
    return found


async def chat(user: User, agent: str, **body: Any) -> tuple[httpx.Response, list[Any]]:
    async with user.client.stream("POST", f"/api/v1/agents/{agent}/chat", json=body) as response:
        if response.headers["content-type"].startswith("text/event-stream"):
            return response, await events(response)
        await response.aread()
        return response, []


@pytest.mark.usefixtures("registry")
async def test_the_agents_and_whether_a_model_is_configured(
    api_server: WebServer, fake: FakeAnthropic
) -> None:
    plain = await fresh_user(api_server)
    listing = (await plain.client.get("/api/v1/agents")).json()
    assert [a["name"] for a in listing["agents"]] == [
        "track_explainer", "mix_planner", "stem_advisor", "cue_planner", "practice_coach",
    ]  # fmt: skip
    planner = next(a for a in listing["agents"] if a["name"] == "mix_planner")
    assert planner["structured"] and not planner["needs_track"] and "plan_mix" in planner["tools"]
    assert listing["model_configured"] is False
    assert "Settings → AI providers" in listing["how_to_configure"]
    equipped = await with_model(api_server, fake)
    listing = (await equipped.client.get("/api/v1/agents")).json()
    assert listing["model_configured"] is True and listing["how_to_configure"] is None


@pytest.mark.usefixtures("registry")
async def test_without_a_model_the_chat_says_how_to_add_one(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    track_id = await analysed_track(user)
    response, found = await chat(user, "track_explainer", message="Hi", track_id=track_id)
    assert response.status_code == 200
    [(kind, data)] = found
    assert kind == "error" and data["kind"] == "no_provider"
    assert "ANTHROPIC_API_KEY" in data["message"]
    assert (await user.client.get("/api/v1/agents/conversations")).json() == []


@pytest.mark.usefixtures("registry")
async def test_a_chat_streams_and_the_track_reaches_the_model(
    api_server: WebServer, fake: FakeAnthropic
) -> None:
    user = await with_model(api_server, fake)
    track_id = await analysed_track(user)
    fake.script.append(Reply(text="A minor, 8A: mix into 7A, 9A or 8B."))
    response, found = await chat(user, "track_explainer", message="What key?", track_id=track_id)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    kinds = [k for k, _ in found]
    assert kinds[0] == "conversation" and kinds[-1] == "done" and kinds.count("text") > 1
    assert "".join(d["text"] for k, d in found if k == "text") == (
        "A minor, 8A: mix into 7A, 9A or 8B."
    )
    done = found[-1][1]
    assert done["provider"] == "Fake Claude" and done["output_tokens"] == 7
    system = fake.requests[-1]["system"]
    assert '"camelot":"8A"' in system and '"start_ms":46440' in system and '"bpm":124.0' in system

    conversation_id = found[0][1]["conversation_id"]
    listed = await user.client.get("/api/v1/agents/conversations", params={"track_id": track_id})
    assert [c["id"] for c in listed.json()] == [conversation_id]
    detail = (await user.client.get(f"/api/v1/agents/conversations/{conversation_id}")).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert detail["messages"][1]["provider"] == "Fake Claude"
    assert (
        await user.client.delete(f"/api/v1/agents/conversations/{conversation_id}")
    ).status_code == 204
    assert (
        await user.client.get(f"/api/v1/agents/conversations/{conversation_id}")
    ).status_code == 404


@pytest.mark.usefixtures("registry")
async def test_proposals_are_confirmed_over_http(
    api_server: WebServer, fake: FakeAnthropic
) -> None:
    user = await with_model(api_server, fake)
    track_id = await analysed_track(user)
    cues = [{"kind": "hot", "hot_index": 0, "position_ms": 46440, "label": "Drop"}]
    fake.script.extend(
        [
            Reply(tool_calls=(ToolUse("propose_cues", {"cues": cues}, "c1"),)),
            Reply(text="I proposed a hot cue on the drop."),
        ]
    )
    _, found = await chat(user, "cue_planner", message="Cue the drop", track_id=track_id)
    kinds = [k for k, _ in found]
    assert kinds.count("tool") == 2 and "proposal" in kinds
    proposal = next(d for k, d in found if k == "proposal")
    conversation_id, proposal_id = proposal["conversation_id"], proposal["proposal"]["id"]
    track = (await user.client.get(f"/api/v1/tracks/{track_id}")).json()
    assert track["cue_points"] == []

    other = await fresh_user(api_server, "intruder")
    confirm = f"/api/v1/agents/conversations/{conversation_id}/confirm"
    stolen = await other.client.post(confirm, json={"proposal_id": proposal_id})
    assert stolen.status_code == 404

    confirmed = await user.client.post(confirm, json={"proposal_id": proposal_id})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    track = (await user.client.get(f"/api/v1/tracks/{track_id}")).json()
    assert [(c["position_ms"], c["source"]) for c in track["cue_points"]] == [(46440, "agent")]
    again = await user.client.post(confirm, json={"proposal_id": proposal_id})
    assert again.status_code == 409 and "already confirmed" in again.json()["error"]["message"]


@pytest.mark.usefixtures("registry")
async def test_another_users_things_are_not_found(
    api_server: WebServer, fake: FakeAnthropic
) -> None:
    owner = await with_model(api_server, fake, "owner")
    intruder = await with_model(api_server, fake, "intruder")
    track_id = await analysed_track(owner)
    fake.script.append(Reply(text="Hello."))
    _, found = await chat(owner, "track_explainer", message="Hi", track_id=track_id)
    conversation_id = found[0][1]["conversation_id"]
    asked = len(fake.requests)

    response, _ = await chat(intruder, "track_explainer", message="Hi", track_id=track_id)
    assert response.status_code == 404
    response, _ = await chat(
        intruder, "track_explainer", message="Hi", conversation_id=conversation_id
    )
    assert response.status_code == 404
    base = f"/api/v1/agents/conversations/{conversation_id}"
    assert (await intruder.client.get(base)).status_code == 404
    assert (await intruder.client.delete(base)).status_code == 404
    plan = await intruder.client.post("/api/v1/agents/mix-plan", json={"track_ids": [track_id]})
    assert plan.status_code == 404
    assert len(fake.requests) == asked  # none of it reached the model

    response, _ = await chat(owner, "dj_bot", message="Hi")
    assert response.status_code == 404
    response, _ = await chat(owner, "cue_planner", message="Hi")
    assert response.status_code == 422 and "track_id" in response.json()["error"]["message"]
    assert (await owner.client.get("/api/v1/agents/conversations/nonsense")).status_code == 404


@pytest.mark.usefixtures("registry")
async def test_the_mix_plan_needs_no_model(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    calm = await analysed_track(user, "Calm", tempo=122.0, level_db=-16.0)
    loud = await analysed_track(user, "Loud", tempo=128.0, camelot="9A", key="E minor",
                                level_db=-6.0)  # fmt: skip
    response = await user.client.post("/api/v1/agents/mix-plan", json={"flow": "rising"})
    assert response.status_code == 200, response.text
    plan = response.json()
    assert [t["track_id"] for t in plan["tracks"]] == [calm, loud]
    assert plan["transitions"][0]["key_relation"] == "adjacent (+1)"
    bad = await user.client.post("/api/v1/agents/mix-plan", json={"flow": "sideways"})
    assert bad.status_code == 422
