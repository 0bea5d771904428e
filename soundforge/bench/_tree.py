"""The node a benchmark measures: the real supervision tree, started and stopped around it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from soundforge.config import Settings
from soundforge.runtime.application import Application
from soundforge.supervisors import Root, RootOptions

__all__ = ["running_tree"]


@asynccontextmanager
async def running_tree(settings: Settings, **options: Any) -> AsyncIterator[Application]:
    """Starts ``Root`` with these settings and root options; the caller's task joins the node
    (it may call actors); stops the tree on the way out."""
    app = Application(Root.child_spec(RootOptions(settings, **options)), handle_signals=False)
    running = asyncio.ensure_future(app.run())
    started = asyncio.ensure_future(app.started.wait())
    await asyncio.wait([running, started], return_when=asyncio.FIRST_COMPLETED)
    if not app.started.is_set():
        await running
        raise RuntimeError(f"the tree did not start: {app.failure}")
    app.node.attach()
    try:
        yield app
    finally:
        app.request_stop("bench done")
        await running
