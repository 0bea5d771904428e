"""Users: creating accounts, hashing and checking passwords, finding who owns CLI imports.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile); only the PHC string is stored. The first account ever created is an admin, which
is how a fresh server gets its administrator (from the dashboard's registration or from
``soundforge users create``).
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from soundforge.errors import SoundForgeError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "InvalidAccount",
    "NoUser",
    "User",
    "create_user",
    "default_owner",
    "get_user_by_email",
    "hash_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH: Final = 8


class InvalidAccount(SoundForgeError):
    status = 422
    exit_code = 65  # EX_DATAERR


class NoUser(SoundForgeError):
    status = 404
    exit_code = 67  # EX_NOUSER


class User(msgspec.Struct, frozen=True):
    id: str
    email: str
    display_name: str | None
    role: str
    status: str


_COLUMNS: Final = "id::text, email, display_name, role, status"


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
    password_hash = hash_password(password)
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
