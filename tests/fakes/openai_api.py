"""A fake OpenAI-compatible chat server (OpenAI, Ollama's ``/v1``, LM Studio) on 127.0.0.1.

* ``POST /v1/chat/completions``: streaming (``"stream": true``: ``chat.completion.chunk``
  server-sent events, text in 4-character ``content`` deltas, each tool call opened with
  its id and name and its ``arguments`` JSON in 8-character pieces, a last chunk with the
  ``finish_reason``, a usage chunk when ``stream_options.include_usage`` is set, then
  ``data: [DONE]``) and non-streaming (one ``chat.completion``).
* ``GET /v1/models``: the models in :attr:`FakeOpenAI.models`.
* Auth: with :attr:`api_key` set, a request without ``Authorization: Bearer <that key>``
  gets 401 (Ollama and LM Studio need no key: leave it None).
* Script, failures (OpenAI's ``{"error": {...}}`` body; 429 with ``retry-after-ms``) and the
  record of request bodies work as in :mod:`tests.fakes.anthropic_api`, with the same
  :class:`Reply`/:class:`Failure`/:class:`Cut` items.

    with FakeOpenAI() as fake:
        fake.script.append(Reply(tool_calls=(ToolUse("get_track", {"id": "t1"}),)))
        base_url = fake.base_url          # "http://127.0.0.1:PORT/v1"
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

__all__ = ["Cut", "Failure", "FakeOpenAI", "Reply", "ToolUse"]

Json = dict[str, Any]

_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    404: "not_found",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}


class FakeOpenAI(ScriptedFake):
    """The fake service; a context manager that starts and stops its server."""

    def __init__(self, api_key: str | None = None, models: list[str] | None = None) -> None:
        self.api_key = api_key
        self.models = models or ["gpt-4o-mini", "gpt-4o"]
        self._script = Script()
        self._ids = itertools.count(1)
        self._http = LocalServer(_handler(self))

    def __enter__(self) -> FakeOpenAI:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.stop()

    @property
    def base_url(self) -> str:
        """The provider's base URL as users enter it (``.../v1``)."""
        return f"{self._http.base}/v1"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def authorized(self, headers: dict[str, str]) -> bool:
        if self.api_key is None:
            return True
        return headers.get("authorization", "") == f"Bearer {self.api_key}"

    # -- bodies -------------------------------------------------------------------------------

    def _tool_calls(self, reply: Reply) -> list[Json]:
        return [
            {
                "id": call.id or self.new_id("call"),
                "type": "function",
                "function": {"name": call.name, "arguments": dumps(call.input)},
            }
            for call in reply.tool_calls
        ]

    def completion(self, body: Json, reply: Reply) -> Json:
        message: Json = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = self._tool_calls(reply)
        finish = _FINISH.get(reply.resolved_stop_reason(), reply.resolved_stop_reason())
        return {
            "id": self.new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": _usage(reply),
        }

    def chunks(self, body: Json, item: Reply | Cut) -> list[Json]:
        reply = item if isinstance(item, Reply) else Reply(text=item.text)
        head = {
            "id": self.new_id("chatcmpl"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", ""),
        }

        def chunk(delta: Json, finish: str | None = None) -> Json:
            return head | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        out = [chunk({"role": "assistant", "content": ""})]
        out += [chunk({"content": piece}) for piece in chunks(reply.text)]
        if isinstance(item, Cut):
            return out
        for index, call in enumerate(self._tool_calls(reply)):
            opening = {"index": index, "id": call["id"], "type": "function"}
            opening["function"] = {"name": call["function"]["name"], "arguments": ""}
            out.append(chunk({"tool_calls": [opening]}))
            for piece in chunks(call["function"]["arguments"], 8):
                part = {"index": index, "function": {"arguments": piece}}
                out.append(chunk({"tool_calls": [part]}))
        finish = _FINISH.get(reply.resolved_stop_reason(), reply.resolved_stop_reason())
        out.append(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            out.append(head | {"choices": [], "usage": _usage(reply)})
        return out

    def models_page(self) -> Json:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return {"object": "list", "data": data}


def _usage(reply: Reply) -> Json:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
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
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, failure: Failure) -> None:
            kind = _ERROR_TYPES.get(failure.status, "server_error")
            message = failure.message or f"Fake {kind} ({failure.status})."
            extra: dict[str, str] = {}
            if failure.status in (429, 503):
                extra["retry-after-ms"] = str(failure.retry_after_ms)
            error = {"message": message, "type": kind, "param": None, "code": kind}
            self._send(failure.status, {"error": error}, extra)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if not fake.authorized(self._headers()):
                self._error(Failure(401, "Incorrect API key provided."))
            elif path == "/v1/models":
                self._send(200, fake.models_page())
            else:
                self._error(Failure(404, f"Not found: {path}"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.split("?", 1)[0] != "/v1/chat/completions":
                self._error(Failure(404, f"Not found: {self.path}"))
                return
            headers = self._headers()
            if not fake.authorized(headers):
                self._error(Failure(401, "Incorrect API key provided."))
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._error(Failure(400, "We could not parse the JSON body of your request."))
                return
            item = fake.next_item(body, headers)
            if isinstance(item, Reply) and item.delay_s:
                time.sleep(item.delay_s)
            if isinstance(item, Failure):
                self._error(item)
            elif body.get("stream"):
                self._stream(fake.chunks(body, item), done=isinstance(item, Reply))
            elif isinstance(item, Reply):
                self._send(200, fake.completion(body, item))
            else:  # a Cut without streaming: a body that ends early
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"id":')
                self.close_connection = True

        def _stream(self, events: list[Json], *, done: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for data in events:
                self.wfile.write(f"data: {dumps(data)}\n\n".encode())
                self.wfile.flush()
            if done:
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

    return Handler
