"""Ports' telemetry: real programs started, sampled and ended, and the events they emit.

Each test attaches a handler to the node's telemetry, runs a real program (``sleep``, ``sh``
or Python) and reads the events: start and exit with the port's label, OS pid and exit
status, however the program or the actor ends, and resident-memory samples while it runs.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from soundforge.runtime.exit import KILL
from soundforge.runtime.node import Node
from soundforge.runtime.port import (
    EXIT_EVENT,
    RSS_EVENT,
    START_EVENT,
    Port,
    PortExit,
    PortOptions,
    close,
    os_pid,
)
from soundforge.runtime.process import Down, Pid, exit, monitor, receive
from soundforge.runtime.results import Ok
from tests.helpers import eventually, settle

GRACE = 0.4

Seen = list[tuple[tuple[str, ...], Mapping[str, Any], Mapping[str, Any]]]


def _record(node: Node) -> Seen:
    seen: Seen = []
    node.telemetry.attach(
        "test",
        [START_EVENT, EXIT_EVENT, RSS_EVENT],
        lambda event, measurements, meta: seen.append((event, dict(measurements), dict(meta))),
    )
    return seen


def _of(seen: Seen, event: tuple[str, ...]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    return [(m, meta) for e, m, meta in seen if e == event]


async def _start(options: PortOptions) -> tuple[Pid, int]:
    result = await Port.start(options)  # not linked: a failing program must not end the test
    assert isinstance(result, Ok), result
    port: Pid = result.value
    monitor(port)
    return port, await os_pid(port)


async def _kill_program(port: Pid, pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


async def _close(port: Pid, pid: int) -> None:
    await close(port)


async def _kill_actor(port: Pid, pid: int) -> None:
    exit(port, KILL)  # no terminate: the exit hook SIGTERMs the group


ENDINGS: list[Any] = [
    pytest.param(_kill_program, 137, "SIGKILL", id="program-killed"),
    pytest.param(_close, 143, "SIGTERM", id="port-closed"),
    pytest.param(_kill_actor, 143, "SIGTERM", id="actor-killed"),
]


@pytest.mark.parametrize(("end", "status", "signal_name"), ENDINGS)
async def test_start_and_exit_carry_the_port_and_how_it_ended(
    node: Node,
    shell: Pid,
    end: Callable[[Pid, int], Awaitable[None]],
    status: int,
    signal_name: str,
) -> None:
    seen = _record(node)
    port, pid = await _start(PortOptions(["sleep", "30"], name="sleeper", shutdown=GRACE))
    [(started, start_meta)] = _of(seen, START_EVENT)
    assert started["count"] == 1
    assert start_meta["port"] is port and start_meta["os_pid"] == pid
    assert start_meta["label"] == "sleeper" and start_meta["owner"] is shell
    assert start_meta["argv"] == ["sleep", "30"]

    await end(port, pid)
    await eventually(lambda: bool(_of(seen, EXIT_EVENT)), 5.0, "the exit is reported")
    [(exited, exit_meta)] = _of(seen, EXIT_EVENT)
    assert exit_meta["port"] is port and exit_meta["os_pid"] == pid
    assert exit_meta["label"] == "sleeper"
    assert (exit_meta["status"], exit_meta["signal"]) == (status, signal_name)
    assert 0 < exited["duration"] < 10
    assert "rss" not in exited  # nobody sampled it: the default interval is 10 s
    await receive(match=lambda m: isinstance(m, Down) and m.pid is port, timeout=5)
    await settle()
    assert len(_of(seen, EXIT_EVENT)) == 1  # once, however many parts saw the end


@pytest.mark.parametrize(("code", "status"), [("exit 0", 0), ("exit 3", 3)])
async def test_a_program_that_exits_by_itself(
    node: Node, shell: Pid, code: str, status: int
) -> None:
    seen = _record(node)
    port, pid = await _start(PortOptions(["sh", "-c", f"sleep 0.1; {code}"], shutdown=GRACE))
    message = await receive(match=lambda m: isinstance(m, PortExit), timeout=5)
    assert (message.port, message.status) == (port, status)
    await eventually(lambda: bool(_of(seen, EXIT_EVENT)), 5.0, "the exit is reported")
    [(_, meta)] = _of(seen, EXIT_EVENT)
    assert (meta["label"], meta["status"], meta["signal"], meta["os_pid"]) == (
        "sh",
        status,
        None,
        pid,
    )


# Allocates 30 MB, says so, then waits for stdin to close.
HOG = """
import sys
ballast = bytearray(30 << 20)
sys.stderr.write("ready\\n")
sys.stderr.flush()
sys.stdin.read()
"""


async def test_resident_memory_is_sampled_while_it_runs(node: Node, shell: Pid) -> None:
    seen = _record(node)
    options = PortOptions(
        [sys.executable, "-c", HOG], name="hog", shutdown=GRACE, rss_interval=0.05
    )
    port, pid = await _start(options)

    def big_sample() -> bool:
        return any(m["rss"] > 30 << 20 for m, _ in _of(seen, RSS_EVENT))

    await eventually(big_sample, 5.0, "a sample shows the program's 30 MB")
    _, meta = _of(seen, RSS_EVENT)[-1]
    assert (meta["port"], meta["label"], meta["os_pid"]) == (port, "hog", pid)
    await close(port)
    await eventually(lambda: bool(_of(seen, EXIT_EVENT)), 5.0, "the exit is reported")
    [(exited, _)] = _of(seen, EXIT_EVENT)
    assert exited["rss"] > 30 << 20  # its last known size
    samples = len(_of(seen, RSS_EVENT))
    await receive(match=lambda m: isinstance(m, Down), timeout=5)
    await settle()
    assert len(_of(seen, RSS_EVENT)) == samples  # none after the exit


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_a_sampling_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="rss_interval"):
        PortOptions(["true"], rss_interval=interval)
