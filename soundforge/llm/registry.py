"""The ModelRegistry: model capabilities, provider health and the LLM configuration.

A GenServer registered as ``soundforge.models`` (the original's ``ModelRegistry`` GenServer
over an ETS table). Its state is an :class:`LlmContext`, which callers read **without a
message**, the way code reads an ETS table (``soundforge.actors.repo`` does the same with
its pool): :func:`llm_context` returns it. It holds

* the server's keyring (``keys.py``: ``SOUNDFORGE_SECRET_KEY`` or ``<data>/keys/llm.key``,
  read again when the file changes: ``keys.ServerKeys``),
* the environment's providers (``environment.py``) and the client options,
* the capability table (``capabilities.py``) with :meth:`LlmContext.model_for`,
  :meth:`LlmContext.best_for` and :meth:`LlmContext.listing`,
* provider health as last observed, by provider id: the router casts every outcome
  (:func:`report`), the ``ProviderHealthCheck`` job casts its checks. Rows also keep their
  health in ``llm_providers``; environment providers have only this.

Only the registry's process writes the state (in ``handle_cast``), so readers never see a
half-made change. Start it under the root supervisor::

    ModelRegistry.child_spec(LlmOptions.from_settings(settings, repo=NAMES.repo))

Differences from the original: capabilities are looked up by family and model name (with
dated and ``:tag`` suffixes falling back to their family), unknown models get conservative
defaults, and health checks are a queue job instead of a timer inside the registry.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from soundforge.llm._client import ClientOptions
from soundforge.llm.capabilities import ModelInfo, family_of, lookup, seed_table
from soundforge.llm.environment import environment_targets
from soundforge.llm.errors import RegistryNotRunning
from soundforge.llm.keys import Keyring, ServerKeys
from soundforge.llm.providers import Provider, Target
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Server, cast, resolve
from soundforge.runtime.process import current_process
from soundforge.runtime.telemetry import Telemetry

__all__ = [
    "DEFAULT_NAME",
    "Health",
    "LlmContext",
    "LlmOptions",
    "ModelRegistry",
    "Outcome",
    "llm_context",
    "report",
]

DEFAULT_NAME: Final = "soundforge.models"
_HEALTH_RANK: Final = {"healthy": 0, "unknown": 1, "degraded": 2, "unreachable": 3}


class LlmOptions(msgspec.Struct, frozen=True, kw_only=True):
    data_dir: Path
    #: The Repo the health job and the API use.
    repo: str = "soundforge.repo"
    name: str = DEFAULT_NAME
    #: Where the environment providers and server keys are read; None: ``os.environ``.
    environ: dict[str, str] | None = None
    client: ClientOptions = ClientOptions()
    #: The most providers the router tries for one turn (the original's 4).
    max_attempts: int = 4
    #: Extra or overriding capability entries.
    models: tuple[ModelInfo, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> LlmOptions:
        return cls(data_dir=settings.data_dir, **overrides)


class Health(msgspec.Struct, frozen=True):
    status: Literal["unknown", "healthy", "degraded", "unreachable"]
    checked_at: datetime | None = None
    error: str | None = None


UNKNOWN: Final = Health("unknown")


class Outcome(msgspec.Struct, frozen=True):
    """Cast: what a request or a health check found out about a provider."""

    provider_id: str
    health: Health


class LlmContext:
    """The registry's state; read it with :func:`llm_context`, change it only by casts."""

    __slots__ = ("environment", "health", "keys", "models", "options", "telemetry")

    def __init__(self, options: LlmOptions, keys: ServerKeys, telemetry: Telemetry) -> None:
        environ = os.environ if options.environ is None else options.environ
        self.options = options
        self.keys = keys
        self.telemetry = telemetry
        self.environment: list[Target] = environment_targets(environ)
        self.models: dict[tuple[str, str], ModelInfo] = seed_table(options.models)
        self.health: dict[str, Health] = {}

    def __repr__(self) -> str:
        return (
            f"LlmContext(models={len(self.models)}, environment="
            f"{[t.provider.id for t in self.environment]}, health={len(self.health)})"
        )

    @property
    def keyring(self) -> Keyring:
        """The server's keys as the key file has them now."""
        return self.keys.keyring

    def model_for(self, provider: Provider) -> ModelInfo:
        return lookup(self.models, family_of(provider.kind, provider.base_url), provider.model)

    def health_of(self, provider: Provider) -> Health:
        """The newest of what the row says and what the registry saw."""
        seen = self.health.get(provider.id)
        if provider.source == "environment":
            return seen or UNKNOWN
        stored = Health(provider.health_status, provider.health_checked_at, provider.last_error)  # type: ignore[arg-type]
        if seen is None or (
            stored.checked_at is not None
            and seen.checked_at is not None
            and stored.checked_at > seen.checked_at
        ):
            return stored
        return seen

    def rank(self, provider: Provider) -> int:
        return _HEALTH_RANK.get(self.health_of(provider).status, 1)

    def with_health(self, provider: Provider) -> Provider:
        health = self.health_of(provider)
        return msgspec.structs.replace(
            provider,
            health_status=health.status,
            health_checked_at=health.checked_at,
            last_error=health.error,
        )

    def environment_providers(self) -> list[Provider]:
        return [self.with_health(t.provider) for t in self.environment]

    def listing(self) -> list[ModelInfo]:
        """Every model the registry knows, by family then name."""
        return sorted(self.models.values(), key=lambda m: (m.family, m.model))

    def best_for(
        self,
        needs: frozenset[str] | set[str] = frozenset(),
        prefer: Literal["quality", "speed", "cost"] = "quality",
        among: list[ModelInfo] | None = None,
    ) -> ModelInfo | None:
        """The model with ``needs`` that is best by ``prefer`` (cost: cheapest), among
        ``among`` (default: every known model); ties go to quality, then speed."""
        pool = [m for m in (self.listing() if among is None else among) if m.has(needs)]
        if not pool:
            return None
        if prefer == "cost":
            return min(pool, key=lambda m: (m.cost, -m.quality, -m.speed))
        if prefer == "speed":
            return max(pool, key=lambda m: (m.speed, m.quality, -m.cost))
        return max(pool, key=lambda m: (m.quality, m.speed, -m.cost))


