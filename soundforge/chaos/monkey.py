"""The chaos monkey: the three kinds of harm the harness does to a running studio tree.

* :func:`kill_actor` sends an untrappable ``KILL`` exit signal to a random process below the
  root supervisor: Erlang's ``exit(Pid, kill)``, what a crash looks like to its supervisor
  without the courtesy of ``terminate``.
* :func:`kill_port_program` SIGKILLs the OS process of a random port (an audio program),
  which is what the kernel's OOM killer does to a separator mid-song.
* :func:`restart_postgres` restarts the embedded cluster with ``pg_ctl restart -m fast``:
  every session is ended, the server comes back on the same socket a moment later.

What is never a target: the application master and the root supervisor (killing the root is
stopping the server, not a fault it can survive by design), and processes outside the root
(the harness itself and its importer). Everything else is fair game, the Repo included: its
exit hook drops the pool and the data directory's lock without stopping PostgreSQL, and the
Repo the supervisor starts next adopts the running cluster (``docs/chaos.md``).

Each function returns a :class:`ChaosAction`, the line the harness logs and reports.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import random
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import msgspec

from soundforge.actors import port_pool
from soundforge.chaos._tree import Snapshot, TreeEntry, find_pid
from soundforge.runtime import port
from soundforge.runtime.errors import ActorError, NoProc
from soundforge.runtime.exit import KILL
from soundforge.runtime.node import Node
from soundforge.runtime.process import exit
from soundforge.storage import EmbeddedPostgres
from soundforge.storage import _postgres_os as pgos  # pg_ctl as the cluster's own user

__all__ = [
    "ChaosAction",
    "kill_actor",
    "kill_port_program",
    "restart_postgres",
    "timestamp",
]

#: How long ``pg_ctl restart`` may take (the fast stop, then the start, with crash recovery).
PG_RESTART_TIMEOUT: Final = 20
#: How long after pg_ctl returned a new postmaster must serve the cluster.
PG_BACK_TIMEOUT: Final = 30.0


def _unix_now() -> float:
    return time.time()


class ChaosAction(msgspec.Struct, kw_only=True):
    """One thing the monkey did, as logged; ``restarted_after_s`` is filled in later."""

    #: Seconds since chaos began, and the wall-clock time (UTC, ISO 8601, milliseconds).
    at_s: float
    time: str
    #: The same moment in seconds since the epoch (what process start times are in).
    unix_time: float = msgspec.field(default_factory=_unix_now)
    kind: str  # "actor", "port" or "postgres"
    target: str
    pid: str | None = None
    path: str | None = None
    os_pid: int | None = None
    #: What happened: "killed", "SIGKILL sent", "restarted in 1.2 s", or why nothing was done.
    outcome: str = ""
    ok: bool = True
    #: For a supervised actor: seconds from the kill until the process its supervisor started
    #: in its place began (its ``init`` may have taken longer).
    restarted_after_s: float | None = None


def timestamp(when: float | None = None) -> str:
    """``when`` (default: now) as UTC ISO 8601 with milliseconds, e.g. ``...T18:42:22.665Z``."""
    moment = datetime.now(UTC) if when is None else datetime.fromtimestamp(when, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def kill_actor(node: Node, tree: Snapshot, rng: random.Random, at_s: float) -> ChaosAction:
    """``exit(pid, KILL)`` on a random running process of ``tree`` (below the root)."""
    targets = tree.running()
    if not targets:
        return _nothing(at_s, "actor", "no process runs below the root supervisor")
    target = rng.choice(targets)
    assert target.pid is not None
    pid = find_pid(node, target.pid)
    if pid is None:
        return _nothing(at_s, "actor", f"{target.label} {target.pid} ended before the kill")
    exit(pid, KILL)
    now = time.time()
    return ChaosAction(
        at_s=at_s,
        time=timestamp(now),
        unix_time=now,
        kind="actor",
        target=_describe(target),
        pid=target.pid,
        path=target.path,
        outcome="killed"
        if target.path
        else "killed (no supervisor restarts it: not a static child)",
    )


async def kill_port_program(
    node: Node, tree: Snapshot, rng: random.Random, at_s: float
) -> ChaosAction | None:
    """SIGKILL the OS process of a random running port; None when no port runs."""
    ports = [e for e in tree.running() if e.kind == "port"]
    if not ports:
        return None
    target = rng.choice(ports)
    assert target.pid is not None
    pid = find_pid(node, target.pid)
    try:
        if pid is None:
            raise NoProc(target.pid)
        os_pid = await port.os_pid(pid)
        program = await _program_of(os_pid)
        os.kill(os_pid, signal.SIGKILL)
    except (ActorError, ProcessLookupError):  # the port or its program ended meanwhile
        return _nothing(at_s, "port", f"the port {target.pid} ended before the kill")
    now = time.time()
    return ChaosAction(
        at_s=at_s,
        time=timestamp(now),
        unix_time=now,
        kind="port",
        target=f"{program} program (port {target.pid})",
        pid=target.pid,
        os_pid=os_pid,
        outcome="SIGKILL sent",
    )


async def _program_of(os_pid: int) -> str:
    """Which pool's program ``os_pid`` is (``separator``...), asked of the pools themselves."""
    for program in port_pool.PROGRAMS:
        try:
            status = await port_pool.status(port_pool.pool_name(program))
        except ActorError:  # no such pool on this node, or it is restarting
            continue
        if os_pid in status.os_pids:
            return str(program)
    return "audio"


