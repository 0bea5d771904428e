"""The router: the chain's order, feature filtering, fallback before the first output (500,
429, refused connection, a key that does not open) with health recorded, no fallback after
it, the errors' sentences and the telemetry of each turn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from soundforge.llm import (
    AllProvidersFailed,
    ChatRequest,
    Finished,
    Keyring,
    LlmContext,
    Message,
    NewProvider,
    NoCapableProvider,
    NoProviderConfigured,
    ProviderChanges,
    StreamInterrupted,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolSpec,
    chain,
    create_provider,
    get_provider,
    stream_chat,
    update_provider,
)
from soundforge.runtime.gen_server import stop
from soundforge.runtime.node import Node
from tests.fakes.anthropic_api import Failure, FakeAnthropic, Reply, ToolUse
from tests.fakes.media_server import dead_url
from tests.fakes.openai_api import Cut, FakeOpenAI
from tests.llm.conftest import collect, make_user, start_registry

QUESTION = ChatRequest(
    system="You explain tracks.", messages=[Message("user", [TextBlock("Key?")])]
)
TOOLS = [ToolSpec("get_track", "Read a track", {"type": "object"})]


def claude(fake: FakeAnthropic, name: str = "Claude", **extra: Any) -> NewProvider:
    return NewProvider(
        name=name,
        kind="anthropic",
        model="claude-sonnet-4-6",
        base_url=fake.base_url,
        api_key="sk-ant-test-key",
        **extra,
    )


def gpt(
    fake: FakeOpenAI | str, name: str = "GPT", model: str = "gpt-4o-mini", **extra: Any
) -> NewProvider:
    url = fake if isinstance(fake, str) else fake.base_url
    return NewProvider(
        name=name,
        kind="openai_compatible",
        model=model,
        base_url=url,
        api_key="sk-openai-test",
        **extra,
    )


def text(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_no_provider_says_how_to_add_one(llm: LlmContext, conn: Any, user_id: str) -> None:
    with pytest.raises(NoProviderConfigured) as caught:
        await collect(stream_chat(conn, user_id, QUESTION))
    message = str(caught.value)
    assert "No AI model is configured" in message and "Settings → AI providers" in message
    assert "ANTHROPIC_API_KEY" in message and caught.value.status == 503


async def test_a_failing_provider_falls_back_and_health_is_recorded(
    llm: LlmContext, conn: Any, user_id: str, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    first = await create_provider(conn, llm.keyring, user_id, claude(anthropic_fake, priority=1))
    second = await create_provider(conn, llm.keyring, user_id, gpt(openai_fake, priority=2))
    anthropic_fake.script.extend([Failure(500, "kaput")] * 3)
    openai_fake.script.append(Reply(text="8A, A minor."))
    events = await collect(stream_chat(conn, user_id, QUESTION))
    assert text(events) == "8A, A minor."
    assert events[-1] == Finished("end_turn", "GPT", "gpt-4o-mini", 12, 7)
    assert len(anthropic_fake.requests) == 3  # the SDK's two retries, then the fallback
    failed = await get_provider(conn, user_id, first.id)
    assert failed.health_status == "unreachable" and "HTTP 500" in (failed.last_error or "")
    assert failed.health_checked_at is not None
    answered = await get_provider(conn, user_id, second.id)
    assert answered.health_status == "healthy" and answered.last_error is None
    # The next turn tries the healthy provider first.
    assert [t.provider.name for t in await chain(conn, llm, user_id)] == ["GPT", "Claude"]


@pytest.mark.parametrize("first", ["rate_limited", "refused", "bad_key"])
async def test_fallback_reasons(
    llm: LlmContext,
    conn: Any,
    user_id: str,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
    first: str,
) -> None:
    if first == "rate_limited":
        new = claude(anthropic_fake)
        anthropic_fake.script.extend([Failure(429)] * 3)
        expected = ("degraded", "rate limiting")
    elif first == "refused":
        new = gpt(dead_url("/v1"), name="Claude")
        expected = ("unreachable", "cannot connect")
    else:
        new = claude(anthropic_fake)
        expected = ("unreachable", "does not decrypt")
    broken = await create_provider(
        conn, llm.keyring, user_id, msgspec.structs.replace(new, priority=1)
    )
    if first == "bad_key":  # sealed for another row: the AAD check refuses it
        other = await create_provider(
            conn, llm.keyring, user_id, claude(anthropic_fake, name="Spare", enabled=False)
        )
        await conn.execute(
            """UPDATE llm_providers AS a SET api_key_ciphertext = o.api_key_ciphertext,
                   api_key_nonce = o.api_key_nonce FROM llm_providers AS o
               WHERE a.id = $1::uuid AND o.id = $2::uuid""",
            broken.id,
            other.id,
        )
    await create_provider(conn, llm.keyring, user_id, gpt(openai_fake, priority=2))
    events = await collect(stream_chat(conn, user_id, QUESTION))
    assert text(events) == "Hello from the fake model." and events[-1].provider == "GPT"
    row = await get_provider(conn, user_id, broken.id)
    assert row.health_status == expected[0] and expected[1] in (row.last_error or "")
    assert llm.health[broken.id].status == expected[0]


async def test_every_provider_failing_names_each_reason(
    llm: LlmContext, conn: Any, user_id: str, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    await create_provider(conn, llm.keyring, user_id, claude(anthropic_fake, priority=1))
    await create_provider(conn, llm.keyring, None, gpt(openai_fake, name="Shared GPT"))
    anthropic_fake.default = Failure(529)
    openai_fake.default = Failure(401)
    with pytest.raises(AllProvidersFailed) as caught:
        await collect(stream_chat(conn, user_id, QUESTION))
    message = str(caught.value)
    assert message.startswith(
        "Every AI provider failed (Claude: it is overloaded (HTTP 529 after 2 retries)"
    )
    assert "Shared GPT: it refused the API key with HTTP 401" in message
    assert [name for name, _ in caught.value.failures] == ["Claude", "Shared GPT"]


async def test_a_failure_after_output_does_not_fall_back(
    llm: LlmContext, conn: Any, user_id: str, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    await create_provider(conn, llm.keyring, user_id, gpt(openai_fake, priority=1))
    await create_provider(conn, llm.keyring, user_id, claude(anthropic_fake, priority=2))
    openai_fake.script.append(Cut("The key is"))
    seen: list[Any] = []
    with pytest.raises(StreamInterrupted, match="The reply from GPT broke off: its reply ended"):
        async for event in stream_chat(conn, user_id, QUESTION):
            seen.append(event)
    assert text(seen) == "The key is" and anthropic_fake.requests == []


async def test_features_filter_the_chain(
    llm: LlmContext, conn: Any, user_id: str, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    await create_provider(
        conn, llm.keyring, user_id, gpt(openai_fake, name="Tiny", model="my-own-model", priority=1)
    )
    request = msgspec.structs.replace(QUESTION, tools=TOOLS)
    with pytest.raises(NoCapableProvider, match=r"Tiny \(my-own-model\)\) supports tool_use"):
        await collect(stream_chat(conn, user_id, request))
    # Plain chat may use the unknown model; tool use goes past it to a model that has it.
    assert text(await collect(stream_chat(conn, user_id, QUESTION))) == "Hello from the fake model."
    await create_provider(conn, llm.keyring, user_id, claude(anthropic_fake, priority=2))
    anthropic_fake.script.append(
        Reply(tool_calls=(ToolUse("get_track", {"id": "t1"}, id="toolu_9"),))
    )
    events = await collect(stream_chat(conn, user_id, request))
    assert (
        ToolCall("toolu_9", "get_track", {"id": "t1"}) in events and len(openai_fake.requests) == 1
    )
    vision = msgspec.structs.replace(QUESTION, needs=frozenset({"vision"}))
    assert (await collect(stream_chat(conn, user_id, vision)))[-1].provider == "Claude"


async def test_order_owner_then_system_then_environment_and_disabled_skipped(
    node: Node,
    conn: Any,
    user_id: str,
    tmp_path: Path,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
) -> None:
    proc = node.attach()
    environ = {
        "ANTHROPIC_API_KEY": "sk-ant-test-key",
        "ANTHROPIC_BASE_URL": anthropic_fake.base_url,
        "OLLAMA_BASE_URL": "http://127.0.0.1:9",
    }
    context = await start_registry(tmp_path, environ, name="test.models.order")
    try:
        keyring: Keyring = context.keyring
        await create_provider(
            conn, keyring, None, gpt(openai_fake, name="System first", priority=0)
        )
        await create_provider(conn, keyring, user_id, gpt(openai_fake, name="Mine", priority=500))
        off = await create_provider(
            conn, keyring, user_id, gpt(openai_fake, name="Off", priority=1)
        )
        await update_provider(conn, keyring, user_id, off.id, ProviderChanges(enabled=False))
        other = await make_user(conn, "other")
        await create_provider(conn, keyring, other, gpt(openai_fake, name="Not mine", priority=0))
        names = [t.provider.name for t in await chain(conn, context, user_id)]
        assert names == ["Mine", "System first", "Anthropic (server)", "Ollama (server)"]
        await conn.execute("DELETE FROM llm_providers")
        anthropic_fake.script.append(Reply(text="from the environment"))
        events = await collect(stream_chat(conn, user_id, QUESTION, registry="test.models.order"))
        assert (
            text(events) == "from the environment" and events[-1].provider == "Anthropic (server)"
        )
        assert context.health["env-anthropic"].status == "healthy"
    finally:
        await stop("test.models.order")
        node.detach(proc)


async def test_each_turn_emits_telemetry(
    llm: LlmContext,
    node: Node,
    conn: Any,
    user_id: str,
    anthropic_fake: FakeAnthropic,
    openai_fake: FakeOpenAI,
) -> None:
    seen: list[tuple[Any, dict[str, Any], dict[str, Any]]] = []
    node.telemetry.attach(
        "test.llm",
        [("llm", "request", "stop"), ("llm", "request", "exception")],
        lambda e, m, md: seen.append((e, dict(m), dict(md))),
    )
    try:
        await create_provider(conn, llm.keyring, user_id, claude(anthropic_fake, priority=1))
        await create_provider(conn, llm.keyring, user_id, gpt(openai_fake, priority=2))
        anthropic_fake.script.extend([Failure(400, "bad request")])
        openai_fake.script.append(Reply(text="hi", input_tokens=21, output_tokens=4))
        await collect(stream_chat(conn, user_id, QUESTION))
    finally:
        node.telemetry.detach("test.llm")
    (failed, stopped) = seen
    assert failed[0] == ("llm", "request", "exception") and failed[2]["provider"] == "Claude"
    assert (
        failed[2]["http_status"] == 400
        and failed[2]["started"] is False
        and failed[1]["duration"] >= 0
    )
    assert stopped[0] == ("llm", "request", "stop")
    assert (
        stopped[1]["input_tokens"] == 21
        and stopped[1]["output_tokens"] == 4
        and stopped[1]["duration"] > 0
    )
    assert stopped[2] | {"provider_id": None} == {
        "provider": "GPT",
        "provider_id": None,
        "kind": "openai_compatible",
        "model": "gpt-4o-mini",
        "stop_reason": "end_turn",
        "user_id": user_id,
    }
