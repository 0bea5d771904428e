"""Application: run a supervision tree as a program until it is told to stop.

OTP's application master starts the top supervisor, and stops it when the node is asked to
stop; a top supervisor that gives up stops the node. Here::

    app = Application(Root.child_spec())
    exit_code = await app.run()          # until SIGINT/SIGTERM or app.request_stop()

``run`` starts a :class:`Node`, starts the root (children in order), waits, then stops the
root with its ``shutdown`` spec (children in reverse order, each by its own spec) within
``stop_timeout`` seconds — after that the root is killed and whatever is left is killed by the
node. Crashes are logged once, by the supervisor that handles them. The exit code is 0 for a
requested stop and 1 when the tree failed to start or its root died on its own.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from typing import Any, Final

import msgspec

from soundforge.runtime._shutdown import shutdown_child
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.clock import Clock
from soundforge.runtime.exit import format_reason
from soundforge.runtime.node import Node
from soundforge.runtime.process import Exit, Process, receive, trap_exit
from soundforge.runtime.results import Error, Ignore, Ok
from soundforge.runtime.supervisor import explain_start_failure

__all__ = ["GC_THRESHOLDS", "Application", "StopRequested", "tune_gc"]

log = logging.getLogger(__name__)


#: The server's garbage-collector thresholds. Every actor is a handful of long-lived objects
#: (process record, task, coroutine, mailbox); with CPython's default (700, 10, 10), starting
#: 100,000 actors triggers about 13 full collections and takes twice as long. A larger
#: generation-0 threshold keeps young garbage collection cheap and full passes rare.
GC_THRESHOLDS: Final = (10_000, 10, 10)


def tune_gc() -> None:
    """Apply the server's GC thresholds (process-wide: only programs call this, not libraries)."""
    gc.set_threshold(*GC_THRESHOLDS)


class StopRequested(msgspec.Struct, frozen=True):
    """Delivered to the application master to stop the tree (a signal, or a caller)."""

    why: str


class Application:
    """The application master: owns the node and the root of the supervision tree."""

    def __init__(
        self,
        root: ChildSpec,
        *,
        stop_timeout: float = 30.0,
        clock: Clock | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.root_spec = root
        self.stop_timeout = stop_timeout
        self.handle_signals = handle_signals
        self.node = Node(clock=clock)
        self.started = asyncio.Event()
        self._master: Process | None = None
        #: Why the tree failed to start, in one line (None while it starts or runs).
        self.failure: str | None = None

    def request_stop(self, why: str = "requested") -> None:
        """Ask the running application to stop its tree and return from :meth:`run`."""
        if self._master is not None:
            self._master.deliver(StopRequested(why))

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        tune_gc()
        async with self.node as node:
            self._master = node.attach("application")
            trap_exit(True)
            signals = self._install_signals(loop) if self.handle_signals else []
            try:
                return await self._run_tree()
            finally:
                for sig in signals:
                    loop.remove_signal_handler(sig)
                node.detach(self._master)
                self._master = None

    async def _run_tree(self) -> int:
        spec = self.root_spec
        result = await spec.start(*spec.args)
        if isinstance(result, Error):
            self.failure = explain_start_failure(result.reason)
            log.error("the application failed to start: %s", self.failure)
            log.debug("start failure: %s", format_reason(result.reason, with_traceback=True))
            return 1
        if isinstance(result, Ignore) or not isinstance(result, Ok):
            log.error("the application's root did not start (%r)", result)
            return 1
        root = result.pid
        self.node.root = root._proc
        # Everything allocated while booting lives as long as the server: keep it out of
        # every future full collection.
        gc.freeze()
        self.started.set()
        msg: Any = await receive(
            match=lambda m: isinstance(m, StopRequested) or (isinstance(m, Exit) and m.pid is root)
        )
        if isinstance(msg, Exit):
            # Escalation reached the top (OTP: a permanent application stops the node).
            log.error("the application's root exited: %s; stopping", format_reason(msg.reason))
            return 1
        log.info("stopping the application (%s)", msg.why)
        assert self._master is not None
        reason = await shutdown_child(self._master, root, self.stop_timeout)
        log.info("the application stopped (%s)", format_reason(reason))
        return 0

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[signal.Signals]:
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop, sig.name)
            except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
                continue
            installed.append(sig)
        return installed