async def restart_postgres(data_dir: Path, at_s: float) -> ChaosAction:
    """``pg_ctl restart -m fast`` on the embedded cluster under ``<data_dir>/pg``.

    Runs as the cluster directory's owner (the unprivileged ``postgres`` or ``soundforge``
    user when the server runs as root), in a worker thread so the tree keeps running. The
    Repo owns the cluster and starts it again itself when it finds it stopped, so its start
    and pg_ctl's race between the stop and the start; whichever loses fails harmlessly
    ("lock file postmaster.pid already exists"). The action succeeded when a new postmaster
    serves the cluster afterwards, whoever started it.
    """
    cluster = data_dir / "pg"
    started = time.monotonic()
    when = time.time()
    before = pgos.read_pidfile(cluster)
    bindir = await asyncio.to_thread(pgos.find_bindir)
    if bindir is None or before is None:
        return _nothing(at_s, "postgres", "no running cluster or no pg_ctl found", when=when)
    argv: list[str | os.PathLike[str]] = [bindir / "pg_ctl", "restart", "-D", cluster]
    argv += ["-m", "fast", "-w", "-s", "-t", str(PG_RESTART_TIMEOUT)]
    # The start's own output goes to the log file the embedded cluster uses; without -l it
    # would go to pg_ctl's pipes, which the new postmaster would then hold open.
    argv += ["-l", cluster / pgos.STARTUP_LOG]
    user = await asyncio.to_thread(_cluster_owner, cluster)
    try:
        result = await asyncio.to_thread(pgos.run, argv, user=user, timeout=PG_RESTART_TIMEOUT + 10)
    except (OSError, subprocess.SubprocessError) as error:  # reported; the run goes on
        return _nothing(at_s, "postgres", f"pg_ctl restart failed: {error}", when=when)
    said = pgos.last_line(result.stderr) or f"pg_ctl exited with {result.returncode}"
    serving = await _new_postmaster(data_dir, before.pid, PG_BACK_TIMEOUT)
    seconds = time.monotonic() - started
    if serving is None:
        why = f"PostgreSQL did not serve again within {PG_BACK_TIMEOUT:g} s (pg_ctl: {said})"
        return _nothing(at_s, "postgres", why, when=when)
    if result.returncode == 0:
        outcome = f"restarted by pg_ctl restart -m fast; serving again after {seconds:.1f} s"
    else:
        outcome = (
            f"stopped by pg_ctl (fast), started again by the Repo before pg_ctl could "
            f"({said}); serving again after {seconds:.1f} s"
        )
    return ChaosAction(
        at_s=at_s,
        time=timestamp(when),
        unix_time=when,
        kind="postgres",
        target=f"PostgreSQL in {cluster} (postmaster {before.pid} -> {serving})",
        outcome=outcome,
    )


async def _new_postmaster(data_dir: Path, old: int, timeout: float) -> int | None:
    """The pid of a postmaster other than ``old`` serving the cluster, once one does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = pgos.read_pidfile(data_dir / "pg")
        if info is not None and info.pid != old and EmbeddedPostgres.running_dsn(data_dir):
            return info.pid
        await asyncio.sleep(0.1)
    return None


def _cluster_owner(cluster: Path) -> pgos.ServiceUser | None:
    """The user to run pg_ctl as: the cluster's owner when we are root and it is not."""
    owner = cluster.stat().st_uid
    if os.geteuid() != 0 or owner == 0:
        return None
    entry = pwd.getpwuid(owner)
    return pgos.ServiceUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _describe(entry: TreeEntry) -> str:
    where = f" at {entry.path}" if entry.path and entry.path != entry.label else ""
    return f"{entry.kind} {entry.label} {entry.pid}{where}"


def _nothing(at_s: float, kind: str, why: str, *, when: float | None = None) -> ChaosAction:
    when = time.time() if when is None else when
    return ChaosAction(
        at_s=at_s,
        time=timestamp(when),
        unix_time=when,
        kind=kind,
        target="-",
        outcome=why,
        ok=False,
    )
