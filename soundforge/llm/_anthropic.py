"""The Anthropic client: the official SDK (``anthropic.AsyncAnthropic``) mapped to neutral events.

The request's blocks already have the Messages API's shape, so they go as they are; the
SDK's raw stream events (message_start, content_block_start/delta/stop, message_delta,
message_stop) become :class:`TextDelta` as text arrives, one :class:`ToolCall` per tool-use
block once its input JSON is complete, and :class:`Finished` with the stop reason and token
counts. A JSON schema becomes ``output_config.format`` (structured outputs).

Retries are the SDK's own (429, 529, 5xx and connection errors, honouring ``retry-after``),
``max_retries`` of them. The SDK is always given the key and the URL explicitly: left
unset it would read ``ANTHROPIC_API_KEY`` from the server's environment, lending the
server's key to a user's provider that has none.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

import anthropic
import httpx2
import msgspec

from soundforge.llm._client import (
    ClientOptions,
    connection_failure,
    error_message,
    should_retry,
    status_failure,
    timeout_failure,
)
from soundforge.llm.errors import ProviderFailure
from soundforge.llm.messages import ChatRequest, Finished, StreamEvent, TextDelta, ToolCall
from soundforge.llm.providers import Provider

__all__ = ["DEFAULT_BASE_URL", "AnthropicClient"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api.anthropic.com"


class AnthropicClient:
    def __init__(self, provider: Provider, api_key: str | None, options: ClientOptions) -> None:
        self._provider = provider
        self._key = api_key
        self._options = options
        self._url = provider.base_url or DEFAULT_BASE_URL

    def _sdk(self, timeout: float) -> anthropic.AsyncAnthropic:
        if not self._key:
            raise ProviderFailure("it has no API key; add one in its settings.")
        return anthropic.AsyncAnthropic(
            api_key=self._key,
            base_url=self._url,
            max_retries=self._options.max_retries,
            timeout=timeout,
        )

    def _failure(self, error: Exception) -> ProviderFailure:
        if isinstance(error, anthropic.APITimeoutError):
            return timeout_failure(self._options.timeout)
        if isinstance(error, anthropic.APIConnectionError):
            return connection_failure(self._url, error.__cause__ or error)
        if isinstance(error, anthropic.APIStatusError):
            retries = self._options.max_retries if should_retry(error.status_code) else 0
            return status_failure(error.status_code, error_message(error.body), retries)
        if isinstance(error, httpx2.TimeoutException):
            return timeout_failure(self._options.timeout)
        if isinstance(error, httpx2.HTTPError | OSError):
            return connection_failure(self._url, error)
        return ProviderFailure(f"its reply could not be read ({error_message(str(error))}).")

    def _arguments(self, request: ChatRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": self._provider.model,
            "max_tokens": request.max_tokens,
            "messages": msgspec.to_builtins(request.messages),
            "stream": True,
        }
        if request.system:
            arguments["system"] = request.system
        if request.tools:
            arguments["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.input_schema}
                for t in request.tools
            ]
        if request.json_schema is not None:
            schema = {"type": "json_schema", "schema": request.json_schema}
            arguments["output_config"] = {"format": schema}
        return arguments

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        async with self._sdk(self._options.timeout) as sdk:
            try:
                events = await sdk.messages.create(**self._arguments(request))
            except (anthropic.APIError, httpx2.HTTPError, OSError) as error:
                raise self._failure(error) from error
            async for event in self._translate(events):
                yield event

    async def _translate(self, events: Any) -> AsyncIterator[StreamEvent]:
        input_tokens = output_tokens = 0
        stop_reason = ""
        model = self._provider.model
        tools: dict[int, tuple[str, str, list[str]]] = {}
        try:
            async for event in events:
                kind = event.type
                if kind == "message_start":
                    input_tokens = event.message.usage.input_tokens or 0
                    output_tokens = event.message.usage.output_tokens or 0
                    model = event.message.model or model
                elif kind == "content_block_start" and event.content_block.type == "tool_use":
                    block = event.content_block
                    tools[event.index] = (block.id, block.name, [])
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta" and delta.text:
                        yield TextDelta(delta.text)
                    elif delta.type == "input_json_delta" and event.index in tools:
                        tools[event.index][2].append(delta.partial_json)
                elif kind == "content_block_stop" and event.index in tools:
                    tool_id, name, parts = tools.pop(event.index)
                    yield ToolCall(tool_id, name, _tool_input(name, "".join(parts)))
                elif kind == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    if event.usage is not None and event.usage.output_tokens is not None:
                        output_tokens = event.usage.output_tokens
                elif kind == "message_stop":
                    yield Finished(
                        stop_reason or "end_turn",
                        self._provider.name,
                        model,
                        input_tokens,
                        output_tokens,
                    )
                    return
        except (anthropic.APIError, httpx2.HTTPError, OSError) as error:
            raise self._failure(error) from error
        raise ProviderFailure("its reply ended before the message was complete.")

    async def check(self) -> None:
        async with self._sdk(self._options.health_timeout) as sdk:
            try:
                await sdk.models.retrieve(self._provider.model)
            except (anthropic.APIError, httpx2.HTTPError, OSError) as error:
                raise self._failure(error) from error


def _tool_input(name: str, raw: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ProviderFailure(f"it sent input for the tool {name} that is not JSON.") from None
    if not isinstance(value, dict):
        raise ProviderFailure(f"it sent input for the tool {name} that is not a JSON object.")
    return value
