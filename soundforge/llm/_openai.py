"""The OpenAI-compatible client (OpenAI, Ollama's ``/v1``, LM Studio) over httpx.

``POST {base_url}/chat/completions`` with ``"stream": true`` and
``stream_options.include_usage``; the server-sent ``chat.completion.chunk`` events become
:class:`TextDelta` as ``content`` arrives, one :class:`ToolCall` per ``tool_calls`` entry
(its id and name from the first delta of its index, its ``arguments`` concatenated and
parsed at the end) and :class:`Finished` (``finish_reason`` mapped to Anthropic's stop
reasons: ``stop`` → ``end_turn``, ``tool_calls`` → ``tool_use``, ``length`` → ``max_tokens``).

Anthropic-shaped messages are translated: an assistant's ``tool_use`` blocks become its
``tool_calls``, a user's ``tool_result`` blocks become ``role: "tool"`` messages (before any
text of that turn), and a JSON schema becomes ``response_format``. Retries follow the
Anthropic SDK's policy (``_client.backoff``): 408/409/429/5xx and connection failures,
``max_retries`` times, honouring ``retry-after-ms``/``retry-after``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any, Final

import httpx

from soundforge.llm._client import (
    ClientOptions,
    backoff,
    connection_failure,
    error_message,
    should_retry,
    status_failure,
    timeout_failure,
)
from soundforge.llm.errors import ProviderFailure
from soundforge.llm.messages import (
    ChatRequest,
    Finished,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolResultBlock,
    ToolUseBlock,
)
from soundforge.llm.providers import Provider

__all__ = ["OpenAIClient", "to_openai_messages"]

_STOP_REASONS: Final = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
    "function_call": "tool_use",
}
#: Reasoning models take ``max_completion_tokens`` instead of ``max_tokens``.
_REASONING: Final = re.compile(r"^(o\d|gpt-5)")


def to_openai_messages(request: ChatRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for message in request.messages:
        texts = [b.text for b in message.content if isinstance(b, TextBlock)]
        if message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
            calls = [b for b in message.content if isinstance(b, ToolUseBlock)]
            if calls:
                entry["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(c.input)},
                    }
                    for c in calls
                ]
            out.append(entry)
            continue
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                content = f"Error: {block.content}" if block.is_error else block.content
                out.append({"role": "tool", "tool_call_id": block.tool_use_id, "content": content})
        if texts:
            out.append({"role": "user", "content": "\n\n".join(texts)})
    return out


class OpenAIClient:
    def __init__(self, provider: Provider, api_key: str | None, options: ClientOptions) -> None:
        if provider.base_url is None:
            raise ProviderFailure("it has no base URL; set one in its settings.")
        self._provider = provider
        self._options = options
        self._base = provider.base_url.rstrip("/")
        self._headers = {"Accept": "text/event-stream"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._provider.model,
            "messages": to_openai_messages(request),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        tokens = "max_completion_tokens" if _REASONING.match(self._provider.model) else "max_tokens"
        body[tokens] = request.max_tokens
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.input_schema,
                    },
                }
                for t in request.tools
            ]
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": request.json_schema},
            }
        return body

    async def _send(
        self, http: httpx.AsyncClient, method: str, path: str, body: Any = None
    ) -> httpx.Response:
        """The response of the first attempt that is not worth retrying (streamed, open)."""
        url = f"{self._base}{path}"
        retries = self._options.max_retries
        for attempt in range(retries + 1):
            try:
                request = http.build_request(method, url, json=body, headers=self._headers)
                response = await http.send(request, stream=True)
            except httpx.TimeoutException as error:
                if attempt == retries:
                    raise timeout_failure(self._options.timeout) from error
                await asyncio.sleep(backoff(attempt))
                continue
            except (httpx.TransportError, OSError) as error:
                if attempt == retries:
                    raise connection_failure(url, error) from error
                await asyncio.sleep(backoff(attempt))
                continue
            if response.status_code < 400:
                return response
            raw = await response.aread()
            await response.aclose()
            if should_retry(response.status_code) and attempt < retries:
                await asyncio.sleep(backoff(attempt, response.headers))
                continue
            try:
                detail = error_message(json.loads(raw))
            except ValueError:
                detail = error_message(raw)
            used = attempt if should_retry(response.status_code) else 0
            raise status_failure(response.status_code, detail, used)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _http(self, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=True)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        async with self._http(self._options.timeout) as http:
            response = await self._send(http, "POST", "/chat/completions", self._body(request))
            try:
                async for event in self._translate(response):
                    yield event
            except httpx.TimeoutException as error:
                raise timeout_failure(self._options.timeout) from error
            except (httpx.HTTPError, OSError) as error:
                what = error_message(str(error)) or type(error).__name__
                raise ProviderFailure(
                    f"the connection broke while it answered ({what})."
                ) from error
            finally:
                await response.aclose()

    async def _translate(self, response: httpx.Response) -> AsyncIterator[StreamEvent]:
        calls: dict[int, list[str]] = {}
        finish: str | None = None
        usage: dict[str, Any] = {}
        model = self._provider.model
        async for data in _sse_data(response):
            if data.strip() == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise ProviderFailure("it sent a stream event that is not JSON.") from None
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                raise ProviderFailure(
                    f"it reported an error while answering ({error_message(chunk)})."
                )
            model = chunk.get("model") or model
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    yield TextDelta(delta["content"])
                for part in delta.get("tool_calls") or []:
                    slot = calls.setdefault(int(part.get("index", 0)), ["", "", ""])
                    function = part.get("function") or {}
                    slot[0] = part.get("id") or slot[0]
                    slot[1] = function.get("name") or slot[1]
                    slot[2] += function.get("arguments") or ""
                finish = choice.get("finish_reason") or finish
        if finish is None:
            raise ProviderFailure("its reply ended before the model finished.")
        for index in sorted(calls):
            call_id, name, arguments = calls[index]
            yield ToolCall(call_id or f"call_{index}", name, _arguments(name, arguments))
        yield Finished(
            _STOP_REASONS.get(finish, finish),
            self._provider.name,
            model,
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
        )

    async def check(self) -> None:
        async with self._http(self._options.health_timeout) as http:
            response = await self._send(http, "GET", "/models")
            try:
                listing = json.loads(await response.aread())
            except ValueError:
                raise ProviderFailure("its model list is not JSON.") from None
            finally:
                await response.aclose()
        ids = {str(m.get("id")) for m in listing.get("data") or [] if isinstance(m, dict)}
        model = self._provider.model
        if (
            ids
            and not ids & {model, f"{model}:latest"}
            and model not in {i.split(":")[0] for i in ids}
        ):
            raise ProviderFailure(f"it does not list the model {model}.", health="degraded")


def _arguments(name: str, raw: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ProviderFailure(f"it sent arguments for the tool {name} that are not JSON.") from None
    if not isinstance(value, dict):
        raise ProviderFailure(f"it sent arguments for the tool {name} that are not a JSON object.")
    return value


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined with newlines)."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            lines.append(value[1:] if value.startswith(" ") else value)
    if lines:
        yield "\n".join(lines)
