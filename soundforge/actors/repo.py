"""The Repo: the node's PostgreSQL connection pool, owned by an actor (Ecto's Repo).

Ecto's Repo is a supervisor over DBConnection's pool; callers check connections out of the
pool directly, never through a process's mailbox. This Repo is the same idea on asyncio: a
:class:`Repo` GenServer owns an asyncpg pool (and, with no database URL, the embedded
PostgreSQL under ``<data>/pg``, which it starts in ``init`` and stops in ``terminate``), and
publishes it in its state, where :func:`pool`, :func:`connection` and :func:`transaction`
read it the way code reads an ETS table: synchronously, with no message. ::

    async with repo.transaction() as conn:                 # bounded checkout, then BEGIN
        track_id = await conn.fetchval("INSERT ... RETURNING id", ...)
        await queue.insert(conn, DownloadJob(track_id))    # the same transaction

**Health.** The Repo runs ``SELECT 1`` every ``health_interval`` seconds (on ``node.clock``)
and at once when a caller reports a connection error, on a connection of its own beside the
pool (so a pool that busy callers hold entirely is not taken for an outage; the pool may
therefore use ``pool_max + 1`` connections in all). When PostgreSQL is gone it marks
itself unhealthy, terminates the pool and recreates it with capped exponential backoff
(``backoff_min`` doubling up to ``backoff_max``); an embedded cluster that died is started
again on the way. Every change of health is a telemetry event ``("repo", "health")``
(measurements ``healthy`` 0/1 and ``failures``; metadata ``name``, ``healthy``, ``error``,
``dsn`` without password).

**Callers never hang.** While the Repo is unhealthy, starting or not running, :func:`pool`
raises :class:`DatabaseUnavailable` (HTTP 503) immediately; a checkout waits at most
``acquire_timeout``; a connection error inside ``async with connection()`` reaches the caller
as :class:`DatabaseUnavailable` too (the original error chained), and tells the Repo to check.

**Differences from Ecto.** Ecto's pool reconnects each connection on its own and queues
checkouts while disconnected (up to its queue target); we fail fast instead, because the
callers are web requests and job workers that retry by themselves. A Repo whose database is
down at boot still starts (unhealthy, reconnecting), as Ecto's does; one whose embedded
cluster cannot be created (no binaries, bad data dir) fails to start with that reason.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import msgspec

from soundforge.actors import _repo_pool
from soundforge.actors._repo_pool import HEALTH_EVENT, RepoState, Tick, describe, redact
from soundforge.config import Settings
from soundforge.errors import SoundForgeError
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.exit import ExitReason
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Server, Stop, cast, resolve
from soundforge.runtime.process import Process, current_process, trap_exit
from soundforge.runtime.results import StartResult
from soundforge.storage.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError

__all__ = [
    "DEFAULT_NAME",
    "HEALTH_EVENT",
    "DatabaseUnavailable",
    "Repo",
    "RepoHealth",
    "RepoOptions",
    "connection",
    "dsn",
    "health",
    "pool",
    "transaction",
]

log = logging.getLogger(__name__)

DEFAULT_NAME: Final = "soundforge.repo"

#: Errors that mean the server or the connection is gone, not that a query was wrong.
#: ``TimeoutError`` is an ``OSError`` but a slow query is not an outage: excluded below.
_OUTAGES: Final = (
    OSError,
    asyncpg.PostgresConnectionError,  # class 08, including "connection does not exist"
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: terminated by a fast shutdown
    asyncpg.CrashShutdownError,  # 57P02: another backend crashed
)
_DRIVER_ERRORS: Final = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
#: A burst of callers reporting the same outage triggers one check, not one each.
_SUSPECT_GAP: Final = 0.05


class DatabaseUnavailable(SoundForgeError):
    """The database cannot serve this request now; retrying later may succeed."""

    status = 503
    exit_code = 69  # EX_UNAVAILABLE


class RepoOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How a :class:`Repo` connects. ``dsn=None`` runs the embedded cluster in ``data_dir``."""

    dsn: str | None = None
    data_dir: Path | None = None
    name: str = DEFAULT_NAME
    pool_min: int = 1
    pool_max: int = 10
    health_interval: float = 1.0
    health_timeout: float = 1.0
    connect_timeout: float = 5.0
    acquire_timeout: float = 5.0
    close_timeout: float = 5.0
    backoff_min: float = 0.1
    backoff_max: float = 5.0
    application_name: str = "soundforge"

    def __post_init__(self) -> None:
        if self.dsn is None and self.data_dir is None:
            raise ValueError(
                "RepoOptions needs a data_dir for the embedded cluster when dsn is None"
            )
        if not 0 <= self.pool_min <= self.pool_max or self.pool_max < 1:
            raise ValueError(
                f"pool sizes must satisfy 0 <= pool_min <= pool_max >= 1, not "
                f"{self.pool_min}..{self.pool_max}"
            )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RepoOptions:
        """Options for the node's Repo: its URL or embedded cluster, named after the node."""
        fields: dict[str, Any] = {
            "dsn": settings.database_url,
            "data_dir": settings.data_dir,
            "application_name": f"soundforge {settings.node_name}"[:63],
        }
        return cls(**(fields | overrides))


