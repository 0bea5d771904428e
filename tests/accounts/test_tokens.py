"""API tokens: creation, listing, revocation, expiry and suspension."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soundforge.accounts import (
    AccountSuspended,
    InvalidAccount,
    NoUser,
    TokenNameTaken,
    User,
    create_token,
    list_tokens,
    revoke_token,
    set_status,
    token_user,
)


async def test_create_token(db_pool: Any, user: User) -> None:
    token, secret = await create_token(db_pool, user.id, "  backup script ")
    assert secret.startswith("sf_")
    assert token.prefix == secret[:8]
    assert token.name == "backup script"
    assert (token.last_used_at, token.expires_at, token.revoked_at) == (None, None, None)
    stored = await db_pool.fetchval("SELECT token_hash FROM api_tokens")
    assert stored == hashlib.sha256(secret.encode()).digest()
    assert await token_user(db_pool, secret) == user


async def test_a_live_name_is_unique_per_user(db_pool: Any, admin: User, user: User) -> None:
    token, _ = await create_token(db_pool, user.id, "ci")
    with pytest.raises(TokenNameTaken, match="you already have a token named 'ci'") as raised:
        await create_token(db_pool, user.id, "ci")
    assert raised.value.status == 409
    await create_token(db_pool, admin.id, "ci")  # another user's name
    assert await revoke_token(db_pool, user.id, token.id)
    await create_token(db_pool, user.id, "ci")  # a revoked token frees its name


@pytest.mark.parametrize(
    ("name", "expires_at", "message"),
    [
        ("", None, "1 to 100 characters"),
        ("x" * 101, None, "1 to 100 characters"),
        ("old", datetime.now(UTC) - timedelta(days=1), "in the future"),
        ("naive", datetime(2999, 1, 1), "time zone"),
    ],
)
async def test_create_token_refuses_bad_input(
    db_pool: Any, user: User, name: str, expires_at: datetime | None, message: str
) -> None:
    with pytest.raises(InvalidAccount, match=message):
        await create_token(db_pool, user.id, name, expires_at=expires_at)


async def test_no_token_for_a_suspended_or_unknown_user(db_pool: Any, user: User) -> None:
    await set_status(db_pool, user.id, "suspended")
    with pytest.raises(AccountSuspended):
        await create_token(db_pool, user.id, "ci")
    with pytest.raises(NoUser):
        await create_token(db_pool, "nope", "ci")


async def test_list_tokens_newest_first(db_pool: Any, admin: User, user: User) -> None:
    first, _ = await create_token(db_pool, user.id, "first")
    second, _ = await create_token(db_pool, user.id, "second")
    await create_token(db_pool, admin.id, "admin's")
    await revoke_token(db_pool, user.id, first.id)
    tokens = await list_tokens(db_pool, user.id)
    assert [token.id for token in tokens] == [second.id, first.id]
    assert tokens[1].revoked_at is not None
    assert await list_tokens(db_pool, "nope") == []


async def test_a_revoked_token_fails(db_pool: Any, user: User) -> None:
    token, secret = await create_token(db_pool, user.id, "ci")
    assert await revoke_token(db_pool, user.id, token.id) is True
    assert await revoke_token(db_pool, user.id, token.id) is False
    assert await token_user(db_pool, secret) is None


async def test_an_expired_token_fails(db_pool: Any, user: User) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    token, secret = await create_token(db_pool, user.id, "ci", expires_at=soon)
    assert token.expires_at == soon
    assert await token_user(db_pool, secret) == user
    await db_pool.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second'")
    assert await token_user(db_pool, secret) is None


async def test_a_suspended_users_token_fails_until_reactivated(db_pool: Any, user: User) -> None:
    _, secret = await create_token(db_pool, user.id, "ci")
    await set_status(db_pool, user.id, "suspended")
    assert await token_user(db_pool, secret) is None
    await set_status(db_pool, user.id, "active")
    assert await token_user(db_pool, secret) == user


@pytest.mark.parametrize("token_id", ["nope", "", "6f1c8a52-3d2e-4a7b-9c1d-2e3f4a5b6c7d"])
async def test_revoking_an_unknown_id_is_false(db_pool: Any, user: User, token_id: str) -> None:
    assert await revoke_token(db_pool, user.id, token_id) is False


async def test_revoking_someone_elses_token_is_refused(
    db_pool: Any, admin: User, user: User
) -> None:
    token, secret = await create_token(db_pool, user.id, "ci")
    assert await revoke_token(db_pool, admin.id, token.id) is False
    assert await revoke_token(db_pool, "nope", token.id) is False
    assert await token_user(db_pool, secret) == user


@pytest.mark.parametrize("secret", ["", "sf_", "sf_unknown", "Bearer x", "x" * 5000])
async def test_unknown_secrets_have_no_user(db_pool: Any, user: User, secret: str) -> None:
    await create_token(db_pool, user.id, "ci")
    assert await token_user(db_pool, secret) is None


async def test_last_used_is_touched_at_most_once_a_minute(db_pool: Any, user: User) -> None:
    _, secret = await create_token(db_pool, user.id, "ci")
    await token_user(db_pool, secret)
    first = await db_pool.fetchval("SELECT last_used_at FROM api_tokens")
    assert first is not None
    await token_user(db_pool, secret)
    assert await db_pool.fetchval("SELECT last_used_at FROM api_tokens") == first
    await db_pool.execute("UPDATE api_tokens SET last_used_at = now() - interval '2 minutes'")
    stale = await db_pool.fetchval("SELECT last_used_at FROM api_tokens")
    await token_user(db_pool, secret)
    assert await db_pool.fetchval("SELECT last_used_at FROM api_tokens") > stale
