"""The migration runner against a real PostgreSQL: order, once-only, locking, failures, CLI."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from soundforge.storage import migrations as migrations_module
from soundforge.storage.db_command import describe_dsn, run_db_command
from soundforge.storage.migrations import (
    LOCK_KEY,
    InvalidMigrationFile,
    MigrationChecksumMismatch,
    MigrationFailed,
    MigrationLockTimeout,
    default_directory,
    load_migrations,
    migrate,
    status,
)

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "db" / "migrations" / "0001_core.sql"


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url, timeout=10)
    yield connection
    await connection.close(timeout=10)


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


async def ledger(conn: asyncpg.Connection) -> list[int]:
    return [
        r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
    ]


async def table_exists(conn: asyncpg.Connection, name: str) -> bool:
    return await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)


async def migration_locks_held(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        "AND ((classid::bigint << 32) | objid::bigint) = $1",
        LOCK_KEY,
    )


def test_exported_names() -> None:
    assert sorted(migrations_module.__all__) == sorted(
        [
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
    )


def test_a_checkout_reads_the_repositorys_migrations() -> None:
    assert default_directory() == REPO / "db" / "migrations"
    shipped = load_migrations()
    assert shipped[0].filename == "0001_core.sql"
    assert [m.version for m in shipped] == sorted({m.version for m in shipped})


# -- Applying -------------------------------------------------------------------------------


async def test_the_shipped_migrations_apply_cleanly_to_an_empty_database(
    conn: asyncpg.Connection,
) -> None:
    shipped = load_migrations()
    applied = await migrate(conn)
    assert [(m.version, m.name, m.checksum) for m in applied] == [
        (m.version, m.name, m.checksum) for m in shipped
    ]
    assert await ledger(conn) == [m.version for m in shipped]
    rows = await status(conn)
    assert {(r.state, r.checksum_ok) for r in rows} == {("applied", True)}
    for table in ("users", "tracks", "stems", "analyses", "audit_log", "llm_providers"):
        assert await table_exists(conn, table), table
    assert await migration_locks_held(conn) == 0


async def test_running_again_applies_nothing(conn: asyncpg.Connection) -> None:
    first = await migrate(conn)
    assert first
    assert await migrate(conn) == []
    assert await migrate(conn) == []
    assert await ledger(conn) == [m.version for m in first]


async def test_target_stops_at_a_version(conn: asyncpg.Connection, tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {f"000{v}_t{v}.sql": f"CREATE TABLE t{v} (id int);" for v in (1, 2, 3)},
    )
    assert [m.version for m in await migrate(conn, directory=directory, target=2)] == [1, 2]
    assert not await table_exists(conn, "t3")
    assert [m.version for m in await migrate(conn, directory=directory)] == [3]


@pytest.mark.parametrize("via", ["connections", "pool"])
async def test_concurrent_runs_apply_each_file_exactly_once(
    database_url: str, tmp_path: Path, via: str
) -> None:
    # The real core schema, plus files whose side effects would show a second application: a
    # slow one that widens the race window, and one that counts how often it ran.
    directory = write(
        tmp_path,
        {
            "0002_slow.sql": "SELECT pg_sleep(0.3); CREATE TABLE slow (id int);",
            "0003_counter.sql": "CREATE TABLE runs (n int); INSERT INTO runs VALUES (1);",
        },
    )
    shutil.copy(CORE, directory / CORE.name)
    runners = 5
    async with asyncio.timeout(60):
        if via == "pool":
            pool = await asyncpg.create_pool(database_url, min_size=runners, max_size=runners)
            try:
                results = await asyncio.gather(
                    *(migrate(pool, directory=directory) for _ in range(runners))
                )
            finally:
                await pool.close()
        else:
            conns = [await asyncpg.connect(database_url) for _ in range(runners)]
            try:
                results = await asyncio.gather(*(migrate(c, directory=directory) for c in conns))
            finally:
                for c in conns:
                    await c.close()
        applied = sorted(m.version for result in results for m in result)
        assert applied == [1, 2, 3]
        assert sum(1 for result in results if result) == 1  # one runner did everything
        check = await asyncpg.connect(database_url)
        try:
            assert await ledger(check) == [1, 2, 3]
            assert await check.fetchval("SELECT count(*) FROM runs") == 1
            assert await migration_locks_held(check) == 0
        finally:
            await check.close()


async def test_waiting_for_the_lock_is_bounded(
    conn: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    directory = write(tmp_path, {"0001_a.sql": "CREATE TABLE a (id int);"})
    holder = await asyncpg.connect(database_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        async with asyncio.timeout(10):
            with pytest.raises(MigrationLockTimeout, match=r"more than 0\.2 s"):
                await migrate(conn, directory=directory, lock_timeout=0.2)
        assert not await table_exists(conn, "a")
        await holder.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        # The timeout was local to the lock's transaction; the session is back to normal.
        assert await conn.fetchval("SHOW lock_timeout") == "0"
        assert [m.version for m in await migrate(conn, directory=directory)] == [1]
    finally:
        await holder.close()


# -- Refusing -------------------------------------------------------------------------------


async def test_a_changed_applied_file_is_refused(conn: asyncpg.Connection, tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {"0001_a.sql": "CREATE TABLE a (id int);\n", "0002_b.sql": "CREATE TABLE b (id int);\n"},
    )
    await migrate(conn, directory=directory, target=1)
    (directory / "0001_a.sql").write_text("CREATE TABLE a (id bigint);\n")
    with pytest.raises(MigrationChecksumMismatch, match=r"0001_a\.sql was changed"):
        await migrate(conn, directory=directory)
    assert not await table_exists(conn, "b")  # refused before anything ran
    rows = {r.version: r for r in await status(conn, directory=directory)}
    assert (rows[1].state, rows[1].checksum_ok) == ("changed", False)
    assert (rows[2].state, rows[2].checksum_ok) == ("pending", None)
    assert await migration_locks_held(conn) == 0


async def test_line_endings_alone_are_not_a_change(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    path = write(tmp_path, {"0001_a.sql": "CREATE TABLE a (id int);\nSELECT 1;\n"}) / "0001_a.sql"
    await migrate(conn, directory=tmp_path)
    path.write_bytes(b"CREATE TABLE a (id int);\r\nSELECT 1;\r\n")  # a Windows checkout
    assert await migrate(conn, directory=tmp_path) == []


async def test_a_failing_file_is_rolled_back_named_and_later_ones_wait(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    directory = write(
        tmp_path,
        {
            "0001_good.sql": "CREATE TABLE good (id int);",
            "0002_bad.sql": "CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nSELEC 1;\n",
            "0003_after.sql": "CREATE TABLE after_bad (id int);",
        },
    )
    with pytest.raises(MigrationFailed) as failure:
        await migrate(conn, directory=directory)
    message = str(failure.value)
    assert "0002_bad.sql" in message
    assert "line 3" in message
    assert "rolled back" in message
    assert isinstance(failure.value.__cause__, asyncpg.PostgresSyntaxError)
    assert await table_exists(conn, "good")
    assert not await table_exists(conn, "half")
    assert not await table_exists(conn, "after_bad")
    assert await ledger(conn) == [1]
    assert await migration_locks_held(conn) == 0
    assert not conn.is_in_transaction()

    (directory / "0002_bad.sql").write_text("CREATE TABLE half (id int);\n")
    assert [m.version for m in await migrate(conn, directory=directory)] == [2, 3]


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"1_short.sql": "SELECT 1;"}, "is not named like 0001_name.sql"),
        ({"0001_Upper.sql": "SELECT 1;"}, "is not named like"),
        ({"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;"}, "same version as 0001_a.sql"),
        ({"0000_zero.sql": "SELECT 1;"}, "version 0"),
        ({"0001_tx.sql": "BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;\n"}, "(BEGIN)"),
        ({"0001_tx.sql": "CREATE TABLE t (id int);\ncommit;\n"}, "(COMMIT)"),
        ({"0001_tx.sql": "SELECT 1; START TRANSACTION;"}, "(START)"),
    ],
)
def test_unusable_files_are_refused_before_anything_runs(
    tmp_path: Path, files: dict[str, str], problem: str
) -> None:
    with pytest.raises(InvalidMigrationFile, match=re.escape(problem)):
        load_migrations(write(tmp_path, files))


def test_transaction_words_inside_bodies_strings_and_comments_are_fine(tmp_path: Path) -> None:
    sql = """
    -- BEGIN; a comment
    /* COMMIT; */
    CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$;
    CREATE FUNCTION g() RETURNS int LANGUAGE plpgsql AS $body$
    BEGIN
        RETURN 2;
    END;
    $body$;
    CREATE FUNCTION h() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
    SELECT 'rollback;', "end";
    """
    (migration,) = load_migrations(write(tmp_path, {"0001_bodies.sql": sql, "README.md": "x"}))
    assert migration.filename == "0001_bodies.sql"


async def test_status_of_an_empty_database_creates_nothing(conn: asyncpg.Connection) -> None:
    rows = await status(conn)
    assert rows and {(r.state, r.applied_at, r.checksum_ok) for r in rows} == {
        ("pending", None, None)
    }
    assert not await table_exists(conn, "schema_migrations")


async def test_status_lists_migrations_recorded_by_a_newer_release(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    directory = write(tmp_path, {"0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 2;"})
    await migrate(conn, directory=directory)
    (directory / "0002_b.sql").unlink()
    assert [m.version for m in await migrate(conn, directory=directory)] == []
    rows = await status(conn, directory=directory)
    assert [(r.version, r.name, r.state) for r in rows] == [
        (1, "a", "applied"),
        (2, "b", "unknown"),
    ]


async def test_a_connection_inside_a_transaction_is_refused(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        with pytest.raises(migrations_module.MigrationError, match="not inside a transaction"):
            await migrate(conn)


# -- soundforge db migrate|status -----------------------------------------------------------


async def test_db_migrate_and_status_print_tables(database_url: str, tmp_path: Path) -> None:
    directory = write(tmp_path, {"0001_first.sql": "SELECT 1;", "0002_second.sql": "SELECT 2;"})
    out, err = io.StringIO(), io.StringIO()
    assert await run_db_command("status", database_url, out, err=err, directory=directory) == 0
    assert "0001     first   pending  -" in out.getvalue()
    assert "0 applied, 2 pending." in out.getvalue()

    out = io.StringIO()
    assert await run_db_command("migrate", database_url, out, err=err, directory=directory) == 0
    text = out.getvalue()
    assert text.startswith("Applied 2 migrations to 127.0.0.1:")
    assert "VERSION  NAME    APPLIED AT" in text
    assert "0002     second" in text

    out = io.StringIO()
    assert await run_db_command("migrate", database_url, out, err=err, directory=directory) == 0
    assert "is up to date (2 migrations applied)." in out.getvalue()

    out = io.StringIO()
    assert await run_db_command("status", database_url, out, err=err, directory=directory) == 0
    assert "0002     second  applied" in out.getvalue()
    assert err.getvalue() == ""


async def test_db_commands_report_problems_in_one_sentence(
    database_url: str, tmp_path: Path
) -> None:
    directory = write(tmp_path, {"0001_a.sql": "SELECT 1;"})
    out, err = io.StringIO(), io.StringIO()
    await run_db_command("migrate", database_url, out, err=err, directory=directory)
    (directory / "0001_a.sql").write_text("SELECT 2;")

    assert await run_db_command("status", database_url, out, err=err, directory=directory) == 1
    assert "0001_a.sql was changed after it was applied" in err.getvalue()
    err = io.StringIO()
    assert await run_db_command("migrate", database_url, out, err=err, directory=directory) == 1
    assert err.getvalue().startswith("soundforge db migrate: migration 0001_a.sql was changed")
    assert err.getvalue().count("\n") == 1

    err = io.StringIO()
    assert await run_db_command("upgrade", database_url, out, err=err) == 2
    assert "unknown db command 'upgrade' (choose from migrate, status)" in err.getvalue()


async def test_an_unreachable_database_is_one_sentence_without_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    dsn = f"postgresql://sf:sekret@127.0.0.1:{port}/soundforge"
    out, err = io.StringIO(), io.StringIO()
    async with asyncio.timeout(20):
        code = await run_db_command("status", dsn, out, err=err, connect_timeout=5)
    assert code == 1
    message = err.getvalue()
    assert message.startswith(
        f"soundforge db status: could not use the database at 127.0.0.1:{port}/soundforge"
    )
    assert "sekret" not in message
    assert message.count("\n") == 1
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://u:p@db.example:5433/sf", "db.example:5433/sf"),
        ("postgresql://localhost/sf?sslmode=require", "localhost/sf"),
        ("postgres://u@h", "h/(default database)"),
        ("postgresql:///soundforge?host=/data/pg&user=sf", "/data/pg/soundforge"),
        ("postgresql://[::1]:5432/sf", "::1:5432/sf"),
    ],
)
def test_describe_dsn_hides_credentials(dsn: str, shown: str) -> None:
    assert describe_dsn(dsn) == shown


# -- Packaging ------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_build_ships_the_migrations_and_an_install_finds_them(tmp_path: Path) -> None:
    # setup.py's build_py is what bdist_wheel packs, so building just that step shows what a
    # wheel holds, offline and without the `wheel` package.
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "soundforge", source / "soundforge", ignore=ignore)
    shutil.copytree(REPO / "db", source / "db")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(REPO / name, source / name)
    lib = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)],
        cwd=source,
        check=True,
        timeout=120,
        capture_output=True,
    )
    expected = sorted(p.name for p in (REPO / "db" / "migrations").glob("*.sql"))
    packaged = lib / "soundforge" / "storage" / "sql"
    assert sorted(p.name for p in packaged.iterdir()) == expected
    assert not (lib / "db").exists()  # nothing lands outside the package

    # Installed (no repository around it), the package finds its own copy. PYTHONPATH puts
    # the built copy ahead of this checkout's editable install.
    probe = "from soundforge.storage.migrations import *; "
    probe += "print(default_directory()); print(len(load_migrations()))"
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(lib), "PATH": "/usr/bin:/bin"},
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert found == [str(packaged), str(len(expected))]
