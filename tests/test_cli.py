"""The `soundforge` command as a user runs it: a real subprocess each time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

CLI = [sys.executable, "-m", "soundforge"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


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


def test_tree_json_shows_the_supervision_tree() -> None:
    result = run("tree", "--json")
    assert result.returncode == 0, result.stderr
    (master,) = json.loads(result.stdout)
    (root,) = master["children"]
    assert root["behaviour"] == "Root" and root["kind"] == "supervisor"
    ids = [c["child_id"] for c in root["children"]]
    assert ids == ["soundforge.registry", "soundforge.pubsub", "TaskSupervisor", "PortSupervisor"]
    assert all(c["status"] == "waiting" for c in root["children"])


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


def test_serve_runs_until_sigterm_and_stops_cleanly() -> None:
    proc = subprocess.Popen(
        [*CLI, "serve"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
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
