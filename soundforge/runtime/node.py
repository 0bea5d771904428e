"""The node: one running runtime instance (Erlang's node / VM), owner of all process state.

Everything that Erlang keeps in the VM lives on a :class:`Node`: the process table, the
local name registry, reference counters, the clock and timers, call deadlines and the
telemetry bus. Nothing is module-level, so a test can start and stop whole nodes::

    async with Node() as node:
        pid = spawn(worker)
        ...
    # leaving the block kills what is still running and waits for it

Code running inside a process finds its node through the process; code outside any process
(a test body, the CLI) finds it through a context variable that ``Node.__aenter__`` sets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from contextvars import Token
from types import TracebackType
from typing import Any

from soundforge.runtime._deadlines import Deadlines
from soundforge.runtime.clock import Clock, LoopClock
from soundforge.runtime.errors import AlreadyRegistered
from soundforge.runtime.exit import KILLED, NORMAL
from soundforge.runtime.process import _SPAWN_EVENT, Process, Ref, _current, _node, run_process
from soundforge.runtime.telemetry import Telemetry

__all__ = ["Node"]

log = logging.getLogger(__name__)


class Node:
    """A runtime instance: the process table, names, clock, deadlines and telemetry."""

    def __init__(self, *, clock: Clock | None = None, name: str = "soundforge@localhost") -> None:
        self.name = name
        self._clock_arg = clock
        self.processes: dict[int, Process] = {}
        self.names: dict[Hashable, Process] = {}
        self.telemetry = Telemetry()
        self.root: Process | None = None
        self._next_id = 0
        # Tasks of processes that died but whose coroutines are still unwinding (a killed
        # process's ``finally`` blocks run at its next step). Live processes hold their own.
        self._unwinding: set[asyncio.Task[None]] = set()
        self._token: Token[Node | None] | None = None
        # Set by start(); plain attributes because every call and wakeup reads them.
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.clock: Clock = None  # type: ignore[assignment]
        self.deadlines: Deadlines = None  # type: ignore[assignment]
        self._stop_callbacks: list[Callable[[], Awaitable[None]]] = []
        #: Per-node state of runtime services the node itself does not know (the port table
        #: and its reaper, ...), keyed by the owning module's name; it lives as long as the node.
        self.extensions: dict[str, Any] = {}

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> Node:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def start(self) -> None:
        """Bind the node to the running loop and make it the current node of this context."""
        self.loop = asyncio.get_running_loop()
        self.clock = self._clock_arg or LoopClock(self.loop)
        self.deadlines = Deadlines(self.clock)
        self._token = _node.set(self)

    async def stop(self, timeout: float = 5.0) -> None:
        """Kill every process still alive (newest first), wait for their tasks, run on_stop."""
        for proc in sorted(self.processes.values(), key=lambda p: p.pid.id, reverse=True):
            proc.die(KILLED)
        pending = [t for t in self._unwinding if not t.done()]
        if pending:
            _done, stuck = await asyncio.wait(pending, timeout=timeout)
            for task in stuck:
                log.warning(
                    "process task %r did not finish within %.1f s of node stop", task, timeout
                )
        callbacks, self._stop_callbacks = self._stop_callbacks, []
        for callback in reversed(callbacks):
            try:
                await callback()
            except Exception:  # one service's failed cleanup must not skip the others' cleanup
                log.exception("stop callback %r of node %s failed", callback, self.name)
        if self._token is not None:
            _node.reset(self._token)
            self._token = None

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await ``callback()`` in :meth:`stop`, after every process has ended.

        Callbacks run newest first, each once; services use this to release what outlives
        processes (a port's OS process group, the port reaper).
        """
        self._stop_callbacks.append(callback)

    # -- processes --------------------------------------------------------------------

    def new_process(self, kind: str, parent: Process | None) -> Process:
        """Allocate a process record (not yet running) and enter it in the table."""
        self._next_id += 1
        proc = Process(self, self._next_id, kind, parent)
        self.processes[self._next_id] = proc
        tele = self.telemetry
        if tele.wants(_SPAWN_EVENT):
            tele.execute(_SPAWN_EVENT, {"count": 1}, {"pid": proc.pid, "kind": kind})
        return proc

    def start_task(
        self, proc: Process, body: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
    ) -> None:
        """Run ``body(*args)`` as the task of ``proc``."""
        proc.task = self.loop.create_task(run_process(proc, body, args))

    def start_coroutine(self, proc: Process, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as the task of ``proc``; it must map its own outcome to an exit
        (as :func:`run_process` does) — for behaviours that fold the runner into their loop."""
        proc.task = self.loop.create_task(coro)

    def unwinding(self, task: asyncio.Task[None]) -> None:
        """Keep a dead process's cancelled task until it has finished unwinding."""
        self._unwinding.add(task)
        task.add_done_callback(self._unwinding.discard)

    def register_name(self, name: Hashable, proc: Process) -> None:
        owner = self.names.get(name)
        if owner is not None:
            raise AlreadyRegistered(name, owner.pid)
        if proc.name is not None:
            raise AlreadyRegistered(proc.name, proc.pid)
        self.names[name] = proc
        proc.name = name

    def attach(self, kind: str = "shell") -> Process:
        """Make the calling context a process (Erlang's shell), for tests and the CLI.

        Code in this context can then receive, link, monitor and trap exits. The attached
        process has no task of its own: a kill marks it dead but cannot interrupt the caller.
        """
        proc = self.new_process(kind, None)
        _current.set(proc)
        return proc

    def detach(self, proc: Process) -> None:
        """End an attached process normally."""
        proc.die(NORMAL)
        if _current.get() is proc:
            _current.set(None)

    def make_ref(self) -> Ref:
        self._next_id += 1
        return Ref(self._next_id)

    def live_tasks(self) -> int:
        """Process tasks not yet finished (killed processes may still be unwinding)."""
        running = sum(
            1 for p in self.processes.values() if p.task is not None and not p.task.done()
        )
        return running + sum(1 for t in self._unwinding if not t.done())
