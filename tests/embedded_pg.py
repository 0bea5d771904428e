"""Scratch data directories for tests of the embedded PostgreSQL, and a forced cleanup.

pytest's ``tmp_path`` lives under ``/tmp/pytest-of-root`` (mode 0700), which the unprivileged
user that runs PostgreSQL for root may not enter; these directories are ``/tmp/sf-*`` with
mode 0711 (enter, not list). Whatever a test leaves running in one is stopped immediately
(SIGQUIT to the postmaster) before the directory is removed.

initdb takes about a second; tests that are not about the first start copy a cluster made
once per test module (:func:`cluster_template`) instead, as a second run would find it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from soundforge.storage import EmbeddedPostgres
from soundforge.storage import _postgres_os as pgos

__all__ = ["cluster_template", "force_stop", "postmaster", "scratch_data_dir"]


@contextlib.contextmanager
def scratch_data_dir(name: str = "data", template: Path | None = None) -> Iterator[Path]:
    """``/tmp/sf-XXXX/<name>``, holding a copy of ``template``'s cluster if given (else not
    created); everything under it is removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="sf-", dir="/tmp"))
    root.chmod(0o711)
    data_dir = root / name
    try:
        if template is not None:
            data_dir.mkdir(parents=True)
            # cp -a keeps the owner (the server's user when the tests run as root).
            subprocess.run(["cp", "-a", template / "pg", data_dir / "pg"], check=True, timeout=60)
        yield data_dir
    finally:
        force_stop(data_dir)
        shutil.rmtree(root, ignore_errors=True)


def cluster_template() -> Iterator[Path]:
    """A data directory whose cluster was created (and cleanly stopped) once: a session
    fixture's body."""
    with scratch_data_dir() as data_dir:

        async def create() -> None:
            pg = EmbeddedPostgres(data_dir)
            await pg.start()
            await pg.stop()

        asyncio.run(create())
        yield data_dir


def force_stop(data_dir: Path, timeout: float = 10.0) -> None:
    """Immediate shutdown of any postmaster serving ``<data_dir>/pg``; bounded."""
    cluster = data_dir / "pg"
    info = pgos.read_pidfile(cluster)
    if info is not None and pgos.is_postmaster(info.pid, cluster):
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGQUIT)
        deadline = time.monotonic() + timeout
        while pgos.is_postmaster(info.pid, cluster) and time.monotonic() < deadline:
            time.sleep(0.02)
    deadline = time.monotonic() + timeout
    while pgos.leftover_processes(cluster) and time.monotonic() < deadline:
        time.sleep(0.02)
    socket_dir = pgos.socket_dir_for(data_dir, cluster, f".s.PGSQL.{pgos.PORT}")
    if socket_dir != cluster:
        shutil.rmtree(socket_dir, ignore_errors=True)


def postmaster(data_dir: Path) -> psutil.Process | None:
    """The live postmaster serving ``<data_dir>/pg``, if any."""
    info = pgos.read_pidfile(data_dir / "pg")
    if info is None or not pgos.is_postmaster(info.pid, data_dir / "pg"):
        return None
    return psutil.Process(info.pid)
