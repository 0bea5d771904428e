"""Errors raised by the runtime to the code that uses it.

They mirror the ways an Erlang caller *exits* (``noproc``, ``timeout``, ``calling_self``, the
server's own exit reason) but are Python exceptions: an uncaught one ends the calling process
with the exception as its reason, which is exactly what happens to an Erlang caller.
"""

from __future__ import annotations

from typing import Any

from soundforge.errors import SoundForgeError
from soundforge.runtime.exit import ExitReason, format_reason

__all__ = [
    "ActorError",
    "AlreadyRegistered",
    "CallError",
    "CallTimeout",
    "CallingSelf",
    "InvalidSpec",
    "NoProc",
    "NotInProcess",
    "ServerExited",
]


class ActorError(SoundForgeError):
    """Base of the runtime's errors."""


class NotInProcess(ActorError):
    """An operation that needs a calling process ran outside one (or outside a Node)."""


class AlreadyRegistered(ActorError):
    """A name is taken; ``pid`` is its owner."""

    def __init__(self, name: object, pid: Any) -> None:
        super().__init__(f"the name {name!r} is already registered to {pid!r}")
        self.name = name
        self.pid = pid


class InvalidSpec(ActorError):
    """A child spec or supervisor flag is invalid; ``reason`` is the OTP-style reason term."""

    def __init__(self, reason: object, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class CallError(ActorError):
    """A call did not get a reply; ``server`` and ``request`` say which call."""

    status = 503

    def __init__(self, message: str, server: object = None, request: object = None) -> None:
        super().__init__(message)
        self.server = server
        self.request = request


class NoProc(CallError):
    """The server is not alive (a dead pid, or no process registered under that name)."""

    def __init__(self, server: object, request: object = None) -> None:
        super().__init__(f"no process is alive as {server!r}", server, request)


class CallingSelf(CallError):
    """A process called itself, which could only ever time out."""

    def __init__(self, server: object, request: object = None) -> None:
        super().__init__(f"process {server!r} called itself", server, request)


class CallTimeout(CallError):
    """No reply within the timeout; a late reply is dropped, never delivered."""

    status = 504

    def __init__(self, server: object, request: object, timeout: float) -> None:
        super().__init__(
            f"{server!r} did not reply to {_short(request)} within {timeout:g} s", server, request
        )
        self.timeout = timeout


class ServerExited(CallError):
    """The server exited before replying; ``reason`` is its exit reason."""

    def __init__(self, server: object, request: object, reason: ExitReason) -> None:
        super().__init__(
            f"{server!r} exited ({format_reason(reason)}) before replying to {_short(request)}",
            server,
            request,
        )
        self.reason = reason


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
