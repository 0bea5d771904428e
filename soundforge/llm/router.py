"""The router: one model turn through the first provider that can take it.

:func:`stream_chat` builds the chain — the user's enabled providers, then the system rows
(``user_id`` NULL), then the environment's — drops the ones whose model lacks a feature the
request needs (the ModelRegistry's capabilities), puts healthy and unchecked providers
before degraded ones and those before unreachable ones (each group by owner, then priority),
and tries at most ``max_attempts`` of them in turn. A provider that fails **before** it
streamed any text or tool call (refused connection, 5xx, 429/529 after the retries, a
timeout, a key that does not open) is recorded as degraded or unreachable and the next one
is tried; a failure **after** output started raises :class:`StreamInterrupted`, because the
caller has shown half a reply already.

``conn`` is an asyncpg connection (a Repo checkout): the chain is read with it and each
outcome's health is written with it between events, so do not use it concurrently with the
stream. Every finished turn emits telemetry ``("llm", "request", "stop")`` (measurements
``duration`` s, ``input_tokens``, ``output_tokens``; metadata ``provider``, ``provider_id``,
``kind``, ``model``, ``stop_reason``, ``user_id``) and every failed provider
``("llm", "request", "exception")`` (``duration``; ``provider``, ``provider_id``, ``kind``,
``model``, ``reason``, ``http_status``, ``started``, ``user_id``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from soundforge.llm._anthropic import AnthropicClient
from soundforge.llm._client import Client
from soundforge.llm._openai import OpenAIClient
from soundforge.llm.errors import (
    AllProvidersFailed,
    KeyUnavailable,
    NoCapableProvider,
    NoProviderConfigured,
    ProviderFailure,
    StreamInterrupted,
)
from soundforge.llm.messages import ChatRequest, Finished, StreamEvent
from soundforge.llm.providers import Provider, Target, enabled_targets, record_health
from soundforge.llm.registry import DEFAULT_NAME, LlmContext, llm_context, report
from soundforge.runtime.gen_server import Server

__all__ = ["EXCEPTION_EVENT", "STOP_EVENT", "chain", "client_for", "stream_chat"]

STOP_EVENT: Final = ("llm", "request", "stop")
EXCEPTION_EVENT: Final = ("llm", "request", "exception")
_GROUP: Final = {"user": 0, "system": 1, "environment": 2}
_BUCKET: Final = {"healthy": 0, "unknown": 0, "degraded": 1, "unreachable": 2}
#: A healthy provider's row is rewritten at most this often by successful turns.
_HEALTHY_REFRESH: Final = timedelta(seconds=60)


def client_for(target: Target, context: LlmContext) -> Client:
    """The client of ``target``'s kind, its key opened (raises KeyUnavailable/ProviderFailure)."""
    key = target.api_key(context.keyring)
    options = context.options.client
    if target.provider.kind == "anthropic":
        return AnthropicClient(target.provider, key, options)
    return OpenAIClient(target.provider, key, options)


async def chain(conn: Any, context: LlmContext, user_id: str) -> list[Target]:
    """Every enabled provider ``user_id`` may use, in the order the router tries them."""
    targets = [*await enabled_targets(conn, user_id), *context.environment]

    def key(target: Target) -> tuple[int, int, int, str]:
        provider = target.provider
        bucket = _BUCKET.get(context.health_of(provider).status, 0)
        return (bucket, _GROUP[provider.source], provider.priority, provider.name.lower())

    return sorted(targets, key=key)


async def stream_chat(
    conn: Any, user_id: str, request: ChatRequest, *, registry: Server = DEFAULT_NAME
) -> AsyncIterator[StreamEvent]:
    """One model turn through the router (see the module docstring).

    Raises :class:`NoProviderConfigured` (its message says how to add one; the
    :class:`NoCapableProvider` subclass when providers exist but none has the features),
    :class:`AllProvidersFailed` (each provider and its reason) or :class:`StreamInterrupted`.
    """
    context = llm_context(registry)
    targets = await chain(conn, context, user_id)
    if not targets:
        raise NoProviderConfigured()
    needs = request.required_features()
    capable = [t for t in targets if context.model_for(t.provider).has(needs)]
    if not capable:
        raise NoCapableProvider(needs, [f"{t.provider.name} ({t.provider.model})" for t in targets])
    failures: list[tuple[str, str]] = []
    for target in capable[: context.options.max_attempts]:
        provider = target.provider
        started = time.monotonic()
        produced = False
        try:
            client = client_for(target, context)
            async for event in client.stream(request):
                if isinstance(event, Finished):
                    _emit_stop(context, provider, event, time.monotonic() - started, user_id)
                    await _record(conn, context, provider, "healthy", None)
                else:
                    produced = True
                yield event
            return
        except (ProviderFailure, KeyUnavailable) as error:
            failure = (
                error if isinstance(error, ProviderFailure) else ProviderFailure(error.message)
            )
            _emit_exception(
                context, provider, failure, time.monotonic() - started, user_id, produced
            )
            await _record(conn, context, provider, failure.health, failure.reason)
            if produced:
                raise StreamInterrupted(provider.name, failure.reason) from error
            failures.append((provider.name, failure.reason))
    raise AllProvidersFailed(failures)


async def _record(
    conn: Any, context: LlmContext, provider: Provider, status: str, error: str | None
) -> None:
    """Tell the registry, and write the row unless it is a healthy row written lately."""
    before = context.health_of(provider)
    report(context, provider.id, status, error)
    if provider.source == "environment":
        return
    fresh = (
        before.checked_at is not None and datetime.now(UTC) - before.checked_at < _HEALTHY_REFRESH
    )
    if status == "healthy" and before.status == "healthy" and fresh:
        return
    await record_health(conn, provider.id, status, error)


def _metadata(provider: Provider, user_id: str) -> dict[str, Any]:
    return {
        "provider": provider.name,
        "provider_id": provider.id,
        "kind": provider.kind,
        "model": provider.model,
        "user_id": user_id,
    }


def _emit_stop(
    context: LlmContext, provider: Provider, event: Finished, duration: float, user_id: str
) -> None:
    if context.telemetry.wants(STOP_EVENT):
        context.telemetry.execute(
            STOP_EVENT,
            {
                "duration": duration,
                "input_tokens": event.input_tokens,
                "output_tokens": event.output_tokens,
            },
            _metadata(provider, user_id) | {"model": event.model, "stop_reason": event.stop_reason},
        )


def _emit_exception(
    context: LlmContext,
    provider: Provider,
    failure: ProviderFailure,
    duration: float,
    user_id: str,
    started: bool,
) -> None:
    if context.telemetry.wants(EXCEPTION_EVENT):
        context.telemetry.execute(
            EXCEPTION_EVENT,
            {"duration": duration},
            _metadata(provider, user_id)
            | {"reason": failure.reason, "http_status": failure.http_status, "started": started},
        )
