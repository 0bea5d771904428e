"""Small database helpers shared by the accounts modules (private to the package).

Ids and addresses arrive from URLs, cookies and headers. A value that is not a uuid or not
an IP address is treated as "no such row" or "address unknown" here, before PostgreSQL
would answer it with a cast error that reaches the user as a 500.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


def uuid_or_none(value: str) -> str | None:
    """The canonical form of a uuid, or None when ``value`` is not one (a caller's typo)."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


def ip_or_none(value: str | None) -> str | None:
    """An IP address as text for an ``inet`` column, or None when it is not one."""
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


@asynccontextmanager
async def transaction(conn: Any) -> AsyncIterator[Any]:
    """A transaction on ``conn``: on a connection acquired from it if it is a pool, else on
    ``conn`` itself (a savepoint when the caller already opened a transaction)."""
    if hasattr(conn, "acquire"):
        async with conn.acquire() as acquired, acquired.transaction():
            yield acquired
    else:
        async with conn.transaction():
            yield conn
