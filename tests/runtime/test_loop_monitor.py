"""The loop-lag monitor: one warning with the culprit's stack per stall, and a thread that
never outlives its actor.

The stalls are real (``time.sleep`` or a busy loop on the event loop's thread); the bounds
are coarse (a 300 ms stall is reported as at least 250 ms) so a loaded machine cannot make
them fail.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from soundforge.runtime import gen_server, supervisor
from soundforge.runtime.exit import KILL
from soundforge.runtime.loop_monitor import (
    STALL_EVENT,
    LoopMonitor,
    LoopMonitorOptions,
    stats,
)
from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid, exit
from soundforge.runtime.results import Ok
from soundforge.runtime.supervisor import start_supervisor
from tests.helpers import eventually

LOGGER = "soundforge.runtime.loop_monitor"


def _sleep_on_the_loop() -> None:
    time.sleep(0.3)


def _spin_on_the_loop() -> None:
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass


def _started(result: Any) -> Pid:
    assert isinstance(result, Ok), result
    pid: Pid = result.value
    return pid


def _watchdogs() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("soundforge loop watchdog")]


@pytest.mark.parametrize("block", [_sleep_on_the_loop, _spin_on_the_loop], ids=["sleep", "spin"])
async def test_a_stall_is_reported_once_with_its_duration_and_stack(
    node: Node, shell: Pid, caplog: pytest.LogCaptureFixture, block: Callable[[], None]
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    events: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    node.telemetry.attach("test", STALL_EVENT, lambda _e, m, meta: events.append((m, meta)))
    monitor = _started(await LoopMonitor.start_link(LoopMonitorOptions(threshold=0.1)))
    await asyncio.sleep(0.1)  # a few heartbeats

    block()

    def reports() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == LOGGER and block.__name__ in r.getMessage()]

    await eventually(lambda: bool(reports()), 2.0, "the stall is reported")
    await asyncio.sleep(0.2)  # a second report of the same stall would be here by now
    [record] = reports()
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    found = re.search(r"blocked for ([0-9.]+) s", message)
    assert found is not None, message
    assert 0.25 <= float(found.group(1)) < 5.0
    assert "test_loop_monitor.py" in message  # the stack names the file and the function

    ours = [(m, meta) for m, meta in events if block.__name__ in (meta["stack"] or "")]
    assert len(ours) == 1
    measurements, metadata = ours[0]
    assert measurements["duration"] >= 0.25
    assert metadata["threshold"] == 0.1 and metadata["monitor"] is monitor
    seen = await stats(monitor)
    assert seen.stalls >= 1 and seen.max_stall >= 0.25
    assert seen.last is not None and seen.last.stack is not None


async def test_a_healthy_loop_reports_nothing(shell: Pid) -> None:
    monitor = _started(await LoopMonitor.start_link(LoopMonitorOptions(threshold=0.5, name=None)))
    for _ in range(20):
        await asyncio.sleep(0.01)  # the loop keeps turning
    seen = await stats(monitor)
    assert seen.stalls == 0 and seen.last is None
    assert (seen.threshold, seen.interval) == (0.5, 0.025)
    status = gen_server.resolve(monitor)
    assert status is not None and status.kind == "loop_monitor"


STOPS = {
    "stop": lambda pid: gen_server.stop(pid),
    "kill": lambda pid: _kill(pid),
}


async def _kill(pid: Pid) -> None:
    exit(pid, KILL)


@pytest.mark.parametrize("how", list(STOPS))
async def test_the_watchdog_thread_ends_with_the_actor(shell: Pid, how: str) -> None:
    before = set(_watchdogs())
    monitor = _started(await LoopMonitor.start(LoopMonitorOptions(name=None)))
    [thread] = [t for t in _watchdogs() if t not in before]
    assert thread.daemon and repr(monitor) in thread.name
    await STOPS[how](monitor)
    await eventually(lambda: not thread.is_alive(), 2.0, "the watchdog thread is gone")


async def test_it_runs_under_a_supervisor_with_its_registered_name(shell: Pid) -> None:
    sup = _started(await start_supervisor([LoopMonitor.child_spec()]))
    [child] = await supervisor.which_children(sup)
    assert child.id == "LoopMonitor"
    assert (await stats()).threshold == 0.1  # registered as soundforge.loop_monitor
    await gen_server.stop(sup)
    assert not [t for t in _watchdogs() if repr(child.pid) in t.name]


@pytest.mark.parametrize(
    "options",
    [{"threshold": 0}, {"threshold": -1.0}, {"threshold": 0.1, "interval": 0.2}],
    ids=["zero", "negative", "interval-over-threshold"],
)
def test_bad_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="LoopMonitorOptions"):
        LoopMonitorOptions(**options)
