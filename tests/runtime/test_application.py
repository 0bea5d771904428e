"""Application: start the tree, stop it in reverse order within a bounded time."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from soundforge.runtime.application import Application
from soundforge.runtime.child_spec import Restart
from soundforge.runtime.process import exit
from soundforge.runtime.supervisor import Supervisor, SupervisorSpec, which_children
from tests.runtime.workers import Behaviour, Trace, spec


async def test_run_starts_the_tree_and_stops_it_in_reverse(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trace = Trace()
    root = Supervisor.child_spec(
        SupervisorSpec([spec(i, trace, Behaviour(trap=True)) for i in "abc"])
    )
    app = Application(root, handle_signals=False)
    running = asyncio.ensure_future(app.run())
    await asyncio.wait_for(app.started.wait(), 2)
    assert trace.starts() == ["a", "b", "c"]
    app.request_stop("test")
    assert await asyncio.wait_for(running, 5) == 0
    assert trace.stops() == ["c", "b", "a"]


async def test_stop_is_bounded_even_if_a_child_hangs() -> None:
    trace = Trace()
    hang = Behaviour(trap=True, terminate_wait=asyncio.Event())
    root = Supervisor.child_spec(SupervisorSpec([spec("hang", trace, hang, shutdown=60.0)]))
    app = Application(root, handle_signals=False, stop_timeout=0.2)
    running = asyncio.ensure_future(app.run())
    await asyncio.wait_for(app.started.wait(), 2)
    started = time.monotonic()
    app.request_stop()
    assert await asyncio.wait_for(running, 5) == 0
    assert time.monotonic() - started < 2.0


async def test_root_giving_up_ends_the_application(caplog: pytest.LogCaptureFixture) -> None:
    trace = Trace()
    flaky = Behaviour(fail_starts_after=1)
    root = Supervisor.child_spec(
        SupervisorSpec([spec("flaky", trace, flaky, restart=Restart.PERMANENT)], max_restarts=1)
    )
    app = Application(root, handle_signals=False)
    running = asyncio.ensure_future(app.run())
    await asyncio.wait_for(app.started.wait(), 2)
    child = app.node.root
    assert child is not None
    with caplog.at_level(logging.ERROR):
        pid = (await which_children(child.pid))[0].pid
        exit(pid, "boom")
        assert await asyncio.wait_for(running, 5) == 1
    crash_lines = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert len(crash_lines) == 1, "each crash is logged once, by its supervisor"
    assert "root exited" in caplog.text


def test_sigterm_stops_a_real_program(tmp_path: Path) -> None:
    program = tmp_path / "app.py"
    program.write_text(
        textwrap.dedent(
            """
            import asyncio, sys
            sys.path.insert(0, {root!r})
            from soundforge.runtime.application import Application
            from soundforge.runtime.supervisor import Supervisor, SupervisorSpec
            from tests.runtime.workers import Behaviour, Trace, spec

            trace = Trace()

            async def main():
                root = Supervisor.child_spec(
                    SupervisorSpec([spec(i, trace, Behaviour(trap=True)) for i in "xyz"])
                )
                app = Application(root)
                task = asyncio.ensure_future(app.run())
                await app.started.wait()
                print("ready", flush=True)
                code = await task
                print(" ".join(trace.stops()), code, flush=True)

            asyncio.run(main())
            """
        ).format(root=str(Path(__file__).resolve().parents[2]))
    )
    proc = subprocess.Popen(
        [sys.executable, str(program)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert out.strip() == "z y x 0"
    assert proc.returncode == 0
