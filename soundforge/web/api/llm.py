"""``/api/v1/llm``: AI providers (yours, and the system's for administrators) and the models.

* ``GET /llm/providers``: your providers, then the system rows, then the environment's
  (read-only), each with its health; ``can_manage_system`` says whether you may change
  system providers (administrators).
* ``POST /llm/providers``: add one (``"system": true`` for a system provider: admins only).
* ``PATCH /llm/providers/<id>``, ``DELETE /llm/providers/<id>``: your own, or (admins) a
  system one; anyone else's id is a 404.
* ``POST /llm/providers/<id>/test``: a cheap health check now (no tokens spent); the
  outcome is stored as the provider's health.
* ``GET /llm/models``: what the ModelRegistry knows of each model, and which of your
  providers use it.

API keys are write-only: they are sealed on arrival and answers show only ``api_key_last4``.
``"api_key": null`` in a PATCH removes the key. Changes are audited
(``llm_provider.created/updated/deleted``, never with the key). A user's base URL must be a
public address unless the server allows private ones (``SOUNDFORGE_ALLOW_PRIVATE_URLS``):
the test button makes the server itself connect to it. Administrators may point system
providers anywhere (a LAN Ollama).

    curl -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"name": "Claude", "kind": "anthropic", "model": "claude-sonnet-4-6",
              "api_key": "sk-ant-..."}' "$SF/api/v1/llm/providers"
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec
from quart import Blueprint, Response

from soundforge.accounts import Action
from soundforge.llm import (
    CheckResult,
    LlmContext,
    ModelInfo,
    NewProvider,
    Provider,
    ProviderChanges,
    ProviderNotFound,
    RegistryNotRunning,
    check_provider,
    create_provider,
    delete_provider,
    get_provider,
    get_target,
    list_providers,
    llm_context,
    update_provider,
)
from soundforge.llm.capabilities import family_of, lookup, seed_table
from soundforge.llm.environment import ENV_PREFIX
from soundforge.llm.providers import normalize_url
from soundforge.web.api._common import NO_NUL, audit, connection
from soundforge.web.auth import require_user
from soundforge.web.context import web
from soundforge.web.http import Forbidden, json_response, read_body
from soundforge.web.openapi import operation
from soundforge.web.urlguard import check_url

__all__ = [
    "CREATED",
    "DELETED",
    "UPDATED",
    "ModelEntry",
    "ProviderBody",
    "ProviderList",
    "ProviderPatch",
    "blueprint",
]

blueprint = Blueprint("llm", __name__)

#: The audit log's actions for providers (dotted names need no migration; see accounts.audit).
CREATED: Final = Action.LLM_PROVIDER_CREATED
UPDATED: Final = Action.LLM_PROVIDER_UPDATED
DELETED: Final = Action.LLM_PROVIDER_DELETED

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_NUL)]
Model = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=NO_NUL)]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=NO_NUL)]
Priority = Annotated[int, msgspec.Meta(ge=0, le=100_000)]


class ProviderBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    kind: Literal["anthropic", "openai_compatible"]
    #: The model id, e.g. ``claude-sonnet-4-6``, ``gpt-4o-mini``, ``llama3.2``.
    model: Model
    #: None: Anthropic's own endpoint. Required for OpenAI-compatible servers (``.../v1``).
    base_url: Url | None = None
    #: Lower is tried first.
    priority: Priority = 100
    enabled: bool = True
    #: Sealed on arrival; never shown again (only its last four characters).
    api_key: Key | None = None
    #: A system provider, used by everyone after their own (administrators only).
    system: bool = False


class ProviderPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    model: Model | msgspec.UnsetType = msgspec.UNSET
    base_url: Url | msgspec.UnsetType | None = msgspec.UNSET
    priority: Priority | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    #: A new key, or null to remove the key.
    api_key: Key | msgspec.UnsetType | None = msgspec.UNSET


class ProviderList(msgspec.Struct, frozen=True):
    providers: list[Provider]
    #: Whether you may add, change and delete system providers.
    can_manage_system: bool


class ModelEntry(msgspec.Struct, frozen=True, kw_only=True):
    family: str
    model: str
    speed: int
    quality: int
    cost: int
    context_window: int
    features: list[str]
    known: bool
    #: Your providers (and the system's) that use this model.
    providers: list[str]


class ModelList(msgspec.Struct, frozen=True):
    models: list[ModelEntry]


def _context() -> LlmContext:
    return llm_context()


def _context_or_none() -> LlmContext | None:
    """The registry's context; None on a node that runs none (reads still answer then,
    from the rows and the built-in model table; changes need the server keys)."""
    try:
        return llm_context()
    except RegistryNotRunning:
        return None


def _owner(system: bool) -> str | None:
    """The owner a request acts for: the user, or None (system rows) for an admin."""
    user = require_user()
    if not system:
        return user.id
    if user.role != "admin":
        raise Forbidden("only administrators can manage system AI providers")
    return None


async def _check_url(kind: str, base_url: str | None, owner: str | None) -> None:
    """A user's URL must be one the server may fetch (administrators' are not checked)."""
    url = normalize_url(kind, base_url)  # a malformed URL is a 422 before any lookup
    if url is not None and owner is not None:
        await check_url(url, allow_private=web().settings.allow_private_urls)


async def _locate(conn: object, provider_id: str) -> tuple[str | None, Provider]:
    """Whose provider ``provider_id`` is, as far as the caller may change it."""
    user = require_user()
    try:
        return user.id, await get_provider(conn, user.id, provider_id)
    except ProviderNotFound:
        if user.role != "admin":
            raise
    return None, await get_provider(conn, None, provider_id)


@blueprint.get("/llm/providers")
@operation(
    "Your AI providers, the system's and the environment's", tag="llm", response=ProviderList
)
async def list_() -> Response:
    user = require_user()
    context = _context_or_none()
    async with connection() as conn:
        rows = await list_providers(conn, user.id)
    if context is not None:
        rows = [context.with_health(p) for p in rows] + context.environment_providers()
    return json_response(ProviderList(rows, user.role == "admin"))


@blueprint.post("/llm/providers")
@operation(
    "Add an AI provider (its API key is sealed and never shown again)",
    tag="llm",
    body=ProviderBody,
    response=Provider,
    status=201,
    errors=(403, 409, 422),
)
async def create() -> Response:
    body = await read_body(ProviderBody)
    owner = _owner(body.system)
    await _check_url(body.kind, body.base_url, owner)
    fields = msgspec.structs.asdict(body)
    del fields["system"]
    async with connection() as conn:
        provider = await create_provider(conn, _context().keyring, owner, NewProvider(**fields))
        await audit(
            conn,
            CREATED,
            target_type="llm_provider",
            target_id=provider.id,
            details=_details(provider),
        )
    return json_response(provider, status=201)


@blueprint.patch("/llm/providers/<provider_id>")
@operation(
    "Change an AI provider",
    tag="llm",
    body=ProviderPatch,
    response=Provider,
    errors=(404, 409, 422),
)
async def update(provider_id: str) -> Response:
    body = await read_body(ProviderPatch)
    changes = ProviderChanges(**{f: getattr(body, f) for f in body.__struct_fields__})
    async with connection() as conn:
        owner, current = await _locate(conn, provider_id)
        if isinstance(body.base_url, str):
            await _check_url(current.kind, body.base_url, owner)
        provider = await update_provider(conn, _context().keyring, owner, provider_id, changes)
        changed = [f for f in body.__struct_fields__ if getattr(body, f) is not msgspec.UNSET]
        await audit(
            conn,
            UPDATED,
            target_type="llm_provider",
            target_id=provider.id,
            details=_details(provider) | {"changed": changed},
        )
    return json_response(provider)


@blueprint.delete("/llm/providers/<provider_id>")
@operation("Delete an AI provider", tag="llm", status=204, errors=(404,))
async def delete(provider_id: str) -> Response:
    async with connection() as conn:
        owner, provider = await _locate(conn, provider_id)
        await delete_provider(conn, owner, provider_id)
        await audit(
            conn,
            DELETED,
            target_type="llm_provider",
            target_id=provider.id,
            details=_details(provider),
        )
    return Response(status=204)


@blueprint.post("/llm/providers/<provider_id>/test")
@operation(
    "Check an AI provider now (no tokens spent)", tag="llm", response=CheckResult, errors=(404,)
)
async def test(provider_id: str) -> Response:
    user = require_user()
    context = _context()
    if provider_id.startswith(ENV_PREFIX):
        found = [t for t in context.environment if t.provider.id == provider_id]
        if not found or user.role != "admin":
            raise ProviderNotFound(provider_id)
        target = found[0]
        async with connection() as conn:
            result = await check_provider(conn, context, target)
        return json_response(result)
    async with connection() as conn:
        owner, _ = await _locate(conn, provider_id)
        target = await get_target(conn, owner, provider_id)
    # The check waits on the network: no connection is held meanwhile.
    async with connection() as conn:
        result = await check_provider(conn, context, target)
    return json_response(result)


@blueprint.get("/llm/models")
@operation(
    "The models the registry knows, with your providers that use them",
    tag="llm",
    response=ModelList,
)
async def models() -> Response:
    user = require_user()
    context = _context_or_none()
    async with connection() as conn:
        rows = await list_providers(conn, user.id)
    if context is not None:
        rows += context.environment_providers()
        table = {(m.family, m.model): m for m in context.listing()}
    else:
        table = seed_table()
    users: dict[tuple[str, str], list[str]] = {}
    for provider in rows:
        family = family_of(provider.kind, provider.base_url)
        info = lookup(table, family, provider.model)
        table.setdefault((info.family, info.model), info)
        users.setdefault((info.family, info.model), []).append(provider.name)
    entries = [_entry(m, users.get(key, [])) for key, m in table.items()]
    entries.sort(key=lambda e: (not e.providers, e.family, e.model))
    return json_response(ModelList(entries))


def _entry(info: ModelInfo, providers: list[str]) -> ModelEntry:
    return ModelEntry(
        family=info.family,
        model=info.model,
        speed=info.speed,
        quality=info.quality,
        cost=info.cost,
        context_window=info.context_window,
        features=sorted(info.features),
        known=info.known,
        providers=providers,
    )


def _details(provider: Provider) -> dict[str, object]:
    return {
        "name": provider.name,
        "kind": provider.kind,
        "model": provider.model,
        "system": provider.system,
    }
