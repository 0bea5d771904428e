"""Browser sessions: tokens, expiry, suspension, last_seen_at and pruning."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest

from soundforge.accounts import (
    AccountSuspended,
    NoUser,
    User,
    create_session,
    end_all_sessions,
    end_session,
    prune_expired,
    session_user,
    set_status,
)


async def _expire(db_pool: Any, token: str) -> None:
    await db_pool.execute(
        """UPDATE user_sessions SET created_at = now() - interval '2 days',
                                    expires_at = now() - interval '1 day'
           WHERE token_hash = $1""",
        hashlib.sha256(token.encode()).digest(),
    )


async def test_a_session_stores_only_the_hash(db_pool: Any, user: User) -> None:
    token = await create_session(
        db_pool, user.id, user_agent="Firefox" * 100, ip="2001:db8::1", ttl=timedelta(hours=1)
    )
    assert len(token) >= 43
    row = await db_pool.fetchrow(
        """SELECT token_hash, user_agent, host(ip) AS ip, expires_at - created_at AS ttl
           FROM user_sessions"""
    )
    assert row["token_hash"] == hashlib.sha256(token.encode()).digest()
    assert len(row["user_agent"]) == 512
    assert row["ip"] == "2001:db8::1"
    assert row["ttl"] == timedelta(hours=1)
    assert await session_user(db_pool, token) == user


async def test_an_invalid_ip_is_stored_as_unknown(db_pool: Any, user: User) -> None:
    await create_session(db_pool, user.id, ip="127.0.0.1:5000")
    assert await db_pool.fetchval("SELECT ip FROM user_sessions") is None


@pytest.mark.parametrize("token", ["", "unknown", "x" * 5000])
async def test_unknown_tokens_have_no_user(db_pool: Any, user: User, token: str) -> None:
    await create_session(db_pool, user.id)
    assert await session_user(db_pool, token) is None


async def test_an_expired_session_has_no_user_and_is_pruned(db_pool: Any, user: User) -> None:
    old = await create_session(db_pool, user.id)
    live = await create_session(db_pool, user.id)
    await _expire(db_pool, old)
    assert await session_user(db_pool, old) is None
    assert await prune_expired(db_pool) == 1
    assert await prune_expired(db_pool) == 0
    assert await session_user(db_pool, live) == user


async def test_a_suspended_users_session_is_refused(db_pool: Any, user: User) -> None:
    token = await create_session(db_pool, user.id)
    # Even a session row that survived the suspension (made during its commit) is refused.
    await db_pool.execute("UPDATE users SET status = 'suspended' WHERE id = $1::uuid", user.id)
    assert await session_user(db_pool, token) is None


async def test_no_session_for_a_suspended_or_unknown_user(db_pool: Any, user: User) -> None:
    await set_status(db_pool, user.id, "suspended")
    with pytest.raises(AccountSuspended):
        await create_session(db_pool, user.id)
    with pytest.raises(NoUser):
        await create_session(db_pool, "not-a-uuid")
    with pytest.raises(NoUser):
        await create_session(db_pool, "6f1c8a52-3d2e-4a7b-9c1d-2e3f4a5b6c7d")
    with pytest.raises(ValueError):
        await create_session(db_pool, user.id, ttl=timedelta(0))


async def test_last_seen_is_touched_at_most_once_a_minute(db_pool: Any, user: User) -> None:
    token = await create_session(db_pool, user.id)
    first = await db_pool.fetchval("SELECT last_seen_at FROM user_sessions")
    await session_user(db_pool, token)
    assert await db_pool.fetchval("SELECT last_seen_at FROM user_sessions") == first
    await db_pool.execute("UPDATE user_sessions SET last_seen_at = now() - interval '2 minutes'")
    stale = await db_pool.fetchval("SELECT last_seen_at FROM user_sessions")
    assert await session_user(db_pool, token) == user
    touched = await db_pool.fetchval("SELECT last_seen_at FROM user_sessions")
    assert touched > stale
    assert touched >= first


async def test_end_session(db_pool: Any, user: User) -> None:
    token = await create_session(db_pool, user.id)
    other = await create_session(db_pool, user.id)
    assert await end_session(db_pool, token) is True
    assert await end_session(db_pool, token) is False
    assert await session_user(db_pool, token) is None
    assert await session_user(db_pool, other) == user


async def test_end_all_sessions(db_pool: Any, admin: User, user: User) -> None:
    for _ in range(3):
        await create_session(db_pool, user.id)
    admins = await create_session(db_pool, admin.id)
    assert await end_all_sessions(db_pool, user.id) == 3
    assert await end_all_sessions(db_pool, user.id) == 0
    assert await end_all_sessions(db_pool, "not-a-uuid") == 0
    assert await session_user(db_pool, admins) == admin
