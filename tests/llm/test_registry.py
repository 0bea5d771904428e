"""The ModelRegistry: capabilities by family and name, ``best_for``, health kept newest-first,
environment providers, and health checks recorded on rows and in the registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soundforge.llm import (
    LlmContext,
    NewProvider,
    RegistryNotRunning,
    check_all,
    check_provider,
    create_provider,
    get_provider,
    get_target,
    llm_context,
)
from soundforge.llm.registry import Health, Outcome
from soundforge.runtime.gen_server import cast, get_state, stop
from soundforge.runtime.node import Node
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.media_server import dead_url
from tests.fakes.openai_api import FakeOpenAI
from tests.llm.conftest import provider_view, start_registry


@pytest.mark.parametrize(
    ("kind", "url", "model", "expected", "tools"),
    [
        ("anthropic", None, "claude-sonnet-4-6", "claude-sonnet-4-6", True),
        ("anthropic", None, "claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001", True),
        (
            "openai_compatible",
            "https://api.openai.com/v1",
            "gpt-4o-2024-08-06",
            "gpt-4o-2024-08-06",
            True,
        ),
        ("openai_compatible", "http://localhost:11434/v1", "llama3.2:3b", "llama3.2:3b", True),
        ("openai_compatible", "http://localhost:1234/v1", "codellama", "codellama", False),
        (
            "openai_compatible",
            "http://localhost:1234/v1",
            "someones-finetune",
            "someones-finetune",
            False,
        ),
    ],
)
def test_capabilities_by_family_and_name(
    llm: LlmContext, kind: str, url: str | None, model: str, expected: str, tools: bool
) -> None:
    info = llm.model_for(provider_view(kind, url, model))
    assert info.model == expected and info.has({"tool_use"}) is tools
    if model == "someones-finetune":
        assert not info.known and info.context_window == 8_192 and info.features == {"chat"}
    if model == "llama3.2:3b":
        assert info.family == "ollama" and info.cost == 0 and info.known


def test_best_for_prefers_what_it_is_asked_to(llm: LlmContext) -> None:
    best = llm.best_for({"tool_use", "vision"})
    assert best is not None and best.quality == 5
    cheap = llm.best_for({"tool_use"}, prefer="cost")
    assert cheap is not None and cheap.cost == 0 and cheap.family == "ollama"
    fast = llm.best_for({"vision"}, prefer="speed")
    assert fast is not None and fast.speed == 5
    assert llm.best_for({"telepathy"}) is None
    listing = llm.listing()
    assert {"claude-sonnet-4-6", "gpt-4o", "gpt-4o-mini", "o3", "llama3.2"} <= {
        m.model for m in listing
    }


async def test_health_keeps_the_newest_outcome(llm: LlmContext) -> None:
    now = datetime.now(UTC)
    cast(llm.options.name, Outcome("p", Health("healthy", now)))
    cast(
        llm.options.name,
        Outcome("p", Health("unreachable", now - timedelta(minutes=1), "old news")),
    )
    await get_state(llm.options.name)  # handled after the casts before it
    assert llm.health["p"].status == "healthy"


async def test_without_a_registry_the_error_says_so(node: Node) -> None:
    proc = node.attach()
    try:
        with pytest.raises(RegistryNotRunning, match="start the SoundForge server"):
            llm_context("soundforge.models")
    finally:
        node.detach(proc)


async def test_environment_providers(node: Node, tmp_path: Path) -> None:
    proc = node.attach()
    environ = {
        "ANTHROPIC_API_KEY": "sk-ant-env-1234",
        "OPENAI_API_KEY": "sk-openai-env",
        "SOUNDFORGE_OPENAI_MODEL": "gpt-4o",
        "OLLAMA_BASE_URL": "http://localhost:11434/",
    }
    context = await start_registry(tmp_path, environ, name="test.models.env")
    try:
        views = context.environment_providers()
        assert [(p.id, p.kind, p.base_url, p.model, p.priority) for p in views] == [
            ("env-anthropic", "anthropic", None, "claude-sonnet-4-6", 1000),
            ("env-openai", "openai_compatible", "https://api.openai.com/v1", "gpt-4o", 1010),
            ("env-ollama", "openai_compatible", "http://localhost:11434/v1", "llama3.2", 1020),
        ]
        assert views[0].api_key_last4 == "1234" and not views[2].has_api_key
        assert "sk-ant-env" not in repr(context.environment)
    finally:
        await stop("test.models.env")
        node.detach(proc)


async def test_health_checks_write_rows_and_the_registry(
    llm: LlmContext, conn: Any, user_id: str, anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    good = await create_provider(
        conn,
        llm.keyring,
        user_id,
        NewProvider(
            name="Claude",
            kind="anthropic",
            model="claude-sonnet-4-6",
            base_url=anthropic_fake.base_url,
            api_key="sk-ant-test-key",
        ),
    )
    missing = await create_provider(
        conn,
        llm.keyring,
        user_id,
        NewProvider(
            name="Local",
            kind="openai_compatible",
            model="llama9",
            base_url=openai_fake.base_url,
            api_key="sk-openai-test",
        ),
    )
    down = await create_provider(
        conn,
        llm.keyring,
        None,
        NewProvider(
            name="Down", kind="openai_compatible", model="llama3.2", base_url=dead_url("/v1")
        ),
    )
    result = await check_provider(conn, llm, await get_target(conn, user_id, good.id))
    assert (result.status, result.error) == ("healthy", None) and result.latency_ms >= 0
    row = await get_provider(conn, user_id, good.id)
    assert row.health_status == "healthy" and row.health_checked_at is not None
    targets = [await get_target(conn, user_id, missing.id), await get_target(conn, None, down.id)]
    results = {r.name: r for r in await check_all(llm, targets)}
    assert results["Local"].status == "degraded" and "does not list the model llama9" in (
        results["Local"].error or ""
    )
    assert results["Down"].status == "unreachable" and "cannot connect" in (
        results["Down"].error or ""
    )
    await get_state(llm.options.name)
    assert llm.health[down.id].status == "unreachable"
    assert anthropic_fake.requests == [] and openai_fake.requests == []
