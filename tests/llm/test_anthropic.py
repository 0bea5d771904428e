"""The Anthropic client (the official SDK) against the fake Messages API: streamed text and
tool use, the request as sent, the SDK's retries of 429 and 529, and failures as sentences."""

from __future__ import annotations

import time

import pytest

from soundforge.llm import (
    ChatRequest,
    Finished,
    Message,
    ProviderFailure,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from soundforge.llm._anthropic import AnthropicClient
from soundforge.llm._client import ClientOptions
from tests.fakes.anthropic_api import Cut, Failure, FakeAnthropic, Reply, ToolUse
from tests.fakes.media_server import dead_url
from tests.llm.conftest import FAST, collect, provider_view

TOOLS = [
    ToolSpec(
        "set_tempo", "Set the tempo", {"type": "object", "properties": {"bpm": {"type": "number"}}}
    )
]


def client(
    fake: FakeAnthropic, key: str = "sk-ant-test-key", options: ClientOptions = FAST
) -> AnthropicClient:
    return AnthropicClient(provider_view(base_url=fake.base_url, name="Claude"), key, options)


def ask(text: str = "What key is this track in?", **extra: object) -> ChatRequest:
    return ChatRequest(
        system="You explain tracks.", messages=[Message("user", [TextBlock(text)])], **extra
    )  # type: ignore[arg-type]


async def test_text_streams_in_pieces_then_finishes(anthropic_fake: FakeAnthropic) -> None:
    anthropic_fake.script.append(
        Reply(text="A minor, 8A on the Camelot wheel.", input_tokens=40, output_tokens=11)
    )
    events = await collect(client(anthropic_fake).stream(ask()))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 3 and "".join(texts) == "A minor, 8A on the Camelot wheel."
    assert events[-1] == Finished("end_turn", "Claude", "claude-sonnet-4-6", 40, 11)
    (body,) = anthropic_fake.requests
    assert body["system"] == "You explain tracks." and body["stream"] is True
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What key is this track in?"}]}
    ]
    assert anthropic_fake.headers[0]["authorization"] == "Bearer sk-ant-test-key"


async def test_tool_use_and_its_result_round_trip(anthropic_fake: FakeAnthropic) -> None:
    anthropic_fake.script.append(
        Reply(
            text="Let me set it.",
            tool_calls=(
                ToolUse("set_tempo", {"bpm": 124.5, "nested": {"a": [1, 2]}}, id="toolu_1"),
            ),
        )
    )
    events = await collect(client(anthropic_fake).stream(ask(tools=TOOLS)))
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls == [ToolCall("toolu_1", "set_tempo", {"bpm": 124.5, "nested": {"a": [1, 2]}})]
    assert isinstance(events[-1], Finished) and events[-1].stop_reason == "tool_use"
    assert anthropic_fake.requests[0]["tools"] == [
        {"name": "set_tempo", "description": "Set the tempo", "input_schema": TOOLS[0].input_schema}
    ]
    follow_up = ask(tools=TOOLS)
    follow_up.messages += [
        Message(
            "assistant",
            [TextBlock("Let me set it."), ToolUseBlock("toolu_1", "set_tempo", {"bpm": 124.5})],
        ),
        Message("user", [ToolResultBlock("toolu_1", "tempo set", is_error=False)]),
    ]
    await collect(client(anthropic_fake).stream(follow_up))
    sent = anthropic_fake.requests[1]["messages"]
    assert sent[1]["content"][1] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "set_tempo",
        "input": {"bpm": 124.5},
    }
    assert sent[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "tempo set", "is_error": False}
    ]


async def test_a_json_schema_becomes_structured_output(anthropic_fake: FakeAnthropic) -> None:
    schema = {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}
    anthropic_fake.script.append(Reply(text='{"key": "8A"}'))
    await collect(client(anthropic_fake).stream(ask(json_schema=schema, max_tokens=50)))
    body = anthropic_fake.requests[0]
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert body["max_tokens"] == 50


@pytest.mark.parametrize("status", [429, 529])
async def test_the_sdk_retries_rate_limits_and_overload(
    anthropic_fake: FakeAnthropic, status: int
) -> None:
    anthropic_fake.script.extend([Failure(status), Failure(status), Reply(text="third time")])
    started = time.monotonic()
    events = await collect(client(anthropic_fake).stream(ask()))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "third time"
    assert len(anthropic_fake.requests) == 3 and time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("status", "health", "words"),
    [
        (429, "degraded", "rate limiting requests (HTTP 429 after 2 retries)"),
        (529, "degraded", "overloaded (HTTP 529 after 2 retries)"),
        (500, "unreachable", "failed with HTTP 500 after 2 retries"),
    ],
)
async def test_retries_used_up_is_a_failure_with_its_health(
    anthropic_fake: FakeAnthropic, status: int, health: str, words: str
) -> None:
    anthropic_fake.script.extend([Failure(status, "busy")] * 3)
    with pytest.raises(ProviderFailure) as caught:
        await collect(client(anthropic_fake).stream(ask()))
    assert words in caught.value.reason and caught.value.health == health
    assert caught.value.http_status == status and len(anthropic_fake.requests) == 3


async def test_a_wrong_key_is_refused_without_retries(anthropic_fake: FakeAnthropic) -> None:
    with pytest.raises(ProviderFailure, match="refused the API key with HTTP 401") as caught:
        await collect(client(anthropic_fake, key="sk-ant-wrong").stream(ask()))
    assert "sk-ant-wrong" not in caught.value.reason and len(anthropic_fake.requests) == 0


async def test_no_key_never_borrows_the_servers(
    anthropic_fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    with pytest.raises(ProviderFailure, match="has no API key"):
        await collect(client(anthropic_fake, key="").stream(ask()))
    assert anthropic_fake.headers == []


async def test_a_refused_connection_and_a_cut_stream_are_failures() -> None:
    url = dead_url("")
    dead = AnthropicClient(
        provider_view(base_url=url), "k", ClientOptions(max_retries=0, timeout=5)
    )
    with pytest.raises(ProviderFailure, match=r"cannot connect to 127\.0\.0\.1"):
        await collect(dead.stream(ask()))
    with FakeAnthropic() as fake:
        fake.script.append(Cut("Half a sen"))
        events: list[object] = []
        with pytest.raises(ProviderFailure, match="ended before the message was complete"):
            async for event in client(fake).stream(ask()):
                events.append(event)
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Half a sen"


async def test_a_slow_answer_times_out(anthropic_fake: FakeAnthropic) -> None:
    anthropic_fake.script.append(Reply(text="late", delay_s=2.0))
    slow = client(anthropic_fake, options=ClientOptions(max_retries=0, timeout=0.5))
    with pytest.raises(ProviderFailure, match=r"did not answer within 0.5 s"):
        await collect(slow.stream(ask()))


async def test_the_health_check_looks_the_model_up(anthropic_fake: FakeAnthropic) -> None:
    await client(anthropic_fake).check()
    missing = AnthropicClient(
        provider_view(base_url=anthropic_fake.base_url, model="claude-nope"),
        "sk-ant-test-key",
        FAST,
    )
    with pytest.raises(ProviderFailure, match="does not know this model"):
        await missing.check()
    assert anthropic_fake.requests == []  # no message was sent: no tokens spent
