"""Database plumbing shared by the queue's actors: the pool dependency, transient errors,
and dedicated connections that die with the actor holding them.

The queue takes an ``asyncpg.Pool`` or a zero-argument callable returning the current one
(so the Repo actor may replace its pool after a reconnect). The notifier (LISTEN) and cron
(its leadership lock is a session lock) each hold one connection of that pool for as long as
they live. A killed actor runs no ``terminate``, so :func:`hold` registers an exit hook that
terminates the connection synchronously: the server then drops the LISTEN and releases the
lock at once, and asyncpg returns the slot to the pool. Erlang would get this for free by
linking the connection process; this is the same guarantee on asyncio.

A producer keeps its claim and ack connections across steps the same way (:class:`Kept`): a
pool release runs asyncpg's reset (a round trip) every time, which is worth avoiding per
step. A kept connection is dropped on a transient error and taken again on the next step.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from soundforge.runtime.exit import ExitReason
from soundforge.runtime.process import Process

__all__ = ["TRANSIENT", "Held", "Kept", "PoolSource", "hold", "pool_of"]

log = logging.getLogger(__name__)

PoolSource = Any  # asyncpg.Pool | Callable[[], asyncpg.Pool] (asyncpg ships no type hints)

#: Errors that mean "the database is unreachable or restarting right now": retried with
#: backoff and logged once, never a crash. Anything else is a bug and crashes loudly.
TRANSIENT: Final[tuple[type[BaseException], ...]] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
    # asyncpg's protocol state after the server dropped a connection mid-statement (seen
    # while PostgreSQL shuts down): the connection is unusable, the pool replaces it.
    asyncpg.exceptions.InternalClientError,
)


def pool_of(source: PoolSource) -> Any:
    """The pool to use now: ``source`` itself or what calling it returns."""
    if isinstance(source, asyncpg.Pool):
        return source
    if callable(source):
        return source()
    raise TypeError(f"expected an asyncpg.Pool or a callable returning one, not {source!r}")


class Held:
    """A pool connection held by one actor; ``lost`` is set when it has gone away."""

    __slots__ = ("conn", "listener", "lost", "pool", "released")

    def __init__(self, pool: Any, conn: Any) -> None:
        self.pool = pool
        self.conn = conn
        self.released = False
        self.lost = False
        self.listener: Callable[[Any], None] | None = None

    def kill(self, _proc: Process | None = None, _reason: ExitReason = None) -> None:
        """Close the socket now (synchronous; usable from an exit hook)."""
        if not self.released:
            self.released = True
            _terminate(self.conn)

    async def release(self, timeout: float = 5.0) -> None:
        """Give the connection back to the pool (its reset drops LISTENs and locks)."""
        if self.released:
            return
        self.released = True
        if self.listener is not None and not self.lost:
            self.conn.remove_termination_listener(self.listener)
        try:
            await self.pool.release(self.conn, timeout=timeout)
        except TRANSIENT as error:
            log.debug("releasing a held connection failed (%s); closing it", error)
            _terminate(self.conn)


def _terminate(conn: Any) -> None:
    # If the connection died first, asyncpg already gave its slot back to the pool and
    # detached the proxy: terminate then raises InterfaceError, and there is nothing to close.
    with contextlib.suppress(asyncpg.InterfaceError):
        conn.terminate()


async def hold(
    proc: Process, source: PoolSource, on_lost: Callable[[], None], timeout: float = 10.0
) -> Held:
    """Take a connection from the pool for ``proc``; ``on_lost()`` runs when it closes.

    Raises one of :data:`TRANSIENT` when no connection can be had now.
    """
    pool = pool_of(source)
    conn = await pool.acquire(timeout=timeout)
    held = Held(pool, conn)

    def lost(_conn: Any) -> None:
        held.lost = True
        if not held.released:
            on_lost()

    held.listener = lost
    done = False
    try:
        conn.add_termination_listener(lost)
        proc.add_exit_hook(held.kill)
        done = True
    finally:
        if not done:  # the connection must not leak out of the pool
            held.kill()
    return held


def _ignore() -> None:
    pass


class Kept:
    """A connection ``proc`` keeps across steps that its helper tasks run one at a time.

    Taken with :func:`hold` on first use (the exit hook terminates it if ``proc`` dies);
    :meth:`drop` terminates it after a transient error (the next use takes a fresh one);
    :meth:`release` gives it back to the pool when ``proc`` stops.
    """

    __slots__ = ("held", "proc")

    def __init__(self, proc: Process) -> None:
        self.proc = proc
        self.held: Held | None = None

    async def conn(self, source: PoolSource, timeout: float) -> Any:
        """The kept connection, taken (again) from the pool if there is none usable now.

        Raises one of :data:`TRANSIENT` when no connection can be had now.
        """
        held = self.held
        if held is not None:
            if (
                not held.lost
                and not held.released
                and held.pool is pool_of(source)
                and not held.conn.is_closed()
            ):
                return held.conn
            self.drop()
        held = await hold(self.proc, source, _ignore, timeout)
        if not self.proc.alive:  # died while we waited: its exit hooks have already run
            held.kill()
            raise asyncpg.InterfaceError("the process keeping the connection has exited")
        self.held = held
        return held.conn

    def drop(self) -> None:
        """Terminate the kept connection (synchronous); the next use takes a fresh one."""
        held, self.held = self.held, None
        if held is not None:
            held.kill()
            self._forget(held)

    async def release(self, timeout: float = 5.0) -> None:
        """Give the kept connection back to the pool."""
        held, self.held = self.held, None
        if held is not None:
            await held.release(timeout)
            self._forget(held)

    def _forget(self, held: Held) -> None:
        hooks = self.proc.exit_hooks
        if hooks is not None:
            with contextlib.suppress(ValueError):
                hooks.remove(held.kill)