class ModelRegistry(GenServer[LlmContext]):
    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        spec = ChildSpec(id=cls, start=cls.start_link, args=(arg,))
        return spec.with_(**overrides) if overrides else spec

    @classmethod
    def start_link(cls, arg: Any = None, *, name: Server | None = None) -> Any:
        options = _options(arg)
        return super().start_link(options, name=name or options.name)

    @classmethod
    def start(cls, arg: Any = None, *, name: Server | None = None) -> Any:
        options = _options(arg)
        return super().start(options, name=name or options.name)

    def init(self, options: LlmOptions) -> Init[LlmContext]:
        me = current_process()
        assert me is not None
        environ = os.environ if options.environ is None else options.environ
        keys = ServerKeys(options.data_dir, environ)
        return Init(LlmContext(options, keys, me.node.telemetry))

    def handle_cast(self, msg: Any, state: LlmContext) -> NoReply[LlmContext]:
        if isinstance(msg, Outcome):
            known = state.health.get(msg.provider_id)
            newer = (
                known is None
                or known.checked_at is None
                or (msg.health.checked_at is not None and msg.health.checked_at >= known.checked_at)
            )
            if newer:
                state.health[msg.provider_id] = msg.health
        return NoReply(state)

    def format_status(self, state: LlmContext) -> str:
        return repr(state)


def _options(arg: Any) -> LlmOptions:
    if not isinstance(arg, LlmOptions):
        raise TypeError(f"ModelRegistry takes LlmOptions, not {type(arg).__name__}")
    return arg


def llm_context(name: Server = DEFAULT_NAME) -> LlmContext:
    """The running registry's context, read without a message; raises
    :class:`RegistryNotRunning` when there is none."""
    proc = resolve(name)
    state = proc.state if proc is not None and isinstance(proc.behaviour, ModelRegistry) else None
    if not isinstance(state, LlmContext):
        raise RegistryNotRunning(name)
    return state


def report(context: LlmContext, provider_id: str, status: str, error: str | None) -> Health:
    """Tell the registry what a provider just did; returns the health recorded."""
    health = Health(status, datetime.now(UTC), error)  # type: ignore[arg-type]
    cast(context.options.name, Outcome(provider_id, health))
    return health
