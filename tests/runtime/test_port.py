"""Ports: real child processes, their exit statuses, logs, owners, and that none outlives its port.

Every program here is a small Python file (or ``sh -c``) run for real; every wait is bounded
and the SIGTERM→SIGKILL grace periods are kept short.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from soundforge.runtime import _reaper, gen_server
from soundforge.runtime._shutdown import shutdown_child
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.clock import ManualClock
from soundforge.runtime.exit import KILL, KILLED, NORMAL, SHUTDOWN, Shutdown
from soundforge.runtime.framing import FrameTooLarge
from soundforge.runtime.node import Node
from soundforge.runtime.port import (
    EXIT_DRAIN,
    Port,
    PortData,
    PortExit,
    PortExited,
    PortOptions,
    PortStartFailed,
    close,
    command,
    os_pid,
)
from soundforge.runtime.process import (
    Down,
    Pid,
    current_process,
    exit,
    monitor,
    receive,
    send,
    spawn,
    trap_exit,
)
from soundforge.runtime.results import Error, Ok
from tests.helpers import eventually

GRACE = 0.4

ECHO = """
from soundforge.runtime.framing import port_stdio

requests, replies = port_stdio()
for request in requests:
    replies.write(request)
"""

# A program that starts a grandchild, reports both pids, echoes frames until stdin ends and
# then keeps running. With "ignore-term" both ignore SIGTERM (only SIGKILL ends them); with
# "polite-term" SIGTERM makes the program say goodbye and exit 0.
FAMILY = """
import os, signal, subprocess, sys, time
from soundforge.runtime.framing import port_stdio

class Terminate(Exception):
    pass

def goodbye(signum, frame):
    raise Terminate  # a frame is written by ordinary code, never by the handler itself

mode = sys.argv[1]
requests, replies = port_stdio()
grandchild_code = (
    "import signal, sys, time\\n"
    + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n" if mode == "ignore-term" else "")
    + "print('ready', flush=True)\\n"
    + "time.sleep(60)\\n"
)
grandchild = subprocess.Popen([sys.executable, "-S", "-c", grandchild_code], stdout=subprocess.PIPE)
grandchild.stdout.readline()
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
elif mode == "polite-term":
    signal.signal(signal.SIGTERM, goodbye)
try:
    replies.write({"pid": os.getpid(), "grandchild": grandchild.pid})
    for request in requests:
        replies.write(request)
    while True:
        time.sleep(1)
except Terminate:
    replies.write("terminating")
    os._exit(0)
