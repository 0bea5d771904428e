"""``/api/v1/admin/actors``: the node's supervision tree, one process inside it, and the
operator's actions on it (Erlang's observer, over HTTP). Admins only.

* ``GET /admin/actors``: the tree as the observer samples it (``soundforge.actors.observer``):
  kind, name, status, restarts, mailbox, message rate, uptime; supervisors' strategy and
  intensity used; ports' OS pid, CPU and memory; queue producers' jobs by state.
* ``GET /admin/actors/process?target=T``: one process — its ``format_status`` summary, its
  links and monitors, and the crash reports about it (a supervisor's: all it kept).
* ``POST /admin/actors/restart|stop|kill`` with ``{"target": T}``: restart a supervised
  child (a supervisor restarts its whole subtree, in order), stop it (it stays stopped
  until restarted: OTP's ``terminate_child``), or kill the process (``exit(pid, kill)``:
  untrappable; its supervisor reacts as to any crash). Each is written to the audit log.

``T`` is a pid as the tree prints it (``<0.13.0>``), a registered name
(``soundforge.repo``) or a child id (``Queues``, ``producer`` when only one has it).

The node's root, its application process and the endpoint serving the request are not
targets: the action would end the very server answering it (stop the server instead).

    curl -H "Authorization: Bearer $ADMIN_TOKEN" $SF/api/v1/admin/actors
    curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \\
         -d '{"target": "Queues"}' $SF/api/v1/admin/actors/restart
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from quart import Blueprint, Response

from soundforge.accounts import Action
from soundforge.actors.observer import DEFAULT_NAME as OBSERVER
from soundforge.actors.observer import Sample
from soundforge.runtime import gen_server
from soundforge.runtime import process as processes
from soundforge.runtime._reports import CrashReport
from soundforge.runtime.errors import CallError
from soundforge.runtime.exit import KILL, format_reason
from soundforge.runtime.introspect import (
    ActorsSnapshot,
    AmbiguousTarget,
    ProcessInfo,
    child_id,
    crash_reports,
    describe,
    find,
    label,
)
from soundforge.runtime.process import Process, current_process
from soundforge.runtime.results import Error, Ok
from soundforge.runtime.supervisor import restart_child, terminate_child
from soundforge.web.api._common import NO_NUL, audit, connection
from soundforge.web.auth import require_admin
from soundforge.web.endpoint import DEFAULT_NAME as ENDPOINT
from soundforge.web.http import Conflict, NotFound, json_response, read_body, read_query
from soundforge.web.openapi import operation

__all__ = ["ActionResult", "CrashView", "ProcessDetail", "TargetBody", "blueprint"]

blueprint = Blueprint("admin_actors", __name__, url_prefix="/admin/actors")

Target = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]


class TargetQuery(msgspec.Struct, frozen=True):
    target: Target


class TargetBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    target: Target
    #: Look for ``target`` among this supervisor's children only (its pid or name): how the
    #: console names a child whose id other supervisors' children share (``producer``).
    supervisor: Target | None = None


class CrashView(msgspec.Struct, frozen=True):
    """A crash report as JSON: when (Unix seconds), which child, why, and the traceback."""

    at: float
    child_id: str | None
    pid: str
    reason: str
    traceback: str

    @classmethod
    def of(cls, report: CrashReport) -> CrashView:
        child = None if report.child_id is None else label(report.child_id)
        return cls(report.at, child, repr(report.pid), report.reason, report.traceback)


class ProcessDetail(msgspec.Struct, frozen=True):
    process: ProcessInfo
    #: Crash reports about the process, oldest first (a supervisor: all it kept).
    crash_reports: list[CrashView]


class ActionResult(msgspec.Struct, frozen=True):
    action: Literal["restart", "stop", "kill"]
    target: str
    #: The process before the action (null: a stopped child being started again).
    before: str | None
    #: The process after it (null: stopped, or killed and not restarted yet).
    after: str | None
    message: str


@blueprint.get("")
@operation("The node's supervision tree, sampled", tag="admin", response=ActorsSnapshot, admin=True)
async def tree() -> Response:
    require_admin()
    snapshot: ActorsSnapshot = await gen_server.call(OBSERVER, Sample(), timeout=5.0)
    return json_response(snapshot)


@blueprint.get("/process")
@operation(
    "One process: summary, links, monitors, crash reports",
    tag="admin",
    query=TargetQuery,
    response=ProcessDetail,
    admin=True,
)
async def show() -> Response:
    require_admin()
    target = read_query(TargetQuery).target
    proc = _find(target)
    # As the observer samples it (rate, CPU, queue counts), else as introspection sees it.
    snapshot: ActorsSnapshot = await gen_server.call(OBSERVER, Sample(), timeout=5.0)
    info = _sampled(snapshot.tree, repr(proc.pid)) or describe(proc.pid)
    if info is None:
        raise NotFound(f"{target} has just exited")
    info.children = []
    reports = [CrashView.of(r) for r in crash_reports(proc)]
    return json_response(ProcessDetail(info, reports))


def _sampled(nodes: list[ProcessInfo], pid: str) -> ProcessInfo | None:
    for node in nodes:
        if node.pid == pid:
            return node
        found = _sampled(node.children, pid)
        if found is not None:
            return found
    return None


@blueprint.post("/restart")
@operation(
    "Restart a supervised child", tag="admin", body=TargetBody, response=ActionResult, admin=True
)
async def restart() -> Response:
    return await _act("restart")


@blueprint.post("/stop")
@operation(
    "Stop a supervised child", tag="admin", body=TargetBody, response=ActionResult, admin=True
)
async def stop() -> Response:
    return await _act("stop")


@blueprint.post("/kill")
@operation("Kill a process", tag="admin", body=TargetBody, response=ActionResult, admin=True)
async def kill() -> Response:
    return await _act("kill")


_AUDITED = {
    "restart": Action.ACTOR_RESTARTED,
    "stop": Action.ACTOR_STOPPED,
    "kill": Action.ACTOR_KILLED,
}


async def _act(action: Literal["restart", "stop", "kill"]) -> Response:
    require_admin()
    body = await read_body(TargetBody)
    target = body.target
    stopped: tuple[Process, Any] | None = None
    if body.supervisor is not None:
        proc, stopped = _child_of(_find(body.supervisor), target)
    else:
        try:
            proc = _find(target)
        except NotFound:
            stopped = _stopped_child(target) if action == "restart" else None
            if stopped is None:
                raise
            proc = None
    if proc is None and action != "restart":
        raise Conflict(f"{target} is not running; restart it first")
    if proc is not None:
        _refuse_own_server(proc, target)
    if action == "kill":
        assert proc is not None
        result = _kill(proc, target)
    elif proc is None:
        assert stopped is not None
        result = await _start_again(*stopped, target)
    else:
        result = await _supervised(action, proc, target)
    async with connection() as conn:
        await audit(
            conn,
            _AUDITED[action],
            target_type="actor",
            target_id=target,
            details={"before": result.before, "after": result.after},
        )
    return json_response(result)


def _find(target: str) -> Process:
    me = current_process()
    assert me is not None
    try:
        proc = find(me.node, target)
    except AmbiguousTarget as error:
        raise Conflict(str(error)) from None
    if proc is None:
        raise NotFound(f"no process is called {target!r} on this node")
    return proc


def _child_of(
    supervisor: Process, target: str
) -> tuple[Process | None, tuple[Process, Any] | None]:
    """The child of ``supervisor`` whose id, pid or name is ``target``: the live process,
    or (supervisor, id) when it is not running."""
    children = getattr(supervisor.behaviour, "children_info", None)
    if supervisor.kind != "supervisor" or children is None or supervisor.state is None:
        raise Conflict(f"{label(supervisor.name or supervisor.pid)} is not a supervisor")
    for child in children(supervisor.state):
        pid = child.pid
        live = pid._proc if isinstance(pid, processes.Pid) else None
        names = {label(child.id)}
        if live is not None:
            names.add(repr(pid))
            if live.name is not None:
                names.add(label(live.name))
        if target in names:
            return (live, None) if live is not None else (None, (supervisor, child.id))
    raise NotFound(f"{supervisor.pid!r} has no child called {target!r}")


def _stopped_child(target: str) -> tuple[Process, Any] | None:
    """A supervisor's child that is not running and whose id is ``target``."""
    me = current_process()
    assert me is not None
    for proc in list(me.node.processes.values()):
        children = getattr(proc.behaviour, "children_info", None)
        if proc.kind != "supervisor" or children is None or proc.state is None:
            continue
        for child in children(proc.state):
            pid = child.pid
            running = isinstance(pid, processes.Pid) and pid._proc is not None
            if not running and label(child.id) == target:
                return proc, child.id
    return None


