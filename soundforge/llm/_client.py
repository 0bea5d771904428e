"""What both provider clients share: their options, their protocol and their failures.

A client streams one model turn as neutral events (:mod:`soundforge.llm.messages`) and
checks health cheaply; whatever goes wrong becomes a :class:`ProviderFailure` whose reason
is one sentence, whose ``health`` says what it means for the provider (``degraded`` for rate
limits and overload, ``unreachable`` otherwise), and which never contains the API key.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import msgspec

from soundforge.llm.errors import ProviderFailure
from soundforge.llm.messages import ChatRequest, StreamEvent

__all__ = [
    "Client",
    "ClientOptions",
    "backoff",
    "connection_failure",
    "error_message",
    "status_failure",
    "timeout_failure",
]

#: The backoff of Anthropic's SDK, which the OpenAI-compatible client mirrors.
INITIAL_RETRY_DELAY: Final = 0.5
MAX_RETRY_DELAY: Final = 8.0
#: Statuses worth another try (the SDK's list: timeouts, lock conflicts, limits, 5xx).
RETRYABLE: Final = frozenset({408, 409, 429})


class ClientOptions(msgspec.Struct, frozen=True, kw_only=True):
    #: Retries of a request that failed with 408/409/429/5xx or could not connect.
    max_retries: int = 2
    #: Seconds to connect, and between two pieces of a streamed reply.
    timeout: float = 120.0
    #: Seconds a health check may take.
    health_timeout: float = 15.0


class Client(Protocol):
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """One model turn; raises :class:`ProviderFailure`."""
        ...

    async def check(self) -> None:
        """A cheap request that proves the endpoint, the key and the model; raises
        :class:`ProviderFailure`."""
        ...


def should_retry(status: int) -> bool:
    return status in RETRYABLE or status >= 500


def backoff(retry: int, headers: Any = None) -> float:
    """Seconds before retry number ``retry`` (0-based): the server's ``retry-after-ms`` or
    ``retry-after`` when given (at most 60 s), else 0.5 s doubling up to 8 s, less up to a
    quarter of jitter — as the Anthropic SDK does."""
    if headers is not None:
        for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            raw = headers.get(name)
            if raw is None:
                continue
            try:
                seconds = float(raw) * scale
            except ValueError:
                continue
            if 0 < seconds <= 60:
                return seconds
    delay = min(INITIAL_RETRY_DELAY * 2.0**retry, MAX_RETRY_DELAY)
    return delay * (1 - 0.25 * random.random())


def error_message(body: Any) -> str:
    """The provider's own message from an error body, shortened; '' when there is none."""
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        message = message or body.get("message")
    elif isinstance(body, str | bytes):
        message = body.decode(errors="replace") if isinstance(body, bytes) else body
    text = " ".join(str(message or "").split())
    return text[:200]


def status_failure(status: int, message: str, retries: int) -> ProviderFailure:
    detail = f" ({message.rstrip('.')})" if message else ""
    after = f" after {retries} retries" if retries else ""
    if status in (401, 403):
        reason = f"it refused the API key with HTTP {status}{detail}"
    elif status == 404:
        reason = f"it does not know this model or endpoint (HTTP 404){detail}"
    elif status == 429:
        return ProviderFailure(
            f"it is rate limiting requests (HTTP 429{after}){detail}.",
            http_status=status,
            health="degraded",
        )
    elif status in (503, 529):
        return ProviderFailure(
            f"it is overloaded (HTTP {status}{after}){detail}.",
            http_status=status,
            health="degraded",
        )
    elif status >= 500:
        reason = f"it failed with HTTP {status}{after}{detail}"
    else:
        reason = f"it refused the request with HTTP {status}{detail}"
    return ProviderFailure(reason + ".", http_status=status)


def connection_failure(url: str, error: BaseException) -> ProviderFailure:
    parts = urlsplit(url)
    where = parts.netloc or url
    what = type(error).__name__ if not str(error) else str(error)
    return ProviderFailure(f"cannot connect to {where} ({' '.join(what.split())[:160]}).")


def timeout_failure(seconds: float) -> ProviderFailure:
    return ProviderFailure(f"it did not answer within {seconds:g} s.")
