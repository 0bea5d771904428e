"""Browser sessions: the dashboard's login cookie.

Like Phoenix's ``mix phx.gen.auth`` (a random token in the cookie, a row per session), with
two differences: only the token's SHA-256 is stored, so a leaked database holds no live
session; and sessions have a fixed lifetime (:data:`SESSION_TTL`) rather than a sliding one,
so that a stolen cookie stops working on a known date.

A session of a suspended account is refused on every request, even before
:func:`soundforge.accounts.users.set_status` has deleted it. ``last_seen_at`` (shown in the
account page's session list) is written at most once a minute, in the same statement that
reads the session, so a busy dashboard does not write a row per request::

    token = await create_session(pool, user.id, user_agent=ua, ip="127.0.0.1")
    user = await session_user(pool, token)      # None once ended, expired or suspended
    await end_session(pool, token)
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, Final

import msgspec

from soundforge.accounts._db import ip_or_none, uuid_or_none
from soundforge.accounts.users import SUSPENDED_MESSAGE, AccountSuspended, User, require_active

__all__ = [
    "SESSION_TTL",
    "create_session",
    "end_all_sessions",
    "end_session",
    "prune_expired",
    "session_user",
]

#: How long a session lasts after logging in.
SESSION_TTL: Final = timedelta(days=30)
#: The longest user agent kept (the column's CHECK); longer ones are cut.
MAX_USER_AGENT: Final = 512


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_session(
    conn: Any,
    user_id: str,
    *,
    user_agent: str | None = None,
    ip: str | None = None,
    ttl: timedelta = SESSION_TTL,
) -> str:
    """Start a session and return its token, which only the cookie ever holds.

    Raises NoUser for an unknown account and AccountSuspended for a suspended one.
    """
    if ttl <= timedelta(0):
        raise ValueError(f"a session's lifetime must be positive, not {ttl}")
    token = secrets.token_urlsafe(32)
    key = uuid_or_none(user_id)
    row = None
    if key is not None:
        row = await conn.fetchrow(
            """INSERT INTO user_sessions (user_id, token_hash, user_agent, ip, expires_at)
               SELECT id, $2, $3, $4::text::inet, now() + $5::interval
               FROM users WHERE id = $1::uuid AND status = 'active'
               RETURNING id""",
            key,
            _digest(token),
            user_agent[:MAX_USER_AGENT] if user_agent is not None else None,
            ip_or_none(ip),
            ttl,
        )
    if row is None:
        await require_active(conn, user_id)
        # Active now, so it was suspended when the row was refused and reactivated since.
        raise AccountSuspended(SUSPENDED_MESSAGE)
    return token


async def session_user(conn: Any, token: str) -> User | None:
    """The user a live session token belongs to, or None (unknown, expired, suspended)."""
    # One round trip: the data-modifying CTE touches last_seen_at only when it is over a
    # minute old, so most requests read without writing.
    row = await conn.fetchrow(
        """WITH found AS (
               SELECT s.id AS session_id, s.last_seen_at, u.id::text AS id, u.email,
                      u.display_name, u.role, u.status
               FROM user_sessions s JOIN users u ON u.id = s.user_id
               WHERE s.token_hash = $1 AND s.expires_at > now() AND u.status = 'active'
           ), touched AS (
               UPDATE user_sessions SET last_seen_at = now()
               WHERE id IN (SELECT session_id FROM found
                            WHERE last_seen_at < now() - interval '1 minute')
           )
           SELECT id, email, display_name, role, status FROM found""",
        _digest(token),
    )
    return None if row is None else msgspec.convert(dict(row), User)


async def end_session(conn: Any, token: str) -> bool:
    """Log out one session; False when the token was not a live session."""
    ended = await conn.fetchval(
        "DELETE FROM user_sessions WHERE token_hash = $1 RETURNING true", _digest(token)
    )
    return bool(ended)


async def end_all_sessions(conn: Any, user_id: str) -> int:
    """Log a user out everywhere; returns how many sessions ended (0 for an unknown id)."""
    key = uuid_or_none(user_id)
    if key is None:
        return 0
    status: str = await conn.execute("DELETE FROM user_sessions WHERE user_id = $1::uuid", key)
    return _count(status)


async def prune_expired(conn: Any) -> int:
    """Delete expired sessions (they are already refused); returns how many."""
    status: str = await conn.execute("DELETE FROM user_sessions WHERE expires_at <= now()")
    return _count(status)


def _count(command_status: str) -> int:
    # asyncpg returns the command tag, e.g. 'DELETE 3'.
    return int(command_status.rsplit(" ", 1)[-1])
