"""AI providers: the ``llm_providers`` rows (per user, and system rows with no owner).

Ownership is in the SQL: every read or change names its owner (a user id, or None for the
system rows an administrator manages), so someone else's provider id behaves like an
unknown one. API keys are write-only: they go in sealed (:mod:`soundforge.llm.keys`, the
row's id as associated data, which is why ids are made here before the INSERT) and come
out only as :attr:`Provider.api_key_last4`; only the router opens them
(:meth:`Target.api_key`).

    provider = await create_provider(conn, keyring, user_id, NewProvider(
        name="My Claude", kind="anthropic", model="claude-sonnet-4-6", api_key="sk-ant-..."))
    await update_provider(conn, keyring, user_id, provider.id, ProviderChanges(enabled=False))
    mine_and_system = await list_providers(conn, user_id)

Providers from environment variables (``environment.py``) have no row; they share the
:class:`Provider` view with ``source="environment"``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import msgspec

from soundforge.llm.errors import InvalidProvider, ProviderNameTaken, ProviderNotFound
from soundforge.llm.keys import Keyring

__all__ = [
    "HEALTH_STATES",
    "KINDS",
    "NewProvider",
    "Provider",
    "ProviderChanges",
    "Target",
    "all_enabled_targets",
    "create_provider",
    "delete_provider",
    "enabled_targets",
    "get_provider",
    "get_target",
    "list_providers",
    "list_system_providers",
    "normalize_url",
    "record_health",
    "reseal",
    "update_provider",
]

Kind = Literal["anthropic", "openai_compatible"]
Source = Literal["user", "system", "environment"]
KINDS: Final = ("anthropic", "openai_compatible")
HEALTH_STATES: Final = ("unknown", "healthy", "degraded", "unreachable")


class Provider(msgspec.Struct, frozen=True, kw_only=True):
    """A provider as the settings page and the API show it (never its key)."""

    id: str
    name: str
    kind: Kind
    #: None: Anthropic's own endpoint. OpenAI-compatible servers always name theirs.
    base_url: str | None
    model: str
    priority: int
    enabled: bool
    #: ``user``: yours; ``system``: a row an administrator manages for everyone;
    #: ``environment``: from the server's environment variables (read-only).
    source: Source
    has_api_key: bool
    #: The key's last four characters, for "…x7Qa"; None without a key.
    api_key_last4: str | None
    health_status: str
    health_checked_at: datetime | None
    last_error: str | None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def system(self) -> bool:
        return self.source != "user"


class NewProvider(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    kind: Kind
    model: str
    base_url: str | None = None
    priority: int = 100
    enabled: bool = True
    api_key: str | None = None

    def __repr__(self) -> str:  # never show the key
        return f"NewProvider(name={self.name!r}, kind={self.kind!r}, model={self.model!r})"


class ProviderChanges(msgspec.Struct, frozen=True, kw_only=True):
    """What a PATCH changes; UNSET fields stay. ``api_key=None`` removes the key."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    base_url: str | msgspec.UnsetType | None = msgspec.UNSET
    model: str | msgspec.UnsetType = msgspec.UNSET
    priority: int | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    api_key: str | msgspec.UnsetType | None = msgspec.UNSET

    def __repr__(self) -> str:
        fields = [f for f in self.__struct_fields__ if getattr(self, f) is not msgspec.UNSET]
        return f"ProviderChanges({', '.join(fields)})"


@dataclass(frozen=True)
class Target:
    """A provider the router can call: its view plus its key, sealed or (environment) plain."""

    provider: Provider
    sealed: tuple[bytes, bytes, str] | None = field(default=None, repr=False)
    plain_key: str | None = field(default=None, repr=False)

    def api_key(self, keyring: Keyring) -> str | None:
        if self.plain_key is not None:
            return self.plain_key
        if self.sealed is None:
            return None
        ciphertext, nonce, key_id = self.sealed
        return keyring.open(self.provider.id, ciphertext, nonce, key_id)


_COLUMNS: Final = """id::text, user_id::text, name, kind, base_url, model, priority, enabled,
    api_key_ciphertext, api_key_nonce, api_key_key_id, api_key_last4, health_status,
    health_checked_at, last_error, created_at, updated_at"""


