"""The reaper: a tiny helper OS process that kills port programs when the server dies hard.

Erlang has no counterpart. When the VM dies, its port programs are orphaned (see
``port.py``). Port actors kill their program's process group whenever *they* die, but
that needs Python code to run. When the server is SIGKILLed or OOM-killed, none does. So
each node starts one reaper lazily, with its first port. The node reports to it the
process group of every port program, and the reaper outlives the server just long enough
to SIGKILL those groups.

**Protocol** on the reaper's stdin, ASCII lines:

* ``+<pgid>\\n`` watch a process group;
* ``-<pgid>\\n`` forget it (its port finished killing it).

**When the reaper acts.** When its stdin ends, it SIGKILLs every group it still watches and
exits. The stdin ends when the server closes the pipe (``Reaper.stop``) or when the kernel
closes it because the server died. A second trigger does the same: Linux's
``PR_SET_PDEATHSIG`` sends it SIGTERM when its parent dies. That covers a server that forked
children without exec, which hold the pipe's write end open. Before acting, it reads the
registrations that are still in the pipe.

**Isolation.** The reaper runs in its own session, so a Ctrl-C aimed at the server's
terminal does not reach it. The server shuts its ports down gracefully by itself. The
reaper runs as ``python -I -S _reaper.py <server-pid>``. It imports only the standard
library, so it starts in a few milliseconds.

**Limits.** PDEATHSIG fires when the *thread* that started the reaper exits, so run the
node's loop in a thread that lives as long as the server (the main thread). A group
registered in the microseconds between a port program's start and its registration is not
covered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Final

__all__ = ["Reaper", "main"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG: Final = 1
_SCRIPT: Final = os.path.abspath(__file__)


# -- the node side ------------------------------------------------------------------------


class Reaper:
    """A node's handle on its reaper process: started lazily, started again if it died."""

    __slots__ = ("_groups", "_lock", "_proc")

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._groups: set[int] = set()
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The reaper's OS pid while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def ensure_started(self) -> None:
        """Start the reaper unless it runs; a replacement is told every group still watched."""
        if self._running():
            return
        async with self._lock:
            if self._running():
                return
            if self._proc is not None:
                log.error(
                    "the port reaper (OS pid %d) exited with status %s; starting a new one",
                    self._proc.pid,
                    self._proc.returncode,
                )
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                "-S",
                _SCRIPT,
                str(os.getpid()),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
            for pgid in self._groups:
                self._write(f"+{pgid}\n")

    def add(self, pgid: int) -> None:
        """Watch ``pgid``: SIGKILL it if the server dies before :meth:`remove`."""
        self._groups.add(pgid)
        self._write(f"+{pgid}\n")

    def remove(self, pgid: int) -> None:
        if pgid in self._groups:
            self._groups.discard(pgid)
            self._write(f"-{pgid}\n")

    async def stop(self, timeout: float = 2.0) -> None:
        """Close the reaper's stdin (it kills what it still watches) and wait for it to exit."""
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            log.warning("the port reaper (OS pid %d) did not exit; killing it", proc.pid)
            proc.kill()
            await proc.wait()
        self._groups.clear()

    def _running(self) -> bool:
        proc = self._proc
        return proc is not None and proc.returncode is None

    def _write(self, line: str) -> None:
        proc = self._proc
        stdin = proc.stdin if proc is not None else None
        if stdin is None or stdin.is_closing():
            # Not started yet (ensure_started sends the whole set) or gone (the next port's
            # ensure_started replaces it and sends the whole set).
            return
        stdin.write(line.encode("ascii"))


# -- the reaper program -------------------------------------------------------------------


class _ServerGone(Exception):
    """Raised by the SIGTERM handler to leave the blocking read."""


def _on_sigterm(signum: int, frame: object) -> None:
    # Once only: a second SIGTERM must not interrupt the killing that the first one starts.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _ServerGone


def _set_parent_death_signal(sig: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _apply(pending: bytearray, chunk: bytes, groups: set[int]) -> None:
    pending += chunk
    while True:
        end = pending.find(b"\n")
        if end < 0:
            return
        line = bytes(pending[:end]).strip()
        del pending[: end + 1]
        if len(line) > 1 and line[1:].isdigit():
            if line[:1] == b"+":
                groups.add(int(line[1:]))
            elif line[:1] == b"-":
                groups.discard(int(line[1:]))


def _read_rest(pending: bytearray, groups: set[int]) -> None:
    os.set_blocking(0, False)
    while True:
        try:
            chunk = os.read(0, 65536)
        except OSError:  # EAGAIN: nothing more is buffered; any other error: stop reading
            return
        if not chunk:
            return
        _apply(pending, chunk, groups)


def main(argv: list[str]) -> int:
    server = int(argv[1]) if len(argv) > 1 else os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    groups: set[int] = set()
    pending = bytearray()
    term = {signal.SIGTERM}
    try:
        _set_parent_death_signal(signal.SIGTERM)
        if os.getppid() != server:
            raise _ServerGone  # the server died before the death signal was armed
        while True:
            chunk = os.read(0, 65536)
            if not chunk:
                break
            # SIGTERM waits while a chunk is applied, so a registration is never half-applied.
            signal.pthread_sigmask(signal.SIG_BLOCK, term)
            _apply(pending, chunk, groups)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, term)
        # Stdin ended; the death signal usually follows. Past this line it must not interrupt.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except _ServerGone:
        _read_rest(pending, groups)
    for pgid in groups:
        # ESRCH (already gone) or EPERM (not ours to kill): nothing more to do either way.
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
