"""A chat turn against the fake model servers: the track's data reaches the prompt, tools
run with the user's ownership, proposals wait for confirmation, structured replies are
validated and repaired once, and a failing provider falls back to the next."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from soundforge.agents import (
    ConversationNotFound,
    Done,
    Failed,
    ProposalMade,
    Started,
    Structured,
    TextChunk,
    ToolActivity,
    TrackRequired,
    UnknownAgent,
    confirm_proposal,
    get_conversation,
)
from soundforge.agents.runner import MAX_ROUNDS
from soundforge.music import TrackNotFound
from soundforge.runtime.gen_server import stop
from soundforge.runtime.node import Node
from tests.agents import library
from tests.agents.conftest import MODEL, Setup, start_registry
from tests.fakes.anthropic_api import Failure, FakeAnthropic, Reply, ToolUse
from tests.fakes.openai_api import FakeOpenAI


def _text(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextChunk))


def _last_tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        block
        for message in body["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


@pytest.mark.usefixtures("registry")
async def test_the_tracks_data_reaches_the_prompt(
    setup: Setup, anthropic_fake: FakeAnthropic
) -> None:
    anthropic_fake.script.append(Reply(text="It is in A minor (8A) at 124 BPM."))
    events = await setup.run("track_explainer", "What key is this in?", track_id=setup.track_id)

    assert isinstance(events[0], Started) and events[0].track_id == setup.track_id
    assert _text(events) == "It is in A minor (8A) at 124 BPM."
    done = events[-1]
    assert isinstance(done, Done)
    assert (done.provider, done.model) == ("Anthropic (server)", MODEL)
    assert (done.input_tokens, done.output_tokens) == (12, 7)

    [body] = anthropic_fake.requests
    system = body["system"]
    facts = ('"bpm":124.0', '"confidence":0.91', '"key":"A minor"', '"camelot":"8A"',
             '"code":"9A"', '"code":"7A"', '"code":"8B"', '"relative major"',
             '"label":"drop"', '"start_ms":46440', '"label":"breakdown"',
             '"kind":"build-up"', "level jumps 9.5 dB", '"loudness_lufs":-8.1',
             '"model":"htdemucs"', '"drums"', '"duration":"4:00.0"', "Night Drive")  # fmt: skip
    for fact in facts:
        assert fact in system, fact
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What key is this in?"}]}
    ]
    assert {t["name"] for t in body["tools"]} == {
        "get_track", "get_analysis_section", "search_library",
    }  # fmt: skip

    async with setup.pool.acquire() as conn:
        conversation = await get_conversation(conn, setup.user_id, events[0].conversation_id)
    assert [m.role for m in conversation.messages] == ["user", "assistant"]
    answer = conversation.messages[1]
    assert (answer.provider, answer.model, answer.input_tokens) == (
        "Anthropic (server)", MODEL, 12,
    )  # fmt: skip
    assert conversation.title == "What key is this in?"


@pytest.mark.usefixtures("registry")
async def test_a_tool_round_trip(setup: Setup, anthropic_fake: FakeAnthropic) -> None:
    anthropic_fake.script.extend(
        [
            Reply(tool_calls=(ToolUse("get_analysis_section", {"section": "markers"}, "t1"),)),
            Reply(text="The drop lands at 0:46."),
        ]
    )
    events = await setup.run("track_explainer", "Where is the drop?", track_id=setup.track_id)
    activity = [(e.name, e.status) for e in events if isinstance(e, ToolActivity)]
    assert activity == [("get_analysis_section", "running"), ("get_analysis_section", "done")]
    assert _text(events) == "The drop lands at 0:46." and isinstance(events[-1], Done)

    first, second = anthropic_fake.requests
    [result] = _last_tool_results(second)
    assert result["tool_use_id"] == "t1" and not result.get("is_error", False)
    assert "level jumps 9.5 dB" in result["content"]
    assert second["messages"][1]["content"][0]["type"] == "tool_use"
    assert second["system"] == first["system"]


@pytest.mark.usefixtures("registry")
async def test_tools_keep_to_the_users_library(setup: Setup, anthropic_fake: FakeAnthropic) -> None:
    async with setup.pool.acquire() as conn:
        theirs = await library.track(conn, setup.other_id, "Their Secret Track")
    anthropic_fake.script.extend(
        [
            Reply(tool_calls=(ToolUse("get_track", {"track_id": theirs}, "t1"),
                              ToolUse("search_library", {"text": "secret"}, "t2"),
                              ToolUse("get_analysis_section", {"section": "nope"}, "t3"))),
            Reply(text="I cannot see that track."),
        ]
    )  # fmt: skip
    events = await setup.run("track_explainer", "Compare", track_id=setup.track_id)
    assert [e.status for e in events if isinstance(e, ToolActivity)][1::2] == [
        "error", "done", "error",
    ]  # fmt: skip
    results = {r["tool_use_id"]: r for r in _last_tool_results(anthropic_fake.requests[1])}
    assert results["t1"]["is_error"] and "there is no track" in results["t1"]["content"]
    assert json.loads(results["t2"]["content"]) == {"total": 0, "tracks": []}
    assert results["t3"]["is_error"] and "invalid" in results["t3"]["content"]
    assert "Secret" not in json.dumps(anthropic_fake.requests[1])


@pytest.mark.usefixtures("registry")
async def test_proposals_are_written_only_after_confirmation(
    setup: Setup, anthropic_fake: FakeAnthropic
) -> None:
    cues = [
        {"kind": "hot", "hot_index": 0, "position_ms": 46440, "label": "Drop"},
        {"kind": "memory", "position_ms": 108360, "label": "Breakdown"},
    ]
    anthropic_fake.script.extend(
        [
            Reply(tool_calls=(ToolUse("propose_cues", {"cues": cues, "note": "phrases"}, "t1"),)),
            Reply(text="I proposed a hot cue on the drop and a memory cue on the breakdown."),
        ]
    )
    events = await setup.run("cue_planner", "Set my cues", track_id=setup.track_id)
    [made] = [e for e in events if isinstance(e, ProposalMade)]
    assert made.proposal.status == "pending" and len(made.proposal.cues) == 2
    assert (
        "nothing is written until they confirm"
        in _last_tool_results(anthropic_fake.requests[1])[0]["content"]
    )
    async with setup.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM cue_points") == 0
        stored = await get_conversation(conn, setup.user_id, made.conversation_id)
        assert [p.id for p in stored.proposals] == [made.proposal.id]
        async with conn.transaction():
            await confirm_proposal(conn, setup.user_id, made.conversation_id, made.proposal.id)
        rows = await conn.fetch("SELECT position_ms, source FROM cue_points ORDER BY position_ms")
    assert [tuple(r) for r in rows] == [(46440, "agent"), (108360, "agent")]


PLAN = {
    "goal": "Play the drop cleanly at full tempo",
    "steps": [
        {"focus": "drop, first 8 bars", "start_ms": 46440, "end_ms": 61920, "tempo_pct": 70,
         "repeats": 4, "stems": "mute bass"},
        {"focus": "drop, first 8 bars", "start_ms": 46440, "end_ms": 61920, "tempo_pct": 100},
    ],
}  # fmt: skip


@pytest.mark.usefixtures("registry")
async def test_a_structured_reply_is_validated_and_repaired_once(
    setup: Setup, anthropic_fake: FakeAnthropic
) -> None:
    anthropic_fake.script.extend(
        [
            Reply(text="Sure! Here is a plan: start slow."),
            Reply(
                text="```json\n" + json.dumps({"reply": "Start at 70 %.", "plan": PLAN}) + "\n```"
            ),
        ]
    )
    events = await setup.run("practice_coach", "Help me learn the drop", track_id=setup.track_id)
    [structured] = [e for e in events if isinstance(e, Structured)]
    assert structured.reply == "Start at 70 %." and structured.plan is not None
    assert [s["tempo_pct"] for s in structured.plan["steps"]] == [70, 100]
    assert _text(events) == "Start at 70 %."  # the raw JSON is not streamed
    first, second = anthropic_fake.requests
    assert first["output_config"]["format"]["type"] == "json_schema"
    repair = second["messages"][-1]["content"][0]["text"]
    assert repair.startswith("The reply is not one JSON object") and "Answer again" in repair
    async with setup.pool.acquire() as conn:
        stored = await get_conversation(conn, setup.user_id, structured_conversation(events))
    assert [m.role for m in stored.messages] == ["user", "assistant"]  # the repair stays out


def structured_conversation(events: list[Any]) -> str:
    start = events[0]
    assert isinstance(start, Started)
    return start.conversation_id


@pytest.mark.usefixtures("registry")
async def test_a_plan_that_fails_twice_is_a_clear_error(
    setup: Setup, anthropic_fake: FakeAnthropic
) -> None:
    past_end = {**PLAN, "steps": [{**PLAN["steps"][0], "end_ms": 300_000}]}  # type: ignore[dict-item]
    bad = json.dumps({"reply": "Go.", "plan": past_end})
    anthropic_fake.script.extend([Reply(text=bad), Reply(text=bad)])
    events = await setup.run("practice_coach", "Plan", track_id=setup.track_id)
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.kind == "invalid_output"
    assert "past the track's end" in failed.message and failed.message.endswith(".")
    assert len(anthropic_fake.requests) == 2


@pytest.mark.usefixtures("registry")
async def test_the_mix_planner_plans_from_the_library(
    setup: Setup, anthropic_fake: FakeAnthropic
) -> None:
    async with setup.pool.acquire() as conn:
        second = await library.track(conn, setup.user_id, "Sunrise", tempo=126.0, camelot="9A",
                                     key="E minor", level_db=-8.0)  # fmt: skip

    def responder(body: dict[str, Any]) -> Reply:
        results = _last_tool_results(body)
        if not results:
            return Reply(tool_calls=(ToolUse("plan_mix", {"flow": "rising"}, "p1"),))
        plan = json.loads(results[0]["content"])
        entries = [{"track_id": t["track_id"], "title": t["title"]} for t in plan["tracks"]]
        reply = {
            "reply": "Night Drive first, then Sunrise.",
            "plan": {"flow": "rising", "tracks": entries},
        }
        return Reply(text=json.dumps(reply))

    anthropic_fake.responder = responder
    events = await setup.run("mix_planner", "Plan a warm-up set")
    [structured] = [e for e in events if isinstance(e, Structured)]
    assert structured.plan is not None
    assert [t["track_id"] for t in structured.plan["tracks"]] == [setup.track_id, second]
    assert "Night Drive" not in anthropic_fake.requests[0]["system"]  # no track: no context


@pytest.mark.usefixtures("registry")
async def test_continuing_a_conversation_sends_its_history(
    setup: Setup, anthropic_fake: FakeAnthropic
) -> None:
    anthropic_fake.script.extend([Reply(text="124 BPM."), Reply(text="Yes, steady.")])
    first = await setup.run("track_explainer", "Tempo?", track_id=setup.track_id)
    conversation_id = structured_conversation(first)
    again = await setup.run("track_explainer", "Steady?", conversation_id=conversation_id)
    assert structured_conversation(again) == conversation_id
    roles = [(m["role"], m["content"][0]["text"]) for m in anthropic_fake.requests[1]["messages"]]
    assert roles == [("user", "Tempo?"), ("assistant", "124 BPM."), ("user", "Steady?")]
    assert '"camelot":"8A"' in anthropic_fake.requests[1]["system"]

    with pytest.raises(ConversationNotFound):
        await anext(aiter_run(setup, setup.other_id, "track_explainer", conversation_id))
    with pytest.raises(ConversationNotFound):
        await anext(aiter_run(setup, setup.user_id, "cue_planner", conversation_id))


def aiter_run(setup: Setup, user_id: str, agent: str, conversation_id: str) -> Any:
    from soundforge.agents import run_agent

    return run_agent(setup.connect, user_id, agent, "hi", conversation_id=conversation_id)


async def test_errors_before_the_turn_are_raised(setup: Setup) -> None:
    from soundforge.agents import run_agent

    with pytest.raises(UnknownAgent):
        await anext(run_agent(setup.connect, setup.user_id, "dj_bot", "hi"))
    with pytest.raises(TrackRequired):
        await anext(run_agent(setup.connect, setup.user_id, "cue_planner", "hi"))
    with pytest.raises(TrackNotFound):
        await anext(
            run_agent(setup.connect, setup.other_id, "cue_planner", "hi", track_id=setup.track_id)
        )


@pytest.mark.usefixtures("registry")
async def test_endless_tool_calls_are_bounded(setup: Setup, anthropic_fake: FakeAnthropic) -> None:
    anthropic_fake.responder = lambda body: Reply(tool_calls=(ToolUse("get_track", {}),))
    events = await setup.run("track_explainer", "Loop forever", track_id=setup.track_id)
    assert isinstance(events[-1], Failed) and events[-1].kind == "too_many_rounds"
    assert len(anthropic_fake.requests) == MAX_ROUNDS


async def test_without_a_provider_the_chat_says_how_to_add_one(
    setup: Setup, node: Node, tmp_path: Path
) -> None:
    await start_registry(node, tmp_path, {})
    try:
        events = await setup.run("track_explainer", "Hi", track_id=setup.track_id)
    finally:
        await stop("soundforge.models")
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.kind == "no_provider"
    assert "Settings → AI providers" in failed.message and "ANTHROPIC_API_KEY" in failed.message


async def test_a_failing_provider_falls_back_to_the_next(
    setup: Setup,
    node: Node,
    tmp_path: Path,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
) -> None:
    anthropic_fake.default = Failure(500, "boom")
    openai_fake.script.append(Reply(text="Answered by the fallback."))
    environ = {
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "ANTHROPIC_BASE_URL": anthropic_fake.base_url,
        "OPENAI_API_KEY": "sk-openai-test",
        "OPENAI_BASE_URL": openai_fake.base_url,
    }
    await start_registry(node, tmp_path, environ)
    try:
        events = await setup.run("track_explainer", "Key?", track_id=setup.track_id)
    finally:
        await stop("soundforge.models")
    assert _text(events) == "Answered by the fallback."
    done = events[-1]
    assert isinstance(done, Done) and done.provider != "Anthropic (server)"
    assert len(anthropic_fake.requests) == 3  # the first try and the SDK's two retries
    [body] = openai_fake.requests
    assert '"camelot":"8A"' in body["messages"][0]["content"]  # the context went along
