"""The embedded PostgreSQL cluster: first start, fast restarts, one owner per data directory,
stale pid files, unclean kills, running as an unprivileged user under root, and no binaries.

Every test runs a real PostgreSQL in its own scratch data directory; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pwd
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import psutil
import pytest

import soundforge.storage as storage
from soundforge.storage import (
    ClusterBusy,
    DataDirUnreachable,
    EmbeddedPostgres,
    PostgresNotInstalled,
)
from soundforge.storage import _postgres_os as pgos
from tests.embedded_pg import cluster_template, postmaster, scratch_data_dir
from tests.helpers import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


pg_template = pytest.fixture(scope="module")(cluster_template)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """An empty data directory: the first start runs initdb."""
    with scratch_data_dir() as path:
        yield path


@pytest.fixture
def used_dir(pg_template: Path) -> Iterator[Path]:
    """A data directory whose cluster exists and is stopped, as after a first run."""
    with scratch_data_dir(template=pg_template) as path:
        yield path


async def query(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def one_sentence(message: str) -> bool:
    body = message.rstrip(".")
    return message.endswith(".") and ". " not in body and "\n" not in message


def test_exports() -> None:
    assert sorted(storage.__all__) == sorted(
        """ClusterBusy DataDirUnreachable EmbeddedPostgres EmbeddedPostgresError
        PostgresNotInstalled PostgresStartFailed ServiceUserUnavailable UnsafeSocketDir""".split()
    )
    for name in storage.__all__:
        assert getattr(storage, name).__module__ == "soundforge.storage.embedded_postgres"


async def test_first_start_creates_the_cluster_and_serves(data_dir: Path) -> None:
    pg = EmbeddedPostgres(data_dir)
    started = time.perf_counter()
    dsn = await pg.start()
    print(
        f"\nembedded PostgreSQL first start (initdb + start): {time.perf_counter() - started:.2f} s"
    )
    try:
        assert pg.owner and pg.dsn == dsn
        assert (data_dir / "pg" / "PG_VERSION").exists()
        assert await query(dsn, "SELECT current_database()") == "soundforge"
        assert await query(dsn, "SHOW server_encoding") == "UTF8"
        assert await query(dsn, "SHOW fsync") == "on"
        assert await query(dsn, "SHOW listen_addresses") == ""
        socket_dir = await query(dsn, "SHOW unix_socket_directories")
        assert str(socket_dir).strip('"') == str(data_dir / "pg")
        assert EmbeddedPostgres.running_dsn(data_dir) == dsn
        assert not (data_dir / "pg.initdb").exists()
    finally:
        await pg.stop()
    assert not pg.owner and pg.dsn is None
    assert EmbeddedPostgres.running_dsn(data_dir) is None
    await pg.stop()  # idempotent


async def test_restart_after_stop_is_fast_and_keeps_data(used_dir: Path) -> None:
    data_dir = used_dir
    pg = EmbeddedPostgres(data_dir)
    dsn = await pg.start()
    await query(dsn, "CREATE TABLE kept AS SELECT 42 AS answer")
    await pg.stop()
    times = []
    for _ in range(3):
        started = time.perf_counter()
        dsn = await pg.start()
        times.append(time.perf_counter() - started)
        assert await query(dsn, "SELECT answer FROM kept") == 42
        await pg.stop()
    print(
        f"\nembedded PostgreSQL start after the first run: {', '.join(f'{t:.2f}' for t in times)} s"
    )


@pytest.mark.parametrize("holder", ["dead process", "live non-postgres process"])
async def test_stale_postmaster_pid_is_recovered(used_dir: Path, holder: str) -> None:
    data_dir = used_dir
    pg = EmbeddedPostgres(data_dir)
    dsn = await pg.start()
    pidfile = data_dir / "pg" / "postmaster.pid"
    lines = pidfile.read_text().splitlines()
    await pg.stop()
    assert not pidfile.exists()
    other = await asyncio.create_subprocess_exec("sleep", "30")
    try:
        if holder == "dead process":
            other.kill()
            await asyncio.wait_for(other.wait(), 5)
        # What a crash leaves behind: the old file, naming a pid that is not our postmaster.
        pidfile.write_text("\n".join([str(other.pid), *lines[1:]]) + "\n")
        dsn = await asyncio.wait_for(pg.start(), 30)
        assert await query(dsn, "SELECT 1") == 1
        assert pgos.read_pidfile(data_dir / "pg").pid != other.pid  # type: ignore[union-attr]
    finally:
        if other.returncode is None:
            other.kill()
            await asyncio.wait_for(other.wait(), 5)
        await pg.stop()


async def test_second_instance_joins_the_running_cluster(used_dir: Path) -> None:
    data_dir = used_dir
    first = EmbeddedPostgres(data_dir)
    dsn = await first.start()
    master = postmaster(data_dir)
    assert master is not None
    second = EmbeddedPostgres(data_dir)
    try:
        assert await second.start() == dsn
        assert not second.owner
        assert postmaster(data_dir) == master  # no second postmaster was started
        assert EmbeddedPostgres.running_dsn(data_dir) == dsn
        await second.stop()  # a guest leaves the cluster alone
        assert await query(dsn, "SELECT 1") == 1
    finally:
        await first.stop()
    assert postmaster(data_dir) is None


@pytest.fixture
def locked_dir(data_dir: Path) -> Iterator[Path]:
    """A data directory whose lock another owner holds, with no PostgreSQL running."""
    data_dir.mkdir(parents=True)
    with (data_dir / "pg.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield data_dir


async def test_locked_directory_without_a_server_is_busy(locked_dir: Path) -> None:
    data_dir = locked_dir
    pg = EmbeddedPostgres(data_dir, busy_timeout=0.2)
    with pytest.raises(ClusterBusy) as caught:
        await asyncio.wait_for(pg.start(), 5)
    assert one_sentence(str(caught.value)) and f"pid {os.getpid()}" in str(caught.value)
    assert postmaster(data_dir) is None and not pg.owner


async def test_no_binaries_is_one_clear_sentence(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pgos, "VERSIONED_ROOT", tmp_path)
    assert pgos.find_bindir() is None
    pg = EmbeddedPostgres(data_dir)
    with pytest.raises(PostgresNotInstalled) as caught:
        await pg.start()
    message = str(caught.value)
    assert one_sentence(message), message
    assert "apt-get install postgresql" in message and "SOUNDFORGE_DATABASE_URL" in message
    assert caught.value.status == 503
    assert not pg.owner  # a failed start gives the directory back


def test_binaries_are_found_newest_version_first(tmp_path: Path) -> None:
    for version in ("9.6", "14", "15"):
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        for program in ("initdb", "pg_ctl", "postgres"):
            (bindir / program).write_text("#!/bin/sh\n")
            (bindir / program).chmod(0o755)
    assert pgos.find_bindir(search_path="", versioned_root=tmp_path) == tmp_path / "15" / "bin"
    assert pgos.find_bindir(search_path="", versioned_root=tmp_path / "none") is None


def supplementary_groups(pid: int) -> list[str]:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(line.split()[1:] for line in status.splitlines() if line.startswith("Groups:"))


@ROOT_ONLY
async def test_as_root_the_cluster_runs_as_an_unprivileged_user(data_dir: Path) -> None:
    user = pwd.getpwnam("postgres")
    pg = EmbeddedPostgres(data_dir)
    try:
        await pg.start()
        assert pg.user is not None and pg.user.name == "postgres"
        assert (data_dir / "pg").stat().st_uid == user.pw_uid
        assert stat.S_IMODE((data_dir / "pg").stat().st_mode) == 0o700
        assert (data_dir / "pg.lock").stat().st_uid == 0  # the lock is ours, not the server's
        master = postmaster(data_dir)
        assert master is not None
        assert master.uids().real == user.pw_uid and master.uids().effective == user.pw_uid
        assert 0 not in master.gids()
        assert "0" not in supplementary_groups(master.pid)  # none of root's groups either
    finally:
        await pg.stop()


@ROOT_ONLY
async def test_as_root_an_unreachable_data_dir_is_one_clear_sentence(data_dir: Path) -> None:
    private = data_dir.parent / "private"
    private.mkdir(mode=0o700)
    pg = EmbeddedPostgres(private / "data")
    with pytest.raises(DataDirUnreachable) as caught:
        await pg.start()
    assert one_sentence(str(caught.value)) and str(private) in str(caught.value)
    assert not pg.owner


async def test_a_long_data_dir_puts_the_socket_under_tmp(pg_template: Path) -> None:
    with scratch_data_dir("long-directory-name-" * 5, template=pg_template) as deep:
        await check_socket_under_tmp(deep)


async def check_socket_under_tmp(deep: Path) -> None:
    assert len(str(deep / "pg" / ".s.PGSQL.5432")) > pgos.SOCKET_PATH_MAX
    pg = EmbeddedPostgres(deep)
    try:
        dsn = await pg.start()
        socket_dir = Path(str(await query(dsn, "SHOW unix_socket_directories")).strip('"'))
        assert socket_dir.parent == Path("/tmp") and socket_dir.name.startswith("soundforge-")
        assert len(str(socket_dir / ".s.PGSQL.5432")) <= pgos.SOCKET_PATH_MAX
        info = os.lstat(socket_dir)
        assert stat.S_IMODE(info.st_mode) == 0o700
        assert info.st_uid == (pg.user.uid if pg.user else os.geteuid())
        assert EmbeddedPostgres.running_dsn(deep) == dsn
    finally:
        await pg.stop()


# -- an unclean kill of the owning process ---------------------------------------------------

OWNER_SCRIPT = """
import asyncio, sys, time
from pathlib import Path
import asyncpg
from soundforge.storage import EmbeddedPostgres

