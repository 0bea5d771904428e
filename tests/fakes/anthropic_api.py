"""A fake Anthropic Messages API on 127.0.0.1, for the official SDK pointed at it.

Real HTTP (the stdlib server in a thread, like :mod:`tests.fakes.spotify`), so
``anthropic.AsyncAnthropic(api_key=..., base_url=fake.base_url)`` runs unchanged:

* ``POST /v1/messages``: streaming (``"stream": true``, server-sent events: message_start,
  content_block_start/delta/stop with ``text_delta`` and ``input_json_delta``,
  message_delta with the stop reason and usage, message_stop) and non-streaming (one
  Message object). Text streams in 4-character pieces, tool input JSON in 8.
* ``GET /v1/models`` and ``GET /v1/models/{id}``: the models in :attr:`FakeAnthropic.models`.
* Auth: this SDK version sends ``Authorization: Bearer <key>`` (no ``x-api-key``); both are
  accepted. With :attr:`api_key` set, any other key gets 401 ``authentication_error``.
* What it answers comes from the script (:mod:`tests.fakes._llm_script`): a queue of
  :class:`Reply`/:class:`Failure`/:class:`Cut`, then :attr:`responder`, then
  :attr:`default`. Failures use Anthropic's error body; 429 and 529 carry
  ``retry-after-ms`` so the SDK's retries are short. Every request body is kept in
  :attr:`requests` (headers in :attr:`headers`), so tests can assert what reached the prompt.

    with FakeAnthropic() as fake:
        fake.script.extend([Failure(529), Reply(text="Hi", tool_calls=(ToolUse("t", {}),))])
        client = anthropic.AsyncAnthropic(api_key="k", base_url=fake.base_url)
"""

from __future__ import annotations

import itertools
import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes._http import LocalServer
from tests.fakes._llm_script import (
    Cut,
    Failure,
    Reply,
    Script,
    ScriptedFake,
    ToolUse,
    chunks,
    dumps,
)

__all__ = ["Cut", "Failure", "FakeAnthropic", "Reply", "ToolUse"]

Json = dict[str, Any]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class FakeAnthropic(ScriptedFake):
    """The fake service; a context manager that starts and stops its server."""

    def __init__(self, api_key: str | None = None, models: list[str] | None = None) -> None:
        #: The only key accepted; None accepts any non-empty key.
        self.api_key = api_key
        self.models = models or ["claude-sonnet-4-6", "claude-haiku-4-5"]
        self._script = Script()
        self._ids = itertools.count(1)
        self._http = LocalServer(_handler(self))

    def __enter__(self) -> FakeAnthropic:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.stop()

    @property
    def base_url(self) -> str:
        """What ``AsyncAnthropic(base_url=...)`` takes (the SDK adds ``/v1/messages``)."""
        return self._http.base

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    # -- bodies -------------------------------------------------------------------------------

    def message(self, body: Json, reply: Reply) -> Json:
        content: list[Json] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for call in reply.tool_calls:
            content.append(self._tool_block(call, call.input))
        return {
            "id": self.new_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": content,
            "stop_reason": reply.resolved_stop_reason(),
            "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        }

    def events(self, body: Json, item: Reply | Cut) -> list[tuple[str, Json]]:
        """The SSE events of a streamed reply (a :class:`Cut` stops after its text)."""
        reply = item if isinstance(item, Reply) else Reply(text=item.text)
        start = self.message(body, reply) | {"content": [], "stop_reason": None}
        start["usage"] = {"input_tokens": reply.input_tokens, "output_tokens": 1}
        out: list[tuple[str, Json]] = [
            ("message_start", {"type": "message_start", "message": start})
        ]
        index = 0
        if reply.text:
            block = {"type": "text", "text": ""}
            out.append(_block_start(index, block))
            for piece in chunks(reply.text):
                out.append(_delta(index, {"type": "text_delta", "text": piece}))
            if isinstance(item, Cut):
                return out
            out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
            index += 1
        for call in reply.tool_calls:
            out.append(_block_start(index, self._tool_block(call, {})))
            for piece in chunks(dumps(call.input), 8):
                out.append(_delta(index, {"type": "input_json_delta", "partial_json": piece}))
            out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
            index += 1
        delta = {"stop_reason": reply.resolved_stop_reason(), "stop_sequence": None}
        usage = {"output_tokens": reply.output_tokens}
        out.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        out.append(("message_stop", {"type": "message_stop"}))
        return out

    def _tool_block(self, call: ToolUse, payload: Json) -> Json:
        tool_id = call.id or self.new_id("toolu")
        return {"type": "tool_use", "id": tool_id, "name": call.name, "input": payload}

    def authorized(self, headers: dict[str, str]) -> bool:
        bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
        key = bearer or headers.get("x-api-key", "")
        if not key:
            return False
        return self.api_key is None or key == self.api_key

    def models_page(self) -> Json:
        data = [self.model_object(m) for m in self.models]
        return {
            "data": data,
            "has_more": False,
            "first_id": self.models[0] if self.models else None,
            "last_id": self.models[-1] if self.models else None,
        }

    @staticmethod
    def model_object(model: str) -> Json:
        return {
            "type": "model",
            "id": model,
            "display_name": model,
            "created_at": "2025-09-29T00:00:00Z",
        }


def _block_start(index: int, block: Json) -> tuple[str, Json]:
    return "content_block_start", {
        "type": "content_block_start",
        "index": index,
        "content_block": block,
    }


def _delta(index: int, delta: Json) -> tuple[str, Json]:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}


def _handler(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # quiet: tests read fake.requests instead

        def _headers(self) -> dict[str, str]:
            return {k.lower(): v for k, v in self.headers.items()}

        def _send(self, status: int, body: Json, extra: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", fake.new_id("req"))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, failure: Failure) -> None:
            kind = _ERROR_TYPES.get(failure.status, "api_error")
            message = failure.message or f"Fake {kind} ({failure.status})."
            extra: dict[str, str] = {}
            if failure.status in (429, 529):
                extra["retry-after-ms"] = str(failure.retry_after_ms)
                extra["retry-after"] = str(max(1, failure.retry_after_ms // 1000))
            body = {"type": "error", "error": {"type": kind, "message": message}}
            self._send(failure.status, body, extra)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if not fake.authorized(self._headers()):
                self._error(Failure(401, "invalid x-api-key"))
            elif path == "/v1/models":
                self._send(200, fake.models_page())
            elif path.startswith("/v1/models/") and path.removeprefix("/v1/models/") in fake.models:
                self._send(200, fake.model_object(path.removeprefix("/v1/models/")))
            else:
                self._error(Failure(404, f"Not found: {path}"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.split("?", 1)[0] != "/v1/messages":
                self._error(Failure(404, f"Not found: {self.path}"))
                return
            headers = self._headers()
            if not fake.authorized(headers):
                self._error(Failure(401, "invalid x-api-key"))
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._error(Failure(400, "The request body is not valid JSON."))
                return
            item = fake.next_item(body, headers)
            if isinstance(item, Reply) and item.delay_s:
                time.sleep(item.delay_s)
            if isinstance(item, Failure):
                self._error(item)
            elif body.get("stream"):
                self._stream(fake.events(body, item))
            elif isinstance(item, Reply):
                self._send(200, fake.message(body, item))
            else:  # a Cut without streaming: a response that ends early
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"id":')
                self.close_connection = True

        def _stream(self, events: list[tuple[str, Json]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for name, data in events:
                self.wfile.write(f"event: {name}\ndata: {dumps(data)}\n\n".encode())
                self.wfile.flush()

    return Handler
