"""The OS side of a port: one program's process group, its pipes, and the node's table of them.

This is what Erlang keeps in its VM and its ``erl_child_setup`` helper, and what
MuonTrap/erlexec add on top: spawning a program in its own session, learning its exit
status, and escalating from SIGTERM to SIGKILL for its whole process group. The actor side
(messages, owner, API) is in ``port.py``.

Nothing here belongs to an actor. A :class:`Program` outlives its port actor until its
group is gone, its SIGKILL timer runs on the node's clock, and the node's
:class:`PortTable` holds every live program. When the node stops, the table gives them their
grace in real time, SIGKILLs what is left, and stops the reaper (``_reaper.py``).

**Limit.** A process group id is only reused once the group is empty. So a SIGKILL sent at the
end of the grace can only reach an unrelated group if every member exited and the kernel
gave the number to a new session leader within those seconds.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from soundforge.runtime._reaper import Reaper
from soundforge.runtime.clock import TimerHandle

if TYPE_CHECKING:
    from soundforge.runtime.node import Node

__all__ = [
    "EXTENSION",
    "KILL_MARGIN",
    "PortProtocol",
    "PortTable",
    "Program",
    "exit_status",
    "port_table",
    "read_line",
    "resident_memory",
]

log = logging.getLogger("soundforge.runtime.port")

#: Where a node keeps its port table (``Node.extensions``).
EXTENSION: Final = "soundforge.runtime.port"
#: How long to wait past a SIGKILL for the kernel to report the program's end (seconds).
KILL_MARGIN: Final = 1.0

try:
    _psutil: Any = importlib.import_module("psutil")
except ImportError:  # an optional dependency; its absence only hides memory and zombie checks
    _psutil = None


def exit_status(returncode: int) -> int:
    """asyncio's return code (negative for a signal) as Erlang's exit_status (128 + signal)."""
    return 128 - returncode if returncode < 0 else returncode


class PortProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's stream protocol that also calls ``on_exit(returncode)`` when the program
    exits, so no task has to wait for it (and none outlives the actor)."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.returncode: int | None = None
        self.on_exit: Callable[[int], None] | None = None
        # A subprocess transport; uvloop's does not subclass asyncio.SubprocessTransport.
        self._subprocess: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._subprocess = transport
        super().connection_made(transport)

    def process_exited(self) -> None:
        returncode: int | None = self._subprocess.get_returncode()
        super().process_exited()
        if returncode is None:
            return
        self.returncode = returncode
        if self.on_exit is not None:
            self.on_exit(returncode)


class Program:
    """The OS side of one port: the program's process group, its pipes, and the escalation
    from SIGTERM to SIGKILL.

    It lives on the event loop, not in the actor. When the actor dies, its exit hook calls
    :meth:`terminate`, and the SIGKILL timer on the node's clock does not need the actor.
    The node's port table keeps this object until its group is gone. ``notify(status)`` is
    called once when the program itself exits (with Erlang's exit status).
    """

    __slots__ = (
        "_kill_timer",
        "_released",
        "_terminating",
        "exited",
        "gone",
        "grace",
        "notify",
        "pgid",
        "pid",
        "status",
        "stderr",
        "stdin",
        "stdout",
        "table",
        "transport",
    )

    def __init__(
        self,
        table: PortTable,
        transport: asyncio.SubprocessTransport,
        protocol: PortProtocol,
        grace: float,
        notify: Callable[[int], None],
    ) -> None:
        assert protocol.stdout is not None and protocol.stderr is not None
        self.table = table
        self.transport = transport
        self.pid: int = transport.get_pid()
        self.pgid = self.pid  # start_new_session: the program leads its own group
        self.stdin = protocol.stdin
        self.stdout: asyncio.StreamReader = protocol.stdout
        self.stderr: asyncio.StreamReader = protocol.stderr
        self.grace = grace
        self.notify = notify
        self.status: int | None = None
        self.exited: asyncio.Future[int] = table.loop.create_future()
        self.gone = False
        self._terminating = False
        self._released = False
        self._kill_timer: TimerHandle | None = None
        protocol.on_exit = self._on_exit
        if protocol.returncode is not None:
            # It exited before the spawn returned to us (asyncio ran its callbacks first).
            self._on_exit(protocol.returncode)

    def _on_exit(self, returncode: int) -> None:
        if self.status is not None:
            return
        self.status = exit_status(returncode)
        if not self.exited.done():
            self.exited.set_result(self.status)
        self.notify(self.status)
        self._close_transport()

    def write(self, payload: bytes) -> bool:
        """Write to the program's stdin; False when the pipe is closed (nothing written)."""
        stdin = self.stdin
        if stdin is None or stdin.is_closing():
            return False
        stdin.write(payload)
        # A broken pipe is found by the write itself, which then closes the transport.
        return not stdin.is_closing()

    def terminate(self) -> None:
        """Close stdin, SIGTERM the group, SIGKILL it after the grace. Idempotent."""
        if self._terminating or self.gone:
            return
        self._terminating = True
        if self.stdin is not None:
            self.stdin.close()
        if not self.signal(signal.SIGTERM):
            self._finish()  # the group is already empty
            return
        self._kill_timer = self.table.clock.call_later(self.grace, self.kill)

    def kill(self) -> None:
        """SIGKILL the group now; it is then forgotten."""
        if self.gone:
            return
        if self._kill_timer is not None:
            self._kill_timer.cancel()
            self._kill_timer = None
        self.signal(signal.SIGKILL)
        self._finish()

    def signal(self, sig: int) -> bool:
        """Signal the whole group; False if it has no member left (0 only tests that)."""
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            # A member changed its credentials (a setuid helper): it is alive, not ours to kill.
            log.warning("port program group %d has a member this server may not signal", self.pgid)
        return True

    def running(self) -> bool:
        """Whether any member of the group still runs; zombies left by an init that does not
        reap orphans (a container without one) do not count."""
        if not self.signal(0):
            return False
        if _psutil is None:
            return True
        for proc in _psutil.process_iter(["status"]):
            try:
                if os.getpgid(proc.pid) == self.pgid and proc.info["status"] != "zombie":
                    return True
            except OSError:
                continue  # it exited while we looked: not running
        return False

    def release(self) -> None:
        """The actor is gone: nothing reads the pipes any more; close them once it exited."""
        self._released = True
        self._close_transport()

    def _close_transport(self) -> None:
        # Closing before the exit would SIGKILL the leader alone; after it, only the pipes.
        if self._released and self.status is not None:
            self.transport.close()

    def _finish(self) -> None:
        self.gone = True
        self.table.forget(self)


class PortTable:
    """A node's live port programs and its reaper; it ends them when the node stops."""

    __slots__ = ("clock", "loop", "node", "programs", "reaper")

    def __init__(self, node: Node) -> None:
        self.node = node
        self.loop = node.loop
        self.clock = node.clock
        self.reaper = Reaper()
        self.programs: set[Program] = set()
        node.on_stop(self.shutdown)

    def adopt(self, program: Program) -> None:
        self.programs.add(program)
        self.reaper.add(program.pgid)

    def forget(self, program: Program) -> None:
        self.programs.discard(program)
        self.reaper.remove(program.pgid)

    async def shutdown(self) -> None:
        """SIGTERM what is left, give it its grace (in real time), SIGKILL the rest, then stop
        the reaper."""
        if self.node.extensions.get(EXTENSION) is self:
            del self.node.extensions[EXTENSION]
        programs = list(self.programs)
        for program in programs:
            program.terminate()
        loop = self.loop
        end = loop.time() + max((p.grace for p in programs), default=0.0)
        # Polling: the kernel offers no event for "this process group is empty".
        while loop.time() < end and any(not p.gone and p.running() for p in programs):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for program in programs:
            program.kill()
        exits = [p.exited for p in programs if not p.exited.done()]
        if exits:
            # Let asyncio see the exits while the loop runs, so every transport is closed.
            await asyncio.wait(exits, timeout=KILL_MARGIN)
        await self.reaper.stop()


def port_table(node: Node) -> PortTable:
    table = node.extensions.get(EXTENSION)
    if not isinstance(table, PortTable):
        table = node.extensions[EXTENSION] = PortTable(node)
    return table


def resident_memory(pid: int) -> int | None:
    """Resident bytes of the program and its descendants, if psutil can tell."""
    if _psutil is None:
        return None
    try:
        root = _psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        total = 0
        for proc in procs:
            try:
                total += int(proc.memory_info().rss)
            except _psutil.Error:
                continue  # a descendant that just exited: it holds no memory any more
        return total
    except _psutil.Error:
        return None  # the program just exited (or is a zombie): no figure to show


async def read_line(reader: asyncio.StreamReader) -> bytes:
    """The next line with its newline; a too-long line in pieces; ``b""`` at the end."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as error:
        return error.partial  # the last line had no newline (b"" when there is none)
    except asyncio.LimitOverrunError as error:
        return await reader.readexactly(error.consumed)
