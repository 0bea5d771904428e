"""Users: lookup, logging in, listing, roles, suspension and password changes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from argon2 import PasswordHasher

from soundforge.accounts import (
    AccountSuspended,
    InvalidAccount,
    LastAdmin,
    LoginFailed,
    NoUser,
    User,
    WrongPassword,
    authenticate,
    change_password,
    count_users,
    create_session,
    create_user,
    get_user,
    list_entries,
    list_users,
    session_user,
    set_role,
    set_status,
)
from soundforge.accounts.users import _DUMMY_HASH
from tests.accounts.conftest import PASSWORD

MALFORMED_IDS = ["", "nope", "1; DROP TABLE users", "00000000-0000-0000-0000", "é" * 40]


async def test_get_user(db_pool: Any, user: User) -> None:
    assert await get_user(db_pool, user.id) == user
    assert await get_user(db_pool, user.id.upper()) == user


@pytest.mark.parametrize("user_id", [*MALFORMED_IDS, "6f1c8a52-3d2e-4a7b-9c1d-2e3f4a5b6c7d"])
async def test_get_user_unknown_or_malformed_is_no_user(db_pool: Any, user_id: str) -> None:
    with pytest.raises(NoUser) as raised:
        await get_user(db_pool, user_id)
    assert raised.value.status == 404


async def test_authenticate_records_the_login(db_pool: Any, user: User) -> None:
    assert await authenticate(db_pool, " USER@example.com ", PASSWORD, ip="10.0.0.7") == user
    last_login = await db_pool.fetchval(
        "SELECT last_login_at FROM users WHERE id = $1::uuid", user.id
    )
    assert last_login is not None
    [entry] = await list_entries(db_pool, action="user.login")
    assert (entry.actor_id, entry.target_id, entry.ip) == (user.id, user.id, "10.0.0.7")


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        ("nobody@example.com", PASSWORD, "unknown email"),
        ("user@example.com", "not the password", "wrong password"),
    ],
)
async def test_authenticate_refuses_alike(
    db_pool: Any, user: User, email: str, password: str, reason: str
) -> None:
    with pytest.raises(LoginFailed) as raised:
        await authenticate(db_pool, email, password, ip="not an ip")
    assert str(raised.value) == "wrong email or password"
    assert raised.value.status == 401
    [entry] = await list_entries(db_pool, action="user.login_failed")
    assert entry.actor_id is None
    assert entry.ip is None
    assert entry.details == {"email": email, "reason": reason}
    last_login = await db_pool.fetchval(
        "SELECT last_login_at FROM users WHERE id = $1::uuid", user.id
    )
    assert last_login is None


def test_the_dummy_hash_has_the_current_parameters() -> None:
    # Otherwise an unknown email would verify faster or slower than a known one.
    assert not PasswordHasher().check_needs_rehash(_DUMMY_HASH)


async def test_a_suspended_user_cannot_log_in(db_pool: Any, user: User) -> None:
    await set_status(db_pool, user.id, "suspended")
    with pytest.raises(AccountSuspended) as raised:
        await authenticate(db_pool, user.email, PASSWORD)
    assert raised.value.status == 403
    assert str(raised.value) == "this account is suspended; ask an administrator"
    # A wrong password does not learn that the account is suspended.
    with pytest.raises(LoginFailed):
        await authenticate(db_pool, user.email, "not the password")


async def test_authenticate_rehashes_old_parameters(db_pool: Any, user: User) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await db_pool.execute("UPDATE users SET password_hash = $2 WHERE id = $1::uuid", user.id, weak)
    await authenticate(db_pool, user.email, PASSWORD)
    stored = await db_pool.fetchval("SELECT password_hash FROM users WHERE id = $1::uuid", user.id)
    assert stored != weak
    assert not PasswordHasher().check_needs_rehash(stored)
    assert await authenticate(db_pool, user.email, PASSWORD) == user


async def test_list_and_count_users(db_pool: Any, admin: User, user: User) -> None:
    await create_user(db_pool, "per%cent@example.com", PASSWORD, display_name="Ana")
    rows = await list_users(db_pool)
    assert [row.email for row in rows] == [
        "admin@example.com",
        "user@example.com",
        "per%cent@example.com",
    ]
    assert rows[0].role == "admin"
    assert rows[0].created_at is not None
    assert rows[0].last_login_at is None
    assert await count_users(db_pool) == 3
    page = await list_users(db_pool, limit=1, offset=1)
    assert [row.id for row in page] == [user.id]
    assert [row.email for row in await list_users(db_pool, q="UNA")] == ["user@example.com"]
    # LIKE wildcards in the query are literal characters.
    assert [row.email for row in await list_users(db_pool, q="%")] == ["per%cent@example.com"]
    assert await count_users(db_pool, q="example") == 3
    assert await count_users(db_pool, q="nothing matches") == 0
    assert len(await list_users(db_pool, limit=0)) == 1  # clamped


async def test_set_role(db_pool: Any, admin: User, user: User) -> None:
    promoted = await set_role(db_pool, user.id, "admin")
    assert promoted.role == "admin"
    demoted = await set_role(db_pool, admin.id, "user")
    assert demoted.role == "user"
    assert (await get_user(db_pool, admin.id)).role == "user"


async def test_set_role_refuses_unknown_roles_and_users(db_pool: Any, user: User) -> None:
    with pytest.raises(InvalidAccount, match="is not a role"):
        await set_role(db_pool, user.id, "root")
    with pytest.raises(NoUser):
        await set_role(db_pool, "not-a-uuid", "admin")


async def test_the_last_admin_cannot_be_demoted_or_suspended(
    db_pool: Any, admin: User, user: User
) -> None:
    with pytest.raises(LastAdmin) as raised:
        await set_role(db_pool, admin.id, "user")
    assert raised.value.status == 409
    with pytest.raises(LastAdmin):
        await set_status(db_pool, admin.id, "suspended")
    # A suspended admin does not count as the other admin.
    other = await create_user(db_pool, "other@example.com", PASSWORD, admin=True)
    await set_status(db_pool, other.id, "suspended")
    with pytest.raises(LastAdmin):
        await set_role(db_pool, admin.id, "user")
    assert (await get_user(db_pool, admin.id)).role == "admin"
    # Setting the role an admin already has is fine.
    assert (await set_role(db_pool, admin.id, "admin")).role == "admin"


async def test_two_concurrent_demotions_leave_one_admin(db_pool: Any, admin: User) -> None:
    other = await create_user(db_pool, "other@example.com", PASSWORD, admin=True)
    results = await asyncio.wait_for(
        asyncio.gather(
            set_role(db_pool, admin.id, "user"),
            set_role(db_pool, other.id, "user"),
            return_exceptions=True,
        ),
        timeout=10,
    )
    assert sum(isinstance(result, LastAdmin) for result in results) == 1
    admins = await db_pool.fetchval("SELECT count(*) FROM users WHERE role = 'admin'")
    assert admins == 1


async def test_suspending_ends_sessions_and_reactivating_allows_login(
    db_pool: Any, user: User
) -> None:
    token = await create_session(db_pool, user.id)
    suspended = await set_status(db_pool, user.id, "suspended")
    assert suspended.status == "suspended"
    assert await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 0
    assert await session_user(db_pool, token) is None
    active = await set_status(db_pool, user.id, "active")
    assert active.status == "active"
    assert await authenticate(db_pool, user.email, PASSWORD) == active


async def test_set_status_refuses_unknown_statuses(db_pool: Any, user: User) -> None:
    with pytest.raises(InvalidAccount, match="is not an account status"):
        await set_status(db_pool, user.id, "banned")


async def test_set_status_inside_a_transaction(db_pool: Any, user: User) -> None:
    async with db_pool.acquire() as conn, conn.transaction():
        await set_status(conn, user.id, "suspended")
    assert (await get_user(db_pool, user.id)).status == "suspended"


async def test_change_password_ends_every_session(db_pool: Any, user: User) -> None:
    token = await create_session(db_pool, user.id)
    await change_password(db_pool, user.id, PASSWORD, "a brand new password")
    assert await session_user(db_pool, token) is None
    assert await authenticate(db_pool, user.email, "a brand new password") == user
    with pytest.raises(LoginFailed):
        await authenticate(db_pool, user.email, PASSWORD)


async def test_change_password_checks_the_current_and_the_new(db_pool: Any, user: User) -> None:
    token = await create_session(db_pool, user.id)
    with pytest.raises(WrongPassword, match="the current password is wrong"):
        await change_password(db_pool, user.id, "not the password", "a brand new password")
    with pytest.raises(InvalidAccount, match="at least 8 characters"):
        await change_password(db_pool, user.id, PASSWORD, "short")
    with pytest.raises(NoUser):
        await change_password(db_pool, "nope", PASSWORD, "a brand new password")
    assert await session_user(db_pool, token) == user
    assert await authenticate(db_pool, user.email, PASSWORD) == user
