"""Supervisor: OTP's static supervisor (one_for_one, one_for_all, rest_for_one).

A supervisor is a process that traps exits, starts its children in list order (each start
returns before the next begins), restarts them by strategy and restart type when they exit,
and stops them in reverse order by their shutdown specs. Restart intensity is OTP's: more
than ``max_restarts`` restarts within ``max_seconds`` (a sliding window; one event counts
once; failed restart attempts count) stops every child and exits the supervisor with
``shutdown``, so its parent applies its own policy. ``auto_shutdown`` with significant
children follows OTP 24+.

    class Studio(Supervisor):
        def init(self, arg: None) -> SupervisorSpec:
            return SupervisorSpec(
                [MixerState.child_spec(), MidiDevices.child_spec(), OscServer.child_spec()],
                strategy=Strategy.REST_FOR_ONE,
            )

    await Studio.start_link()
    await start_supervisor([Counter.child_spec(0)], strategy=Strategy.ONE_FOR_ONE)

Management calls return OTP's results as values: ``start_child`` gives ``Ok(pid, info)``,
``Ok(None)`` (ignored), ``Error(AlreadyStarted(pid))``, ``Error(ChildError.ALREADY_PRESENT)``
or ``Error(reason)``; ``restart_child``/``delete_child`` may give ``RUNNING``, ``RESTARTING``
or ``NOT_FOUND``. Differences from OTP are listed in ``docs/runtime.md``.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from soundforge.runtime._intensity import Intensity
from soundforge.runtime._reports import (
    CrashReport,
    report_child_exit,
    report_intensity_exceeded,
    report_restart_failed,
)
from soundforge.runtime._shutdown import shutdown_child
from soundforge.runtime.child_spec import (
    AutoShutdown,
    ChildSpec,
    ChildType,
    Restart,
    Strategy,
    check_significance,
    child_spec,
    validate_children,
)
from soundforge.runtime.errors import InvalidSpec
from soundforge.runtime.exit import (
    SHUTDOWN,
    ExitReason,
    ProcessExit,
    Shutdown,
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
from soundforge.runtime.process import Exit, From, Pid, current_process, trap_exit
from soundforge.runtime.results import (
    IGNORE,
    AlreadyStarted,
    ChildCounts,
    ChildError,
    ChildInfo,
    Error,
    Ignore,
    Ok,
    StartResult,
)

__all__ = [
    "FailedToStartChild",
    "Supervisor",
    "SupervisorSpec",
    "count_children",
    "delete_child",
    "explain_start_failure",
    "get_childspec",
    "restart_child",
    "start_child",
    "start_supervisor",
    "terminate_child",
    "which_children",
]

RESTARTING: Final = ChildError.RESTARTING
_RESTART_EVENT: Final = ("runtime", "supervisor", "restart")


@dataclass(frozen=True)
class SupervisorSpec:
    """What ``Supervisor.init`` returns: flags and children (OTP's ``{ok, {Flags, Specs}}``)."""

    children: Sequence[Any]
    strategy: Strategy = Strategy.ONE_FOR_ONE
    max_restarts: int = 3
    max_seconds: float = 5.0
    auto_shutdown: AutoShutdown = AutoShutdown.NEVER
    meta: dict[str, Any] = field(default_factory=dict)


class FailedToStartChild(msgspec.Struct, frozen=True):
    """``{failed_to_start_child, Id, Reason}`` inside the ``Shutdown`` a failed start exits with."""

    id: Any
    reason: Any


def explain_start_failure(reason: Any) -> str:
    """One line for a failed tree start: the path of child ids down to the child that failed,
    then its reason (``Repo: PostgreSQL's server programs are not installed; ...``)."""
    path: list[str] = []
    while isinstance(reason, Shutdown) and isinstance(reason.term, FailedToStartChild):
        child_id = reason.term.id
        path.append(child_id.__name__ if isinstance(child_id, type) else str(child_id))
        reason = reason.term.reason
    text = str(reason) if isinstance(reason, Exception) and str(reason) else format_reason(reason)
    return f"{' > '.join(path)}: {text}" if path else text


class Supervisor:
    """The supervisor behaviour: subclass it and return a :class:`SupervisorSpec` from ``init``.

    ``init`` may also return ``IGNORE`` (the start returns ``IGNORE``), be ``async``, or
    raise (the start returns ``Error``). The base class accepts a ``SupervisorSpec`` as its
    argument, so ``Supervisor.start_link(SupervisorSpec([...]))`` needs no subclass.
    """

    def init(self, arg: Any) -> SupervisorSpec | Ignore:
        if isinstance(arg, SupervisorSpec):
            return arg
        raise InvalidSpec(
            ("bad_return", arg), f"{type(self).__name__}.init must return a SupervisorSpec"
        )

    @classmethod
    async def start_link(cls, arg: Any = None, *, name: Server | None = None) -> StartResult:
        return await start_server(_SupervisorServer(cls()), arg, name=name, link=True)

    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        spec = ChildSpec(id=cls, start=cls.start_link, args=(arg,), type=ChildType.SUPERVISOR)
        return spec.with_(**overrides) if overrides else spec


async def start_supervisor(
    children: Sequence[Any],
    *,
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    max_restarts: int = 3,
    max_seconds: float = 5.0,
    auto_shutdown: AutoShutdown = AutoShutdown.NEVER,
    name: Server | None = None,
) -> StartResult:
    """Start a supervisor over ``children``, linked to the caller (``Supervisor.start_link/2``)."""
    spec = SupervisorSpec(children, strategy, max_restarts, max_seconds, auto_shutdown)
    return await Supervisor.start_link(spec, name=name)


# -- the supervisor process ---------------------------------------------------------------


class _Child:
    __slots__ = ("pid", "restarts", "spec")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.pid: Pid | ChildError | None = None
        self.restarts = 0

    def info(self) -> ChildInfo:
        return ChildInfo(self.spec.id, self.pid, self.spec.type, self.restarts)


class _State:
    __slots__ = ("auto_shutdown", "by_id", "by_pid", "children", "intensity", "reports", "strategy")

    def __init__(self, flags: SupervisorSpec) -> None:
        self.strategy = flags.strategy
        self.intensity = Intensity(flags.max_restarts, flags.max_seconds)
        self.auto_shutdown = flags.auto_shutdown
        self.children: list[_Child] = []
        self.by_id: dict[Hashable, _Child] = {}
        self.by_pid: dict[Pid, _Child] = {}
        self.reports: deque[CrashReport] = deque()

    def add(self, child: _Child) -> None:
        self.children.append(child)
        self.by_id[child.spec.id] = child

    def remove(self, child: _Child) -> None:
        self.children.remove(child)
        del self.by_id[child.spec.id]


class _TryAgain(msgspec.Struct, frozen=True):
    id: Any


class _StartChild(msgspec.Struct, frozen=True):
    spec: Any


class _ById(msgspec.Struct, frozen=True):
    op: str
    id: Any


class _SupervisorServer(GenServer[_State]):
    kind = "supervisor"

    def __init__(self, behaviour: Supervisor) -> None:
        self.behaviour = behaviour

    async def init(self, arg: Any) -> Any:
        trap_exit(True)
        flags = self.behaviour.init(arg)
        if inspect.isawaitable(flags):
            flags = await flags
        if flags is IGNORE or isinstance(flags, Ignore):
            return IGNORE
        if not isinstance(flags, SupervisorSpec):
            raise InvalidSpec(("bad_return", flags), f"supervisor init returned {flags!r}")
        _validate_flags(flags)
        state = _State(flags)
        for spec in validate_children(list(flags.children), flags.auto_shutdown):
            child = _Child(spec)
            result = await _start(state, child)
            if isinstance(result, Error):
                await _stop_all(state)
                return Stop(Shutdown(FailedToStartChild(spec.id, result.reason)))
            if child.pid is not None or spec.restart is not Restart.TEMPORARY:
                state.add(child)
        return Init(state)

    async def handle_info(self, msg: Any, state: _State) -> Any:
        if type(msg) is Exit:
            child = state.by_pid.pop(msg.pid, None) if msg.pid is not None else None
            if child is None:
                return NoReply(state)  # an EXIT from a process that is not (or no longer) a child
            return await _child_exited(state, child, msg.reason)
        if type(msg) is _TryAgain:
            child = state.by_id.get(msg.id)
            if child is not None and child.pid is RESTARTING:
                return await _restart(state, child)
            return NoReply(state)
        return GenServer.handle_info(self, msg, state)

    async def handle_call(self, request: Any, from_: From, state: _State) -> Any:
        kind = type(request)
        if kind is _StartChild:
            return Reply(await _start_child_call(state, request.spec), state)
        if kind is _ById:
            op = request.op
            if op == "terminate":
                return Reply(await _terminate_child_call(state, request.id), state)
            if op == "restart":
                return Reply(await _restart_child_call(state, request.id), state)
            if op == "delete":
                return Reply(_delete_child_call(state, request.id), state)
            if op == "get_childspec":
                return Reply(_get_childspec_call(state, request.id), state)
        if request == "which_children":
            return Reply([c.info() for c in state.children], state)
        if request == "count_children":
            return Reply(_count(state), state)
        raise ValueError(f"unknown supervisor request {request!r}")

    async def terminate(self, reason: ExitReason, state: _State) -> None:
        await _stop_all(state)

    def format_status(self, state: _State) -> Any:
        return {
            "strategy": state.strategy.value,
            "max_restarts": state.intensity.max_restarts,
            "max_seconds": state.intensity.max_seconds,
            "children": len(state.children),
            "behaviour": type(self.behaviour).__name__,
        }

    def children_info(self, state: _State) -> list[ChildInfo]:
        """The children as data, read by introspection without a call."""
        return [c.info() for c in state.children]

    def intensity_used(self, state: _State, now: float) -> int:
        return state.intensity.used(now)

    def crash_reports(self, state: _State) -> list[CrashReport]:
        return list(state.reports)


def _validate_flags(flags: SupervisorSpec) -> None:
    if not isinstance(flags.strategy, Strategy):
        raise InvalidSpec(
            ("supervisor_data", ("invalid_strategy", flags.strategy)),
            f"strategy must be one_for_one, one_for_all or rest_for_one, not {flags.strategy!r}",
        )
    if (
        isinstance(flags.max_restarts, bool)
        or not isinstance(flags.max_restarts, int)
        or flags.max_restarts < 0
    ):
        raise InvalidSpec(
            ("supervisor_data", ("invalid_intensity", flags.max_restarts)),
            f"max_restarts must be an integer >= 0, not {flags.max_restarts!r}",
        )
    if (
        isinstance(flags.max_seconds, bool)
        or not isinstance(flags.max_seconds, int | float)
        or not (0 < flags.max_seconds < float("inf"))
    ):
        raise InvalidSpec(
            ("supervisor_data", ("invalid_period", flags.max_seconds)),
            f"max_seconds must be a positive finite number, not {flags.max_seconds!r}",
        )
    if not isinstance(flags.auto_shutdown, AutoShutdown):
        raise InvalidSpec(
            ("supervisor_data", ("invalid_auto_shutdown", flags.auto_shutdown)),
            "auto_shutdown must be never, any_significant or all_significant, "
            f"not {flags.auto_shutdown!r}",
        )


# -- starting and stopping children -------------------------------------------------------


async def _start(state: _State, child: _Child) -> StartResult:
    """Run the child's start function inside the supervisor; record the new pid."""
    spec = child.spec
    try:
        result = await spec.start(*spec.args)
    except ProcessExit as exit_:
        result = Error(exit_.reason)
    except Exception as error:  # a raising start function is a failed start, not a crash here
        result = Error(error)
    if isinstance(result, Ok):
        pid = result.value
        if type(pid) is Pid:
            child.pid = pid
            state.by_pid[pid] = child
        else:
            child.pid = None
        return result
    if isinstance(result, Ignore):
        child.pid = None
        return IGNORE
    if isinstance(result, Error):
        return result
    return Error(("bad_return", result))


async def _stop(state: _State, child: _Child) -> ExitReason | None:
    pid = child.pid
    child.pid = None
    if type(pid) is not Pid:
        return None
    state.by_pid.pop(pid, None)
    me = current_process()
    assert me is not None
    return await shutdown_child(me, pid, child.spec.shutdown_value)


async def _stop_all(state: _State) -> None:
    for child in reversed(state.children):
        await _stop(state, child)


# -- reacting to exits --------------------------------------------------------------------


def _needs_restart(restart: Restart, reason: ExitReason) -> bool:
    if restart is Restart.PERMANENT:
        return True
    if restart is Restart.TRANSIENT:
        return not is_normal(reason)
    return False


async def _child_exited(state: _State, child: _Child, reason: ExitReason) -> Any:
    me = current_process()
    assert me is not None
    old_pid = child.pid
    child.pid = None
    if type(old_pid) is Pid:
        report_child_exit(me, state.reports, child.spec.id, old_pid, reason)
    if _needs_restart(child.spec.restart, reason):
        return await _restart(state, child)
    if child.spec.restart is Restart.TEMPORARY:
        state.remove(child)
    if child.spec.significant and _auto_shutdown_due(state):
        return Stop(SHUTDOWN, state)
    return NoReply(state)


def _auto_shutdown_due(state: _State) -> bool:
    if state.auto_shutdown is AutoShutdown.ANY_SIGNIFICANT:
        return True
    if state.auto_shutdown is AutoShutdown.ALL_SIGNIFICANT:
        return not any(c.spec.significant and c.pid is not None for c in state.children)
    return False


async def _restart(state: _State, child: _Child) -> Any:
    """One restart event: count it, then restart by strategy (retrying through the mailbox)."""
    me = current_process()
    assert me is not None
    if not state.intensity.add_restart(me.node.clock.time()):
        report_intensity_exceeded(me, state.intensity.max_restarts, state.intensity.max_seconds)
        return Stop(SHUTDOWN, state)
    tele = me.node.telemetry
    if tele.wants(_RESTART_EVENT):
        tele.execute(_RESTART_EVENT, {"count": 1}, {"supervisor": me.pid, "id": child.spec.id})
    if state.strategy is Strategy.ONE_FOR_ONE:
        group = [child]
    elif state.strategy is Strategy.ONE_FOR_ALL:
        group = list(state.children)
    else:
        group = state.children[state.children.index(child) :]
    failed = await _restart_group(state, group)
    if failed is not None:
        failed.pid = RESTARTING
        me.deliver(_TryAgain(failed.spec.id))
    return NoReply(state)


async def _restart_group(state: _State, group: list[_Child]) -> _Child | None:
    """Stop the group's running children (reverse order; temporary ones are dropped), then
    start the group in order. Returns the child that failed to start, if any; the ones
    started before it keep running, as in OTP."""
    for child in reversed(group):
        if type(child.pid) is Pid:
            await _stop(state, child)
        else:
            child.pid = None
        if child.spec.restart is Restart.TEMPORARY:
            state.remove(child)
    for child in group:
        if child.spec.restart is Restart.TEMPORARY:
            continue
        child.restarts += 1
        result = await _start(state, child)
        if isinstance(result, Error):
            report_restart_failed(current_process(), child.spec.id, result.reason)
            return child
    return None


# -- management calls ---------------------------------------------------------------------


async def _start_child_call(state: _State, raw: Any) -> StartResult:
    try:
        spec = child_spec(raw)
        check_significance(spec, state.auto_shutdown)
    except InvalidSpec as invalid:
        return Error(invalid.reason)
    existing = state.by_id.get(spec.id)
    if existing is not None:
        if type(existing.pid) is Pid:
            return Error(AlreadyStarted(existing.pid))
        return Error(ChildError.ALREADY_PRESENT)
    child = _Child(spec)
    result = await _start(state, child)
    if isinstance(result, Error):
        return result
    if child.pid is not None or spec.restart is not Restart.TEMPORARY:
        state.add(child)
    return Ok(None) if isinstance(result, Ignore) else result


async def _terminate_child_call(state: _State, child_id: Any) -> Ok | Error:
    child = None if type(child_id) is Pid else state.by_id.get(child_id)
    if child is None:
        return Error(ChildError.NOT_FOUND)
    await _stop(state, child)
    if child.spec.restart is Restart.TEMPORARY:
        state.remove(child)
    return Ok()


def _stopped_child(state: _State, child_id: Any) -> _Child | Error:
    """The child if it exists and is not running: what restart and delete require."""
    child = state.by_id.get(child_id)
    if child is None:
        return Error(ChildError.NOT_FOUND)
    if type(child.pid) is Pid:
        return Error(ChildError.RUNNING)
    if child.pid is RESTARTING:
        return Error(ChildError.RESTARTING)
    return child


async def _restart_child_call(state: _State, child_id: Any) -> StartResult:
    child = _stopped_child(state, child_id)
    if isinstance(child, Error):
        return child
    result = await _start(state, child)
    return Ok(None) if isinstance(result, Ignore) else result


def _delete_child_call(state: _State, child_id: Any) -> Ok | Error:
    child = _stopped_child(state, child_id)
    if isinstance(child, Error):
        return child
    state.remove(child)
    return Ok()


def _get_childspec_call(state: _State, key: Any) -> Ok | Error:
    child = state.by_pid.get(key) if type(key) is Pid else state.by_id.get(key)
    return Ok(child.spec) if child is not None else Error(ChildError.NOT_FOUND)


def _count(state: _State) -> ChildCounts:
    supervisors = sum(1 for c in state.children if c.spec.type is ChildType.SUPERVISOR)
    return ChildCounts(
        specs=len(state.children),
        active=sum(1 for c in state.children if type(c.pid) is Pid),
        supervisors=supervisors,
        workers=len(state.children) - supervisors,
    )


# -- client API ---------------------------------------------------------------------------

_MANAGEMENT_TIMEOUT: Final = None  # OTP's supervisor calls wait as long as it takes


async def start_child(sup: Server, spec: Any) -> StartResult:
    return await call(sup, _StartChild(spec), _MANAGEMENT_TIMEOUT)  # type: ignore[no-any-return]


async def terminate_child(sup: Server, child_id: Any) -> Ok | Error:
    return await call(sup, _ById("terminate", child_id), _MANAGEMENT_TIMEOUT)  # type: ignore[no-any-return]


async def restart_child(sup: Server, child_id: Any) -> StartResult:
    return await call(sup, _ById("restart", child_id), _MANAGEMENT_TIMEOUT)  # type: ignore[no-any-return]


async def delete_child(sup: Server, child_id: Any) -> Ok | Error:
    return await call(sup, _ById("delete", child_id), _MANAGEMENT_TIMEOUT)  # type: ignore[no-any-return]


async def get_childspec(sup: Server, child_id: Any) -> Ok | Error:
    return await call(sup, _ById("get_childspec", child_id), _MANAGEMENT_TIMEOUT)  # type: ignore[no-any-return]


async def which_children(sup: Server) -> list[ChildInfo]:
    return await call(sup, "which_children", _MANAGEMENT_TIMEOUT)  # type: ignore[no-any-return]


async def count_children(sup: Server) -> ChildCounts:
    return await call(sup, "count_children", _MANAGEMENT_TIMEOUT)  # type: ignore[no-any-return]
