"""System providers from the server's environment variables (no database row).

* ``ANTHROPIC_API_KEY`` (+ ``ANTHROPIC_BASE_URL``, ``SOUNDFORGE_ANTHROPIC_MODEL``, default
  ``claude-sonnet-4-6``): id ``env-anthropic``, priority 1000;
* ``OPENAI_API_KEY`` and/or ``OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``;
  a base URL alone is a keyless server such as LM Studio) (+ ``SOUNDFORGE_OPENAI_MODEL``,
  default ``gpt-4o-mini``): id ``env-openai``, priority 1010;
* ``OLLAMA_BASE_URL`` (e.g. ``http://localhost:11434``; ``/v1`` is added when missing)
  (+ ``SOUNDFORGE_OLLAMA_MODEL``, default ``llama3.2``): id ``env-ollama``, priority 1020.

None set: no environment provider (unlike the original, Ollama is not assumed to run).
They come after every database row in the router's order (priority 1000+), and their
health lives only in the ModelRegistry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from soundforge.llm.providers import Provider, Target, normalize_url

__all__ = ["DEFAULT_MODELS", "ENV_PREFIX", "environment_targets"]

ENV_PREFIX: Final = "env-"
DEFAULT_MODELS: Final = {
    "anthropic": "claude-sonnet-4-6",
    "openai": "gpt-4o-mini",
    "ollama": "llama3.2",
}


def _provider(
    ident: str,
    name: str,
    kind: str,
    base_url: str | None,
    model: str,
    priority: int,
    key: str | None,
) -> Target:
    provider = Provider(
        id=f"{ENV_PREFIX}{ident}",
        name=name,
        kind="anthropic" if kind == "anthropic" else "openai_compatible",
        base_url=base_url,
        model=model,
        priority=priority,
        enabled=True,
        source="environment",
        has_api_key=key is not None,
        api_key_last4=key[-4:] if key else None,
        health_status="unknown",
        health_checked_at=None,
        last_error=None,
    )
    return Target(provider, plain_key=key)


def environment_targets(environ: Mapping[str, str]) -> list[Target]:
    """The environment's providers, in the router's order. Raises ``InvalidProvider`` for a
    URL that is not http(s), so a typo stops the server with a clear message."""
    found: list[Target] = []
    if key := environ.get("ANTHROPIC_API_KEY"):
        url = normalize_url("anthropic", environ.get("ANTHROPIC_BASE_URL"))
        model = environ.get("SOUNDFORGE_ANTHROPIC_MODEL") or DEFAULT_MODELS["anthropic"]
        found.append(
            _provider("anthropic", "Anthropic (server)", "anthropic", url, model, 1000, key)
        )
    openai_key = environ.get("OPENAI_API_KEY") or None
    openai_url = environ.get("OPENAI_BASE_URL") or None
    if openai_key or openai_url:
        url = normalize_url("openai_compatible", openai_url or "https://api.openai.com/v1")
        model = environ.get("SOUNDFORGE_OPENAI_MODEL") or DEFAULT_MODELS["openai"]
        found.append(_provider("openai", "OpenAI (server)", "openai", url, model, 1010, openai_key))
    if ollama := environ.get("OLLAMA_BASE_URL"):
        url = normalize_url("openai_compatible", ollama)
        if url is not None and not url.endswith("/v1"):
            url += "/v1"
        model = environ.get("SOUNDFORGE_OLLAMA_MODEL") or DEFAULT_MODELS["ollama"]
        found.append(_provider("ollama", "Ollama (server)", "ollama", url, model, 1020, None))
    return found
