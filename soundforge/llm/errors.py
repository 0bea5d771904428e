"""The errors of ``soundforge.llm``: each a sentence that tells the user what to do.

:class:`LlmError` is the base (a :class:`~soundforge.errors.SoundForgeError`, so the web
layer answers with its status and message). The router raises :class:`NoProviderConfigured`
(no provider at all, or none whose model has the features a request needs) and
:class:`AllProvidersFailed` (each provider tried, with its reason); a reply that breaks off
after text was streamed is :class:`StreamInterrupted`. :class:`ProviderFailure` is what a
client raises for one provider; the router turns it into those.
"""

from __future__ import annotations

from collections.abc import Iterable

from soundforge.errors import SoundForgeError

__all__ = [
    "AllProvidersFailed",
    "InvalidProvider",
    "KeyUnavailable",
    "LlmError",
    "NoCapableProvider",
    "NoProviderConfigured",
    "ProviderFailure",
    "ProviderNameTaken",
    "ProviderNotFound",
    "RegistryNotRunning",
    "StreamInterrupted",
]

_HOW_TO_ADD = (
    "add one under Settings → AI providers, or set ANTHROPIC_API_KEY (or OPENAI_API_KEY with "
    "OPENAI_BASE_URL, or OLLAMA_BASE_URL) for the server"
)


class LlmError(SoundForgeError):
    """Base of the language-model errors."""

    status = 502


class NoProviderConfigured(LlmError):
    """No enabled provider is configured for this user or the server."""

    status = 503

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or f"No AI model is configured; {_HOW_TO_ADD}.")


class NoCapableProvider(NoProviderConfigured):
    """Providers exist, but none of their models has the features the request needs."""

    def __init__(self, needs: Iterable[str], providers: Iterable[str]) -> None:
        wanted = ", ".join(sorted(needs))
        names = ", ".join(providers)
        super().__init__(
            f"None of the configured AI models ({names}) supports {wanted}; add a provider "
            "with a model that does under Settings → AI providers."
        )
        self.needs = frozenset(needs)


class ProviderFailure(LlmError):
    """One provider failed; ``reason`` is one sentence without the provider's name.

    ``status`` is the provider's HTTP status (None for a connection failure or timeout);
    ``health`` the health it leaves the provider in: ``degraded`` (rate limited,
    overloaded) or ``unreachable`` (anything else).
    """

    def __init__(
        self, reason: str, *, http_status: int | None = None, health: str = "unreachable"
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        self.health = health


class AllProvidersFailed(LlmError):
    """Every provider the router tried failed before it produced any output."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        parts = "; ".join(f"{name}: {reason.rstrip('.')}" for name, reason in failures)
        super().__init__(
            f"Every AI provider failed ({parts}); try again later or check them under "
            "Settings → AI providers."
        )


class StreamInterrupted(LlmError):
    """A provider failed after part of its reply was already streamed (no fallback then)."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"The reply from {provider} broke off: {reason.rstrip('.')}; ask again.")
        self.provider = provider


class KeyUnavailable(LlmError):
    """A stored API key cannot be decrypted with this server's keys."""

    status = 500


class RegistryNotRunning(LlmError):
    status = 503

    def __init__(self, name: object) -> None:
        super().__init__(
            f"The model registry is not running as {name!r} on this node; start the SoundForge "
            "server (it runs the registry) to use AI features."
        )


class ProviderNotFound(LlmError):
    status = 404

    def __init__(self, provider_id: str) -> None:
        super().__init__(f"You have no AI provider {provider_id[:64]}.")


class ProviderNameTaken(LlmError):
    status = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"An AI provider named {name!r} exists already; pick another name.")


class InvalidProvider(LlmError):
    """A provider's settings do not make sense (a missing URL, a bad scheme ...)."""

    status = 422