def _target(row: Any) -> Target:
    provider = Provider(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        base_url=row["base_url"],
        model=row["model"],
        priority=row["priority"],
        enabled=row["enabled"],
        source="user" if row["user_id"] is not None else "system",
        has_api_key=row["api_key_ciphertext"] is not None,
        api_key_last4=row["api_key_last4"],
        health_status=row["health_status"],
        health_checked_at=row["health_checked_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    sealed = None
    if row["api_key_ciphertext"] is not None:
        sealed = (
            bytes(row["api_key_ciphertext"]),
            bytes(row["api_key_nonce"]),
            row["api_key_key_id"],
        )
    return Target(provider, sealed)


def _uuid(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


def normalize_url(kind: str, base_url: str | None) -> str | None:
    """``base_url`` without its trailing slash; checked to be http(s) with a host."""
    if base_url is None or not base_url.strip():
        if kind == "openai_compatible":
            raise InvalidProvider(
                "An OpenAI-compatible provider needs its base URL, e.g. "
                "https://api.openai.com/v1 or http://localhost:11434/v1 for Ollama."
            )
        return None
    url = base_url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        scheme, host = "", None
    if scheme not in ("http", "https") or not host:
        raise InvalidProvider(f"The base URL {url[:200]!r} is not an http(s) URL with a host.")
    return url


async def list_providers(conn: Any, user_id: str) -> list[Provider]:
    """``user_id``'s providers, then the system rows; each group by priority, then name."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM llm_providers
            WHERE user_id = $1::uuid OR user_id IS NULL
            ORDER BY user_id IS NULL, priority, lower(name)""",
        user_id,
    )
    return [_target(row).provider for row in rows]


async def list_system_providers(conn: Any) -> list[Provider]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM llm_providers WHERE user_id IS NULL ORDER BY priority, lower(name)"
    )
    return [_target(row).provider for row in rows]


async def get_target(conn: Any, owner: str | None, provider_id: str) -> Target:
    """The provider ``owner`` (None: the system) has as ``provider_id``, with its sealed key."""
    canonical = _uuid(provider_id)
    row = None
    if canonical is not None:
        row = await conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM llm_providers
                WHERE id = $1::uuid AND user_id IS NOT DISTINCT FROM $2::uuid""",
            canonical,
            owner,
        )
    if row is None:
        raise ProviderNotFound(provider_id)
    return _target(row)


async def get_provider(conn: Any, owner: str | None, provider_id: str) -> Provider:
    return (await get_target(conn, owner, provider_id)).provider


async def enabled_targets(conn: Any, user_id: str) -> list[Target]:
    """What the router may use for ``user_id``: their enabled rows, then the system ones."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM llm_providers
            WHERE enabled AND (user_id = $1::uuid OR user_id IS NULL)
            ORDER BY user_id IS NULL, priority, lower(name)""",
        user_id,
    )
    return [_target(row) for row in rows]


async def all_enabled_targets(conn: Any) -> list[Target]:
    """Every enabled provider row, everyone's and the system's (for the health job)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM llm_providers WHERE enabled ORDER BY created_at"
    )
    return [_target(row) for row in rows]


