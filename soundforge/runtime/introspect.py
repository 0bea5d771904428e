"""Introspection: every process as data, and the whole tree in one call (observer's view).

    info = describe(pid)          # one process
    roots = tree(node)            # every process, nested under its supervisor or parent
    proc = find(node, "Queues")   # by pid ("<0.13.0>"), registered name or child id
    reports = crash_reports(proc) # what its supervisor saw when it (or its children) crashed

The data is read directly from the runtime's records between two event-loop steps (the
runtime is single-threaded), so no process is interrupted to answer; ``summary`` is the
behaviour's ``format_status(state)``. Children that a supervisor knows but that are not
running (stopped by hand, ignored, or restarting) appear with ``pid`` None and their status.
Supervisors add the restarts inside their intensity window and their crash reports' count;
ports add their OS pid and resident memory. The same structs serialise to JSON for the admin
console and the CLI; the observer (``soundforge.actors.observer``) adds message rates, CPU
and queue counts by sampling.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import msgspec

from soundforge.runtime._reports import CrashReport
from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid, Process
from soundforge.runtime.results import ChildError, ChildInfo

__all__ = [
    "ActorsSnapshot",
    "AmbiguousTarget",
    "ProcessInfo",
    "child_id",
    "crash_reports",
    "describe",
    "find",
    "label",
    "tree",
]


class ProcessInfo(msgspec.Struct, omit_defaults=True):
    """One process (or one supervised child that is not running) as data."""

    pid: str | None
    kind: str
    status: str
    name: str | None = None
    behaviour: str | None = None
    child_id: str | None = None
    parent: str | None = None
    mailbox: int = 0
    handled: int = 0
    restarts: int = 0
    started_at: float | None = None
    uptime_s: float | None = None
    trap_exit: bool = False
    links: list[str] = msgspec.field(default_factory=list)
    monitored_by: int = 0
    #: The processes it monitors.
    monitors: list[str] = msgspec.field(default_factory=list)
    summary: Any = None
    #: Supervisors: restarts inside the intensity window, crash reports kept.
    intensity_used: int | None = None
    crashes: int | None = None
    #: Ports: the OS process and its resident memory (with its descendants').
    os_pid: int | None = None
    rss_bytes: int | None = None
    #: Set by the observer, which samples: messages handled per second, a port's CPU (% of
    #: one core), a queue producer's jobs by state.
    rate: float | None = None
    cpu_percent: float | None = None
    counts: dict[str, int] | None = None
    children: list[ProcessInfo] = msgspec.field(default_factory=list)


class ActorsSnapshot(msgspec.Struct, frozen=True, tag="admin.actors"):
    """A node's tree at ``at`` (Unix seconds), as the admin console draws it (sampled and
    broadcast by ``soundforge.actors.observer``)."""

    node: str
    at: float
    processes: int
    tree: list[ProcessInfo]
    #: The PubSub topic it was broadcast on (pages route events by topic).
    topic: str | None = None


class AmbiguousTarget(LookupError):
    """More than one process answers to a name; the message lists their pids."""


def describe(pid: Pid) -> ProcessInfo | None:
    """A process as data, without its children (with its child id and restarts, as the
    tree shows it); None if it is not alive."""
    proc = pid._proc
    if proc is None:
        return None
    parent = proc.parent
    if parent is not None and parent.alive:
        for child in _supervised_children(parent) or ():
            if child.pid is proc.pid:
                return _info(proc, child.id, child.restarts)
    return _info(proc, None, 0)


def tree(node: Node) -> list[ProcessInfo]:
    """Every live process nested under its parent, supervised children in start order."""
    by_parent: dict[Process | None, list[Process]] = {}
    for proc in node.processes.values():
        parent = proc.parent if proc.parent is not None and proc.parent.alive else None
        by_parent.setdefault(parent, []).append(proc)
    return [_subtree(p, by_parent, None, 0) for p in by_parent.get(None, [])]


def find(node: Node, target: str) -> Process | None:
    """The live process ``target`` names: its pid as printed (``<0.13.0>``), its registered
    name, its child id as the tree shows them (``soundforge.repo``, ``Queues``), or, for a
    process started from no spec, its behaviour (``Root``). A child id that several
    processes share raises :class:`AmbiguousTarget`."""
    target = target.strip()
    by_id: list[Process] = []
    by_behaviour: list[Process] = []
    for proc in node.processes.values():
        if not proc.alive:
            continue
        if repr(proc.pid) == target or (proc.name is not None and label(proc.name) == target):
            return proc
        own_id = child_id(proc)
        if own_id is not None and label(own_id) == target:
            by_id.append(proc)
        elif own_id is None and _behaviour_name(proc) == target:
            by_behaviour.append(proc)
    if not by_id and len(by_behaviour) == 1:  # a process the tree shows by its behaviour (Root)
        return by_behaviour[0]
    if len(by_id) > 1:
        pids = ", ".join(repr(p.pid) for p in by_id)
        raise AmbiguousTarget(f"{target!r} names {len(by_id)} processes ({pids}); use a pid")
    return by_id[0] if by_id else None


def _behaviour_name(proc: Process) -> str | None:
    behaviour = proc.behaviour
    if behaviour is None:
        return None
    inner = getattr(behaviour, "behaviour", None)  # a supervisor's user module
    return type(inner if inner is not None else behaviour).__name__


def crash_reports(proc: Process) -> list[CrashReport]:
    """The crash reports about ``proc``: all of a supervisor's own (its children's crashes),
    and for a supervised child those its supervisor kept for the child's id (every
    incarnation of it), newest last."""
    own = _reports_of(proc)
    if own is not None:
        return own
    parent = proc.parent
    if parent is None or not parent.alive:
        return []
    own_id = child_id(proc)
    if own_id is None:  # a dynamic child: its reports cannot be told from its siblings'
        return []
    return [r for r in _reports_of(parent) or [] if r.child_id == own_id]


def _reports_of(proc: Process) -> list[CrashReport] | None:
    method = getattr(proc.behaviour, "crash_reports", None)
    if method is None or proc.state is None:
        return None
    reports: list[CrashReport] = method(proc.state)
    return reports


def child_id(proc: Process) -> Any:
    """``proc``'s child id in its supervisor's specs (None: not started from a spec, e.g. a
    dynamic supervisor's child or a task)."""
    parent = proc.parent
    if parent is None or not parent.alive:
        return None
    for child in _supervised_children(parent) or ():
        if child.pid is proc.pid:
            return child.id
    return None


def _subtree(
    proc: Process,
    by_parent: dict[Process | None, list[Process]],
    child_id: Any,
    restarts: int,
) -> ProcessInfo:
    info = _info(proc, child_id, restarts)
    linked = by_parent.get(proc, [])
    known = _supervised_children(proc)
    if known is None:
        info.children = [_subtree(p, by_parent, None, 0) for p in linked]
        return info
    placed: set[Pid] = set()
    for child in known:
        if isinstance(child.pid, Pid) and child.pid._proc is not None:
            placed.add(child.pid)
            info.children.append(_subtree(child.pid._proc, by_parent, child.id, child.restarts))
        else:
            info.children.append(_absent(child))
    info.children.extend(_subtree(p, by_parent, None, 0) for p in linked if p.pid not in placed)
    return info


def _supervised_children(proc: Process) -> Iterable[ChildInfo] | None:
    children_info = getattr(proc.behaviour, "children_info", None)
    if children_info is None or proc.state is None:
        return None
    return children_info(proc.state)  # type: ignore[no-any-return]


def _absent(child: ChildInfo) -> ProcessInfo:
    status = "restarting" if child.pid is ChildError.RESTARTING else "stopped"
    return ProcessInfo(
        pid=None,
        kind=str(getattr(child.type, "value", child.type)),
        status=status,
        child_id=label(child.id),
        restarts=child.restarts,
    )


def _info(proc: Process, child_id: Any, restarts: int) -> ProcessInfo:
    behaviour = proc.behaviour
    summary = None
    if behaviour is not None and proc.state is not None:
        try:
            summary = behaviour.format_status(proc.state)
        except Exception as error:  # a broken format_status must not break the whole view
            summary = f"format_status failed: {error!r}"
    waiting = proc._waiter is not None and not proc.mailbox
    info = ProcessInfo(
        pid=repr(proc.pid),
        kind=proc.kind,
        status="waiting" if waiting else "running",
        name=label(proc.name) if proc.name is not None else None,
        behaviour=_behaviour_name(proc),
        child_id=label(child_id) if child_id is not None else None,
        parent=repr(proc.parent.pid) if proc.parent is not None else None,
        mailbox=len(proc.mailbox),
        handled=proc.handled,
        restarts=restarts,
        started_at=proc.started_at,
        uptime_s=round(time.time() - proc.started_at, 3),
        trap_exit=proc.trap_exit,
        links=[repr(p.pid) for p in sorted(proc.links, key=_pid_order)] if proc.links else [],
        monitored_by=len(proc.watchers) if proc.watchers else 0,
        monitors=[repr(p.pid) for p in sorted(proc.watching.values(), key=_pid_order)]
        if proc.watching
        else [],
        summary=_plain(summary),
    )
    used = getattr(behaviour, "intensity_used", None)
    if used is not None and proc.state is not None:
        info.intensity_used = used(proc.state, proc.node.clock.time())
        info.crashes = len(_reports_of(proc) or [])
    if proc.kind == "port" and isinstance(summary, dict):
        info.os_pid = summary.get("os_pid")
        info.rss_bytes = summary.get("rss")
    return info


def _pid_order(proc: Process) -> int:
    return proc.pid.id


def label(value: Any) -> str:
    """A name or child id as the tree prints it: a class by its name, a tuple of strings
    joined by colons (``queue:download``), anything else as its repr."""
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
        return ":".join(value)
    return value if isinstance(value, str) else repr(value)


def _plain(value: Any) -> Any:
    """Make a summary JSON-safe: keep plain data, repr anything else."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return repr(value)