def _refuse_own_server(proc: Process, target: str) -> None:
    """The request's own process, the endpoint and everything above it are not targets."""
    for start in (current_process(), gen_server.resolve(ENDPOINT)):
        ancestor = start
        while ancestor is not None:
            if ancestor is proc:
                raise Conflict(
                    f"{target} runs the server answering this request; stop or restart the "
                    "server itself instead"
                )
            ancestor = ancestor.parent


def _display(proc: Process) -> str:
    """How a message names a process: its child id or name, and its pid."""
    own = child_id(proc)
    name = label(own) if own is not None else label(proc.name) if proc.name is not None else None
    return f"{name} ({proc.pid!r})" if name is not None else repr(proc.pid)


def _kill(proc: Process, target: str) -> ActionResult:
    before = repr(proc.pid)
    message = f"{_display(proc)} was killed; its supervisor reacts."
    processes.exit(proc.pid, KILL)
    return ActionResult("kill", target, before, None, message)


async def _supervised(
    action: Literal["restart", "stop"], proc: Process, target: str
) -> ActionResult:
    parent = proc.parent
    own_id = child_id(proc) if parent is not None and parent.kind == "supervisor" else None
    if parent is None or own_id is None:
        raise Conflict(
            f"{target} is not a child a supervisor started from a spec, so it cannot be "
            f"{'restarted' if action == 'restart' else 'stopped'} by id; kill it to let its "
            "owner react"
        )
    before, shown = repr(proc.pid), _display(proc)
    stopped = await _call(terminate_child(parent.pid, own_id), target)
    if isinstance(stopped, Error):
        raise Conflict(f"{target} could not be stopped: {stopped.reason!r}")
    if action == "stop":
        return ActionResult("stop", target, before, None, f"{shown} was stopped.")
    return await _start_again(parent, own_id, target, before)


async def _start_again(
    parent: Process, own_id: Any, target: str, before: str | None = None
) -> ActionResult:
    started = await _call(restart_child(parent.pid, own_id), target)
    if isinstance(started, Ok):
        after = repr(started.pid) if started.pid is not None else None
        message = f"{label(own_id)} was restarted" + (f" as {after}." if after else ".")
        return ActionResult("restart", target, before, after, message)
    reason = getattr(started, "reason", started)
    raise Conflict(f"{target} could not be started again: {format_reason(reason)}")


async def _call(awaitable: Any, target: str) -> Any:
    try:
        return await awaitable
    except CallError as error:
        raise Conflict(f"the supervisor of {target} did not answer: {error}") from None
