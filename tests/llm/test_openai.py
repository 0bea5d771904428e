"""The OpenAI-compatible client against the fake server: streamed text, tool_calls deltas
assembled, Anthropic-shaped history translated, retries and failures."""

from __future__ import annotations

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
from soundforge.llm._client import ClientOptions
from soundforge.llm._openai import OpenAIClient
from tests.fakes.media_server import dead_url
from tests.fakes.openai_api import Cut, Failure, FakeOpenAI, Reply, ToolUse
from tests.llm.conftest import FAST, collect, provider_view

TOOLS = [
    ToolSpec(
        "get_track", "Read a track", {"type": "object", "properties": {"id": {"type": "string"}}}
    )
]


def client(
    fake: FakeOpenAI,
    key: str | None = "sk-openai-test",
    model: str = "gpt-4o-mini",
    options: ClientOptions = FAST,
) -> OpenAIClient:
    view = provider_view("openai_compatible", fake.base_url, model, name="Local GPT")
    return OpenAIClient(view, key, options)


def ask(*messages: Message, **extra: object) -> ChatRequest:
    history = list(messages) or [Message("user", [TextBlock("Plan a set.")])]
    return ChatRequest(system="You plan DJ sets.", messages=history, **extra)  # type: ignore[arg-type]


async def test_text_streams_and_usage_is_counted(openai_fake: FakeOpenAI) -> None:
    openai_fake.script.append(
        Reply(text="Start at 122 BPM in 8A.", input_tokens=30, output_tokens=9)
    )
    events = await collect(client(openai_fake).stream(ask()))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Start at 122 BPM in 8A."
    assert events[-1] == Finished("end_turn", "Local GPT", "gpt-4o-mini", 30, 9)
    body = openai_fake.requests[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][0] == {"role": "system", "content": "You plan DJ sets."}
    assert (
        body["max_tokens"] == 1024
        and openai_fake.headers[0]["authorization"] == "Bearer sk-openai-test"
    )


async def test_tool_calls_are_assembled_from_deltas(openai_fake: FakeOpenAI) -> None:
    openai_fake.script.append(
        Reply(
            tool_calls=(
                ToolUse("get_track", {"id": "t-1", "fields": ["bpm", "key"]}, id="call_a"),
                ToolUse("get_track", {"id": "t-2"}),
            )
        )
    )
    events = await collect(client(openai_fake).stream(ask(tools=TOOLS)))
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls[0] == ToolCall("call_a", "get_track", {"id": "t-1", "fields": ["bpm", "key"]})
    assert calls[1].name == "get_track" and calls[1].input == {"id": "t-2"} and calls[1].id
    assert isinstance(events[-1], Finished) and events[-1].stop_reason == "tool_use"
    assert openai_fake.requests[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_track",
                "description": "Read a track",
                "parameters": TOOLS[0].input_schema,
            },
        }
    ]


async def test_anthropic_shaped_history_is_translated(openai_fake: FakeOpenAI) -> None:
    request = ask(
        Message("user", [TextBlock("Plan a set.")]),
        Message(
            "assistant", [TextBlock("Looking."), ToolUseBlock("call_a", "get_track", {"id": "t-1"})]
        ),
        Message(
            "user",
            [
                ToolResultBlock("call_a", '{"bpm": 122}'),
                ToolResultBlock("call_b", "no such track", is_error=True),
                TextBlock("And?"),
            ],
        ),
        tools=TOOLS,
        json_schema={"type": "object"},
    )
    await collect(client(openai_fake).stream(request))
    sent = openai_fake.requests[0]
    assert sent["messages"][1:] == [
        {"role": "user", "content": "Plan a set."},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_track", "arguments": '{"id": "t-1"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": '{"bpm": 122}'},
        {"role": "tool", "tool_call_id": "call_b", "content": "Error: no such track"},
        {"role": "user", "content": "And?"},
    ]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": {"type": "object"}},
    }


async def test_reasoning_models_take_max_completion_tokens(openai_fake: FakeOpenAI) -> None:
    await collect(client(openai_fake, model="o3-mini").stream(ask(max_tokens=77)))
    assert (
        openai_fake.requests[0]["max_completion_tokens"] == 77
        and "max_tokens" not in openai_fake.requests[0]
    )


async def test_rate_limits_and_5xx_are_retried_like_the_sdk(openai_fake: FakeOpenAI) -> None:
    openai_fake.script.extend([Failure(429), Failure(503), Reply(text="ok now")])
    events = await collect(client(openai_fake).stream(ask()))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "ok now"
    assert len(openai_fake.requests) == 3


@pytest.mark.parametrize(
    ("failure", "health", "words", "attempts"),
    [
        (
            Failure(429, "slow down"),
            "degraded",
            "rate limiting requests (HTTP 429 after 2 retries) (slow down)",
            3,
        ),
        (Failure(500, "boom"), "unreachable", "failed with HTTP 500 after 2 retries (boom)", 3),
        (Failure(404, "model 'x' not found"), "unreachable", "does not know this model", 1),
    ],
)
async def test_failures_say_what_happened(
    openai_fake: FakeOpenAI, failure: Failure, health: str, words: str, attempts: int
) -> None:
    openai_fake.script.extend([failure] * 3)
    with pytest.raises(ProviderFailure) as caught:
        await collect(client(openai_fake).stream(ask()))
    assert words in caught.value.reason and caught.value.health == health
    assert len(openai_fake.requests) == attempts


async def test_keyless_servers_and_wrong_keys(openai_fake: FakeOpenAI) -> None:
    with pytest.raises(ProviderFailure, match="refused the API key with HTTP 401"):
        await collect(client(openai_fake, key="sk-wrong").stream(ask()))
    with FakeOpenAI() as ollama:  # Ollama and LM Studio take no key
        await collect(client(ollama, key=None).stream(ask()))
        assert "authorization" not in ollama.headers[0]


async def test_a_refused_connection_and_a_cut_stream() -> None:
    view = provider_view("openai_compatible", dead_url("/v1"), "llama3.2")
    with pytest.raises(ProviderFailure, match=r"cannot connect to 127\.0\.0\.1"):
        await collect(
            OpenAIClient(view, None, ClientOptions(max_retries=1, timeout=5)).stream(ask())
        )
    with FakeOpenAI() as fake:
        fake.script.append(Cut("Half"))
        events: list[object] = []
        with pytest.raises(ProviderFailure, match="ended before the model finished"):
            async for event in client(fake, key=None).stream(ask()):
                events.append(event)
        assert events == [TextDelta("Half")]


async def test_the_health_check_reads_the_model_list(openai_fake: FakeOpenAI) -> None:
    await client(openai_fake).check()
    with pytest.raises(ProviderFailure, match="does not list the model llama9") as caught:
        await client(openai_fake, model="llama9").check()
    assert caught.value.health == "degraded"
    with FakeOpenAI(models=["llama3.2:latest"]) as ollama:
        await client(ollama, key=None, model="llama3.2").check()
    assert openai_fake.requests == []
