"""What the web endpoint's handlers need from their node, hung off the Quart app.

The Endpoint actor builds one :class:`WebContext` and stores it in ``app.extensions`` (never
a module global, so two endpoints in one test process each have their own). Handlers reach it
with :func:`web`. It holds the node's settings, the names of the Repo and PubSub actors, the
server's secret, the rate limiter, the request counters and the metrics fed by telemetry.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from quart import current_app

from soundforge.config import Settings
from soundforge.jobs.context import PipelineContext
from soundforge.web.credentials import CredentialCache, credentials_changed
from soundforge.web.metrics import WebMetrics
from soundforge.web.page_cache import PageCache
from soundforge.web.ratelimit import RateLimiter
from soundforge.web.telemetry_metrics import TelemetryMetrics

__all__ = ["EXTENSION", "WebContext", "load_secret", "web"]

EXTENSION: Final = "soundforge"


@dataclass
class WebContext:
    settings: Settings
    repo: str
    pubsub: str
    #: Signs nothing a client can forge into access; used for HMACs (see ``auth``).
    secret: bytes
    limiter: RateLimiter = field(default_factory=RateLimiter)
    metrics: WebMetrics = field(default_factory=WebMetrics)
    credentials: CredentialCache = field(default_factory=CredentialCache)
    #: The library list's pages as sent, by owner, library version and filter.
    pages: PageCache = field(default_factory=PageCache)
    #: The runtime's, the queue's, the ports' and the web layer's telemetry, aggregated for
    #: ``/metrics``; the Endpoint attaches it to the node while it runs.
    telemetry: TelemetryMetrics = field(default_factory=TelemetryMetrics)
    #: Set when the endpoint stops: WebSocket handlers close their sockets (1001) at once
    #: instead of holding the server's shutdown for its grace period.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    @property
    def pipeline(self) -> PipelineContext:
        return PipelineContext(self.settings, self.repo, self.pubsub)

    def credentials_changed(self, user_id: str, what: str) -> None:
        """``user_id``'s credentials changed: forget them on every node, close their sockets."""
        credentials_changed(self.credentials, self.pubsub, user_id, what)


def web() -> WebContext:
    """The context of the app serving the current request."""
    context = current_app.extensions[EXTENSION]
    assert isinstance(context, WebContext)
    return context


def load_secret(data_dir: Path) -> bytes:
    """The server's secret: ``<data>/secret_key``, created (0600) on first start.

    Kept on disk so sessions' CSRF tokens survive a restart; several nodes behind one proxy
    share it through the data directory or by copying the file.
    """
    path = data_dir / "secret_key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    value = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(value.hex())
    return value
