"""The `soundforge` command as a user runs it: a real subprocess each time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.embedded_pg import scratch_data_dir

CLI = [sys.executable, "-m", "soundforge"]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory the embedded PostgreSQL's user can reach (pytest's tmp is private)."""
    with scratch_data_dir() as path:
        yield path


def run(
    *args: str, timeout: float = 60, data: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if data is not None:
        env["SOUNDFORGE_DATA_DIR"] = str(data)
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_help_lists_the_subcommands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("serve", "tree", "bench", "version"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["frobnicate"], "unknown command 'frobnicate'"),
        ([], "a command is required"),
        (["bench", "nope"], "unknown benchmark 'nope'"),
        (["serve", "--stop-timeout", "soon"], "invalid float value"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(args: list[str], says: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_tree_json_shows_the_supervision_tree(data_dir: Path) -> None:
    result = run("tree", "--json", data=data_dir)
    assert result.returncode == 0, result.stderr
    (master,) = json.loads(result.stdout)
    (root,) = master["children"]
    assert root["behaviour"] == "Root" and root["kind"] == "supervisor"
    children = {c["child_id"]: c for c in root["children"]}
    assert list(children) == [
        "LoopMonitor",
        "soundforge.registry",
        "Repo",
        "Migrator",
        "ModelRegistry",
        "soundforge.pubsub",
        "PgPubSubBridge",
        "TaskSupervisor",
        "PortSupervisor",
        "soundforge.ports.downloader",
        "soundforge.ports.separator",
        "soundforge.ports.analyzer",
        "Queues",
    ]
    assert children["soundforge.ports.separator"]["summary"]["size"] == 2
    queue_ids = [c["child_id"] for c in children["Queues"]["children"]]
    for queue in ("download", "processing", "analysis"):
        assert f"queue:{queue}" in queue_ids
    assert children["Repo"]["summary"]["healthy"] is True
    assert children["Migrator"]["status"] == "stopped", "it migrated and returned IGNORE"


def test_db_status_and_migrate_use_the_embedded_cluster(data_dir: Path) -> None:
    status = run("db", "status", data=data_dir)
    assert status.returncode == 0, status.stderr
    assert "pending" in status.stdout and "0001" in status.stdout
    migrate = run("db", "migrate", data=data_dir)
    assert migrate.returncode == 0, migrate.stderr
    again = run("db", "status", data=data_dir)
    assert "0 pending" in again.stdout


def test_a_missing_database_server_is_one_sentence(data_dir: Path) -> None:
    result = subprocess.run(
        [*CLI, "db", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "SOUNDFORGE_DATA_DIR": str(data_dir),
            "SOUNDFORGE_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        },
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr


def test_bench_runtime_prints_every_figure() -> None:
    result = run("bench", "runtime", "--quick", timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for key in (
        "call_p50_us",
        "call_p99_us",
        "cast_msgs_per_s",
        "spawn_us",
        "idle_actor_bytes",
        "restart_p50_us",
        "actors_100k_start_s",
        "asyncio_future_pingpong_p50_us",
        "pykka_ask_p50_us",
    ):
        assert isinstance(figures[key], int | float) and figures[key] > 0, key


@pytest.mark.parametrize(
    "command", [["serve"], ["worker", "--queues", "processing=4,analysis"]], ids=["serve", "worker"]
)
def test_a_node_runs_until_sigterm_and_stops_cleanly(data_dir: Path, command: list[str]) -> None:
    proc = subprocess.Popen(
        [*CLI, *command],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "SOUNDFORGE_DATA_DIR": str(data_dir)},
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "is running" in line:
                break
        else:
            pytest.fail("the server did not start: " + "".join(lines))
        os.kill(proc.pid, signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, rest
    assert "the application stopped" in rest
