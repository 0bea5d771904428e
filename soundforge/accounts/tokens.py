"""API tokens: ``Authorization: Bearer sf_...`` for scripts and the CLI.

A token is shown once, when it is created; only its SHA-256 is kept, with its first eight
characters (``prefix``, e.g. ``sf_3kd9Q``) so that lists can tell tokens apart. A token acts
as its user, so an admin's token is an admin token, and a suspended user's tokens stop
working at once (they are refused, not deleted, so reactivating the account restores them).
Revoking keeps the row, for the record; a live token's name is unique per user, and a
revoked token frees its name.

``last_used_at`` is written at most once a minute, in the statement that checks the token::

    token, secret = await create_token(pool, user.id, "laptop backup script")
    assert (await token_user(pool, secret)) == user
    await revoke_token(pool, user.id, token.id)
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import msgspec

from soundforge.accounts._db import uuid_or_none
from soundforge.accounts.users import (
    SUSPENDED_MESSAGE,
    AccountSuspended,
    InvalidAccount,
    User,
    require_active,
)

__all__ = [
    "TOKEN_PREFIX",
    "ApiToken",
    "TokenNameTaken",
    "create_token",
    "list_tokens",
    "revoke_token",
    "token_user",
]

#: What every secret starts with, so that a leaked one is recognisable (secret scanners).
TOKEN_PREFIX: Final = "sf_"
MAX_NAME: Final = 100

_COLUMNS: Final = "id::text, name, prefix, created_at, last_used_at, expires_at, revoked_at"


class TokenNameTaken(InvalidAccount):
    status = 409


class ApiToken(msgspec.Struct, frozen=True, kw_only=True):
    """What a list shows of a token; never the secret."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create_token(
    conn: Any, user_id: str, name: str, *, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token; returns it and its secret, which cannot be read back later.

    Raises InvalidAccount for a bad name or expiry, TokenNameTaken when a live token of the
    user already has the name, NoUser / AccountSuspended when the user may not have one.
    """
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidAccount(f"a token name needs 1 to {MAX_NAME} characters")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidAccount("give the token's expiry with a time zone")
        if expires_at <= datetime.now(UTC):
            raise InvalidAccount("a token's expiry must be in the future")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = uuid_or_none(user_id)
    row = None
    if key is not None:
        try:
            row = await conn.fetchrow(
                f"""INSERT INTO api_tokens (user_id, name, prefix, token_hash, expires_at)
                    SELECT id, $2, $3, $4, $5 FROM users
                    WHERE id = $1::uuid AND status = 'active'
                    RETURNING {_COLUMNS}""",
                key,
                name,
                secret[:8],
                _digest(secret),
                expires_at,
            )
        except asyncpg.UniqueViolationError:
            raise TokenNameTaken(
                f"you already have a token named {name!r}; pick another name or revoke it"
            ) from None
    if row is None:
        await require_active(conn, user_id)
        # Active now, so it was suspended when the row was refused and reactivated since.
        raise AccountSuspended(SUSPENDED_MESSAGE)
    return msgspec.convert(dict(row), ApiToken), secret


async def list_tokens(conn: Any, user_id: str) -> list[ApiToken]:
    """A user's tokens, revoked ones included, newest first (empty for an unknown id)."""
    key = uuid_or_none(user_id)
    if key is None:
        return []
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM api_tokens WHERE user_id = $1::uuid
            ORDER BY created_at DESC, id DESC""",
        key,
    )
    return [msgspec.convert(dict(row), ApiToken) for row in rows]


async def revoke_token(conn: Any, user_id: str, token_id: str) -> bool:
    """Revoke one of the user's own live tokens; False for any other id (not found,
    someone else's, malformed, already revoked), so ids of others' tokens reveal nothing."""
    user_key, token_key = uuid_or_none(user_id), uuid_or_none(token_id)
    if user_key is None or token_key is None:
        return False
    revoked = await conn.fetchval(
        """UPDATE api_tokens SET revoked_at = now()
           WHERE id = $2::uuid AND user_id = $1::uuid AND revoked_at IS NULL
           RETURNING true""",
        user_key,
        token_key,
    )
    return bool(revoked)


async def token_user(conn: Any, secret: str) -> User | None:
    """The user a secret acts as, or None (unknown, revoked, expired, user suspended)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    # As in sessions.session_user: one round trip, and a write at most once a minute.
    row = await conn.fetchrow(
        """WITH found AS (
               SELECT t.id AS token_id, t.last_used_at, u.id::text AS id, u.email,
                      u.display_name, u.role, u.status
               FROM api_tokens t JOIN users u ON u.id = t.user_id
               WHERE t.token_hash = $1 AND t.revoked_at IS NULL
                 AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.status = 'active'
           ), touched AS (
               UPDATE api_tokens SET last_used_at = now()
               WHERE id IN (SELECT token_id FROM found
                            WHERE last_used_at IS NULL
                               OR last_used_at < now() - interval '1 minute')
           )
           SELECT id, email, display_name, role, status FROM found""",
        _digest(secret),
    )
    return None if row is None else msgspec.convert(dict(row), User)