"""


def _write(tmp_path: Path, name: str, source: str) -> str:
    path = tmp_path / name
    path.write_text(source)
    return str(path)


def _echo(tmp_path: Path, **options: Any) -> PortOptions:
    return PortOptions([sys.executable, _write(tmp_path, "echo.py", ECHO)], **options)


def _family(tmp_path: Path, mode: str, **options: Any) -> PortOptions:
    program = _write(tmp_path, "family.py", FAMILY)
    return PortOptions([sys.executable, program, mode], **{"shutdown": GRACE, **options})


def _gone(pid: int) -> bool:
    """Dead, or a zombie (this machine's init may never reap orphans)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _wait_gone(pids: list[int], timeout: float) -> float:
    """Seconds until every pid is gone; fails after ``timeout``."""
    start = time.monotonic()
    await eventually(lambda: all(_gone(p) for p in pids), timeout, f"processes {pids} gone")
    return time.monotonic() - start


async def _receive(kind: type, timeout: float = 10.0) -> Any:
    return await receive(match=lambda m: isinstance(m, kind), timeout=timeout)


async def _family_pids() -> list[int]:
    hello = await _receive(PortData)
    return [hello.data["pid"], hello.data["grandchild"]]


def _started(result: Any) -> Pid:
    assert isinstance(result, Ok), result
    pid: Pid = result.value
    return pid


# -- talking to a program -----------------------------------------------------------------


async def test_frames_round_trip_and_introspection(shell: Pid, tmp_path: Path) -> None:
    port = _started(await Port.start_link(_echo(tmp_path, name="echo")))
    values = [{"seq": i} for i in range(500)] + [b"\x00" * (4 << 20), "done"]
    for value in values:
        command(port, value)
    received = [(await _receive(PortData)) for _ in values]
    assert all(m.port is port for m in received)
    assert [m.data for m in received] == values

    pid = await os_pid(port)
    assert psutil.Process(pid).cmdline()[1].endswith("echo.py")
    assert os.getpgid(pid) == pid  # its own process group (and session)
    proc = gen_server.resolve(port)
    assert proc is not None and proc.kind == "port"
    status = proc.behaviour.format_status(proc.state)
    assert status["os_pid"] == pid
    assert status["frames_in"] == status["frames_out"] == len(values)
    assert status["argv"][1].endswith("echo.py")
    # memory is sampled in a worker thread, the first time a second after the start
    for _ in range(50):
        status = proc.behaviour.format_status(proc.state)
        if status["rss"] is not None:
            break
        await asyncio.sleep(0.05)
    assert status["rss"] > 1_000_000


async def test_command_encodes_in_the_caller(shell: Pid, tmp_path: Path) -> None:
    port = _started(await Port.start_link(_echo(tmp_path, max_frame=1024)))
    with pytest.raises(TypeError):
        command(port, object())
    with pytest.raises(FrameTooLarge):
        command(port, b"x" * 2048)
    command(port, "still fine")
    assert (await _receive(PortData)).data == "still fine"


async def test_raw_line_mode(shell: Pid) -> None:
    port = _started(await Port.start_link(PortOptions(["cat"], framing=False, shutdown=GRACE)))
    command(port, b"hello\nwor")
    command(port, "ld\n")
    assert (await _receive(PortData)).data == b"hello"
    assert (await _receive(PortData)).data == b"world"
    with pytest.raises(TypeError):
        command(port, 42)


STATUSES = [
    pytest.param("exit 0", 0, id="exit-0"),
    pytest.param("exit 3", 3, id="exit-3"),
    pytest.param("kill -TERM $$", 143, id="sigterm-143"),
    pytest.param("kill -KILL $$", 137, id="sigkill-137"),
]


@pytest.mark.parametrize(("script", "status"), STATUSES)
async def test_exit_status_and_exit_reason(shell: Pid, script: str, status: int) -> None:
    port = _started(await Port.start(PortOptions(["sh", "-c", script], name="sh")))
    ref = monitor(port)
    assert await _receive(PortExit) == PortExit(port, status)
    down = await _receive(Down)
    assert down.ref is ref
    # normal on 0, abnormal otherwise: a transient child is restarted only on failure
    assert down.reason == (NORMAL if status == 0 else PortExited("sh", status))


async def test_start_failure_is_a_clear_error(shell: Pid, tmp_path: Path) -> None:
    result = await Port.start(PortOptions([str(tmp_path / "no-such-program")]))
    assert isinstance(result, Error)
    assert isinstance(result.reason, PortStartFailed)
    assert "could not start the port program" in str(result.reason)


async def test_stderr_lines_reach_the_log(
    shell: Pid, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = (
        "import sys\n"
        "sys.stderr.write('first line\\nsecond: ünïcode\\r\\n')\n"
        "sys.stderr.write('last line without newline')\n"
    )
    options = PortOptions([sys.executable, _write(tmp_path, "noisy.py", source)], name="noisy")
    with caplog.at_level(logging.INFO, logger="soundforge.port.noisy"):
        port = _started(await Port.start(options))
        monitor(port)
        assert (await _receive(PortExit)).status == 0
        await _receive(Down)
    lines = [r.getMessage() for r in caplog.records if r.name == "soundforge.port.noisy"]
    assert lines == ["first line", "second: ünïcode", "last line without newline"]


async def test_a_command_to_a_closed_stdin_is_reported_not_raised(
    shell: Pid, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = "import os, sys, time\nos.close(0)\nos.write(1, b'closed\\n')\ntime.sleep(60)\n"
    options = PortOptions(
        [sys.executable, _write(tmp_path, "deaf.py", source)], framing=False, shutdown=GRACE
    )
    port = _started(await Port.start_link(options))
    assert (await _receive(PortData)).data == b"closed"
    with caplog.at_level(logging.WARNING, logger="soundforge.runtime.port"):
        command(port, b"anyone there?\n")
        command(port, b"hello?\n")
        proc = gen_server.resolve(port)
        assert proc is not None
        await eventually(lambda: proc.state.dropped == 2, 5.0, "both commands dropped")
    assert any("command was dropped" in r.getMessage() for r in caplog.records)
    assert await close(port) == 143  # SIGTERM: the port still works after the failed writes


async def test_close_returns_the_status_and_stops_normally(shell: Pid, tmp_path: Path) -> None:
    port = _started(await Port.start_link(_family(tmp_path, "polite-term")))
    pids = await _family_pids()
    monitor(port)
    assert await close(port) == 0
    assert await _receive(PortData) == PortData(port, "terminating")
    assert await _receive(PortExit) == PortExit(port, 0)
    assert (await _receive(Down)).reason is NORMAL
    await _wait_gone(pids, GRACE + 1.0)  # the polite program's grandchild got SIGTERM too
    assert await close(port) is None  # closing a closed port is harmless


async def test_a_malformed_frame_crashes_the_port_and_kills_the_program(
    shell: Pid, tmp_path: Path
) -> None:
    source = "import os, time\nos.write(1, b'\\xff\\xff\\xff\\xff')\ntime.sleep(60)\n"
    options = PortOptions([sys.executable, _write(tmp_path, "bad.py", source)], shutdown=GRACE)
    port = _started(await Port.start(options))
    pid = await os_pid(port)
    monitor(port)
    down = await _receive(Down)
    assert isinstance(down.reason, FrameTooLarge)
    await _wait_gone([pid], GRACE + 1.0)


# -- owners -------------------------------------------------------------------------------


async def _collector(test: Pid) -> None:
    """An owner that forwards what it receives to the test, tagged."""
    while True:
        msg = await receive()
        send(test, ("owner got", msg))


async def test_the_owner_gets_data_and_exit(shell: Pid, tmp_path: Path) -> None:
    owner = spawn(_collector, shell)
    port = _started(await Port.start_link(_echo(tmp_path, owner=owner)))
    command(port, "to the owner")
    assert await receive(timeout=10) == ("owner got", PortData(port, "to the owner"))
    status = await close(port)
    assert await receive(timeout=10) == ("owner got", PortExit(port, status))


async def test_the_owners_death_closes_the_port(shell: Pid, tmp_path: Path) -> None:
    owner = spawn(_collector, shell)
    port = _started(await Port.start(_family(tmp_path, "ignore-term", owner=owner)))
    ref = monitor(port)
    _, hello = await receive(timeout=10)
    pids = [hello.data["pid"], hello.data["grandchild"]]
    exit(owner, KILL)
    down = await _receive(Down)
    assert down.ref is ref and down.reason == Shutdown("owner_down")
    await _wait_gone(pids, GRACE + 1.0)


# -- no program outlives its port -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["default-term", "ignore-term"])
async def test_a_killed_port_takes_its_process_group_along(
    shell: Pid, tmp_path: Path, mode: str
) -> None:
    port = _started(await Port.start(_family(tmp_path, mode)))
    pids = await _family_pids()
    monitor(port)
    exit(port, KILL)  # untrappable: no terminate runs, only the exit hook
    assert (await _receive(Down)).reason is KILLED
    elapsed = await _wait_gone(pids, GRACE + 1.0)
    if mode == "ignore-term":
        assert elapsed >= GRACE * 0.9  # SIGTERM was ignored; SIGKILL came after the grace
    program = pids[0]
    await eventually(lambda: not psutil.pid_exists(program), 2.0, "the program reaped")


async def test_an_owner_stopping_ends_a_term_ignoring_family(shell: Pid, tmp_path: Path) -> None:
    options = _family(tmp_path, "ignore-term")

    async def owner() -> None:
        port = _started(await Port.start_link(options))  # linked: the owner is its parent
        hello = await _receive(PortData)
        send(shell, ("pids", [hello.data["pid"], hello.data["grandchild"]], port))
        await receive(match=lambda m: m == "stop")

    owner_pid = spawn(owner)
    _, pids, port = await receive(timeout=10)
    port_ref = monitor(port)
    start = time.monotonic()
    send(owner_pid, "stop")  # the owner returns: reason normal, and its port follows it
    down = await _receive(Down)
    assert down.ref is port_ref
    await _wait_gone(pids, GRACE + 1.0)
    assert time.monotonic() - start >= GRACE * 0.9  # SIGTERM ignored: SIGKILL after the grace


async def test_the_sigkill_runs_on_the_nodes_clock(
    manual_shell: Pid, clock: ManualClock, tmp_path: Path
) -> None:
    port = _started(await Port.start(_family(tmp_path, "ignore-term", shutdown=30.0)))
    pids = await asyncio.wait_for(_family_pids(), 10)
    exit(port, KILL)
    await asyncio.sleep(GRACE)  # real time passes, the node's clock does not: SIGTERM only
    assert not any(_gone(p) for p in pids)
    await clock.advance(30.0)  # the port is long dead; its group's SIGKILL still fires
    await _wait_gone(pids, 2.0)


async def test_a_grandchild_holding_the_pipes_does_not_hold_back_the_exit(
    shell: Pid, tmp_path: Path
) -> None:
    source = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-S', '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
    )
    options = PortOptions(
        [sys.executable, _write(tmp_path, "leaver.py", source)], framing=False, shutdown=GRACE
    )
    port = _started(await Port.start(options))
    monitor(port)
    grandchild = int((await _receive(PortData)).data)
    start = time.monotonic()
    assert await _receive(PortExit) == PortExit(port, 0)
    assert (await _receive(Down)).reason is NORMAL
    assert time.monotonic() - start < EXIT_DRAIN + 1.0
    await _wait_gone([grandchild], GRACE + 1.0)  # the rest of the group is ended too


async def _stop_by_gen_server(port: Pid) -> Any:
    await gen_server.stop(port, SHUTDOWN)
    return SHUTDOWN


async def _stop_as_a_supervisor(port: Pid) -> Any:
    me = current_process()
    assert me is not None
    return await shutdown_child(me, port, GRACE + 2.0)


@pytest.mark.parametrize("how", ["gen_server.stop", "supervisor-shutdown"])
async def test_shutdown_runs_terminate(shell: Pid, tmp_path: Path, how: str) -> None:
    options = _family(tmp_path, "polite-term", owner=shell)

    async def parent() -> None:
        trap_exit(True)
        port = _started(await Port.start_link(options))
        send(shell, ("port", port))
        await receive(match=lambda m: m == "go")
        stop = _stop_by_gen_server if how == "gen_server.stop" else _stop_as_a_supervisor
        send(shell, ("stopped", await stop(port)))
        await receive(match=lambda m: False)

    parent_pid = spawn(parent)
    _, port = await receive(timeout=10)
    pids = await _family_pids()
    send(parent_pid, "go")
    _, reason = await receive(match=lambda m: type(m) is tuple and m[0] == "stopped", timeout=10)
    assert reason is SHUTDOWN
    # terminate sent SIGTERM, waited for the program, and reported before the port died
    assert await _receive(PortData, timeout=0) == PortData(port, "terminating")
    assert await _receive(PortExit, timeout=0) == PortExit(port, 0)
    assert _gone(pids[0])


async def test_node_stop_ends_every_program(tmp_path: Path) -> None:
    start = time.monotonic()
    async with Node() as node:
        node.attach()
        _started(await Port.start(_family(tmp_path, "ignore-term")))
        pids = await _family_pids()
        reaper = node.extensions["soundforge.runtime.port"].reaper.pid
        assert reaper is not None
    assert time.monotonic() - start < GRACE + 5.0
    assert "soundforge.runtime.port" not in node.extensions
    await _wait_gone([*pids, reaper], 1.0)


def test_child_spec_outlasts_the_grace(tmp_path: Path) -> None:
    spec = Port.child_spec(_echo(tmp_path, name="analyser", shutdown=2.0))
    assert isinstance(spec, ChildSpec)
    assert spec.id == "analyser"
    assert isinstance(spec.shutdown, float) and spec.shutdown > 2.0
    assert Port.child_spec(_echo(tmp_path), restart="x").restart == "x"


def _catches_sigterm(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


@pytest.mark.parametrize("trigger", ["stdin-ends", "death-signal"])
def test_the_reaper_kills_the_groups_it_watches(trigger: str) -> None:
    sleep = [sys.executable, "-S", "-c", "import time; time.sleep(60)"]
    watched, forgotten = (subprocess.Popen(sleep, start_new_session=True) for _ in range(2))
    reaper = subprocess.Popen(
        [sys.executable, "-I", "-S", _reaper.__file__, str(os.getpid())], stdin=subprocess.PIPE
    )
    try:
        assert reaper.stdin is not None
        reaper.stdin.write(f"+{watched.pid}\n+{forgotten.pid}\n-{forgotten.pid}\n".encode())
        reaper.stdin.flush()
        if trigger == "stdin-ends":
            reaper.stdin.close()
        else:
            deadline = time.monotonic() + 10
            while not _catches_sigterm(reaper.pid):
                assert time.monotonic() < deadline, "the reaper never armed its SIGTERM handler"
                time.sleep(0.01)
            reaper.send_signal(signal.SIGINT)  # a Ctrl-C meant for the server: ignored
            reaper.send_signal(signal.SIGTERM)  # what PR_SET_PDEATHSIG sends
        assert reaper.wait(timeout=10) == 0
        assert watched.wait(timeout=5) == -signal.SIGKILL
        assert forgotten.poll() is None
    finally:
        for proc in (watched, forgotten, reaper):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)
            if proc.stdin is not None:
                proc.stdin.close()


SERVER = """
import asyncio, os, sys
from soundforge.runtime.node import Node
from soundforge.runtime.port import Port, PortData, PortOptions
from soundforge.runtime.process import receive

async def main():
    async with Node() as node:
        node.attach()
        options = PortOptions([sys.executable, sys.argv[1], "ignore-term"], shutdown=60)
        await Port.start_link(options)
        hello = await receive(match=lambda m: isinstance(m, PortData), timeout=20)
        reaper = node.extensions["soundforge.runtime.port"].reaper.pid
        print(hello.data["pid"], hello.data["grandchild"], reaper, flush=True)
        await asyncio.sleep(120)

asyncio.run(main())
"""


def test_a_hard_killed_server_leaves_no_orphans(tmp_path: Path) -> None:
    family = _write(tmp_path, "family.py", FAMILY)
    pids: list[int] = []
    argv = [sys.executable, "-c", SERVER, family]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            ready, _, _ = select.select([server.stdout], [], [], 30)
            assert ready, "the server did not report its port's pids in time"
            pids = [int(p) for p in server.stdout.readline().split()]
            assert len(pids) == 3 and not any(_gone(p) for p in pids)
            server.send_signal(signal.SIGKILL)  # no Python code runs in the server after this
            server.wait(timeout=5)
            deadline = time.monotonic() + 5.0
            while not all(_gone(p) for p in pids):
                left = [p for p in pids if not _gone(p)]
                assert time.monotonic() < deadline, f"orphans left: {left}"
                time.sleep(0.02)
        finally:
            if server.poll() is None:
                server.kill()
            for pid in pids:  # only if the test failed: leave nothing behind
                if not _gone(pid):
                    os.kill(pid, signal.SIGKILL)


async def test_ports_need_an_owner_outside_a_process(node: Node, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="needs an owner"):
        await Port.start(_echo(tmp_path))
    me = node.attach()
    try:
        port = _started(await Port.start(_echo(tmp_path, owner=me.pid)))
        assert await close(port) is not None
    finally:
        node.detach(me)


def test_the_same_guarantees_on_uvloop(tmp_path: Path) -> None:
    uvloop = pytest.importorskip("uvloop")
    options = _family(tmp_path, "ignore-term")

    async def scenario() -> tuple[int, float]:
        async with Node() as node:
            node.attach()
            failing = _started(await Port.start(PortOptions(["sh", "-c", "kill -TERM $$"])))
            exited = await _receive(PortExit)
            assert exited.port is failing
            port = _started(await Port.start(options))
            pids = await _family_pids()
            start = time.monotonic()
            exit(port, KILL)
            await _wait_gone(pids, GRACE + 1.0)
            return exited.status, time.monotonic() - start

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        status, elapsed = runner.run(asyncio.wait_for(scenario(), 30))
    assert status == 143
    assert elapsed >= GRACE * 0.9
