"""Users: accounts, passwords, logging in, roles and suspension.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile); only the PHC string is stored, and a hash made with older parameters is replaced
on the next successful login. The first account ever created is an admin, which is how a
fresh server gets its administrator (from the dashboard's registration or from
``soundforge users create``).

Two invariants are kept here rather than in the web layer, so that the CLI and the API
cannot break them:

* a suspended account can do nothing: it cannot log in, and suspending it deletes its
  sessions in the same transaction (``sessions`` and ``tokens`` also refuse a suspended
  owner, so a session made during the suspension's commit is still useless);
* the server always keeps one active admin: demoting or suspending the last one is refused
  (:class:`LastAdmin`), under a lock on the admins' rows, so two concurrent demotions
  cannot both succeed.

Every function takes an asyncpg connection or pool. A malformed id is "no such user", never
a database error::

    user = await authenticate(pool, "ana@example.com", "correct horse", ip="127.0.0.1")
    await set_role(pool, user.id, "user")     # LastAdmin if ana is the only admin
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from soundforge.accounts import audit
from soundforge.accounts._db import transaction, uuid_or_none
from soundforge.errors import SoundForgeError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "STATUSES",
    "SUSPENDED_MESSAGE",
    "AccountSuspended",
    "InvalidAccount",
    "LastAdmin",
    "LoginFailed",
    "NoUser",
    "User",
    "UserRow",
    "WrongPassword",
    "authenticate",
    "change_password",
    "count_users",
    "create_user",
    "default_owner",
    "get_user",
    "get_user_by_email",
    "hash_password",
    "list_users",
    "require_active",
    "set_role",
    "set_status",
    "verify_password",
]

MIN_PASSWORD_LENGTH: Final = 8
ROLES: Final = ("user", "admin")
STATUSES: Final = ("active", "suspended")
SUSPENDED_MESSAGE: Final = "this account is suspended; ask an administrator"
#: The most rows one page of :func:`list_users` returns.
MAX_PAGE: Final = 1000

# Verified against when the email is unknown, so that a login attempt takes as long for an
# unknown address as for a wrong password and does not reveal which accounts exist. It has
# argon2-cffi's default parameters (a test checks that they still are).
_DUMMY_HASH: Final = (
    "$argon2id$v=19$m=65536,t=3,p=4$sKtyGQImHCyktTK3sMUQeg"
    "$q1Yu0xUAdZZ8AbU4Lu2tPY0KL2ZFck76h7wbECVD0N4"
)


class InvalidAccount(SoundForgeError):
    status = 422
    exit_code = 65  # EX_DATAERR


class NoUser(SoundForgeError):
    status = 404
    exit_code = 67  # EX_NOUSER


class LoginFailed(SoundForgeError):
    """Unknown email or wrong password: one message for both, so accounts stay private."""

    status = 401
    exit_code = 77  # EX_NOPERM


class AccountSuspended(SoundForgeError):
    status = 403
    exit_code = 77  # EX_NOPERM


class WrongPassword(SoundForgeError):
    """The current password given to change it is wrong (the session itself is fine)."""

    status = 403
    exit_code = 77  # EX_NOPERM


class LastAdmin(InvalidAccount):
    status = 409


class User(msgspec.Struct, frozen=True):
    id: str
    email: str
    display_name: str | None
    role: str
    status: str


class UserRow(msgspec.Struct, frozen=True):
    """One line of the admin's user list."""

    id: str
    email: str
    display_name: str | None
    role: str
    status: str
    created_at: datetime
    last_login_at: datetime | None


_COLUMNS: Final = "id::text, email, display_name, role, status"
_ROW_COLUMNS: Final = f"{_COLUMNS}, created_at, last_login_at"


