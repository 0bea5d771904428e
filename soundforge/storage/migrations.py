"""Schema migrations: numbered plain-SQL files applied in order, once, under an advisory lock.

This mirrors Ecto's migrator (``Ecto.Migrator.run/4`` at a release's start, with
``schema_migrations`` as its ledger). There are three differences:

* Migrations are plain SQL files, ``NNNN_name.sql``, not code.
* Each file's SHA-256 is recorded, and a file changed after it was applied is refused.
* There are no down migrations. A fix goes forward in a new file.

Where the files are (one source of truth, ``db/migrations/`` in the repository):

* In a checkout or an editable install, they are read from the repository's
  ``db/migrations/``.
* An installed wheel carries a copy in ``soundforge/storage/sql/``, made by ``setup.py``'s
  build step.

Guarantees:

* **One runner at a time.** The whole run holds a session-level ``pg_advisory_lock`` with the
  fixed key :data:`LOCK_KEY`. Several nodes starting together therefore apply each file
  exactly once: the others wait (at most ``lock_timeout`` seconds), then find nothing left to
  do.
* **One transaction per file.** A file and its ``schema_migrations`` row commit together. A
  failing file rolls back whole, earlier files stay applied, and :class:`MigrationFailed`
  names the file and the line.
* **Files must not control transactions.** A file containing ``BEGIN``, ``COMMIT``,
  ``ROLLBACK`` and the like is refused before anything runs.
* **History is immutable.** If an applied file's checksum differs (line endings aside), the
  run raises :class:`MigrationChecksumMismatch` before applying anything.

Example::

    conn = await asyncpg.connect(dsn)
    for applied in await migrate(conn):
        print(applied.version, applied.name, f"{applied.duration_ms:.0f} ms")
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import msgspec

from soundforge.errors import SoundForgeError

__all__ = [
    "LOCK_KEY",
    "AppliedMigration",
    "InvalidMigrationFile",
    "Migration",
    "MigrationChecksumMismatch",
    "MigrationError",
    "MigrationFailed",
    "MigrationLockTimeout",
    "MigrationStatus",
    "MigrationsNotFound",
    "default_directory",
    "load_migrations",
    "migrate",
    "status",
]

log = logging.getLogger(__name__)

#: The advisory lock key of the migration run: ASCII "SFMIGRAT" as a positive bigint. The job
#: queue's and cron's locks use other keys, and PostgreSQL keeps single-bigint keys apart from
#: two-int keys, so nothing else in the product can contend for it.
LOCK_KEY: Final = 0x53464D4947524154

_FILE_NAME: Final = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9][a-z0-9_]*)\.sql$")

_LEDGER: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY CHECK (version > 0),
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""

# What a transaction-control statement is hidden in: comments, strings, quoted identifiers and
# dollar-quoted bodies (a PL/pgSQL block's BEGIN ... END is not a transaction).
_NOT_STATEMENT_TEXT: Final = re.compile(
    r"""--[^\n]*
      | /\*.*?\*/
      | '(?:[^']|'')*'
      | "(?:[^"]|"")*"
      | \$(?P<tag>[A-Za-z_][A-Za-z_0-9]*|)\$.*?\$(?P=tag)\$""",
    re.S | re.X,
)
_TRANSACTION_CONTROL: Final = frozenset(
    {"begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release"}
)
# A SQL-standard function body (PostgreSQL 14+) is BEGIN ATOMIC ... END, with semicolons
# inside, and no dollar quotes.
_BEGIN_ATOMIC: Final = re.compile(r"\bbegin\s+atomic\b", re.I)
_ENDS_WITH_END: Final = re.compile(r"\bend\s*$", re.I)

DbLike = Any  # asyncpg.Connection | asyncpg.Pool (asyncpg is untyped)


# -- Values ---------------------------------------------------------------------------------


class Migration(msgspec.Struct, frozen=True):
    """One migration file as read from disk."""

    version: int
    name: str
    filename: str
    checksum: str  # SHA-256 (hex) of the UTF-8 text with line endings normalized to "\n"
    sql: str


class AppliedMigration(msgspec.Struct, frozen=True):
    """A migration that :func:`migrate` applied in this run."""

    version: int
    name: str
    checksum: str
    applied_at: datetime
    duration_ms: float


class MigrationStatus(msgspec.Struct, frozen=True):
    """Where one migration stands in one database.

    ``state`` is one of:

    * ``applied``: recorded, and the file is unchanged.
    * ``pending``: there is a file, not yet applied.
    * ``changed``: recorded, but the file differs from what was applied.
    * ``unknown``: recorded by a newer release, with no file here.

    ``checksum_ok`` is None when there is nothing to compare.
    """

    version: int
    name: str
    state: Literal["applied", "pending", "changed", "unknown"]
    applied_at: datetime | None
    checksum_ok: bool | None


# -- Errors ---------------------------------------------------------------------------------


class MigrationError(SoundForgeError):
    """Base of the migration errors."""


class MigrationsNotFound(MigrationError):
    """Neither the wheel's copy nor the repository's ``db/migrations`` exists."""

    def __init__(self, looked_in: list[Path]) -> None:
        places = " or ".join(str(p) for p in looked_in)
        super().__init__(
            f"the database migrations are missing (looked in {places}); reinstall soundforge"
        )


class InvalidMigrationFile(MigrationError):
    """A file in the migrations directory cannot be used as a migration."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"migration file {path.name} {problem}")
        self.path = path


