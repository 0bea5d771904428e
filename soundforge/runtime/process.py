"""Processes: Erlang's process, mailbox, links, monitors and exit signals on asyncio.

A process is an asyncio task with a mailbox (a deque; :func:`send` never blocks), a pid,
bidirectional links, one-way monitors and an exit reason. The semantics are Erlang's:

* :func:`send` appends to the mailbox; messages from one sender to one receiver arrive in
  the order sent; sending to a dead pid is a silent no-op.
* When a process dies with reason R, each linked process gets an exit signal: a trapping one
  receives ``Exit(pid, R)`` as a message; a non-trapping one dies with R too, unless R is
  ``normal``. ``exit(pid, KILL)`` cannot be trapped and kills with reason ``killed``.
* :func:`monitor` delivers exactly one ``Down(ref, pid, reason)``; ``noproc`` at once if
  the process is already dead. ``demonitor(ref, flush=True)`` removes a queued ``Down``.

**Where it differs from Erlang.** Death is decided synchronously, when the signal is sent:
the process is marked dead, unregistered and its links and monitors notified at once, then
its task is cancelled. A coroutine cannot be preempted, so a process that is busy in CPU
work only notices at its next ``await``, and its ``finally`` blocks still run after the
runtime has reported it dead (see ``docs/runtime.md``).

    async def echo() -> None:
        while True:
            sender, text = await receive()
            send(sender, text)

    pid = spawn(echo)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

import msgspec

from soundforge.runtime.errors import AlreadyRegistered, NotInProcess, ServerExited
from soundforge.runtime.exit import (
    KILL,
    KILLED,
    NOPROC,
    NORMAL,
    ExitReason,
    ProcessExit,
    format_reason,
    is_normal,
)

if TYPE_CHECKING:
    from soundforge.runtime.node import Node

__all__ = [
    "Down",
    "Exit",
    "From",
    "Pid",
    "Process",
    "Ref",
    "current_node",
    "current_process",
    "demonitor",
    "exit",
    "exit_future",
    "is_alive",
    "link",
    "monitor",
    "receive",
    "register",
    "self_pid",
    "send",
    "spawn",
    "spawn_link",
    "spawn_monitor",
    "trap_exit",
    "unlink",
    "unregister",
    "whereis",
]

log = logging.getLogger(__name__)

_current: ContextVar[Process | None] = ContextVar("soundforge_process", default=None)
_node: ContextVar[Node | None] = ContextVar("soundforge_node", default=None)

Name = Hashable


class Pid:
    """A process identifier. Compares by identity; holds no state of the process after death."""

    __slots__ = ("_proc", "id")

    def __init__(self, id: int, proc: Process) -> None:
        self.id = id
        self._proc: Process | None = proc

    def __repr__(self) -> str:
        return f"<0.{self.id}.0>"


class Ref:
    """A unique reference (monitor references, call and task tags).

    While ``active`` it also serves as an *alias* (EEP-53): replies sent to an inactive
    reference are dropped, which is how a timed-out await never receives a late reply.
    """

    __slots__ = ("active", "id")

    def __init__(self, id: int) -> None:
        self.id = id
        self.active = True

    def __repr__(self) -> str:
        return f"#Ref<{self.id}>"


class Down(msgspec.Struct, frozen=True):
    """A monitored process ended (``{'DOWN', Ref, process, Pid, Reason}``)."""

    ref: Ref
    pid: Pid
    reason: Any


class Exit(msgspec.Struct, frozen=True):
    """An exit signal turned into a message by ``trap_exit`` (``{'EXIT', Pid, Reason}``)."""

    pid: Pid | None
    reason: Any


class From:
    """A pending call: the request and where its reply goes (OTP's ``From``).

    ``handle_call`` may reply later by keeping it and calling :func:`gen_server.reply`.
    """

    __slots__ = ("caller", "fut", "request", "server")

    def __init__(
        self, request: Any, fut: asyncio.Future[Any], caller: Pid | None, server: Process
    ) -> None:
        self.request = request
        self.fut = fut
        self.caller = caller
        self.server = server

    def reply(self, value: Any) -> None:
        fut = self.fut
        if not fut.done():
            fut.set_result(value)
        pending = self.server.pending_calls
        if pending:
            pending.discard(self)

    def fail(self, reason: ExitReason) -> None:
        if not self.fut.done():
            self.fut.set_exception(ServerExited(self.server.pid, self.request, reason))


ExitHook = Callable[["Process", ExitReason], None]


class Process:
    """The runtime's record of one process. Users hold :class:`Pid` s, not this."""

    __slots__ = (
        "_waiter",
        "alive",
        "behaviour",
        "current_call",
        "exit_hooks",
        "handled",
        "kind",
        "links",
        "mailbox",
        "name",
        "node",
        "parent",
        "pending_calls",
        "pid",
        "reason",
        "started_at",
        "state",
        "supervised",
        "task",
        "trap_exit",
        "watchers",
        "watching",
    )

    def __init__(self, node: Node, pid_id: int, kind: str, parent: Process | None) -> None:
        self.node = node
        self.pid = Pid(pid_id, self)
        self.mailbox: deque[Any] = deque()
        self._waiter: asyncio.Future[Any] | None = None
        self.task: asyncio.Task[None] | None = None
        self.alive = True
        self.reason: ExitReason = None
        self.trap_exit = False
        self.links: set[Process] | None = None
        self.watchers: dict[Ref, Process | Callable[[Down], None]] | None = None
        self.watching: dict[Ref, Process] | None = None
        self.name: Name | None = None
        self.parent: Process | None = parent
        self.kind = kind
        self.behaviour: Any = None
        self.state: Any = None
        self.handled = 0
        self.started_at = time.time()
        self.exit_hooks: list[ExitHook] | None = None
        self.pending_calls: set[From] | None = None
        self.current_call: From | None = None
        self.supervised = parent is not None and parent.kind in SUPERVISOR_KINDS

    def __repr__(self) -> str:
        return f"<Process {self.pid!r} {self.kind} {'alive' if self.alive else 'dead'}>"

    # -- delivery ---------------------------------------------------------------------

    def deliver(self, msg: Any) -> None:
        """Append ``msg`` to the mailbox and wake the process if it waits."""
        self.mailbox.append(msg)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def wait(self) -> asyncio.Future[Any]:
        """A future that completes when the next message arrives (used by receive loops)."""
        waiter = self.node.loop.create_future()
        self._waiter = waiter
        return waiter

    def wake(self, value: Any) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(value)

    # -- links and signals ------------------------------------------------------------

    def add_link(self, other: Process) -> None:
        if self.links is None:
            self.links = set()
        self.links.add(other)
        if other.links is None:
            other.links = set()
        other.links.add(self)

    def remove_link(self, other: Process) -> None:
        if self.links:
            self.links.discard(other)
        if other.links:
            other.links.discard(self)

    def signal_exit(self, sender: Pid | None, reason: ExitReason, *, linked: bool) -> None:
        """Receive an exit signal (from a link when ``linked``, else from ``exit/2``)."""
        if not self.alive:
            return
        if reason is KILL and not linked:
            self.die(KILLED)
        elif self.trap_exit:
            self.deliver(Exit(sender, reason))
        elif reason is NORMAL:
            # exit(self(), normal) ends the caller; a normal signal from anyone else is ignored.
            if not linked and sender is self.pid:
                self.die(NORMAL)
        else:
            self.die(reason)

    # -- death ------------------------------------------------------------------------

    def add_exit_hook(self, hook: ExitHook) -> None:
        """Run ``hook(process, reason)`` synchronously when this process dies, even if killed."""
        if self.exit_hooks is None:
            self.exit_hooks = []
        self.exit_hooks.append(hook)

    def die(self, reason: ExitReason) -> None:
        """End this process now with ``reason``: notify links and monitors, cancel its task."""
        if not self.alive:
            return
        self.alive = False
        self.reason = reason
        node = self.node
        pid = self.pid
        pid._proc = None
        node.processes.pop(pid.id, None)
        if self.name is not None and node.names.get(self.name) is self:
            del node.names[self.name]
        if self.mailbox or self.current_call is not None or self.pending_calls:
            self._fail_calls(reason)
            self.mailbox.clear()
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.cancel()
        if self.exit_hooks:
            self._run_exit_hooks(reason)
        if self.watching:
            for ref, target in self.watching.items():
                if target.watchers:
                    target.watchers.pop(ref, None)
            self.watching = None
        links = self.links
        self.links = None
        if links:
            for peer in links:
                if peer.links:
                    peer.links.discard(self)
                peer.signal_exit(pid, reason, linked=True)
        watchers = self.watchers
        self.watchers = None
        if watchers:
            for ref, watcher in watchers.items():
                down = Down(ref, pid, reason)
                if isinstance(watcher, Process):
                    if watcher.watching:
                        watcher.watching.pop(ref, None)
                    watcher.deliver(down)
                else:
                    watcher(down)
        if (
            reason is not NORMAL
            and not self.supervised
            and reason is not KILLED
            and not is_normal(reason)
        ):
            log.error(
                "process %r (%s) exited: %s",
                pid,
                self.kind,
                format_reason(reason, with_traceback=True),
            )
        tele = node.telemetry
        if tele.wants(_EXIT_EVENT):
            tele.execute(
                _EXIT_EVENT, {"count": 1}, {"pid": pid, "kind": self.kind, "reason": reason}
            )
        task = self.task
        if task is not None and not task.done():
            # The process's own task, if it is the one running, stops at its next await.
            task.cancel()
            node.unwinding(task)

    def exit_self(self, reason: ExitReason) -> None:
        """Die from within the process's own task as it finishes (no cancellation needed)."""
        self.task = None
        self.die(reason)

    def _fail_calls(self, reason: ExitReason) -> None:
        current = self.current_call
        if current is not None:
            current.fail(reason)
            self.current_call = None
        for msg in self.mailbox:
            if type(msg) is From:
                msg.fail(reason)
        pending = self.pending_calls
        if pending:
            self.pending_calls = None
            for from_ in pending:
                from_.fail(reason)

    def _run_exit_hooks(self, reason: ExitReason) -> None:
        hooks = self.exit_hooks
        if not hooks:
            return
        self.exit_hooks = None
        for hook in hooks:
            try:
                hook(self, reason)
            except Exception:  # one failing cleanup must not stop the others or the death
                log.exception("exit hook %r of %r failed", hook, self.pid)


#: Kinds of process that supervise their children and log their crashes themselves.
SUPERVISOR_KINDS: Final = frozenset({"supervisor", "dynamic_supervisor", "task_supervisor"})

_EXIT_EVENT: Final = ("runtime", "process", "exit")
_SPAWN_EVENT: Final = ("runtime", "process", "spawn")


# -- the process body ---------------------------------------------------------------------


async def run_process(
    proc: Process, body: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
) -> None:
    """Run ``body(*args)`` as ``proc`` and turn its outcome into an exit reason."""
    _current.set(proc)
    try:
        await body(*args)
    except ProcessExit as stop:
        proc.exit_self(stop.reason)
    except asyncio.CancelledError:
        # Either the runtime ended this process (it is already dead: finish unwinding), or
        # something outside the runtime cancelled the task: that is a kill, and the
        # cancellation goes on to whoever asked for it.
        if proc.alive:
            proc.exit_self(KILLED)
            raise
    except Exception as error:  # the documented mapping: an escaping exception is the reason
        proc.exit_self(error)
    except BaseException:
        # The one boundary that sees KeyboardInterrupt/SystemExit: record the death, re-raise.
        proc.exit_self(KILLED)
        raise
    else:
        proc.exit_self(NORMAL)


# -- the public API -----------------------------------------------------------------------


def current_process() -> Process | None:
    """The calling process's record, or None outside any process."""
    return _current.get()


def current_node() -> Node:
    """The node the caller runs on."""
    proc = _current.get()
    if proc is not None:
        return proc.node
    node = _node.get()
    if node is None:
        raise NotInProcess("no SoundForge node is running here; start one with `async with Node()`")
    return node


def self_pid() -> Pid:
    """The calling process's pid (Erlang's ``self()``)."""
    proc = _current.get()
    if proc is None:
        raise NotInProcess("this code is not running inside a process")
    return proc.pid


def spawn(
    body: Callable[..., Awaitable[Any]],
    *args: Any,
    link: bool = False,
    kind: str = "process",
    name: Name | None = None,
) -> Pid:
    """Start ``body(*args)`` as a new process and return its pid at once."""
    parent = _current.get()
    node = parent.node if parent is not None else current_node()
    if name is not None and name in node.names:
        raise AlreadyRegistered(name, node.names[name].pid)
    proc = node.new_process(kind, parent if link else None)
    if name is not None:
        node.register_name(name, proc)
    if link and parent is not None:
        parent.add_link(proc)
    node.start_task(proc, body, args)
    return proc.pid


def spawn_link(body: Callable[..., Awaitable[Any]], *args: Any) -> Pid:
    """Spawn and link to the caller atomically."""
    return spawn(body, *args, link=True)


def spawn_monitor(body: Callable[..., Awaitable[Any]], *args: Any) -> tuple[Pid, Ref]:
    """Spawn and monitor from the caller atomically."""
    pid = spawn(body, *args)
    return pid, monitor(pid)


def send(dest: Pid | Name, msg: Any) -> None:
    """Send ``msg``; never blocks, never fails (a dead pid or unknown name drops it)."""
    if type(dest) is Pid:
        proc = dest._proc
    elif hasattr(dest, "whereis"):  # a via-name (gen_server.ViaName): its registry knows
        proc = dest.whereis()
    else:
        proc = current_node().names.get(dest)
    if proc is not None:
        proc.deliver(msg)


def exit(pid: Pid, reason: ExitReason) -> None:
    """Send an exit signal (Erlang's ``exit/2``); ``KILL`` cannot be trapped."""
    target = pid._proc
    if target is None:
        return
    me = _current.get()
    if target is me and not target.trap_exit and reason is not NORMAL:
        # A signal to oneself takes effect at once, before any further line of the caller.
        raise ProcessExit(KILLED if reason is KILL else reason)
    target.signal_exit(me.pid if me is not None else None, reason, linked=False)


def link(pid: Pid) -> None:
    """Link the caller and ``pid``; linking to a dead process delivers ``noproc``."""
    me = _require_process()
    target = pid._proc
    if target is None:
        if me.trap_exit:
            me.deliver(Exit(pid, NOPROC))
            return
        raise ProcessExit(NOPROC)
    if target is not me:
        me.add_link(target)


def unlink(pid: Pid) -> None:
    me = _require_process()
    target = pid._proc
    if target is not None:
        me.remove_link(target)


def monitor(pid: Pid) -> Ref:
    """Monitor ``pid``: exactly one ``Down`` will arrive (``noproc`` at once if dead)."""
    me = _require_process()
    ref = me.node.make_ref()
    target = pid._proc
    if target is None:
        me.deliver(Down(ref, pid, NOPROC))
        return ref
    add_watch(target, ref, me)
    return ref


def add_watch(target: Process, ref: Ref, watcher: Process | Callable[[Down], None]) -> None:
    """Register a monitor; a callable watcher is called with the ``Down`` instead of a message."""
    if target.watchers is None:
        target.watchers = {}
    target.watchers[ref] = watcher
    if isinstance(watcher, Process):
        if watcher.watching is None:
            watcher.watching = {}
        watcher.watching[ref] = target


def exit_future(target: Process) -> asyncio.Future[ExitReason]:
    """A future resolved with ``target``'s exit reason when it dies (a monitor without a
    mailbox, for code that waits for one process: shutdowns, ``stop``)."""
    fut: asyncio.Future[ExitReason] = target.node.loop.create_future()

    def settle(down: Down) -> None:
        if not fut.done():
            fut.set_result(down.reason)

    add_watch(target, target.node.make_ref(), settle)
    return fut


def demonitor(ref: Ref, *, flush: bool = False) -> bool:
    """Remove a monitor; with ``flush`` also drop its ``Down`` if already queued."""
    me = _require_process()
    ref.active = False
    target = me.watching.pop(ref, None) if me.watching else None
    if target is not None and target.watchers:
        target.watchers.pop(ref, None)
    if flush:
        mailbox = me.mailbox
        for i, msg in enumerate(mailbox):
            if type(msg) is Down and msg.ref is ref:
                del mailbox[i]
                break
    return target is not None


def trap_exit(flag: bool) -> bool:
    """Turn exit signals into ``Exit`` messages; returns the previous setting."""
    me = _require_process()
    old = me.trap_exit
    me.trap_exit = flag
    return old


def is_alive(pid: Pid) -> bool:
    return pid._proc is not None


def register(name: Name, pid: Pid) -> None:
    """Register a local name for ``pid``; raises :class:`AlreadyRegistered` if taken."""
    proc = pid._proc
    if proc is None:
        raise NotInProcess(f"cannot register {name!r}: {pid!r} is not alive")
    proc.node.register_name(name, proc)


def unregister(name: Name) -> None:
    node = current_node()
    proc = node.names.pop(name, None)
    if proc is not None:
        proc.name = None


def whereis(name: Name) -> Pid | None:
    proc = current_node().names.get(name)
    return proc.pid if proc is not None else None


_NO_MATCH: Final = object()


async def receive(match: Callable[[Any], bool] | None = None, timeout: float | None = None) -> Any:
    """Take the first message (matching ``match``, if given) from the caller's mailbox.

    Non-matching messages stay in the mailbox in their order (Erlang's selective receive).
    Raises ``TimeoutError`` when nothing matches within ``timeout`` seconds.
    """
    me = _require_process()
    mailbox = me.mailbox
    scanned = 0
    timer = None
    timed_out = False
    try:
        while True:
            if match is None:
                if mailbox:
                    return mailbox.popleft()
            else:
                for i in range(scanned, len(mailbox)):
                    msg = mailbox[i]
                    if match(msg):
                        del mailbox[i]
                        return msg
                scanned = len(mailbox)
            if timed_out:
                raise TimeoutError(f"no matching message within {timeout:g} s")
            if timeout is not None and timer is None:
                if timeout <= 0:
                    timed_out = True
                    continue
                timer = me.node.clock.call_later(timeout, me.wake, _NO_MATCH)
            if await me.wait() is _NO_MATCH:
                timed_out = True
    finally:
        if timer is not None:
            timer.cancel()


def _require_process() -> Process:
    proc = _current.get()
    if proc is None:
        raise NotInProcess("this operation must run inside a process")
    return proc
