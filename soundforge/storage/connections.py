"""Functions that take "a connection or a pool": borrow a connection only when given a pool.

The product's query functions accept either an asyncpg connection (the caller's, often
inside its transaction: a job inserted with the rows it belongs to) or a pool (take one for
this call). These two context managers are that rule, written once.

    async with connection(conn_or_pool) as conn: ...
    async with transaction(conn_or_pool) as conn: ...   # a savepoint inside a caller's one
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]

__all__ = ["connection", "transaction"]


@asynccontextmanager
async def connection(conn: Any) -> AsyncIterator[Any]:
    """``conn`` itself, or a connection taken from it when it is a pool."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as taken:
            yield taken
    else:
        yield conn


@asynccontextmanager
async def transaction(conn: Any) -> AsyncIterator[Any]:
    """:func:`connection`, inside a transaction (a savepoint when one is open already)."""
    async with connection(conn) as c, c.transaction():
        yield c