class MigrationChecksumMismatch(MigrationError):
    """An applied migration's file was edited afterwards."""

    def __init__(self, migration: Migration) -> None:
        super().__init__(
            f"migration {migration.filename} was changed after it was applied to this database; "
            "restore the applied version and put the change in a new numbered migration"
        )
        self.migration = migration


class MigrationFailed(MigrationError):
    """A migration's SQL failed; its transaction was rolled back."""

    def __init__(self, migration: Migration, error: Exception) -> None:
        where = _error_line(migration.sql, error)
        super().__init__(
            f"migration {migration.filename} failed{where} and was rolled back ({error}); "
            "earlier migrations stay applied, so fix this file and run `soundforge db migrate` "
            "again"
        )
        self.migration = migration


class MigrationLockTimeout(MigrationError):
    """Another runner held the migration lock for longer than we were willing to wait."""

    def __init__(self, timeout: float) -> None:
        super().__init__(
            f"another node held the migration lock for more than {timeout:g} s; let its "
            "migrations finish, or stop the stuck `soundforge db migrate` that holds the lock"
        )


# -- Files ----------------------------------------------------------------------------------


def default_directory() -> Path:
    """The migrations shipped with this installation: the wheel's copy, else the repository's."""
    here = Path(__file__).resolve()
    candidates = [here.with_name("sql"), here.parents[2] / "db" / "migrations"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise MigrationsNotFound(candidates)


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read and check every ``NNNN_name.sql`` in ``directory``, ordered by version.

    Files that do not end in ``.sql`` (a README) are ignored. A ``.sql`` file with another
    name, two files with one version, and a file that controls transactions itself are
    errors, because silently skipping them would hide a migration.
    """
    directory = default_directory() if directory is None else directory
    if not directory.is_dir():
        raise MigrationsNotFound([directory])
    by_version: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise InvalidMigrationFile(path, "is not named like 0001_name.sql")
        try:
            sql = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
        except UnicodeDecodeError:
            raise InvalidMigrationFile(path, "is not UTF-8 text") from None
        version = int(match["version"])
        if version == 0:
            raise InvalidMigrationFile(path, "has version 0; versions start at 0001")
        if version in by_version:
            other = by_version[version].filename
            raise InvalidMigrationFile(path, f"has the same version as {other}; renumber one")
        statement = _transaction_control(sql)
        if statement is not None:
            raise InvalidMigrationFile(
                path,
                f"controls transactions itself ({statement.upper()}); remove it, because "
                "every migration already runs in its own transaction",
            )
        checksum = hashlib.sha256(sql.encode("utf-8")).hexdigest()
        by_version[version] = Migration(version, match["name"], path.name, checksum, sql)
    return [by_version[v] for v in sorted(by_version)]


def _transaction_control(sql: str) -> str | None:
    """The first top-level transaction-control keyword in ``sql``, if any."""
    code = _NOT_STATEMENT_TEXT.sub(" ", sql)
    in_atomic_body = False
    for statement in code.split(";"):
        words = statement.split(None, 1)
        first = words[0].lower() if words else ""
        if in_atomic_body:
            in_atomic_body = first != "end"
        elif _BEGIN_ATOMIC.search(statement):
            in_atomic_body = not _ENDS_WITH_END.search(statement)  # "BEGIN ATOMIC END"
        elif first in _TRANSACTION_CONTROL:
            return words[0]
    return None


def _error_line(sql: str, error: Exception) -> str:
    """' at line N' for errors that carry a position in the file (syntax errors)."""
    position = getattr(error, "position", None)
    if not position or not str(position).isdigit():
        return ""
    return f" at line {sql[: int(position) - 1].count(chr(10)) + 1}"


# -- Running --------------------------------------------------------------------------------


async def migrate(
    db: DbLike,
    *,
    directory: Path | None = None,
    target: int | None = None,
    lock_timeout: float = 120.0,
) -> list[AppliedMigration]:
    """Apply every pending migration (up to ``target``, if given), in order, each in its own
    transaction, under the migration lock. Returns what this call applied (often nothing).

    ``db`` is an asyncpg connection (not inside a transaction) or pool. ``lock_timeout``
    bounds the wait for another node's run.
    """
    if lock_timeout <= 0:
        raise ValueError(f"lock_timeout must be positive, not {lock_timeout!r}")
    migrations = await asyncio.to_thread(load_migrations, directory)
    async with _connection(db) as conn:
        await _lock(conn, lock_timeout)
        try:
            applied = await _ledger(conn, create=True)
            for migration in migrations:
                recorded = applied.get(migration.version)
                if recorded is not None and recorded["checksum"] != migration.checksum:
                    raise MigrationChecksumMismatch(migration)
            done: list[AppliedMigration] = []
            for migration in migrations:
                if migration.version in applied:
                    continue
                if target is not None and migration.version > target:
                    break
                done.append(await _apply(conn, migration))
            unknown = sorted(set(applied) - {m.version for m in migrations})
            if unknown:
                log.warning(
                    "the database has migrations this release does not know (%s); "
                    "it was migrated by a newer release",
                    ", ".join(f"{v:04d}" for v in unknown),
                )
            return done
        finally:
            await _unlock(conn)


async def status(db: DbLike, *, directory: Path | None = None) -> list[MigrationStatus]:
    """Every migration, known here or recorded in the database, with its state, by version."""
    migrations = await asyncio.to_thread(load_migrations, directory)
    async with _connection(db) as conn:
        applied = await _ledger(conn, create=False)
    rows: list[MigrationStatus] = []
    for migration in migrations:
        recorded = applied.pop(migration.version, None)
        if recorded is None:
            rows.append(MigrationStatus(migration.version, migration.name, "pending", None, None))
            continue
        ok = recorded["checksum"] == migration.checksum
        state: Literal["applied", "changed"] = "applied" if ok else "changed"
        rows.append(
            MigrationStatus(migration.version, migration.name, state, recorded["applied_at"], ok)
        )
    for version, recorded in applied.items():
        rows.append(
            MigrationStatus(version, recorded["name"], "unknown", recorded["applied_at"], None)
        )
    return sorted(rows, key=lambda row: row.version)


@asynccontextmanager
async def _connection(db: DbLike) -> AsyncIterator[Any]:
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
        return
    if db.is_in_transaction():
        raise MigrationError(
            "migrations need a connection that is not inside a transaction, because each "
            "file runs in its own"
        )
    yield db


async def _lock(conn: Any, timeout: float) -> None:
    # lock_timeout bounds the wait. SET LOCAL confines it to this transaction, while the
    # session-level lock itself outlives the commit.
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('lock_timeout', $1, true)", f"{max(1, round(timeout * 1000))}ms"
            )
            await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    except asyncpg.LockNotAvailableError as error:
        raise MigrationLockTimeout(timeout) from error


async def _unlock(conn: Any) -> None:
    if conn.is_closed():
        return  # the server released the lock with the session
    try:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        # Safe to leave: a session-level lock dies with its session. A connection that cannot
        # run this is broken, and its owner (or the pool's reset) closes it. The error that
        # brought us here matters more than this one.
        log.warning("could not release the migration lock (%s); it goes with the session", error)


async def _ledger(conn: Any, *, create: bool) -> dict[int, Any]:
    """The ``schema_migrations`` rows by version (none if the table does not exist yet)."""
    try:
        if create:
            await conn.execute(_LEDGER)
        elif await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            return {}
        records = await conn.fetch(
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
        )
    except asyncpg.PostgresError as error:
        raise MigrationError(
            f"could not read the migration ledger schema_migrations ({error}); check that the "
            "database user may create and read tables in this database"
        ) from error
    return {record["version"]: record for record in records}


async def _apply(conn: Any, migration: Migration) -> AppliedMigration:
    started = time.perf_counter()
    try:
        async with conn.transaction():
            await conn.execute(migration.sql)
            applied_at = await conn.fetchval(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3) "
                "RETURNING applied_at",
                migration.version,
                migration.name,
                migration.checksum,
            )
    except asyncpg.PostgresError as error:
        raise MigrationFailed(migration, error) from error
    duration_ms = (time.perf_counter() - started) * 1000
    log.info("applied migration %s in %.0f ms", migration.filename, duration_ms)
    return AppliedMigration(
        migration.version, migration.name, migration.checksum, applied_at, duration_ms
    )