# Argon2 takes about half a second of CPU by design: the async functions below run it in a
# worker thread (it releases the GIL), never on the event loop.
def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return PasswordHasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_user(
    conn: Any, email: str, password: str, *, admin: bool = False, display_name: str | None = None
) -> User:
    """Create an account; the very first account is an admin whatever ``admin`` says."""
    email = email.strip()
    if "@" not in email or any(c.isspace() for c in email) or len(email) > 320:
        raise InvalidAccount(f"{email!r} is not an email address")
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO users (email, display_name, password_hash, role)
                VALUES ($1, $2, $3, CASE WHEN $4 OR NOT EXISTS (SELECT 1 FROM users)
                                         THEN 'admin' ELSE 'user' END)
                RETURNING {_COLUMNS}""",
            email,
            display_name,
            password_hash,
            admin,
        )
    except asyncpg.UniqueViolationError:
        raise InvalidAccount(f"an account for {email} already exists") from None
    return msgspec.convert(dict(row), User)


async def get_user(conn: Any, user_id: str) -> User:
    key = uuid_or_none(user_id)
    row = None
    if key is not None:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1::uuid", key)
    if row is None:
        raise NoUser(f"there is no account {user_id!r}; it may have been deleted")
    return msgspec.convert(dict(row), User)


async def get_user_by_email(conn: Any, email: str) -> User:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM users WHERE lower(email) = lower($1)", email.strip()
    )
    if row is None:
        raise NoUser(f"there is no account for {email}; create it with soundforge users create")
    return msgspec.convert(dict(row), User)


async def default_owner(conn: Any) -> User:
    """Who owns what the CLI imports when no ``--user`` is given: the first active admin."""
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM users WHERE role = 'admin' AND status = 'active'
            ORDER BY created_at LIMIT 1"""
    )
    if row is None:
        raise NoUser(
            "there is no account yet to own the imported tracks; create one with "
            "'soundforge users create you@example.com' or register on the dashboard"
        )
    return msgspec.convert(dict(row), User)


async def authenticate(conn: Any, email: str, password: str, *, ip: str | None = None) -> User:
    """The account these credentials open, recording ``user.login`` or ``user.login_failed``.

    Raises LoginFailed ("wrong email or password") for an unknown email and for a wrong
    password alike, and AccountSuspended only once the password is right, so a stranger
    learns nothing about an account. Call it outside a transaction that the error would
    roll back, or the failed attempt is not recorded.
    """
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)",
        email.strip(),
    )
    if row is None:
        await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
        await _login_failed(conn, None, email, "unknown email", ip)
        raise LoginFailed("wrong email or password")
    user = msgspec.convert({k: row[k] for k in User.__struct_fields__}, User)
    if not await asyncio.to_thread(verify_password, row["password_hash"], password):
        await _login_failed(conn, user.id, email, "wrong password", ip)
        raise LoginFailed("wrong email or password")
    if user.status != "active":
        await _login_failed(conn, user.id, email, "suspended", ip)
        raise AccountSuspended(SUSPENDED_MESSAGE)
    new_hash = None
    if PasswordHasher().check_needs_rehash(row["password_hash"]):
        new_hash = await asyncio.to_thread(PasswordHasher().hash, password)
    await conn.execute(
        """UPDATE users SET last_login_at = now(), password_hash = coalesce($2, password_hash)
           WHERE id = $1::uuid""",
        user.id,
        new_hash,
    )
    await audit.record(
        conn,
        audit.Action.USER_LOGIN,
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        ip=ip,
    )
    return user


async def _login_failed(
    conn: Any, user_id: str | None, email: str, reason: str, ip: str | None
) -> None:
    # The attempt has no authenticated actor; the account it aimed at is the target.
    await audit.record(
        conn,
        audit.Action.USER_LOGIN_FAILED,
        target_type="user",
        target_id=user_id,
        details={"email": email[:320], "reason": reason},
        ip=ip,
    )