class RepoHealth(msgspec.Struct, frozen=True):
    """What :func:`health` answers: ``since`` is the wall-clock time of the last change."""

    healthy: bool
    since: float
    last_error: str | None
    failures: int


class _Suspect(msgspec.Struct, frozen=True):
    """A caller met a connection error: check now rather than at the next tick."""

    error: str


class Repo(GenServer[RepoState]):
    """The pool owner; see the module docstring. Start it with :meth:`child_spec`."""

    @classmethod
    def start_link(
        cls, arg: Any = None, *, name: Server | None = None
    ) -> Coroutine[Any, Any, StartResult]:
        options = _as_options(arg)
        return super().start_link(options, name=options.name if name is None else name)

    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        """The tree's child: ``Repo.child_spec(settings)`` or ``Repo.child_spec(options)``.

        The shutdown allows closing the pool and a fast, then immediate, stop of the cluster.
        """
        spec = ChildSpec(id=cls, start=cls.start_link, args=(_as_options(arg),), shutdown=30.0)
        return spec.with_(**overrides) if overrides else spec

    # -- callbacks -------------------------------------------------------------------------

    async def init(self, options: RepoOptions) -> Init[RepoState] | Stop[RepoState]:
        trap_exit(True)  # so that terminate (pool close, cluster stop) runs on shutdown
        proc = current_process()
        assert proc is not None
        embedded = None
        if options.dsn is None:
            assert options.data_dir is not None
            embedded = EmbeddedPostgres(options.data_dir)
        state = RepoState(
            options=options,
            name=proc.name,
            dsn=options.dsn or "",
            embedded=embedded,
            clock=proc.node.clock,
            telemetry=proc.node.telemetry,
            deliver=proc.deliver,
            backoff=options.backoff_min,
        )
        proc.add_exit_hook(lambda _proc, _reason: _repo_pool.drop(state))
        try:
            await _repo_pool.open_pool(state)
        except EmbeddedPostgresError as error:
            return Stop(error)  # no binaries, unreachable data dir...: retrying cannot help
        except Exception as error:  # the database is down at boot: start unhealthy and reconnect
            _repo_pool.down(state, error)
        else:
            _repo_pool.up(state)
        return Init(state)

    async def handle_info(self, msg: Any, state: RepoState) -> NoReply[RepoState]:
        if type(msg) is Tick:
            if msg.generation == state.generation:
                await (_repo_pool.check(state) if state.healthy else _repo_pool.reconnect(state))
            return NoReply(state)
        return super().handle_info(msg, state)  # type: ignore[no-any-return]

    async def handle_cast(self, msg: Any, state: RepoState) -> NoReply[RepoState]:
        recently = state.clock.time() - state.last_check < _SUSPECT_GAP
        if type(msg) is _Suspect and state.healthy and not recently:
            log.info("a caller of %s reported %s; checking the database now", state.name, msg.error)
            await _repo_pool.check(state)
        return NoReply(state)

    async def terminate(self, reason: ExitReason, state: RepoState) -> None:
        await _repo_pool.close(state)

    def format_status(self, state: RepoState) -> dict[str, Any]:
        pool = state.pool
        embedded = state.embedded
        return {
            "healthy": state.healthy,
            "dsn": redact(state.dsn),
            "embedded": None if embedded is None else "owner" if embedded.owner else "guest",
            "pool_size": pool.get_size() if pool is not None else 0,
            "pool_idle": pool.get_idle_size() if pool is not None else 0,
            "pool_max": state.options.pool_max,
            "last_error": state.last_error,
            "failures": state.failures,
            "since": state.since,
        }


# -- the callers' side ---------------------------------------------------------------------


def health(name: Server = DEFAULT_NAME) -> RepoHealth:
    """The Repo's health as of now: unhealthy while it starts; raises
    :class:`DatabaseUnavailable` when no Repo runs as ``name``."""
    proc = _process(name)
    state = proc.state
    if not isinstance(state, RepoState):
        return RepoHealth(False, proc.started_at, "starting", 0)
    return RepoHealth(state.healthy, state.since, state.last_error, state.failures)


