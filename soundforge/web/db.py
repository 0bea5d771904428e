"""The request's database connection: one checkout per request, however many queries.

Resolving the caller (``auth.identify``) and the view both need the database; checking a
connection out of the Repo's pool twice would cost a second checkout and a second reset
round trip on release, a tenth of a small request's time. :func:`connection` checks one out
on first use and keeps it in the request's context; :func:`release` (a teardown hook) gives
it back when the request ends, before a streamed body is sent, so a long download never
holds one. An error inside a block hands the connection back at once, through the Repo's
own error handling (an outage becomes ``DatabaseUnavailable``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from quart import g

from soundforge.actors import repo
from soundforge.web.context import web

__all__ = ["connection", "release", "transaction"]


@asynccontextmanager
async def connection() -> AsyncIterator[Any]:
    held = g.get("_db")
    if held is None:
        checkout = repo.connection(web().repo)
        held = g._db = (checkout, await checkout.__aenter__())
    checkout, conn = held
    try:
        yield conn
    except BaseException as error:
        g._db = None
        # The Repo decides what the error means (and whether the connection is broken).
        if not await checkout.__aexit__(type(error), error, error.__traceback__):
            raise


@asynccontextmanager
async def transaction() -> AsyncIterator[Any]:
    async with connection() as conn, conn.transaction():
        yield conn


async def release(_error: BaseException | None = None) -> None:
    held = g.get("_db")
    if held is not None:
        g._db = None
        await held[0].__aexit__(None, None, None)
