"""The operating-system side of the embedded PostgreSQL: binaries, users, pid files, sockets.

Everything here is a small blocking function (a file read, a ``pwd`` lookup, one
subprocess); :mod:`soundforge.storage.embedded_postgres` calls the slow ones through
``asyncio.to_thread`` so that none of them runs on the event loop. Nothing here raises a
SoundForge error: functions answer ``None`` or a value, and the caller turns that into the
one sentence a user reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shlex
import shutil
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import msgspec
import psutil  # type: ignore[import-untyped]  # no stubs installed

__all__ = [
    "PORT",
    "SOCKET_PATH_MAX",
    "STARTUP_LOG",
    "PidFile",
    "ServiceUser",
    "chown_tree",
    "create_service_user",
    "find_bindir",
    "find_service_user",
    "is_postmaster",
    "last_line",
    "leftover_processes",
    "log_failure",
    "log_sizes",
    "pid_in",
    "read_pidfile",
    "run",
    "server_options",
    "socket_dir_for",
    "unreachable_ancestor",
]

#: The longest Unix socket path PostgreSQL accepts: ``sizeof(sun_path)`` (108) minus the NUL.
SOCKET_PATH_MAX: Final = 107
#: The port only names the socket file (``.s.PGSQL.5432``): nothing listens on TCP.
PORT: Final = 5432
#: The existing system users that may run the cluster when SoundForge runs as root, in
#: order of preference: Debian's ``postgres`` (as Debian itself does), else our own.
SERVICE_USERS: Final = ("postgres", "soundforge")
#: Where Debian and Ubuntu install each major version's server programs.
VERSIONED_ROOT: Final = Path("/usr/lib/postgresql")

_SERVER_PROGRAMS: Final = ("initdb", "pg_ctl", "postgres")
#: pg_ctl's ``-l`` file: what the server prints before its logging collector takes over.
STARTUP_LOG: Final = "startup.log"


class ServiceUser(msgspec.Struct, frozen=True):
    """The unprivileged account the cluster runs as when SoundForge itself runs as root."""

    name: str
    uid: int
    gid: int


class PidFile(msgspec.Struct, frozen=True):
    """The lines of ``postmaster.pid`` that matter (see PostgreSQL's ``pidfile.h``)."""

    pid: int
    data_dir: str
    port: int
    socket_dir: str
    status: str  # "starting", "stopping", "ready" or "standby"


# -- binaries --------------------------------------------------------------------------------


def find_bindir(search_path: str | None = None, versioned_root: Path | None = None) -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None when none is installed.

    Looks, in order, where ``pg_config --bindir`` says, in ``/usr/lib/postgresql/*/bin``
    newest major version first, then beside an ``initdb`` found on ``search_path`` (default
    ``$PATH``), resolving symlinks.
    """
    path = os.environ.get("PATH", os.defpath) if search_path is None else search_path
    versioned_root = VERSIONED_ROOT if versioned_root is None else versioned_root
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config", path=path)
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    if versioned_root.is_dir():
        versions = [p for p in versioned_root.iterdir() if p.name.split(".")[0].isdigit()]
        versions.sort(key=lambda p: tuple(int(x) for x in p.name.split(".") if x.isdigit()))
        candidates += [v / "bin" for v in reversed(versions)]
    initdb = shutil.which("initdb", path=path)
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for candidate in candidates:
        if all(os.access(candidate / name, os.X_OK) for name in _SERVER_PROGRAMS):
            return candidate
    return None


# -- the service user ------------------------------------------------------------------------


def find_service_user(names: Sequence[str] = SERVICE_USERS) -> ServiceUser | None:
    """The first of ``names`` that exists on this system."""
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return ServiceUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
    return None


def create_service_user(name: str = SERVICE_USERS[-1]) -> ServiceUser | str:
    """Create a locked system account with no home and no shell; its entry, or why not."""
    useradd = shutil.which("useradd") or shutil.which("useradd", path="/usr/sbin:/sbin")
    if useradd is None:
        return "useradd is not installed"
    nologin = shutil.which("nologin", path="/usr/sbin:/sbin:/usr/bin:/bin") or "/bin/false"
    argv = [useradd, "--system", "--user-group", "--no-create-home"]
    argv += ["--home-dir", "/nonexistent", "--shell", nologin, name]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return str(error)
    if out.returncode != 0 and find_service_user([name]) is None:
        return out.stderr.strip() or f"useradd exited with status {out.returncode}"
    user = find_service_user([name])
    return user if user is not None else f"useradd did not create {name}"


def unreachable_ancestor(path: Path, user: ServiceUser) -> Path | None:
    """The first directory on the way to ``path`` that ``user`` may not enter, or None.

    Checked from the mode bits (owner, group, other) against the user's groups, because
    ``os.access`` answers for the caller, and root may enter anything.
    """
    groups = set(os.getgrouplist(user.name, user.gid))
    current = Path(path.anchor)
    for name in path.parts[1:]:
        current = current / name
        try:
            info = current.stat()
        except FileNotFoundError:
            return None  # we create the rest ourselves, with modes that let the user in
        if not _may_search(info, user.uid, groups):
            return current
    return None


def _may_search(info: os.stat_result, uid: int, groups: set[int]) -> bool:
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in groups:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


# -- the postmaster --------------------------------------------------------------------------


def read_pidfile(cluster_dir: Path) -> PidFile | None:
    """Parse ``postmaster.pid``; None when it is missing or not (yet) complete."""
    try:
        lines = (cluster_dir / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    except UnicodeDecodeError:
        return None
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return None
    field = lines + [""] * (8 - len(lines))
    port = int(field[3]) if field[3].strip().isdigit() else PORT
    return PidFile(pid, field[1], port, field[4].strip(), field[7].strip())


def is_postmaster(pid: int, cluster_dir: Path) -> bool:
    """Whether ``pid`` is a live PostgreSQL server process working in ``cluster_dir``.

    ``pg_ctl status`` only checks that *some* process has the pid, which after a crash and a
    reboot may be anything; we also require that it is called ``postgres``, is not a zombie,
    and (where we may look) that its working directory is the cluster: PostgreSQL chdirs
    into its data directory.
    """
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or proc.name() not in ("postgres", "postmaster"):
            return False
        try:
            return Path(proc.cwd()) == cluster_dir.resolve()
        except psutil.AccessDenied:
            return True  # another user's postgres: the name is all we may check
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


def leftover_processes(cluster_dir: Path) -> list[psutil.Process]:
    """Server processes still working in ``cluster_dir`` (backends of a killed postmaster)."""
    target = cluster_dir.resolve()
    found = []
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] != "postgres":
            continue
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and Path(proc.cwd()) == target:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


# -- sockets ---------------------------------------------------------------------------------


def socket_dir_for(data_dir: Path, cluster_dir: Path, socket_name: str) -> Path:
    """Where the server's Unix socket lives: the cluster directory when the full socket path
    fits in :data:`SOCKET_PATH_MAX` bytes, else ``/tmp/soundforge-<hash of data_dir>``."""
    if len(os.fsencode(cluster_dir / socket_name)) <= SOCKET_PATH_MAX:
        return cluster_dir
    digest = hashlib.sha256(os.fsencode(data_dir.resolve())).hexdigest()[:16]
    return Path("/tmp") / f"soundforge-{digest}"


# -- running programs ------------------------------------------------------------------------


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    user: ServiceUser | None,
    timeout: float,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program to completion, as ``user`` (dropping root) when given.

    The environment is minimal and fixed so that the user's locale or ``PG*`` variables
    cannot change what initdb and pg_ctl do. Raises ``subprocess.TimeoutExpired``.
    """
    env = {"PATH": os.defpath, "LC_ALL": "C", "LANG": "C"}
    return subprocess.run(
        [os.fspath(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd or "/",
        stdin=subprocess.DEVNULL,
        check=False,
        # Drop root: the user's uid and gid, and none of root's supplementary groups.
        user=user.uid if user is not None else None,
        group=user.gid if user is not None else None,
        extra_groups=[] if user is not None else None,
    )


# -- server options and logs --------------------------------------------------------------


def server_options(socket_dir: Path) -> str:
    """``postgres`` options for pg_ctl's ``-o`` (pg_ctl hands them to /bin/sh: quoted)."""
    settings = {
        "listen_addresses": "",
        # A list setting: double quotes keep commas and spaces in the path literal.
        "unix_socket_directories": '"' + os.fspath(socket_dir).replace('"', '""') + '"',
        "unix_socket_permissions": "0700",
        "port": str(PORT),
        "huge_pages": "off",
        "logging_collector": "on",
        "log_directory": "log",
        "log_filename": "postgresql-%a.log",
        "log_rotation_age": "1d",
        "log_rotation_size": "0",
        "log_truncate_on_rotation": "on",
    }
    argv: list[str] = []
    for name, value in settings.items():
        argv += ["-c", f"{name}={value}"]
    return shlex.join(argv)


def chown_tree(root: Path, user: ServiceUser) -> None:
    os.chown(root, user.uid, user.gid, follow_symlinks=False)
    for parent, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(parent, name), user.uid, user.gid, follow_symlinks=False)


def pid_in(path: Path) -> int | None:
    """The pid on the first line of a lock file, if there is one."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(path.read_text().split()[0])
    return None


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def log_sizes(cluster_dir: Path) -> dict[Path, int]:
    """The size of every server log now (the startup log and the collector's files)."""
    paths = [cluster_dir / STARTUP_LOG, *(cluster_dir / "log").glob("*.log")]
    sizes = {}
    for path in paths:
        with contextlib.suppress(OSError):
            sizes[path] = path.stat().st_size
    return sizes


def log_failure(cluster_dir: Path, before: dict[Path, int]) -> str:
    """The last FATAL or PANIC line the server logged since ``before`` (without its prefix)."""
    found = ""
    for path in log_sizes(cluster_dir):
        try:
            with path.open("rb") as f:
                f.seek(max(before.get(path, 0), f.seek(0, os.SEEK_END) - 8192))
                tail = f.read().decode(errors="replace")
        except OSError:
            continue
        for line in tail.splitlines():
            for level in ("FATAL:", "PANIC:"):
                if level in line:
                    found = line.split(level, 1)[1].strip()
    return found
