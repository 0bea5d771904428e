"""The embedded PostgreSQL: a private cluster under ``<data>/pg`` for a zero-config node.

With no ``SOUNDFORGE_DATABASE_URL`` SoundForge runs its own PostgreSQL, the way a Phoenix
project's dev setup expects one to be there — except that we create and own it. It mirrors
nothing in OTP; it is the thing Ecto's Repo connects to. What it guarantees:

* **One postmaster per data directory, one owner.** The owner holds an exclusive
  ``flock`` on ``<data>/pg.lock`` for as long as it lives (the kernel drops it when the
  process dies, however it dies). A second :class:`EmbeddedPostgres` on the same directory —
  the CLI while a server runs — does not start anything: its :meth:`~EmbeddedPostgres.start`
  returns the running server's DSN as a *guest*, and its :meth:`~EmbeddedPostgres.stop`
  leaves the cluster alone. :meth:`EmbeddedPostgres.running_dsn` finds a running cluster
  without starting or locking anything.
* **Survives an unclean kill.** ``pg_ctl`` starts the postmaster in its own session, so a
  SIGKILLed server leaves it running; the next owner adopts it. If the postmaster died too,
  its ``postmaster.pid`` is stale: when the pid is gone, a zombie, or reused by something
  that is not a PostgreSQL working in this cluster, leftover backends are waited for (then
  killed) and the file is removed; PostgreSQL then runs crash recovery from its WAL.
* **Unix socket only** (``listen_addresses=''``): the socket is in the cluster directory,
  or — when that path would exceed the 107-byte limit of a Unix socket path — in
  ``/tmp/soundforge-<sha256(data_dir)[:16]>``, a 0700 directory owned by the server's user
  (PostgreSQL touches its socket files hourly so /tmp cleaners leave them alone). Trust
  authentication is safe because only that user (and root) can enter the directory.
* **Root.** PostgreSQL refuses to run as root, so as root the cluster runs as the system user
  ``postgres`` (Debian's), else a ``soundforge`` system user created with ``useradd
  --system``. The cluster directory belongs to that user; ``<data>`` gets the o+x bit so it
  can be entered (not listed); the directories above must already let it in.
* **Durable, and fast to start.** ``fsync``, ``full_page_writes`` and synchronous commit keep
  PostgreSQL's safe defaults. initdb runs with ``--no-sync`` into ``<data>/pg.initdb``, then
  one ``initdb --sync-only`` and an atomic rename: a crash mid-initdb leaves no half cluster.
  Later starts are one ``pg_ctl start`` (about 0.2 s here).

Every program runs in a worker thread (``asyncio.to_thread``), never on the event loop::

    pg = EmbeddedPostgres(settings.data_dir)
    dsn = await pg.start()            # initdb on the first run; a guest if a server runs
    try:
        conn = await asyncpg.connect(dsn)
        ...
    finally:
        await pg.stop()               # fast shutdown, then immediate; idempotent
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import shutil
import signal
import stat
import time
from pathlib import Path
from types import TracebackType
from typing import Final
from urllib.parse import quote

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from soundforge.errors import SoundForgeError
from soundforge.storage import _postgres_os as pgos
from soundforge.storage._postgres_os import PidFile, ServiceUser

__all__ = [
    "ClusterBusy",
    "DataDirUnreachable",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "PostgresNotInstalled",
    "PostgresStartFailed",
    "ServiceUserUnavailable",
    "UnsafeSocketDir",
]

log = logging.getLogger(__name__)

DATABASE: Final = "soundforge"
SUPERUSER: Final = "postgres"
CLUSTER_DIR: Final = "pg"
LOCK_FILE: Final = "pg.lock"
_SOCKET_NAME: Final = f".s.PGSQL.{pgos.PORT}"
_IDENTIFIER: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_POLL: Final = 0.05


class EmbeddedPostgresError(SoundForgeError):
    """The embedded database could not be started or reached."""

    status = 503


class PostgresNotInstalled(EmbeddedPostgresError):
    """No PostgreSQL server programs were found."""

    exit_code = 69  # EX_UNAVAILABLE


class PostgresStartFailed(EmbeddedPostgresError):
    """initdb or pg_ctl failed; the message carries PostgreSQL's own reason."""


