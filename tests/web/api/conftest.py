"""One SoundForge server per test module (starting one takes seconds on a small machine).

``api_server`` is the lead's ``server`` fixture, module-scoped: tests in a module share its
database and data directory, so each test makes its own users (``helpers.fresh_user``)
and never depends on what another test left behind. Modules using it run their tests in
one event loop: ``pytestmark = pytest.mark.asyncio(loop_scope="module")``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest_asyncio

from soundforge.web import url
from tests.jobs.conftest import running_studio
from tests.postgres import PgCluster
from tests.web.conftest import WebServer

#: Small enough that the 413 test sends a few MB, big enough for the test songs.
MAX_UPLOAD_MB = 4


@contextlib.asynccontextmanager
async def server_on_fresh_database(
    pg_cluster: PgCluster, **settings: Any
) -> AsyncIterator[WebServer]:
    """A whole server on a database of its own, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_cluster.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    options = {"port": 0, "allow_private_urls": True, "max_upload_mb": MAX_UPLOAD_MB, **settings}
    try:
        async with running_studio(pg_cluster.url(name), options, web=True) as studio:
            yield WebServer(studio, await url())
    finally:
        admin = await asyncpg.connect(pg_cluster.admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api_server(pg_cluster: PgCluster) -> AsyncIterator[WebServer]:
    async with server_on_fresh_database(pg_cluster) as server:
        yield server
