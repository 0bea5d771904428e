"""Workers used by the queue's tests (importable by the node script run as a child process).

Behaviour comes from the job's args, never from shared state, so one class serves every test.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from soundforge.queue import Cancel, Error, JobRecord, Snooze, Worker
from soundforge.runtime.port import Port, PortOptions
from soundforge.runtime.results import Ok


class Noop(Worker):
    name = "test.Noop"

    async def perform(self, job: JobRecord) -> Any:
        return None


class Scripted(Worker):
    """Step ``attempt - 1 + snoozes`` of ``args["script"]``: ok, error, raise, cancel, snooze."""

    name = "test.Scripted"
    max_attempts = 5

    def backoff(self, attempt: int) -> float:
        return 0.1 * attempt

    async def perform(self, job: JobRecord) -> Any:
        script: list[str] = job.args["script"]
        step = script[min(len(script) - 1, job.attempt - 1 + job.meta.get("snoozed", 0))]
        if step == "error":
            return Error(f"failed attempt {job.attempt}")
        if step == "raise":
            raise RuntimeError(f"crashed on attempt {job.attempt}")
        if step == "cancel":
            return Cancel("not wanted")
        if step == "snooze":
            return Snooze(job.args.get("snooze", 0.05))
        return {"ok": job.attempt}


class Slow(Worker):
    """Sleeps ``args["seconds"]`` (30 by default): for cancels, kills and shutdowns."""

    name = "test.Slow"
    max_attempts = 3

    def backoff(self, attempt: int) -> float:
        return 0.05

    async def perform(self, job: JobRecord) -> Any:
        await asyncio.sleep(job.args.get("seconds", 30.0))
        return None


class Sleepy(Worker):
    """Runs past its 0.1 s timeout."""

    name = "test.Sleepy"
    timeout = 0.1
    max_attempts = 2

    def backoff(self, attempt: int) -> float:
        return 0.05

    async def perform(self, job: JobRecord) -> Any:
        await asyncio.sleep(5)
        return None


#: A port program that starts a grandchild, reports both pids and ignores SIGTERM, so only
#: the port's SIGKILL of the whole process group can end the family.
PORT_FAMILY = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
ignore = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
child = subprocess.Popen([sys.executable, "-c", ignore])
with open(sys.argv[1], "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
time.sleep(600)
"""


class UsesPort(Worker):
    """Runs a port (linked to the job's task) until cancelled; writes the OS pids to a file."""

    name = "test.UsesPort"

    async def perform(self, job: JobRecord) -> Any:
        options = PortOptions(
            [sys.executable, "-c", PORT_FAMILY, job.args["pids_file"]], framing=False, shutdown=0.3
        )
        started = await Port.start_link(options)
        assert isinstance(started, Ok), started
        await asyncio.sleep(600)
        return None


ALL = [Noop, Scripted, Slow, Sleepy, UsesPort]