class ClusterBusy(EmbeddedPostgresError):
    """Another process owns the data directory but its PostgreSQL is not serving."""


class DataDirUnreachable(EmbeddedPostgresError):
    """The data directory cannot be written, or (as root) the unprivileged server user cannot
    enter a directory above ``<data>/pg``."""


class ServiceUserUnavailable(EmbeddedPostgresError):
    """As root: no unprivileged user exists to run PostgreSQL, and none could be created."""


class UnsafeSocketDir(EmbeddedPostgresError):
    """The /tmp socket directory exists but belongs to someone else or is open to others."""


class EmbeddedPostgres:
    """The private cluster under ``<data_dir>/pg``; see the module docstring."""

    def __init__(
        self,
        data_dir: Path,
        *,
        database: str = DATABASE,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        busy_timeout: float = 10.0,
    ) -> None:
        if not _IDENTIFIER.fullmatch(database):
            raise ValueError(f"database name {database!r} must be a lowercase SQL identifier")
        self.data_dir = data_dir
        self.cluster_dir = data_dir / CLUSTER_DIR
        self.database = database
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.busy_timeout = busy_timeout
        self._lock_fd: int | None = None
        self._dsn: str | None = None
        self._bindir: Path | None = None
        self._user: ServiceUser | None = None

    def __repr__(self) -> str:
        role = "owner" if self.owner else "guest" if self._dsn else "idle"
        return f"<EmbeddedPostgres {self.cluster_dir} {role}>"

    @property
    def owner(self) -> bool:
        """True while this instance holds the directory's lock (it started or adopted the
        cluster and its :meth:`stop` stops it)."""
        return self._lock_fd is not None

    @property
    def dsn(self) -> str | None:
        """The DSN :meth:`start` returned, until :meth:`stop`."""
        return self._dsn

    @property
    def user(self) -> ServiceUser | None:
        """The unprivileged user the cluster runs as (None: it runs as this process's user)."""
        return self._user

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- finding a running cluster -------------------------------------------------------

    @staticmethod
    def running_dsn(data_dir: Path, database: str = DATABASE) -> str | None:
        """The DSN of the cluster serving ``<data_dir>/pg`` now, or None; starts nothing."""
        cluster = data_dir / CLUSTER_DIR
        info = pgos.read_pidfile(cluster)
        if info is None or info.status != "ready" or not info.socket_dir:
            return None
        if not pgos.is_postmaster(info.pid, cluster):
            return None
        return _dsn(Path(info.socket_dir), info.port, database)

    # -- start -------------------------------------------------------------------------------

    async def start(self) -> str:
        """Make sure the cluster serves and return its DSN (an asyncpg/libpq URL).

        The owner (re)starts a cluster that is not running, so calling it again after the
        server died is how to recover. When another live process owns the directory, wait
        up to ``busy_timeout`` for its cluster to be ready and join it as a guest.
        """
        if self._lock_fd is None and not await asyncio.to_thread(self._try_lock):
            return await self._join()
        try:
            self._dsn = await self._ensure_running()
        except BaseException:
            self.release()
            raise
        return self._dsn

    async def _join(self) -> str:
        deadline = time.monotonic() + self.busy_timeout
        while True:
            dsn = self.running_dsn(self.data_dir, self.database)
            if dsn is not None:
                log.info("using the PostgreSQL of another SoundForge process in %s", self.data_dir)
                self._dsn = dsn
                return dsn
            if await asyncio.to_thread(self._try_lock):
                return await self.start()
            if time.monotonic() >= deadline:
                holder = _lock_holder(self.data_dir / LOCK_FILE)
                raise ClusterBusy(
                    f"Another SoundForge process{holder} owns the database in {self.data_dir} "
                    f"but its PostgreSQL has not been ready for {self.busy_timeout:g} s; "
                    "wait for it to finish starting or stop it."
                )
            await asyncio.sleep(_POLL)

    def _try_lock(self) -> bool:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise DataDirUnreachable(
                f"The data directory {self.data_dir} cannot be used ({error.strerror or error}); "
                "set SOUNDFORGE_DATA_DIR to a directory you can write."
            ) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd
        return True

    async def _ensure_running(self) -> str:
        if self._bindir is None:
            self._bindir = await asyncio.to_thread(pgos.find_bindir)
            if self._bindir is None:
                raise PostgresNotInstalled(
                    "PostgreSQL's server programs (initdb, pg_ctl) are not installed; install "
                    "them with `apt-get install postgresql` or set SOUNDFORGE_DATABASE_URL to "
                    "use an existing PostgreSQL server."
                )
        if self._user is None and os.geteuid() == 0:
            self._user = await asyncio.to_thread(self._service_user)
        socket_dir = await asyncio.to_thread(self._prepare_dirs)
        if not (self.cluster_dir / "PG_VERSION").exists():
            await self._initdb()
        if not await self._adopt_or_clear(socket_dir):
            await self._pg_ctl_start(socket_dir)
        info = pgos.read_pidfile(self.cluster_dir)
        if info is None or not info.socket_dir:
            raise PostgresStartFailed(
                f"PostgreSQL in {self.cluster_dir} started but wrote no socket location to "
                "postmaster.pid; see its log in the log/ directory there."
            )
        await self._ensure_database(Path(info.socket_dir), info.port)
        return _dsn(Path(info.socket_dir), info.port, self.database)

    def _service_user(self) -> ServiceUser:
        user = pgos.find_service_user()
        if user is not None:
            return user
        created = pgos.create_service_user()
        if isinstance(created, str):
            raise ServiceUserUnavailable(
                f"PostgreSQL cannot run as root and the system user 'soundforge' could not be "
                f"created ({created}); create an unprivileged user named postgres or soundforge, "
                "or run SoundForge as a normal user."
            )
        log.info("created the system user %s to run the embedded PostgreSQL", created.name)
        return created

    def _prepare_dirs(self) -> Path:
        """Make ``<data>`` enterable by the server's user, own the cluster, pick the socket."""
        user = self._user
        if user is not None:
            info = self.data_dir.stat()
            if info.st_uid == os.geteuid() and not info.st_mode & stat.S_IXOTH:
                # Enter-only for others (no listing): the server's user must reach <data>/pg.
                self.data_dir.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
            blocked = pgos.unreachable_ancestor(self.cluster_dir, user)
            if blocked is not None:
                raise DataDirUnreachable(
                    f"PostgreSQL runs as the unprivileged user {user.name!r}, which may not "
                    f"enter {blocked}; set SOUNDFORGE_DATA_DIR to a directory it can reach "
                    "(such as /var/lib/soundforge) or run SoundForge as a normal user."
                )
            if self.cluster_dir.exists() and self.cluster_dir.stat().st_uid != user.uid:
                log.info("giving %s to the user %s", self.cluster_dir, user.name)
                pgos.chown_tree(self.cluster_dir, user)
        socket_dir = pgos.socket_dir_for(self.data_dir, self.cluster_dir, _SOCKET_NAME)
        if socket_dir != self.cluster_dir:
            self._prepare_socket_dir(socket_dir)
        return socket_dir

    def _prepare_socket_dir(self, path: Path) -> None:
        uid = self._user.uid if self._user else os.geteuid()
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
        else:
            if self._user is not None:
                os.chown(path, self._user.uid, self._user.gid)
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
            raise UnsafeSocketDir(
                f"The socket directory {path} for the database in {self.data_dir} belongs to "
                "another user or is open to others; remove it, or set SOUNDFORGE_DATA_DIR to a "
                "shorter path so the socket can live in the data directory."
            )

    async def _initdb(self) -> None:
        assert self._bindir is not None
        scratch = self.data_dir / f"{CLUSTER_DIR}.initdb"
        await asyncio.to_thread(self._fresh_dir, scratch)
        initdb = self._bindir / "initdb"
        started = time.monotonic()
        create: list[str | os.PathLike[str]] = [initdb, "-D", scratch, "-U", SUPERUSER]
        create += ["--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        sync: list[str | os.PathLike[str]] = [initdb, "-D", scratch, "--sync-only"]
        for argv in (create, sync):
            result = await asyncio.to_thread(pgos.run, argv, user=self._user, timeout=300)
            if result.returncode != 0:
                reason = pgos.last_line(result.stderr) or f"initdb exited with {result.returncode}"
                raise PostgresStartFailed(
                    f"initdb could not create the database cluster in {self.cluster_dir} "
                    f"({reason}); check that the disk has space and the directory is writable."
                )
        await asyncio.to_thread(self._install_cluster, scratch)
        log.info(
            "created the database cluster in %s (%.2f s)",
            self.cluster_dir,
            time.monotonic() - started,
        )

    def _fresh_dir(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(mode=0o700)
        if self._user is not None:
            os.chown(path, self._user.uid, self._user.gid)

    def _install_cluster(self, scratch: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.cluster_dir.rmdir()  # an empty leftover only: anything else is refused below
        if self.cluster_dir.exists():
            raise PostgresStartFailed(
                f"{self.cluster_dir} exists but is not a PostgreSQL cluster; move it away so "
                "SoundForge can create its database there."
            )
        scratch.rename(self.cluster_dir)
        fd = os.open(self.data_dir, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename itself must survive a power cut
        finally:
            os.close(fd)

    async def _adopt_or_clear(self, socket_dir: Path) -> bool:
        """True if a live postmaster already serves the cluster (an orphan of a killed owner);
        otherwise make sure no stale ``postmaster.pid`` or old backend blocks a start."""
        deadline = time.monotonic() + self.start_timeout
        info = pgos.read_pidfile(self.cluster_dir)
        while info is not None and pgos.is_postmaster(info.pid, self.cluster_dir):
            if info.status == "ready":
                log.info(
                    "adopting the running PostgreSQL (pid %d) in %s", info.pid, self.cluster_dir
                )
                return True
            if time.monotonic() >= deadline:
                raise PostgresStartFailed(
                    f"PostgreSQL (pid {info.pid}) in {self.cluster_dir} has been "
                    f"{info.status or 'starting'} for {self.start_timeout:g} s; "
                    "stop it with pg_ctl or wait for it to finish."
                )
            await asyncio.sleep(_POLL)  # starting (crash recovery) or stopping: wait it out
            info = pgos.read_pidfile(self.cluster_dir)
        if info is not None:
            await asyncio.to_thread(self._clear_stale, info, socket_dir)
        return False

    def _clear_stale(self, info: PidFile, socket_dir: Path, grace: float = 5.0) -> None:
        log.warning(
            "removing the stale postmaster.pid in %s (pid %d is not a running PostgreSQL)",
            self.cluster_dir,
            info.pid,
        )
        deadline = time.monotonic() + grace
        leftovers = pgos.leftover_processes(self.cluster_dir)
        while leftovers and time.monotonic() < deadline:
            time.sleep(_POLL)  # backends notice their postmaster's death within moments
            leftovers = pgos.leftover_processes(self.cluster_dir)
        for proc in leftovers:
            log.warning("killing leftover PostgreSQL process %d of %s", proc.pid, self.cluster_dir)
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            (self.cluster_dir / "postmaster.pid").unlink()
        # The socket's lock file names the dead postmaster too, and PostgreSQL refuses to
        # start while that pid exists, even as a zombie nobody reaps (PID 1 in containers).
        socket_dirs = {Path(info.socket_dir)} if info.socket_dir else set()
        socket_dirs.add(socket_dir)
        for directory in socket_dirs:
            lock = directory / f"{_SOCKET_NAME}.lock"
            holder = pgos.pid_in(lock)
            if holder is not None and not pgos.is_postmaster(holder, self.cluster_dir):
                for path in (lock, directory / _SOCKET_NAME):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()

    async def _pg_ctl_start(self, socket_dir: Path) -> None:
        assert self._bindir is not None
        started = time.monotonic()
        startup_log = self.cluster_dir / pgos.STARTUP_LOG
        logs_before = pgos.log_sizes(self.cluster_dir)
        argv: list[str | os.PathLike[str]] = [self._bindir / "pg_ctl", "start", "-s", "-w"]
        argv += ["-D", self.cluster_dir]
        argv += ["-t", str(max(1, round(self.start_timeout)))]
        argv += ["-l", startup_log, "-o", pgos.server_options(socket_dir)]
        result = await asyncio.to_thread(
            pgos.run, argv, user=self._user, timeout=self.start_timeout + 10
        )
        if result.returncode != 0:
            reason = pgos.log_failure(self.cluster_dir, logs_before) or pgos.last_line(
                result.stderr
            )
            raise PostgresStartFailed(
                f"PostgreSQL in {self.cluster_dir} did not start "
                f"({reason or f'pg_ctl exited with {result.returncode}'}); "
                f"see the logs in {self.cluster_dir / 'log'} for details."
            )
        log.info("started PostgreSQL in %s (%.2f s)", self.cluster_dir, time.monotonic() - started)

    async def _ensure_database(self, socket_dir: Path, port: int) -> None:
        conn = await asyncpg.connect(_dsn(socket_dir, port, "postgres"), timeout=10)
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", self.database
            )
            if not exists:
                await conn.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await conn.close()

    # -- stop --------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop the cluster if this instance owns it (fast shutdown: sessions are ended and a
        checkpoint written; immediate after ``stop_timeout``), then release the directory.
        A guest only forgets its DSN. Calling it again does nothing."""
        if self._lock_fd is None:
            self._dsn = None
            return
        try:
            info = pgos.read_pidfile(self.cluster_dir)
            if (
                info is not None
                and self._bindir is not None
                and pgos.is_postmaster(info.pid, self.cluster_dir)
            ):
                await self._pg_ctl_stop("fast", self.stop_timeout)
                if pgos.is_postmaster(info.pid, self.cluster_dir):
                    log.warning(
                        "PostgreSQL in %s did not stop within %g s; stopping it now",
                        self.cluster_dir,
                        self.stop_timeout,
                    )
                    await self._pg_ctl_stop("immediate", 10.0)
        finally:
            self.release()

    async def _pg_ctl_stop(self, mode: str, timeout: float) -> None:
        assert self._bindir is not None
        argv: list[str | os.PathLike[str]] = [self._bindir / "pg_ctl", "stop", "-s", "-w"]
        argv += ["-D", self.cluster_dir, "-m", mode]
        argv += ["-t", str(max(1, round(timeout)))]
        result = await asyncio.to_thread(pgos.run, argv, user=self._user, timeout=timeout + 10)
        if result.returncode != 0:
            log.warning(
                "pg_ctl stop -m %s in %s: %s", mode, self.cluster_dir, pgos.last_line(result.stderr)
            )

    def release(self) -> None:
        """Give up ownership without stopping the cluster (synchronous, idempotent).

        For exit hooks of a killed owner: the postmaster keeps running and the next owner
        adopts it. :meth:`stop` calls this after stopping.
        """
        fd, self._lock_fd = self._lock_fd, None
        self._dsn = None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock


def _dsn(socket_dir: Path, port: int, database: str) -> str:
    host = quote(os.fspath(socket_dir), safe="")
    return f"postgresql://{SUPERUSER}@/{database}?host={host}&port={port}"


def _lock_holder(path: Path) -> str:
    pid = pgos.pid_in(path)
    return f" (pid {pid})" if pid is not None else ""
