"""What each model can do: speed, quality, cost, context window and features.

The seed table covers the models people point SoundForge at: Anthropic's Claude family,
OpenAI's gpt-4o, gpt-4o-mini, gpt-4.1 and o-series, and common Ollama models. A model is
found by its exact name, then by its family (a dated id such as ``claude-sonnet-4-5-20250929``
or an Ollama tag such as ``llama3.2:3b`` falls back to ``claude-sonnet-4-5``/``llama3.2``);
anything else gets :func:`unknown`, a conservative entry (plain chat, 8k context) that the
router will not pick for tool use.

Scores run from 1 (low) to 5 (high); ``cost`` 0 is a local model. Families: ``anthropic``,
``openai`` (the OpenAI API) and ``ollama`` (a local OpenAI-compatible server).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, Literal

import msgspec

__all__ = ["SEED", "ModelInfo", "family_of", "lookup", "seed_table", "unknown"]

Family = Literal["anthropic", "openai", "ollama"]


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    family: str
    model: str
    speed: int
    quality: int
    cost: int
    context_window: int
    features: frozenset[str]
    #: False for the defaults given to a model the table does not know.
    known: bool = True

    def has(self, needs: Iterable[str]) -> bool:
        return set(needs) <= self.features


_TOOLS_JSON: Final = frozenset({"chat", "tool_use", "json"})
_ALL: Final = frozenset({"chat", "tool_use", "json", "vision"})


def _m(
    family: str,
    model: str,
    speed: int,
    quality: int,
    cost: int,
    window: int,
    features: frozenset[str],
) -> ModelInfo:
    return ModelInfo(
        family=family,
        model=model,
        speed=speed,
        quality=quality,
        cost=cost,
        context_window=window,
        features=features,
    )


SEED: Final[tuple[ModelInfo, ...]] = (
    _m("anthropic", "claude-opus-5-5", 2, 5, 5, 200_000, _ALL),
    _m("anthropic", "claude-sonnet-5-5", 3, 5, 3, 200_000, _ALL),
    _m("anthropic", "claude-haiku-5-5", 5, 4, 2, 200_000, _ALL),
    _m("anthropic", "claude-opus-5", 2, 5, 5, 200_000, _ALL),
    _m("anthropic", "claude-sonnet-5", 3, 5, 3, 200_000, _ALL),
    _m("anthropic", "claude-opus-4-8", 2, 5, 5, 200_000, _ALL),
    _m("anthropic", "claude-opus-4-7", 2, 5, 5, 200_000, _ALL),
    _m("anthropic", "claude-opus-4-6", 2, 5, 5, 200_000, _ALL),
    _m("anthropic", "claude-sonnet-4-6", 3, 5, 3, 200_000, _ALL),
    _m("anthropic", "claude-opus-4-5", 2, 5, 4, 200_000, _ALL),
    _m("anthropic", "claude-opus-4-1", 2, 5, 5, 200_000, _ALL),
    _m("anthropic", "claude-opus-4", 2, 5, 5, 200_000, _ALL),
    _m("anthropic", "claude-sonnet-4-5", 3, 5, 3, 200_000, _ALL),
    _m("anthropic", "claude-sonnet-4", 3, 4, 3, 200_000, _ALL),
    _m("anthropic", "claude-3-7-sonnet", 3, 4, 3, 200_000, _ALL),
    _m("anthropic", "claude-haiku-4-5", 5, 4, 2, 200_000, _ALL),
    _m("anthropic", "claude-3-5-haiku", 5, 3, 1, 200_000, _TOOLS_JSON),
    _m("openai", "gpt-4o", 4, 4, 3, 128_000, _ALL),
    _m("openai", "gpt-4o-mini", 5, 3, 1, 128_000, _ALL),
    _m("openai", "gpt-4.1", 4, 4, 3, 1_000_000, _ALL),
    _m("openai", "gpt-4.1-mini", 5, 3, 1, 1_000_000, _ALL),
    _m("openai", "o1", 1, 5, 5, 200_000, _ALL),
    _m("openai", "o3", 2, 5, 4, 200_000, _ALL),
    _m("openai", "o3-mini", 3, 4, 2, 200_000, _TOOLS_JSON),
    _m("openai", "o4-mini", 3, 4, 2, 200_000, _ALL),
    _m("ollama", "llama3.1", 3, 3, 0, 128_000, _TOOLS_JSON),
    _m("ollama", "llama3.2", 4, 2, 0, 128_000, _TOOLS_JSON),
    _m("ollama", "llama3.3", 2, 3, 0, 128_000, _TOOLS_JSON),
    _m("ollama", "qwen2.5", 3, 3, 0, 32_768, _TOOLS_JSON),
    _m("ollama", "qwen3", 3, 3, 0, 40_960, _TOOLS_JSON),
    _m("ollama", "mistral", 4, 2, 0, 32_768, _TOOLS_JSON),
    _m("ollama", "mistral-nemo", 3, 3, 0, 128_000, _TOOLS_JSON),
    _m("ollama", "gemma3", 3, 3, 0, 128_000, frozenset({"chat", "json", "vision"})),
    _m("ollama", "phi4", 3, 3, 0, 16_384, frozenset({"chat", "json"})),
    _m("ollama", "deepseek-r1", 2, 3, 0, 128_000, frozenset({"chat", "json"})),
    _m("ollama", "codellama", 3, 2, 0, 16_384, frozenset({"chat"})),
)

_DATED: Final = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


def family_of(kind: str, base_url: str | None) -> str:
    """The family a provider's models are looked up in: its kind, or for an OpenAI-compatible
    server, ``openai`` for api.openai.com and ``ollama`` for anything else (local servers)."""
    if kind == "anthropic":
        return "anthropic"
    if base_url and "api.openai.com" in base_url:
        return "openai"
    return "ollama"


def unknown(family: str, model: str) -> ModelInfo:
    """The conservative entry of a model the table does not know."""
    return ModelInfo(
        family=family,
        model=model,
        speed=3,
        quality=2,
        cost=0 if family == "ollama" else 3,
        context_window=8_192,
        features=frozenset({"chat"}),
        known=False,
    )


def lookup(table: dict[tuple[str, str], ModelInfo], family: str, model: str) -> ModelInfo:
    """``model``'s entry: exact, then without a date or ``:tag`` suffix, else :func:`unknown`.

    Models served by a local OpenAI-compatible server are also found under the other
    families' names (LM Studio can serve a model called ``gpt-4o-mini``... rarely; an
    OpenAI proxy often serves Claude): the family is a hint, the name decides.
    """
    names = [model.lower()]
    base = names[0].split(":", 1)[0].rsplit("/", 1)[-1]
    names += [base, _DATED.sub("", base)]
    for name in names:
        for fam in (family, "anthropic", "openai", "ollama"):
            entry = table.get((fam, name))
            if entry is not None:
                return (
                    entry
                    if entry.model == model and entry.family == family
                    else msgspec.structs.replace(entry, family=family, model=model)
                )
    return unknown(family, model)


def seed_table(extra: Iterable[ModelInfo] = ()) -> dict[tuple[str, str], ModelInfo]:
    return {(m.family, m.model): m for m in (*SEED, *extra)}
