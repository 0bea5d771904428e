"""``soundforge db migrate`` and ``soundforge db status``: the migration runner on a command line.

This is the counterpart of ``mix ecto.migrate`` / ``mix ecto.migrations``. It connects to
one database URL, runs :func:`~soundforge.storage.migrations.migrate` or
:func:`~soundforge.storage.migrations.status`, prints a small table and returns an exit code.
Choosing the URL (the configured one, the running server's, or an embedded cluster started for
the command) is the CLI's business, not this module's.

Exit codes:

* 0: done. The database is up to date, or status was shown.
* 1: something needs a person: a migration failed or was changed, the database is
  unreachable, or the lock timed out.
* 2: an unknown command.

Errors are one sentence on ``err``, never a traceback. A password in the URL is never
printed.

Example::

    exit_code = await run_db_command("status", "postgresql://sf@localhost/soundforge", sys.stdout)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from soundforge.errors import SoundForgeError
from soundforge.storage.migrations import AppliedMigration, MigrationStatus, migrate, status

__all__ = ["COMMANDS", "DatabaseUnreachable", "describe_dsn", "run_db_command"]

COMMANDS = ("migrate", "status")

# Everything that means "we lost or never had the database": the network, a timeout, the
# server's refusal (bad password, no such database), a connection asyncpg knows is closed.
_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class DatabaseUnreachable(SoundForgeError):
    """The command could not connect to, or lost, the database."""

    def __init__(self, where: str, error: BaseException) -> None:
        reason = str(error) or type(error).__name__
        super().__init__(
            f"could not use the database at {where} ({reason}); check SOUNDFORGE_DATABASE_URL "
            "and that PostgreSQL is running"
        )


async def run_db_command(
    command: str,
    dsn: str,
    out: TextIO,
    *,
    err: TextIO | None = None,
    directory: Path | None = None,
    connect_timeout: float = 10.0,
    lock_timeout: float = 120.0,
) -> int:
    """Run ``soundforge db <command>`` against ``dsn``; print to ``out`` (errors to ``err``,
    default stderr) and return the exit code."""
    err = sys.stderr if err is None else err
    if command not in COMMANDS:
        print(f"unknown db command {command!r} (choose from {', '.join(COMMANDS)})", file=err)
        return 2
    where = describe_dsn(dsn)
    try:
        try:
            conn = await asyncpg.connect(dsn, timeout=connect_timeout)
        except _DB_ERRORS as error:
            raise DatabaseUnreachable(where, error) from error
        try:
            if command == "migrate":
                applied = await migrate(conn, directory=directory, lock_timeout=lock_timeout)
                _print_migrated(applied, await status(conn, directory=directory), where, out)
                return 0
            return _print_status(await status(conn, directory=directory), where, out, err)
        except _DB_ERRORS as error:
            raise DatabaseUnreachable(where, error) from error
        finally:
            await _close(conn, connect_timeout)
    except SoundForgeError as error:
        print(f"soundforge db {command}: {error}", file=err)
        return error.exit_code


async def _close(conn: Any, timeout: float) -> None:
    try:
        await conn.close(timeout=timeout)
    except _DB_ERRORS:
        # The connection is being abandoned either way; asyncpg terminates it if a graceful
        # close fails, and the outcome of the command was already decided.
        conn.terminate()


def describe_dsn(dsn: str) -> str:
    """``host:port/database`` of a PostgreSQL URL, without user or password.

    A Unix socket directory given as ``?host=/dir`` (the embedded cluster) stands for the host.
    """
    try:
        parts = urlsplit(dsn)
        socket_dir = parse_qs(parts.query).get("host", [""])[0]
        host = parts.hostname or socket_dir or "localhost"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the configured database URL"
    database = parts.path.lstrip("/") or "(default database)"
    return f"{host}{port}/{database}"


def _print_migrated(
    applied: list[AppliedMigration], rows: list[MigrationStatus], where: str, out: TextIO
) -> None:
    total = sum(row.state == "applied" for row in rows)
    if not applied:
        print(f"{where} is up to date ({_count(total)} applied).", file=out)
        return
    print(f"Applied {_count(len(applied))} to {where}:", file=out)
    _table(
        ["VERSION", "NAME", "APPLIED AT", "TIME"],
        [
            [f"{m.version:04d}", m.name, _when(m.applied_at), f"{m.duration_ms:.0f} ms"]
            for m in applied
        ],
        out,
    )
    print(f"{_count(total)} applied in all.", file=out)


def _print_status(rows: list[MigrationStatus], where: str, out: TextIO, err: TextIO) -> int:
    print(f"Migrations of {where}:", file=out)
    _table(
        ["VERSION", "NAME", "STATE", "APPLIED AT"],
        [[f"{r.version:04d}", r.name, r.state, _when(r.applied_at)] for r in rows],
        out,
    )
    counts = {state: sum(r.state == state for r in rows) for state in ("applied", "pending")}
    print(f"{counts['applied']} applied, {counts['pending']} pending.", file=out)
    changed = [r for r in rows if r.state == "changed"]
    for row in changed:
        print(
            f"soundforge db status: migration {row.version:04d}_{row.name}.sql was changed after "
            "it was applied; restore it and put the change in a new numbered migration",
            file=err,
        )
    return 1 if changed else 0


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for line in [header, *rows]:
        print(
            "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip(), file=out
        )


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _count(n: int) -> str:
    return f"{n} migration" if n == 1 else f"{n} migrations"
