"""Fixtures for the agent tests: a node running a ModelRegistry whose environment points at
the fake Anthropic server (and, for fallback tests, the fake OpenAI-compatible one), a pool
on a migrated database, and a user with an analysed track."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import msgspec
import pytest

from soundforge.agents import AgentEvent, run_agent
from soundforge.llm import ClientOptions, LlmOptions, ModelRegistry, llm_context
from soundforge.runtime.gen_server import stop
from soundforge.runtime.node import Node
from soundforge.runtime.results import Ok
from tests.agents import library
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.openai_api import FakeOpenAI

MODEL = "claude-sonnet-4-6"
FAST = ClientOptions(max_retries=2, timeout=5.0, health_timeout=5.0)


class Setup(msgspec.Struct):
    pool: Any
    user_id: str
    other_id: str
    track_id: str

    def connect(self) -> AbstractAsyncContextManager[Any]:
        return self.pool.acquire()  # type: ignore[no-any-return]

    async def run(self, agent: str, message: str, **options: Any) -> list[AgentEvent]:
        """One turn's events, collected (bounded by the clients' timeouts)."""
        return [e async for e in run_agent(self.connect, self.user_id, agent, message, **options)]


@pytest.fixture
def anthropic_fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key="sk-ant-test") as fake:
        yield fake


@pytest.fixture
def openai_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-openai-test") as fake:
        yield fake


async def start_registry(node: Node, data_dir: Path, environ: dict[str, str]) -> None:
    node.attach()
    options = LlmOptions(data_dir=data_dir, environ=environ, client=FAST)
    result = await ModelRegistry.start(options)
    assert isinstance(result, Ok), result
    assert llm_context(options.name) is not None


@pytest.fixture
async def registry(
    node: Node, tmp_path: Path, anthropic_fake: FakeAnthropic
) -> AsyncIterator[None]:
    """The registry with one system provider: the fake Anthropic API."""
    environ = {
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "ANTHROPIC_BASE_URL": anthropic_fake.base_url,
        "SOUNDFORGE_ANTHROPIC_MODEL": MODEL,
    }
    await start_registry(node, tmp_path, environ)
    yield
    await stop("soundforge.models")


@pytest.fixture
async def setup(db_pool: Any) -> Setup:
    async with db_pool.acquire() as conn:
        await library.user(conn, "admin")  # the first account is the admin; tests use others
        owner, other = await library.user(conn), await library.user(conn, "other")
        track_id = await library.track(conn, owner)
    return Setup(db_pool, owner, other, track_id)