async def create_provider(
    conn: Any, keyring: Keyring, owner: str | None, new: NewProvider
) -> Provider:
    """Insert a provider for ``owner`` (None: a system provider), its key sealed."""
    provider_id = str(uuid.uuid4())
    base_url = normalize_url(new.kind, new.base_url)
    sealed = keyring.seal(provider_id, new.api_key) if new.api_key else None
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO llm_providers (id, user_id, name, kind, base_url, model, priority,
                    enabled, api_key_ciphertext, api_key_nonce, api_key_key_id, api_key_last4)
                VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                RETURNING {_COLUMNS}""",
            provider_id,
            owner,
            new.name.strip(),
            new.kind,
            base_url,
            new.model.strip(),
            new.priority,
            new.enabled,
            sealed.ciphertext if sealed else None,
            sealed.nonce if sealed else None,
            sealed.key_id if sealed else None,
            sealed.last4 if sealed else None,
        )
    except asyncpg.UniqueViolationError:
        raise ProviderNameTaken(new.name) from None
    except asyncpg.CheckViolationError as error:
        raise _invalid(error) from None
    return _target(row).provider


async def update_provider(
    conn: Any, keyring: Keyring, owner: str | None, provider_id: str, changes: ProviderChanges
) -> Provider:
    """Apply ``changes`` to ``owner``'s provider; raises :class:`ProviderNotFound`."""
    current = await get_provider(conn, owner, provider_id)
    sets: list[str] = []
    values: list[Any] = [current.id]

    def put(column: str, value: Any) -> None:
        values.append(value)
        sets.append(f"{column} = ${len(values)}")

    if changes.name is not msgspec.UNSET:
        put("name", changes.name.strip())
    if changes.model is not msgspec.UNSET:
        put("model", changes.model.strip())
    if changes.priority is not msgspec.UNSET:
        put("priority", changes.priority)
    if changes.enabled is not msgspec.UNSET:
        put("enabled", changes.enabled)
    if changes.base_url is not msgspec.UNSET:
        put("base_url", normalize_url(current.kind, changes.base_url))
    if changes.api_key is not msgspec.UNSET:
        sealed = keyring.seal(current.id, changes.api_key) if changes.api_key else None
        put("api_key_ciphertext", sealed.ciphertext if sealed else None)
        put("api_key_nonce", sealed.nonce if sealed else None)
        put("api_key_key_id", sealed.key_id if sealed else None)
        put("api_key_last4", sealed.last4 if sealed else None)
    if (
        changes.base_url is not msgspec.UNSET
        or changes.model is not msgspec.UNSET
        or changes.api_key is not msgspec.UNSET
    ):
        # Another endpoint, model or key: what was known about its health no longer holds.
        sets += ["health_status = 'unknown'", "health_checked_at = NULL", "last_error = NULL"]
    if not sets:
        return current
    try:
        row = await conn.fetchrow(
            f"UPDATE llm_providers SET {', '.join(sets)} WHERE id = $1::uuid RETURNING {_COLUMNS}",
            *values,
        )
    except asyncpg.UniqueViolationError:
        raise ProviderNameTaken(str(changes.name)) from None
    except asyncpg.CheckViolationError as error:
        raise _invalid(error) from None
    return _target(row).provider


async def delete_provider(conn: Any, owner: str | None, provider_id: str) -> bool:
    canonical = _uuid(provider_id)
    if canonical is None:
        return False
    deleted = await conn.fetchval(
        """DELETE FROM llm_providers WHERE id = $1::uuid AND user_id IS NOT DISTINCT FROM $2::uuid
           RETURNING id""",
        canonical,
        owner,
    )
    return deleted is not None


async def record_health(conn: Any, provider_id: str, status: str, error: str | None) -> None:
    """Write a row's health (environment providers have no row: the registry keeps theirs)."""
    if _uuid(provider_id) is None:
        return
    await conn.execute(
        """UPDATE llm_providers SET health_status = $2, health_checked_at = now(), last_error = $3
           WHERE id = $1::uuid""",
        provider_id,
        status,
        None if error is None else error[:500],
    )


async def reseal(conn: Any, keyring: Keyring) -> int:
    """Re-seal keys sealed with an older server key under the current one; returns how many.

    A key that no longer opens (its server key is gone) is left alone: the router reports it
    and the owner enters it again.
    """
    rows = await conn.fetch(
        """SELECT id::text, api_key_ciphertext, api_key_nonce, api_key_key_id FROM llm_providers
           WHERE api_key_key_id IS NOT NULL AND api_key_key_id <> $1""",
        keyring.current_id,
    )
    done = 0
    for row in rows:
        if row["api_key_key_id"] not in keyring.ids:
            continue
        plain = keyring.open(
            row["id"],
            bytes(row["api_key_ciphertext"]),
            bytes(row["api_key_nonce"]),
            row["api_key_key_id"],
        )
        sealed = keyring.seal(row["id"], plain)
        updated = await conn.execute(
            """UPDATE llm_providers SET api_key_ciphertext = $2, api_key_nonce = $3,
                      api_key_key_id = $4
               WHERE id = $1::uuid AND api_key_key_id = $5""",
            row["id"],
            sealed.ciphertext,
            sealed.nonce,
            sealed.key_id,
            row["api_key_key_id"],
        )
        done += updated.endswith(" 1")
    return done


def _invalid(error: Any) -> InvalidProvider:
    constraint = getattr(error, "constraint_name", "") or ""
    messages = {
        "llm_providers_name_length": "A provider's name must be 1 to 100 characters.",
        "llm_providers_model_length": "A model name must be 1 to 200 characters.",
        "llm_providers_kind_known": "A provider's kind is 'anthropic' or 'openai_compatible'.",
        "llm_providers_base_url_is_http": "The base URL must start with http:// or https://.",
        "llm_providers_openai_has_url": "An OpenAI-compatible provider needs its base URL.",
    }
    return InvalidProvider(messages.get(constraint, "The provider's settings are not valid."))
