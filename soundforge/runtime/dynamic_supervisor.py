"""DynamicSupervisor: Elixir's supervisor for children started on demand (OTP's simple_one_for_one).

A dynamic supervisor starts with no children; :func:`start_child` adds one from a full child
spec, at run time. Children have no id (``which_children`` shows id ``None``), are restarted
one_for_one by their own restart type, and are stopped by pid with :func:`terminate_child`::

    match await DynamicSupervisor.start_link(name="ports", max_children=64):
        case Ok(sup):
            match await start_child(sup, Separator.child_spec(model)):
                case Ok(pid):
                    ...
                case Error(ChildError.MAX_CHILDREN):
                    ...

The semantics are Elixir's ``DynamicSupervisor`` (which are OTP's simple_one_for_one):

* ``start_child`` runs the start function *inside the supervisor process*, so the child links
  to it; ``extra_arguments`` are prepended to the spec's args. It returns the start result:
  ``Ok(pid)``/``Ok(pid, info)``, ``IGNORE`` (nothing added), ``Error(reason)`` (a start
  function that raises gives ``Error(exception)``, one that raises ``ProcessExit(r)`` gives
  ``Error(r)``, garbage gives ``Error(garbage)``), ``Error(ChildError.MAX_CHILDREN)`` when
  full (children waiting to be restarted count), or ``Error(("invalid_significant", True))``.
* Restart types follow OTP's table: permanent always, transient unless the exit is normal,
  shutdown or ``Shutdown(_)``, temporary never; a child that is not restarted is removed.
* Every restart attempt counts toward intensity (default 3 in 5 s, Elixir's), failed ones
  included. A restart whose start returns an error leaves the child ``restarting`` (counted
  in ``workers`` and ``max_children``, not in ``active``) and is retried by a message to the
  supervisor itself, so calls are served between attempts; a restart that returns ``IGNORE``
  drops the child. More restarts than allowed stop every child and the supervisor exits
  with ``SHUTDOWN``.
* On shutdown the children are stopped *concurrently*, each by its own shutdown spec, so it
  takes about the slowest allowed shutdown, not the sum.

Differences: children live in a dict keyed by pid, so starting and stopping one is O(1) and
100,000 children are fine. A child waiting to be restarted stays keyed by the pid it had
when it died (as in Elixir), so that pid can still be passed to ``terminate_child``; a pid
that is no child (dead or alive) gives ``NOT_FOUND`` (Elixir's answer; OTP says ``ok`` for a
dead one), and a non-pid gives ``SIMPLE_ONE_FOR_ONE`` (OTP's). Each child exit is logged
once through the supervisor reports (the last crash reports stay in the state for the admin
console), and each failed restart attempt is logged as OTP's ``start_error`` report is.
Invalid flags make ``init`` raise :class:`InvalidSpec` whose ``reason`` is Elixir's
``("supervisor_data", ("invalid_intensity", -1))``: ``start_link`` returns ``Error`` with that
exception and a linked caller gets the exit signal, as with the static supervisor.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections import deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, cast

import msgspec

from soundforge.runtime._intensity import Intensity
from soundforge.runtime._reports import CrashReport, report_child_exit, report_intensity_exceeded
from soundforge.runtime._shutdown import shutdown_child
from soundforge.runtime.child_spec import (
    BRUTAL_KILL,
    ChildSpec,
    ChildType,
    Restart,
    child_spec,
)
from soundforge.runtime.clock import Clock
from soundforge.runtime.errors import InvalidSpec, NotInProcess
from soundforge.runtime.exit import (
    KILLED,
    NORMAL,
    SHUTDOWN,
    ExitReason,
    ProcessExit,
    format_reason,
    is_normal,
)
from soundforge.runtime.gen_server import (
    GenServer,
    Init,
    NoReply,
    Reply,
    Server,
    Stop,
    call,
    start_server,
)
from soundforge.runtime.process import Exit, From, Pid, Process, current_process
from soundforge.runtime.results import (
    ChildCounts,
    ChildError,
    ChildInfo,
    Error,
    Ignore,
    Ok,
    StartResult,
)

__all__ = [
    "DynamicSupervisor",
    "count_children",
    "start_child",
    "terminate_child",
    "which_children",
]

log = logging.getLogger(__name__)

#: Telemetry, as Supervisor's: one restart of a child (its id is None: children have none).
_RESTART_EVENT: Final = ("runtime", "supervisor", "restart")


# -- messages -------------------------------------------------------------------------------


class _StartChild(msgspec.Struct, frozen=True):
    spec: ChildSpec


class _TerminateChild(msgspec.Struct, frozen=True):
    pid: Any


class _WhichChildren(msgspec.Struct, frozen=True):
    pass


class _CountChildren(msgspec.Struct, frozen=True):
    pass


class _Restart(msgspec.Struct, frozen=True):
    """Sent to itself: try again to restart the child that died as ``pid``."""

    pid: Pid


# -- state ----------------------------------------------------------------------------------


class _Flags(msgspec.Struct, frozen=True):
    max_children: int | None = None
    extra_arguments: tuple[Any, ...] = ()
    max_restarts: int = 3
    max_seconds: float = 5.0


class _Child(msgspec.Struct, gc=False):
    """One child. Untracked by the cycle collector (it cannot be part of a cycle): with
    100,000 children every tracked object per child lengthens each full collection."""

    spec: ChildSpec
    restarts: int = 0


@dataclass(slots=True)
class _State:
    me: Process
    clock: Clock
    flags: _Flags
    intensity: Intensity
    #: Running children by pid.
    children: dict[Pid, _Child] = field(default_factory=dict)
    #: Children waiting to be restarted, by the pid they died as.
    restarting: dict[Pid, _Child] = field(default_factory=dict)
    reports: deque[CrashReport] = field(default_factory=deque)

    def size(self) -> int:
        return len(self.children) + len(self.restarting)


def _validate_flags(flags: _Flags) -> None:
    """Elixir's checks, with its reason terms; the message names our keyword argument."""

    def bad(reason: str, option: str, value: object, rule: str) -> InvalidSpec:
        return InvalidSpec(
            ("supervisor_data", (reason, value)),
            f"dynamic supervisor option {option} must be {rule}, not {value!r}",
        )

    def is_int(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    restarts, seconds, children = flags.max_restarts, flags.max_seconds, flags.max_children
    if not is_int(restarts) or restarts < 0:
        raise bad("invalid_intensity", "max_restarts", restarts, "an integer >= 0")
    if not (is_int(seconds) or isinstance(seconds, float)) or not 0 < seconds < math.inf:
        raise bad("invalid_period", "max_seconds", seconds, "a finite number of seconds > 0")
    if children is not None and (not is_int(children) or children < 0):
        raise bad("invalid_max_children", "max_children", children, "None or an integer >= 0")
    if not isinstance(flags.extra_arguments, tuple):
        raise bad("invalid_extra_arguments", "extra_arguments", flags.extra_arguments, "a tuple")


# -- the server -----------------------------------------------------------------------------


class DynamicSupervisor(GenServer[_State]):
    """Supervises children started at run time; see the module docstring."""

    kind: ClassVar[str] = "dynamic_supervisor"

    # The flags are keyword arguments rather than GenServer's single init argument.
    @classmethod
    async def start_link(  # type: ignore[override]
        cls,
        *,
        name: Server | None = None,
        max_children: int | None = None,
        extra_arguments: tuple[Any, ...] = (),
        max_restarts: int = 3,
        max_seconds: float = 5.0,
    ) -> StartResult:
        """Start linked to the caller: ``Ok(pid)``, or ``Error(InvalidSpec)`` for bad flags."""
        flags = _Flags(max_children, extra_arguments, max_restarts, max_seconds)
        return await start_server(cls(), flags, name=name, link=True)

    @classmethod
    def child_spec(cls, arg: Mapping[str, Any] | None = None, **overrides: Any) -> ChildSpec:
        """A spec that starts this supervisor under another one; ``arg`` holds the flags.

        The type is supervisor, so the shutdown defaults to infinity (OTP's default).
        """
        start = functools.partial(cls.start_link, **(arg or {}))
        spec = ChildSpec(id=cast(Hashable, cls), start=start, type=ChildType.SUPERVISOR)
        return spec.with_(**overrides) if overrides else spec

    # -- callbacks ----------------------------------------------------------------------

    def init(self, flags: _Flags | None) -> Init[_State]:
        if flags is None:  # started through GenServer.start(): Elixir's default flags
            flags = _Flags()
        # Raising here is Elixir's {stop, {supervisor_data, _}}: start_link returns the error
        # and a linked caller gets the exit signal.
        _validate_flags(flags)
        me = current_process()
        if me is None:  # pragma: no cover - start_server always runs init as the new process
            raise NotInProcess("a dynamic supervisor's init must run as its process")
        # Children's exits must arrive as messages, never kill the supervisor.
        me.trap_exit = True
        state = _State(me, me.node.clock, flags, Intensity(flags.max_restarts, flags.max_seconds))
        return Init(state)

    async def handle_call(self, request: Any, from_: From, state: _State) -> Reply[_State]:
        kind = type(request)
        if kind is _StartChild:
            return Reply(await self._start_new(request.spec, state), state)
        if kind is _TerminateChild:
            return Reply(await self._terminate_child(request.pid, state), state)
        if kind is _WhichChildren:
            return Reply(_which_children(state), state)
        if kind is _CountChildren:
            return Reply(_count_children(state), state)
        # Not ours: the base raises, and the supervisor crashes as Elixir's does on a bad call.
        return super().handle_call(request, from_, state)  # type: ignore[no-any-return]

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State] | Stop[_State]:
        kind = type(msg)
        if kind is Exit:
            return await self._child_exited(msg.pid, msg.reason, state)
        if kind is _Restart:
            child = state.restarting.pop(msg.pid, None)
            if child is None:  # terminated by hand after the retry was scheduled
                return NoReply(state)
            return await self._restart(msg.pid, child, state)
        return super().handle_info(msg, state)  # type: ignore[no-any-return]

    async def terminate(self, reason: ExitReason, state: _State) -> None:
        """Stop every child at once, each by its own shutdown spec."""
        children = state.children
        state.children = {}
        state.restarting.clear()
        if not children:
            return
        me = state.me
        reasons = await asyncio.gather(
            *(shutdown_child(me, pid, child.spec.shutdown_value) for pid, child in children.items())
        )
        for (pid, child), exited in zip(children.items(), reasons, strict=True):
            if not _expected_shutdown(child.spec, exited):
                report_child_exit(me, state.reports, None, pid, exited)

    def intensity_used(self, state: _State, now: float) -> int:
        return state.intensity.used(now)

    def crash_reports(self, state: _State) -> list[CrashReport]:
        return list(state.reports)

    def format_status(self, state: _State) -> dict[str, Any]:
        flags = state.flags
        return {
            "children": state.size(),
            "active": len(state.children),
            "restarting": len(state.restarting),
            "max_children": flags.max_children,
            "restarts_used": state.intensity.used(state.clock.time()),
            "max_restarts": flags.max_restarts,
            "max_seconds": flags.max_seconds,
        }

    # -- starting and restarting --------------------------------------------------------

    async def _start_new(self, spec: ChildSpec, state: _State) -> StartResult:
        limit = state.flags.max_children
        if limit is not None and state.size() >= limit:
            return Error(ChildError.MAX_CHILDREN)
        result = await _run_start(spec, state.flags.extra_arguments)
        if type(result) is Ok:
            state.children[result.value] = _Child(spec)
        return result

    async def _child_exited(
        self, pid: Pid, reason: ExitReason, state: _State
    ) -> NoReply[_State] | Stop[_State]:
        child = state.children.pop(pid, None)
        if child is None:  # not a child (its parent's EXIT never gets here): ignore, as OTP does
            return NoReply(state)
        report_child_exit(state.me, state.reports, None, pid, reason)
        restart = child.spec.restart
        if restart is Restart.PERMANENT or (restart is Restart.TRANSIENT and not is_normal(reason)):
            return await self._restart(pid, child, state)
        return NoReply(state)

    async def _restart(
        self, old: Pid, child: _Child, state: _State
    ) -> NoReply[_State] | Stop[_State]:
        """One restart attempt for the child that died as ``old``; each attempt counts."""
        flags = state.flags
        if not state.intensity.add_restart(state.clock.time()):
            report_intensity_exceeded(state.me, flags.max_restarts, flags.max_seconds)
            return Stop(SHUTDOWN, state)
        tele = state.me.node.telemetry
        if tele.wants(_RESTART_EVENT):
            tele.execute(_RESTART_EVENT, {"count": 1}, {"supervisor": state.me.pid, "id": None})
        child.restarts += 1
        result = await _run_start(child.spec, flags.extra_arguments)
        if type(result) is Ok:
            state.children[result.value] = child
        elif type(result) is Error:
            log.error(
                "supervisor %r: restarting child (was %r) failed: %s; trying again",
                state.me.pid,
                old,
                format_reason(result.reason, with_traceback=True),
            )
            state.restarting[old] = child
            state.me.deliver(_Restart(old))
        # IGNORE: the child is dropped.
        return NoReply(state)

    async def _terminate_child(self, pid: Any, state: _State) -> Ok | Error:
        if type(pid) is not Pid:
            return Error(ChildError.SIMPLE_ONE_FOR_ONE)
        child = state.children.pop(pid, None)
        if child is None:
            if state.restarting.pop(pid, None) is not None:
                return Ok()
            return Error(ChildError.NOT_FOUND)
        exited = await shutdown_child(state.me, pid, child.spec.shutdown_value)
        if not _expected_shutdown(child.spec, exited):
            report_child_exit(state.me, state.reports, None, pid, exited)
        return Ok()


