"""Tasks: Elixir's ``Task`` and ``Task.Supervisor`` — run one function as a process, await it.

:func:`async_task` (``Task.async``) runs a function as a process linked to and monitored by
the caller; :func:`await_task` waits for its result::

    task = async_task(fetch_metadata, track_id)       # fn may be async or plain
    ...
    meta = await await_task(task, timeout=5.0)

:class:`TaskSupervisor` is a dynamic supervisor of tasks. :func:`async_nolink` starts a
temporary task under it that is monitored by the caller but *not* linked, so a crash does
not take the caller down: the caller receives ``TaskReply(ref, result)`` then
``Down(ref, pid, NORMAL)`` on success, only ``Down(ref, pid, reason)`` on a crash. A
GenServer handles both in ``handle_info`` (``demonitor(ref, flush=True)`` after the reply).
:func:`start_child` runs a supervised fire-and-forget task.

Semantics are Elixir's (OTP 24+ aliases): the task ref is the caller's monitor ref and also
serves as the reply alias. A task replies only while the ref is active, and ``demonitor``
deactivates it, so once :func:`await_task` has timed out (it demonitors with flush) neither a
late reply nor the ``Down`` ever reaches the caller. Before running its function, a task
waits for its owner's go-ahead carrying that ref (Elixir's ``{owner, ref, alias}`` message),
so the monitor is always in place before the function can finish.

Differences: failures do not *exit* the awaiting process with Elixir's
``{reason, {Task, :await, ...}}`` tuples; :func:`await_task` raises :class:`TaskExited`
(``reason`` is the task's exit reason) or :class:`TaskTimeout`, which end the caller the
same way if uncaught. :func:`async_nolink` raises :class:`TooManyTasks` when the supervisor
is full.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import msgspec

from soundforge.runtime import dynamic_supervisor as _dynamic
from soundforge.runtime.child_spec import ChildSpec, Restart, ShutdownSpec, child_spec
from soundforge.runtime.dynamic_supervisor import DynamicSupervisor
from soundforge.runtime.errors import ActorError, NotInProcess
from soundforge.runtime.exit import ExitReason, Shutdown, format_reason
from soundforge.runtime.gen_server import Server, resolve
from soundforge.runtime.process import (
    Down,
    Pid,
    Process,
    Ref,
    current_process,
    demonitor,
    monitor,
    receive,
    send,
    spawn,
)
from soundforge.runtime.results import ChildError, Error, Ok, StartResult

__all__ = [
    "Task",
    "TaskExited",
    "TaskNotOwned",
    "TaskReply",
    "TaskSupervisor",
    "TaskTimeout",
    "TooManyTasks",
    "async_nolink",
    "async_task",
    "await_task",
    "children",
    "start_child",
]


class Task(msgspec.Struct, frozen=True):
    """A running task: ``ref`` tags its reply and ``Down``; only ``owner`` may await it."""

    ref: Ref
    pid: Pid
    owner: Pid


class TaskReply(msgspec.Struct, frozen=True):
    """A task's result, sent to its owner (Elixir's ``{ref, result}``)."""

    ref: Ref
    result: Any


class _Go(msgspec.Struct, frozen=True):
    """The owner's go-ahead: reply to ``ref`` (Elixir's ``{owner, ref, alias}``)."""

    ref: Ref


# -- errors ---------------------------------------------------------------------------------


class TaskExited(ActorError):
    """The awaited task exited before replying; ``reason`` is its exit reason."""

    def __init__(self, task: Task, reason: ExitReason) -> None:
        super().__init__(f"task {task.pid!r} exited before replying: {format_reason(reason)}")
        self.task = task
        self.reason = reason


class TaskTimeout(ActorError):
    """The task did not reply in time; it keeps running, but its reply is never delivered."""

    status = 504

    def __init__(self, task: Task, timeout: float) -> None:
        super().__init__(f"task {task.pid!r} did not finish within {timeout:g} s")
        self.task = task
        self.timeout = timeout


class TaskNotOwned(ActorError):
    """Only the process that started a task may await it."""

    def __init__(self, task: Task, caller: Pid) -> None:
        super().__init__(
            f"task {task.pid!r} belongs to {task.owner!r}; {caller!r} cannot await it "
            "(await a task in the process that started it)"
        )


class TooManyTasks(ActorError):
    """The task supervisor is running its maximum number of tasks."""

    status = 503

    def __init__(self, sup: Server, limit: int | None) -> None:
        most = f"its maximum of {limit} tasks" if limit is not None else "its maximum of tasks"
        super().__init__(
            f"the task supervisor {sup!r} reached {most}; wait for some to finish or start "
            "it with a larger max_children"
        )
        self.supervisor = sup
        self.limit = limit


# -- the task process -----------------------------------------------------------------------


async def _apply(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _reply_task(
    owner: Pid, fn: Callable[..., Any], args: tuple[Any, ...], watch_owner: bool
) -> None:
    """Wait for the owner's go-ahead, run ``fn``, reply if the owner still waits for it."""
    if watch_owner:
        # An unlinked task must not wait forever for an owner that died before the go-ahead.
        owner_ref = monitor(owner)
        msg = await receive(lambda m: type(m) is _Go or (type(m) is Down and m.ref is owner_ref))
        if type(msg) is Down:
            raise Shutdown(msg.reason)
        demonitor(owner_ref, flush=True)
    else:
        msg = await receive(lambda m: type(m) is _Go)
    result = await _apply(fn, args)
    ref = msg.ref
    if ref.active:
        send(owner, TaskReply(ref, result))


