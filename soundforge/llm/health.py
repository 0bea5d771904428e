"""Provider health checks: one cheap request per provider, its outcome recorded.

The check proves the endpoint, the key and the model without spending tokens: Anthropic's
``GET /v1/models/{model}`` (through the SDK), an OpenAI-compatible server's ``GET /models``
with the model in the list (a server that does not list it is ``degraded``). The outcome
goes to the ModelRegistry and, for a row, to ``health_status``/``health_checked_at``/
``last_error``.

:func:`check_provider` serves the settings page's "Test" button; :func:`check_all` the
periodic ``ProviderHealthCheck`` job (``soundforge.jobs.llm_health``), which checks every
enabled provider of every user, the system's and the environment's, a few at a time, and
holds no database connection while it waits on the network.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

import msgspec

from soundforge.llm.errors import KeyUnavailable, ProviderFailure
from soundforge.llm.providers import Target, record_health
from soundforge.llm.registry import LlmContext, report
from soundforge.llm.router import client_for

__all__ = ["CheckResult", "check_all", "check_provider", "check_target"]

#: Checks the periodic job runs at once.
CONCURRENCY: Final = 4


class CheckResult(msgspec.Struct, frozen=True):
    provider_id: str
    name: str
    status: str
    error: str | None
    #: How long the check took, in milliseconds.
    latency_ms: int


async def check_target(context: LlmContext, target: Target) -> CheckResult:
    """Check ``target`` and tell the registry; writes nothing to the database."""
    provider = target.provider
    started = time.monotonic()
    status, error = "healthy", None
    try:
        await client_for(target, context).check()
    except ProviderFailure as failure:
        status, error = failure.health, failure.reason
    except KeyUnavailable as failure:
        status, error = "unreachable", failure.message
    report(context, provider.id, status, error)
    latency = int((time.monotonic() - started) * 1000)
    return CheckResult(provider.id, provider.name, status, error, latency)


async def check_provider(conn: Any, context: LlmContext, target: Target) -> CheckResult:
    """Check ``target`` and record the outcome on its row (if it has one)."""
    result = await check_target(context, target)
    if target.provider.source != "environment":
        await record_health(conn, target.provider.id, result.status, result.error)
    return result


async def check_all(context: LlmContext, targets: list[Target]) -> list[CheckResult]:
    """Check ``targets`` plus the environment's providers, ``CONCURRENCY`` at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(target: Target) -> CheckResult:
        async with gate:
            return await check_target(context, target)

    everything = [*targets, *context.environment]
    return list(await asyncio.gather(*(one(t) for t in everything)))
