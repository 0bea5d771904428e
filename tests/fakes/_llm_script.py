"""What the fake model servers answer: a per-test script of replies and failures.

Both fakes (:mod:`tests.fakes.anthropic_api`, :mod:`tests.fakes.openai_api`) take the same
script items, so a test can move a conversation from one provider to the other:

* :class:`Reply`: a model turn, some text and/or tool calls, with a stop reason and token
  counts (``stop_reason`` None: ``"tool_use"`` when there are tool calls, else
  ``"end_turn"``);
* :class:`Failure`: an HTTP error in the provider's own error shape (429 with retry headers,
  529 overloaded, 500 ...);
* :class:`Cut`: a streamed reply that stops after ``text`` and drops the connection (a
  failure *after* output started).

A fake answers from ``fake.script`` (a queue, first item first) or, when it is empty, from
``fake.responder(body)`` if set, else with ``fake.default`` (a short text reply).

    fake.script.extend([Failure(429), Reply(text="Hello")])
    fake.responder = lambda body: Reply(text=f"{len(body['messages'])} messages")
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Cut",
    "Failure",
    "Reply",
    "Script",
    "ScriptItem",
    "ScriptedFake",
    "ToolUse",
    "chunks",
]

Json = dict[str, Any]


@dataclass(frozen=True)
class ToolUse:
    """A tool call the fake model makes; ``id`` is generated when empty."""

    name: str
    input: Json
    id: str = ""


@dataclass(frozen=True)
class Reply:
    text: str = ""
    tool_calls: tuple[ToolUse, ...] = ()
    stop_reason: str | None = None
    input_tokens: int = 12
    output_tokens: int = 7
    #: Seconds the fake waits before it answers (for timeouts).
    delay_s: float = 0.0

    def resolved_stop_reason(self) -> str:
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if self.tool_calls else "end_turn"


@dataclass(frozen=True)
class Failure:
    status: int
    message: str = ""
    #: The retry hint the fake sends with a 429/529 (``retry-after-ms``), short for tests.
    retry_after_ms: int = 10


@dataclass(frozen=True)
class Cut:
    """Stream ``text`` then close the connection without finishing the message."""

    text: str = "partial"


ScriptItem = Reply | Failure | Cut


@dataclass
class Script:
    """The shared queue and record, thread-safe (the server answers on its own threads)."""

    items: deque[ScriptItem] = field(default_factory=deque)
    responder: Callable[[Json], ScriptItem] | None = None
    default: ScriptItem = field(default_factory=lambda: Reply(text="Hello from the fake model."))
    requests: list[Json] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, body: Json, headers: dict[str, str]) -> ScriptItem:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            if self.items:
                return self.items.popleft()
        if self.responder is not None:
            return self.responder(body)
        return self.default


def chunks(text: str, size: int = 4) -> list[str]:
    """``text`` in pieces of ``size`` characters, as a model streams it."""
    return [text[i : i + size] for i in range(0, len(text), size)] or []


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class ScriptedFake:
    """What both fake servers share: a :class:`Script` and the properties tests script it by.

    A subclass sets ``self._script = Script()`` before serving.
    """

    _script: Script

    @property
    def script(self) -> deque[ScriptItem]:
        return self._script.items

    @property
    def responder(self) -> Callable[[Json], ScriptItem] | None:
        return self._script.responder

    @responder.setter
    def responder(self, value: Callable[[Json], ScriptItem] | None) -> None:
        self._script.responder = value

    @property
    def default(self) -> ScriptItem:
        return self._script.default

    @default.setter
    def default(self, value: ScriptItem) -> None:
        self._script.default = value

    @property
    def requests(self) -> list[Json]:
        """Every request body, in order (failed attempts included)."""
        return self._script.requests

    @property
    def headers(self) -> list[dict[str, str]]:
        return self._script.headers

    def next_item(self, body: Json, headers: dict[str, str]) -> ScriptItem:
        return self._script.next(body, headers)