async def _start_task(body: Callable[..., Any], *args: Any) -> StartResult:
    """Start function for a supervised task; runs in the supervisor, so the task links to it."""
    return Ok(spawn(body, *args, link=True, kind="task"))


def _owner() -> Process:
    me = current_process()
    if me is None:
        raise NotInProcess("tasks must be started and awaited from inside a process")
    return me


def _launch(me: Process, pid: Pid) -> Task:
    ref = monitor(pid)
    send(pid, _Go(ref))
    return Task(ref, pid, me.pid)


# -- Task -----------------------------------------------------------------------------------


def async_task(fn: Callable[..., Any], *args: Any) -> Task:
    """Run ``fn(*args)`` as a process linked to and monitored by the caller (``Task.async``).

    A crash of the task kills a caller that does not trap exits (they are linked).
    """
    me = _owner()
    pid = spawn(_reply_task, me.pid, fn, args, False, link=True, kind="task")
    return _launch(me, pid)


async def await_task(task: Task, timeout: float | None = 5.0) -> Any:
    """The task's result (``Task.await``); ``None`` waits forever.

    Raises :class:`TaskExited` if the task exited first and :class:`TaskTimeout` after
    ``timeout`` seconds; after a timeout neither its reply nor its ``Down`` will arrive.
    """
    me = _owner()
    if task.owner is not me.pid:
        raise TaskNotOwned(task, me.pid)
    ref = task.ref
    try:
        msg = await receive(
            lambda m: (type(m) is TaskReply or type(m) is Down) and m.ref is ref, timeout
        )
    except TimeoutError:
        demonitor(ref, flush=True)
        raise TaskTimeout(task, timeout or 0.0) from None
    if type(msg) is TaskReply:
        demonitor(ref, flush=True)
        return msg.result
    raise TaskExited(task, msg.reason)


# -- Task.Supervisor ------------------------------------------------------------------------


class TaskSupervisor(DynamicSupervisor):
    """A dynamic supervisor whose children are tasks (Elixir's ``Task.Supervisor``)."""

    kind: ClassVar[str] = "task_supervisor"

    # Task.Supervisor takes no extra_arguments: the task's own args are the whole story.
    @classmethod
    async def start_link(  # type: ignore[override]
        cls,
        *,
        name: Server | None = None,
        max_children: int | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
    ) -> StartResult:
        """Start linked to the caller: ``Ok(pid)``, or ``Error(InvalidSpec)`` for bad flags."""
        return await super().start_link(
            name=name, max_children=max_children, max_restarts=max_restarts, max_seconds=max_seconds
        )


async def async_nolink(
    sup: Server, fn: Callable[..., Any], *args: Any, shutdown: ShutdownSpec = 5.0
) -> Task:
    """Run ``fn(*args)`` as a temporary task of ``sup``, monitored by the caller, not linked.

    Raises :class:`TooManyTasks` when ``sup`` already runs ``max_children`` tasks.
    """
    me = _owner()
    spec = child_spec(
        ChildSpec(
            id=None,
            start=_start_task,
            args=(_reply_task, me.pid, fn, args, True),
            restart=Restart.TEMPORARY,
            shutdown=shutdown,
        )
    )
    result = await _dynamic.start_child(sup, spec)
    if isinstance(result, Ok):
        return _launch(me, result.value)
    if result == Error(ChildError.MAX_CHILDREN):
        raise TooManyTasks(sup, _max_children(sup))
    raise ActorError(f"the task supervisor {sup!r} could not start a task: {result!r}")


async def start_child(
    sup: Server,
    fn: Callable[..., Any],
    *args: Any,
    restart: Restart = Restart.TEMPORARY,
    shutdown: ShutdownSpec = 5.0,
) -> StartResult:
    """Run ``fn(*args)`` as a supervised task nobody awaits; ``Ok(pid)`` or ``Error(reason)``.

    With ``restart=TRANSIENT`` (or ``PERMANENT``) the supervisor runs it again after a crash.
    """
    spec = ChildSpec(
        id=None, start=_start_task, args=(_apply, fn, args), restart=restart, shutdown=shutdown
    )
    return await _dynamic.start_child(sup, spec)


async def children(sup: Server) -> list[Pid]:
    """The pids of the tasks running under ``sup`` (none waiting to be restarted)."""
    return [row.pid for row in await _dynamic.which_children(sup) if type(row.pid) is Pid]


def _max_children(sup: Server) -> int | None:
    # For the error message only: read the limit through the supervisor's own format_status
    # (same node, read-only), rather than adding a call to a supervisor that is busy anyway.
    proc = resolve(sup)
    if proc is None or not isinstance(proc.behaviour, DynamicSupervisor):
        return None
    limit = proc.behaviour.format_status(proc.state).get("max_children")
    return limit if isinstance(limit, int) else None