async def list_users(
    conn: Any, *, limit: int = 100, offset: int = 0, q: str | None = None
) -> list[UserRow]:
    """Accounts, oldest first; ``q`` matches part of the email or display name.

    ``limit`` is clamped to 1..1000 and ``offset`` to 0 and above.
    """
    rows = await conn.fetch(
        f"""SELECT {_ROW_COLUMNS} FROM users
            WHERE $1::text IS NULL OR email ILIKE $1 OR display_name ILIKE $1
            ORDER BY created_at, id LIMIT $2 OFFSET $3""",
        _contains_pattern(q),
        max(1, min(limit, MAX_PAGE)),
        max(0, offset),
    )
    return [msgspec.convert(dict(row), UserRow) for row in rows]


async def count_users(conn: Any, *, q: str | None = None) -> int:
    """How many accounts :func:`list_users` pages through for the same ``q``."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM users
           WHERE $1::text IS NULL OR email ILIKE $1 OR display_name ILIKE $1""",
        _contains_pattern(q),
    )
    return count


def _contains_pattern(q: str | None) -> str | None:
    if q is None or not q.strip():
        return None
    escaped = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def set_role(conn: Any, user_id: str, role: str) -> User:
    """Make an account an admin or a plain user; the last active admin cannot be demoted."""
    if role not in ROLES:
        raise InvalidAccount(f"{role!r} is not a role; use user or admin")
    async with transaction(conn) as tx:
        user = await get_user(tx, user_id)
        if role != "admin":
            await _keep_an_admin(tx, user, "demote")
        row = await tx.fetchrow(
            f"UPDATE users SET role = $2 WHERE id = $1::uuid RETURNING {_COLUMNS}", user.id, role
        )
    return msgspec.convert(dict(row), User)


async def set_status(conn: Any, user_id: str, status: str) -> User:
    """Suspend or reactivate an account; suspending ends all its sessions at once."""
    if status not in STATUSES:
        raise InvalidAccount(f"{status!r} is not an account status; use active or suspended")
    async with transaction(conn) as tx:
        user = await get_user(tx, user_id)
        if status != "active":
            await _keep_an_admin(tx, user, "suspend")
            await tx.execute("DELETE FROM user_sessions WHERE user_id = $1::uuid", user.id)
        row = await tx.fetchrow(
            f"UPDATE users SET status = $2 WHERE id = $1::uuid RETURNING {_COLUMNS}",
            user.id,
            status,
        )
    return msgspec.convert(dict(row), User)


async def _keep_an_admin(tx: Any, user: User, verb: str) -> None:
    # Locking every active admin's row serialises concurrent demotions and suspensions,
    # so two of them cannot each see "another admin is left" and both proceed.
    admins = await tx.fetch(
        """SELECT id::text FROM users WHERE role = 'admin' AND status = 'active'
           ORDER BY id FOR UPDATE"""
    )
    ids = {row["id"] for row in admins}
    if ids == {user.id}:
        raise LastAdmin(
            f"cannot {verb} {user.email}, the only active admin; make another account an "
            "admin first"
        )


async def change_password(conn: Any, user_id: str, current: str, new: str) -> None:
    """Replace a password after checking the current one, and end every session of the user.

    The web layer logs the user in again afterwards, so only the device that changed the
    password stays logged in.
    """
    user = await get_user(conn, user_id)
    password_hash = await conn.fetchval(
        "SELECT password_hash FROM users WHERE id = $1::uuid", user.id
    )
    if not await asyncio.to_thread(verify_password, password_hash or "", current):
        raise WrongPassword("the current password is wrong")
    new_hash = await asyncio.to_thread(hash_password, new)
    async with transaction(conn) as tx:
        await tx.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1::uuid", user.id, new_hash
        )
        await tx.execute("DELETE FROM user_sessions WHERE user_id = $1::uuid", user.id)


async def require_active(conn: Any, user_id: str) -> User:
    """The account, if it may act: NoUser if there is none, AccountSuspended if suspended."""
    user = await get_user(conn, user_id)
    if user.status != "active":
        raise AccountSuspended(SUSPENDED_MESSAGE)
    return user