async def _run_start(spec: ChildSpec, extra: tuple[Any, ...]) -> StartResult:
    """Call the start function as the supervisor and normalise what it returns (Elixir's)."""
    try:
        result = await spec.start(*extra, *spec.args)
    except ProcessExit as exit_:
        return Error(exit_.reason)
    except Exception as error:  # a crashing start function is that start's error, not ours
        return Error(error)
    if isinstance(result, Ok):
        return result if type(result.value) is Pid else Error(result)
    if isinstance(result, Error | Ignore):
        return result
    return Error(result)


def _expected_shutdown(spec: ChildSpec, reason: ExitReason) -> bool:
    """Whether a reason seen while stopping a child is the orderly one (Elixir's wait_child)."""
    if spec.shutdown_value is BRUTAL_KILL:
        return reason is KILLED
    if reason is NORMAL:
        return spec.restart is not Restart.PERMANENT
    return is_normal(reason)


def _which_children(state: _State) -> list[ChildInfo]:
    rows = [
        ChildInfo(None, pid, child.spec.type, child.restarts)
        for pid, child in state.children.items()
    ]
    rows.extend(
        ChildInfo(None, ChildError.RESTARTING, child.spec.type, child.restarts)
        for child in state.restarting.values()
    )
    return rows


def _count_children(state: _State) -> ChildCounts:
    supervisors = 0
    for table in (state.children, state.restarting):
        for child in table.values():
            if child.spec.type is ChildType.SUPERVISOR:
                supervisors += 1
    specs = state.size()
    active = len(state.children)
    return ChildCounts(specs, active, supervisors=supervisors, workers=specs - supervisors)


