"""A throwaway PostgreSQL cluster for the test session (real server, Debian's binaries).

``initdb`` + ``pg_ctl`` into a temporary directory, TCP on a free 127.0.0.1 port and a Unix
socket in the directory, ``fsync=off``; run as the ``postgres`` system user when the tests run
as root (PostgreSQL refuses to run as root). Each test gets its own fresh database, created
from the cluster in a few milliseconds and dropped afterwards.

This is test infrastructure only; the product's embedded cluster lives in the package.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PgCluster", "find_bindir", "start_cluster"]


def find_bindir() -> Path:
    """Where initdb and pg_ctl live: pg_config, Debian's versioned dirs, or PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for path in candidates:
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    raise RuntimeError(
        "PostgreSQL server binaries are not installed; run `apt-get install postgresql`"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    """A running throwaway cluster."""

    bindir: Path
    datadir: Path
    port: int
    run_as: str | None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(
            self.run_as, [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args], check
        )

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-m", mode, "-w", check=False)

    def start(self) -> None:
        self.pg_ctl(
            "start",
            "-w",
            "-l",
            str(self.datadir / "server.log"),
            "-o",
            f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
        )

    def restart(self) -> None:
        self.stop()
        self.start()


def _run(user: str | None, argv: list[str], check: bool) -> subprocess.CompletedProcess[str]:
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


def start_cluster() -> Iterator[PgCluster]:
    """Create and start a cluster; stop and remove it when the generator is closed."""
    bindir = find_bindir()
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="soundforge-pg-"))
    if os.geteuid() == 0:
        run_as = "postgres"
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    datadir = root / "data"
    _run(
        run_as,
        [
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
    )
    cluster = PgCluster(bindir, datadir, _free_port(), run_as)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
