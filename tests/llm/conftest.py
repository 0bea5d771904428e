"""Fixtures for the LLM tests: a node running a ModelRegistry, a migrated database with a
user, and the fake Anthropic and OpenAI-compatible servers.

``llm`` is the registry's context on a node the test is attached to (so ``stream_chat``
finds it by name), with no environment providers unless a test starts its own registry
with an ``environ``; retries are the SDK's default two, made short by the fakes'
``retry-after-ms``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from soundforge.accounts import create_user
from soundforge.llm import ClientOptions, LlmContext, LlmOptions, ModelRegistry, llm_context
from soundforge.runtime.gen_server import stop
from soundforge.runtime.node import Node
from soundforge.runtime.results import Ok
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.openai_api import FakeOpenAI

FAST = ClientOptions(max_retries=2, timeout=5.0, health_timeout=5.0)


async def start_registry(
    data_dir: Path, environ: dict[str, str] | None = None, **options: Any
) -> LlmContext:
    """A ModelRegistry on the current node (the test must be attached to it)."""
    opts = LlmOptions(
        data_dir=data_dir, environ=environ or {}, client=options.pop("client", FAST), **options
    )
    result = await ModelRegistry.start(opts)
    assert isinstance(result, Ok), result
    return llm_context(opts.name)


@pytest.fixture
async def llm(node: Node, tmp_path: Path) -> AsyncIterator[LlmContext]:
    proc = node.attach()
    context = await start_registry(tmp_path)
    yield context
    await stop(context.options.name)
    node.detach(proc)


@pytest.fixture
async def conn(migrated_url: str) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(migrated_url)
    yield connection
    await connection.close()


async def make_user(conn: Any, name: str = "user") -> str:
    user = await create_user(conn, f"{name}-{uuid.uuid4().hex[:8]}@example.com", "a long password")
    return user.id


@pytest.fixture
async def user_id(conn: Any) -> str:
    await make_user(conn, "first-admin")  # the first account is an admin; tests use the second
    return await make_user(conn)


@pytest.fixture
def anthropic_fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key="sk-ant-test-key") as fake:
        yield fake


@pytest.fixture
def openai_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-openai-test") as fake:
        yield fake


def provider_view(
    kind: str = "anthropic",
    base_url: str | None = None,
    model: str = "claude-sonnet-4-6",
    name: str = "Test provider",
    provider_id: str = "env-test",
) -> Any:
    """A Provider value as the router hands it to a client (no row behind it)."""
    from soundforge.llm import Provider

    return Provider(
        id=provider_id,
        name=name,
        kind=kind,  # type: ignore[arg-type]
        base_url=base_url,
        model=model,
        priority=100,
        enabled=True,
        source="environment",
        has_api_key=True,
        api_key_last4=None,
        health_status="unknown",
        health_checked_at=None,
        last_error=None,
    )


async def collect(stream: Any) -> list[Any]:
    return [event async for event in stream]
