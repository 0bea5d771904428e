"""The Repo: queries without its mailbox, bounded failures while PostgreSQL is away,
recovery, an embedded cluster it owns (and restarts), and restarts under a supervisor.

Each test runs its own embedded PostgreSQL in a scratch directory, so stopping the database
never disturbs the shared ``pg_cluster`` of other tests. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from soundforge.actors import repo
from soundforge.actors.repo import DatabaseUnavailable, Repo, RepoOptions
from soundforge.config import Settings
from soundforge.runtime import introspect
from soundforge.runtime.exit import KILL
from soundforge.runtime.gen_server import stop, whereis
from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid, exit
from soundforge.runtime.results import Error, Ok
from soundforge.runtime.supervisor import start_supervisor, which_children
from soundforge.storage import EmbeddedPostgres, PostgresNotInstalled
from soundforge.storage import _postgres_os as pgos
from tests.embedded_pg import cluster_template, postmaster, scratch_data_dir
from tests.helpers import eventually

pg_template = pytest.fixture(scope="module")(cluster_template)

FAST = {
    "health_interval": 0.1,
    "health_timeout": 0.5,
    "connect_timeout": 2.0,
    "acquire_timeout": 1.0,
    "backoff_min": 0.05,
    "backoff_max": 0.4,
}


@pytest.fixture
def data_dir(pg_template: Path) -> Iterator[Path]:
    with scratch_data_dir(template=pg_template) as path:
        yield path


@pytest.fixture
async def cluster(data_dir: Path) -> AsyncIterator[EmbeddedPostgres]:
    """A running embedded PostgreSQL that the test may stop and start."""
    pg = EmbeddedPostgres(data_dir)
    await pg.start()
    yield pg
    await pg.stop()


@pytest.fixture
def health_events(node: Node) -> list[Mapping[str, Any]]:
    events: list[Mapping[str, Any]] = []
    node.telemetry.attach(
        "test-repo-health", repo.HEALTH_EVENT, lambda _e, _m, meta: events.append(meta)
    )
    return events


def one_sentence(message: str) -> bool:
    return message.endswith(".") and ". " not in message.rstrip(".") and "\n" not in message


async def select_one(name: str = repo.DEFAULT_NAME) -> Any:
    async with repo.connection(name) as conn:
        return await conn.fetchval("SELECT 1")


async def start_repo(**options: Any) -> Pid:
    result = await Repo.start_link(RepoOptions(**(FAST | options)))
    assert isinstance(result, Ok), result
    return result.pid  # type: ignore[no-any-return]


async def test_queries_go_straight_to_the_pool(shell: Pid, cluster: EmbeddedPostgres) -> None:
    pid = await start_repo(dsn=cluster.dsn)
    try:
        assert repo.health().healthy
        assert await repo.pool().fetchval("SELECT 40 + 2") == 42
        async with repo.transaction() as conn:
            await conn.execute("CREATE TABLE notes (body text)")
            await conn.execute("INSERT INTO notes VALUES ('kept')")
        with pytest.raises(ZeroDivisionError):
            async with repo.transaction() as conn:
                await conn.execute("INSERT INTO notes VALUES ('rolled back')")
                raise ZeroDivisionError
        async with repo.connection() as conn:
            assert await conn.fetch("SELECT body FROM notes") == [("kept",)]
        # A query error is the caller's own business, not an outage.
        with pytest.raises(Exception, match="does_not_exist"):
            async with repo.connection() as conn:
                await conn.execute("SELECT * FROM does_not_exist")
        assert repo.health().healthy
        status = introspect.describe(pid).summary
        assert status["healthy"] is True and status["embedded"] is None
        assert status["pool_size"] >= 1 and status["pool_max"] == 10
    finally:
        await stop(pid)
    with pytest.raises(DatabaseUnavailable) as caught:
        repo.pool()
    assert one_sentence(str(caught.value)) and "no Repo is running" in str(caught.value)


async def test_an_outage_fails_fast_and_the_repo_recovers(
    shell: Pid, cluster: EmbeddedPostgres, health_events: list[Mapping[str, Any]]
) -> None:
    pid = await start_repo(dsn=cluster.dsn)
    assert await select_one() == 1
    await cluster.stop()
    try:
        # The first caller after the outage gets a clear error, never a hang...
        with pytest.raises(DatabaseUnavailable) as caught:
            await asyncio.wait_for(select_one(), 2.0)
        assert caught.value.status == 503 and one_sentence(str(caught.value))
        # ...the Repo notices and says so...
        await eventually(lambda: not repo.health().healthy, 2.0, "the Repo reports unhealthy")
        with pytest.raises(DatabaseUnavailable, match="reconnecting"):
            repo.pool()  # immediately, without touching the network
        with pytest.raises(DatabaseUnavailable):
            await asyncio.wait_for(select_one(), 2.0)
        assert introspect.describe(pid).summary["healthy"] is False
        assert introspect.describe(pid).summary["last_error"]
    finally:
        await cluster.start()
    # ...and comes back with the server.
    await eventually(lambda: repo.health().healthy, 5.0, "the Repo recovers")
    assert await asyncio.wait_for(select_one(), 2.0) == 1
    assert [e["healthy"] for e in health_events] == [True, False, True]
    assert health_events[1]["error"] and health_events[1]["name"] == repo.DEFAULT_NAME
    await stop(pid)


async def test_a_connection_taken_back_by_a_terminated_pool_is_an_outage(
    shell: Pid, cluster: EmbeddedPostgres
) -> None:
    # The Repo saw an outage first and terminated its pool under a caller holding a
    # connection (soundforge chaos, a PostgreSQL restart): the caller gets the 503 sentence,
    # not asyncpg's InterfaceError from the proxy that was taken back.
    pid = await start_repo(dsn=cluster.dsn)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            async with repo.connection() as conn:
                repo.pool().terminate()
                await conn.fetchval("SELECT 1")
        assert caught.value.status == 503 and one_sentence(str(caught.value))
    finally:
        await stop(pid)


async def test_checkout_is_bounded(shell: Pid, cluster: EmbeddedPostgres) -> None:
    pid = await start_repo(dsn=cluster.dsn, pool_max=1)
    try:
        async with repo.connection() as held:
            await held.fetchval("SELECT 1")
            with pytest.raises(DatabaseUnavailable, match=r"within 0\.2 s") as caught:
                await asyncio.wait_for(select_one_with_timeout(0.2), 2.0)
            assert one_sentence(str(caught.value))
            # A pool that busy callers hold entirely is not an outage: the probe still answers.
            await asyncio.sleep(0.3)
            assert repo.health().healthy
        assert await select_one() == 1
    finally:
        await stop(pid)


async def select_one_with_timeout(timeout: float) -> Any:
    async with repo.connection(timeout=timeout) as conn:
        return await conn.fetchval("SELECT 1")


async def test_a_database_down_at_boot_starts_unhealthy_and_hides_the_password(
    shell: Pid, health_events: list[Mapping[str, Any]]
) -> None:
    # Port 1 on localhost: connection refused at once.
    pid = await start_repo(dsn="postgresql://sf:hunter2@127.0.0.1:1/soundforge")
    try:
        assert not repo.health().healthy
        with pytest.raises(DatabaseUnavailable):
            repo.pool()
        status = introspect.describe(pid).summary
        assert status["dsn"] == "postgresql://sf:***@127.0.0.1:1/soundforge"
        assert "hunter2" not in repr(status) and "hunter2" not in repr(health_events)
        assert health_events and health_events[0]["healthy"] is False
        await eventually(lambda: repo.health().failures >= 3, 3.0, "it keeps reconnecting")
    finally:
        await stop(pid)


async def test_an_embedded_repo_restarts_its_crashed_cluster(shell: Pid, data_dir: Path) -> None:
    pid = await start_repo(data_dir=data_dir)
    try:
        assert introspect.describe(pid).summary["embedded"] == "owner"
        async with repo.transaction() as conn:
            await conn.execute("CREATE TABLE kept AS SELECT 7 AS n")
        crashed = postmaster(data_dir)
        assert crashed is not None
        crashed.send_signal(signal.SIGKILL)  # PostgreSQL dies; its postmaster.pid stays
        await eventually(lambda: not repo.health().healthy, 3.0, "the Repo notices")
        await eventually(lambda: repo.health().healthy, 10.0, "the Repo restarts PostgreSQL")
        assert postmaster(data_dir) not in (None, crashed)
        async with repo.connection() as conn:
            assert await conn.fetchval("SELECT n FROM kept") == 7
    finally:
        await stop(pid)
    assert EmbeddedPostgres.running_dsn(data_dir) is None  # terminate stopped the cluster


async def test_the_repo_restarts_cleanly_under_a_supervisor(shell: Pid, data_dir: Path) -> None:
    options = RepoOptions(data_dir=data_dir, **FAST)
    sup = await start_supervisor([Repo.child_spec(options)])
    assert isinstance(sup, Ok)
    try:
        first = whereis(repo.DEFAULT_NAME)
        assert first is not None and await select_one() == 1
        server = postmaster(data_dir)
        exit(first, KILL)  # no terminate: the cluster keeps running, the lock is dropped
        await eventually(lambda: whereis(repo.DEFAULT_NAME) not in (None, first), 5.0, "a new Repo")
        await eventually(lambda: repo.health().healthy, 5.0, "the new Repo is healthy")
        assert await select_one() == 1
        assert postmaster(data_dir) == server  # the new Repo adopted the running cluster
        [child] = await which_children(sup.pid)
        assert child.id is Repo and child.pid == whereis(repo.DEFAULT_NAME)
    finally:
        await stop(sup.pid)
    assert postmaster(data_dir) is None  # the supervisor's shutdown ran terminate


async def test_without_binaries_the_embedded_repo_fails_to_start(
    shell: Pid, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pgos, "VERSIONED_ROOT", tmp_path)
    result = await Repo.start(RepoOptions(data_dir=tmp_path / "data"))
    assert isinstance(result, Error) and isinstance(result.reason, PostgresNotInstalled)
    assert whereis(repo.DEFAULT_NAME) is None


def test_child_spec_and_options_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://u:p@db/sf", node_name="gpu-1")
    spec = Repo.child_spec(settings)
    [options] = spec.args
    assert options == RepoOptions(
        dsn="postgresql://u:p@db/sf", data_dir=tmp_path, application_name="soundforge gpu-1"
    )
    assert spec.id is Repo and spec.shutdown == 30.0
    assert RepoOptions.from_settings(Settings(data_dir=tmp_path), pool_max=3).pool_max == 3
    with pytest.raises(ValueError, match="data_dir"):
        RepoOptions()
    with pytest.raises(TypeError):
        Repo.child_spec("postgresql://u@db/sf")


def test_no_node_means_no_database() -> None:
    with pytest.raises(Exception, match="no SoundForge node"):
        repo.pool()