def dsn(name: Server = DEFAULT_NAME) -> str:
    """The DSN the Repo connects with (the embedded cluster's socket URL when embedded), for
    parts that need a session of their own (LISTEN/NOTIFY, advisory-lock leadership)."""
    state = _state(name)
    if not state.dsn:
        raise DatabaseUnavailable(
            "The database is unavailable because its Repo has not connected yet; "
            "try again in a moment."
        )
    return state.dsn


def pool(name: Server = DEFAULT_NAME) -> Any:
    """The Repo's ``asyncpg.Pool``, read from its state without a message.

    Raises :class:`DatabaseUnavailable` at once when the Repo is not running, still starting
    or unhealthy. Prefer :func:`connection`/:func:`transaction`, which also bound the checkout
    and turn connection errors into :class:`DatabaseUnavailable`.
    """
    state = _state(name)
    if not state.healthy or state.pool is None:
        raise DatabaseUnavailable(
            f"The database is unavailable ({state.last_error or 'not connected yet'}); "
            "SoundForge is reconnecting, so try again in a few seconds."
        )
    return state.pool


@asynccontextmanager
async def connection(
    name: Server = DEFAULT_NAME, *, timeout: float | None = None
) -> AsyncIterator[Any]:
    """Check a connection out of the Repo's pool for the block, waiting at most ``timeout``
    seconds (default: the Repo's ``acquire_timeout``)."""
    the_pool = pool(name)
    limit = _state(name).options.acquire_timeout if timeout is None else timeout
    try:
        conn = await the_pool.acquire(timeout=limit)
    except TimeoutError:
        _suspect(name, f"no connection within {limit:g} s")
        raise DatabaseUnavailable(
            f"No database connection became free within {limit:g} s; the database is busy or "
            "unreachable, so try again shortly."
        ) from None
    except _DRIVER_ERRORS as error:  # the pool was closed under us, or connecting failed
        _suspect(name, describe(error))
        raise _unavailable(error) from error
    try:
        yield conn
    except _DRIVER_ERRORS as error:
        if not _is_outage(error, conn):
            raise
        _suspect(name, describe(error))
        raise _unavailable(error) from error
    finally:
        try:
            await the_pool.release(conn, timeout=limit)
        except _DRIVER_ERRORS as error:
            # release() has already terminated a connection it could not reset, and the pool
            # replaces it; the caller's own outcome is what matters to the caller.
            log.debug("released a broken connection of %s: %s", name, describe(error))


@asynccontextmanager
async def transaction(
    name: Server = DEFAULT_NAME,
    *,
    timeout: float | None = None,
    isolation: str | None = None,
    readonly: bool = False,
) -> AsyncIterator[Any]:
    """:func:`connection` inside a transaction: committed if the block succeeds, else
    rolled back."""
    async with (
        connection(name, timeout=timeout) as conn,
        conn.transaction(isolation=isolation, readonly=readonly),
    ):
        yield conn


def _process(name: Server) -> Process:
    proc: Process | None = resolve(name)
    if proc is None or not isinstance(proc.behaviour, Repo):
        raise DatabaseUnavailable(
            f"The database is unavailable because no Repo is running as {name!r}; start the "
            "SoundForge server (or its Repo) first."
        )
    return proc


def _state(name: Server) -> RepoState:
    state = _process(name).state
    if not isinstance(state, RepoState):
        raise DatabaseUnavailable(
            "The database is unavailable because its Repo is still starting; try again in a moment."
        )
    return state


def _suspect(name: Server, error: str) -> None:
    cast(name, _Suspect(error))


def _is_outage(error: BaseException, conn: Any) -> bool:
    if isinstance(error, TimeoutError):
        return False
    if isinstance(error, _OUTAGES):
        return True
    if not isinstance(error, asyncpg.InterfaceError):
        return False
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        # The Repo saw the outage first and terminated its pool, which took the connection
        # back from under the caller: asking the proxy anything raises this again.
        return True


def _unavailable(error: BaseException) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"The database is unavailable ({describe(error)}); SoundForge is reconnecting, so try "
        "again in a few seconds."
    )


def _as_options(arg: Any) -> RepoOptions:
    if isinstance(arg, RepoOptions):
        return arg
    if isinstance(arg, Settings):
        return RepoOptions.from_settings(arg)
    raise TypeError(f"a Repo is started with Settings or RepoOptions, not {arg!r}")