# -- client API -----------------------------------------------------------------------------


def _is_significant(value: Any) -> bool:
    if isinstance(value, ChildSpec):
        return value.significant is True
    return isinstance(value, Mapping) and value.get("significant") is True


async def start_child(sup: Server, spec: Any) -> StartResult:
    """Start a child from ``spec`` (anything :func:`child_spec` accepts) under ``sup``.

    Returns ``Ok(pid)`` / ``Ok(pid, info)``, ``IGNORE``, ``Error(ChildError.MAX_CHILDREN)``
    or ``Error(reason)``; an invalid spec gives ``Error(its InvalidSpec reason)``.
    """
    # Elixir checks significance before anything else, whatever the restart type.
    if _is_significant(spec):
        return Error(("invalid_significant", True))
    try:
        normalised = child_spec(spec)
    except InvalidSpec as invalid:
        return Error(invalid.reason)
    if normalised.significant:
        return Error(("invalid_significant", True))
    result: StartResult = await call(sup, _StartChild(normalised), None)
    return result


async def terminate_child(sup: Server, pid: Pid) -> Ok | Error:
    """Stop the child ``pid`` by its shutdown spec and remove it.

    ``Error(ChildError.NOT_FOUND)`` if ``pid`` is not a child (that process is left alone);
    a child waiting to be restarted is removed with ``Ok()``.
    """
    result: Ok | Error = await call(sup, _TerminateChild(pid), None)
    return result


async def which_children(sup: Server) -> list[ChildInfo]:
    """One row per child: id ``None``, pid a Pid or ``ChildError.RESTARTING``; no set order."""
    rows: list[ChildInfo] = await call(sup, _WhichChildren(), None)
    return rows


async def count_children(sup: Server) -> ChildCounts:
    """Children counted as OTP does: restarting ones in ``specs``/``workers``, not ``active``."""
    counts: ChildCounts = await call(sup, _CountChildren(), None)
    return counts