async def main():
    pg = EmbeddedPostgres(Path(sys.argv[1]))
    dsn = await pg.start()
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE survivors (name text)")
    await conn.execute("INSERT INTO survivors VALUES ('written before the kill')")
    await conn.close()
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


@pytest.mark.parametrize("postmaster_fate", ["survives as an orphan", "dies too"])
async def test_the_cluster_survives_an_unclean_kill_of_its_owner(
    used_dir: Path, postmaster_fate: str
) -> None:
    data_dir = used_dir
    owner = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OWNER_SCRIPT, str(data_dir),
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert await asyncio.wait_for(owner.stdout.readline(), 60) == b"ready\n"  # type: ignore[union-attr]
        # While the owner lives, another process only joins its cluster.
        guest = EmbeddedPostgres(data_dir)
        dsn = await guest.start()
        assert not guest.owner
        await guest.stop()
        master = postmaster(data_dir)
        assert master is not None
    finally:
        owner.kill()
        await asyncio.wait_for(owner.wait(), 10)
    if postmaster_fate == "dies too":
        master.kill()
        await eventually(lambda: postmaster(data_dir) is None, 10.0, "the postmaster is dead")
        assert (data_dir / "pg" / "postmaster.pid").exists()  # stale: left by the crash
    else:
        assert master.is_running()

    heir = EmbeddedPostgres(data_dir)
    try:
        dsn = await asyncio.wait_for(heir.start(), 60)
        assert heir.owner
        assert await query(dsn, "SELECT name FROM survivors") == "written before the kill"
        revived = postmaster(data_dir)
        assert revived is not None
        assert (revived.pid == master.pid) == (postmaster_fate == "survives as an orphan")
    finally:
        await heir.stop()
    assert postmaster(data_dir) is None
    assert not psutil.pid_exists(master.pid) or master.status() == psutil.STATUS_ZOMBIE
