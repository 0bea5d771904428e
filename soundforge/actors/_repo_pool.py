"""The Repo's inside: its state, and the pool's lifecycle of open, check, down, backoff, up.

These functions run in the :class:`~soundforge.actors.repo.Repo` process only (its callbacks
and its exit hook); callers read the state they maintain, never call them. The state is
mutated in place, so what callers read through ``proc.state`` is always current.

Health is checked on a *probe*: one connection of the Repo's own beside the pool, so that a
pool fully checked out by busy callers is never mistaken for a dead server (DBConnection
pings each idle connection instead; asyncpg's pool has no such hook).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import msgspec

from soundforge.runtime.clock import Clock, TimerHandle
from soundforge.runtime.telemetry import Telemetry
from soundforge.storage.embedded_postgres import EmbeddedPostgres

if TYPE_CHECKING:
    from soundforge.actors.repo import RepoOptions

__all__ = [
    "HEALTH_EVENT",
    "RepoState",
    "Tick",
    "check",
    "close",
    "describe",
    "down",
    "drop",
    "open_pool",
    "reconnect",
    "redact",
    "up",
]

log = logging.getLogger("soundforge.actors.repo")

HEALTH_EVENT: Final = ("repo", "health")


class Tick(msgspec.Struct, frozen=True):
    """A timer fired: a health check when healthy, a reconnect attempt when not.

    Only the tick of the latest ``generation`` counts; rescheduling makes older ones stale.
    """

    generation: int


class RepoState(msgspec.Struct):
    """The Repo's state. ``pool`` and ``probe`` are asyncpg objects while connected."""

    options: RepoOptions
    name: object
    dsn: str
    embedded: EmbeddedPostgres | None
    clock: Clock
    telemetry: Telemetry
    deliver: Callable[[Any], None]
    pool: Any = None
    probe: Any = None
    healthy: bool = False
    reported: bool = False
    since: float = 0.0
    last_error: str | None = None
    failures: int = 0
    backoff: float = 0.0
    last_check: float = float("-inf")
    generation: int = 0
    timer: TimerHandle | None = None


async def open_pool(state: RepoState) -> None:
    """(Re)start an embedded cluster if there is one, then open the pool and the probe."""
    options = state.options
    if state.embedded is not None:
        state.dsn = await state.embedded.start()  # restarts a dead cluster, joins a running one
    pool = asyncpg.create_pool(
        state.dsn,
        min_size=options.pool_min,
        max_size=options.pool_max,
        timeout=options.connect_timeout,
        server_settings={"application_name": options.application_name},
    )
    probe = None
    try:
        async with asyncio.timeout(options.connect_timeout):
            await pool
            probe = await _connect_probe(state)
            await probe.fetchval("SELECT 1")
    except BaseException:
        pool.terminate()
        if probe is not None:
            probe.terminate()
        raise
    state.pool, state.probe = pool, probe


async def _connect_probe(state: RepoState) -> Any:
    options = state.options
    return await asyncpg.connect(
        state.dsn,
        timeout=options.connect_timeout,
        server_settings={"application_name": f"{options.application_name} health"[:63]},
    )


async def check(state: RepoState) -> None:
    """``SELECT 1`` on the probe, within ``health_timeout``; down on any failure."""
    state.last_check = state.clock.time()
    try:
        async with asyncio.timeout(state.options.health_timeout):
            if state.probe.is_closed():  # the server restarted, or ended our backend
                state.probe.terminate()
                state.probe = await _connect_probe(state)
            await state.probe.fetchval("SELECT 1")
    except Exception as error:  # whatever stops SELECT 1 makes the Repo unhealthy; it is recorded
        down(state, error)
    else:
        _schedule(state, state.options.health_interval)


async def reconnect(state: RepoState) -> None:
    try:
        await open_pool(state)
    except Exception as error:  # every failure to connect is retried with backoff and recorded
        down(state, error)
    else:
        up(state)


def up(state: RepoState) -> None:
    state.failures = 0
    state.backoff = state.options.backoff_min
    if not state.healthy:
        state.healthy = True
        state.last_error = None
        if state.reported:
            log.info("the database of %s is available again", state.name)
        _report(state)
    _schedule(state, state.options.health_interval)


def down(state: RepoState, error: BaseException) -> None:
    """Unhealthy: drop the pool and the probe at once, try again after the backoff."""
    text = describe(error)
    state.failures += 1
    _terminate(state)
    if state.healthy or not state.reported:
        state.healthy = False
        state.last_error = text
        log.warning("the database of %s is unavailable (%s); reconnecting", state.name, text)
        _report(state)
    elif text != state.last_error:
        state.last_error = text
        log.warning("the database of %s is still unavailable (%s)", state.name, text)
    delay = state.backoff
    state.backoff = min(delay * 2, state.options.backoff_max)
    _schedule(state, delay)


async def close(state: RepoState) -> None:
    """For ``terminate``: close the pool gracefully (bounded), then stop an owned cluster."""
    _cancel_timer(state)
    pool, probe = state.pool, state.probe
    state.pool = state.probe = None
    state.healthy = False
    if probe is not None:
        probe.terminate()
    if pool is not None:
        try:
            await asyncio.wait_for(pool.close(), state.options.close_timeout)
        except Exception:  # closing is best effort: terminate() below drops every connection
            log.warning("the pool of %s did not close cleanly; terminating it", state.name)
            pool.terminate()
    if state.embedded is not None:
        await state.embedded.stop()


def drop(state: RepoState) -> None:
    """The exit hook: after ``terminate`` nothing is left; after a kill, drop the connections
    and the data directory's lock (the cluster keeps running; the next Repo adopts it)."""
    _cancel_timer(state)
    _terminate(state)
    state.healthy = False
    if state.embedded is not None:
        state.embedded.release()


def _terminate(state: RepoState) -> None:
    pool, probe = state.pool, state.probe
    state.pool = state.probe = None
    if pool is not None:
        pool.terminate()
    if probe is not None:
        probe.terminate()


def _report(state: RepoState) -> None:
    state.reported = True
    state.since = time.time()
    if state.telemetry.wants(HEALTH_EVENT):
        state.telemetry.execute(
            HEALTH_EVENT,
            {"healthy": int(state.healthy), "failures": state.failures},
            {
                "name": state.name,
                "healthy": state.healthy,
                "error": state.last_error,
                "dsn": redact(state.dsn),
            },
        )


def _schedule(state: RepoState, delay: float) -> None:
    _cancel_timer(state)
    state.generation += 1
    state.timer = state.clock.call_later(delay, state.deliver, Tick(state.generation))


def _cancel_timer(state: RepoState) -> None:
    if state.timer is not None:
        state.timer.cancel()
        state.timer = None


def describe(error: BaseException) -> str:
    """An error as a short clause for messages and logs."""
    text = str(error).strip().rstrip(".") or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def redact(dsn: str) -> str:
    """The DSN without its password (for status pages, logs and telemetry)."""
    with contextlib.suppress(ValueError):
        parts = urlsplit(dsn)
        if parts.password is not None:
            host = parts.netloc.rsplit("@", 1)[1]
            return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    return dsn
