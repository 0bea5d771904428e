"""Introspection: every process as data, and the whole tree in one call (observer's view).

    info = describe(pid)          # one process
    roots = tree(node)            # every process, nested under its supervisor or parent

The data is read directly from the runtime's records between two event-loop steps (the
runtime is single-threaded), so no process is interrupted to answer; ``summary`` is the
behaviour's ``format_status(state)``. Children that a supervisor knows but that are not
running (stopped by hand, ignored, or restarting) appear with ``pid`` None and their status.
The same structs serialise to JSON for the admin console and the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import msgspec

from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid, Process
from soundforge.runtime.results import ChildError, ChildInfo

__all__ = ["ProcessInfo", "describe", "tree"]


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
    summary: Any = None
    children: list[ProcessInfo] = msgspec.field(default_factory=list)


def describe(pid: Pid) -> ProcessInfo | None:
    """A process as data, without its children; None if it is not alive."""
    proc = pid._proc
    return _info(proc, None, 0) if proc is not None else None


def tree(node: Node) -> list[ProcessInfo]:
    """Every live process nested under its parent, supervised children in start order."""
    by_parent: dict[Process | None, list[Process]] = {}
    for proc in node.processes.values():
        parent = proc.parent if proc.parent is not None and proc.parent.alive else None
        by_parent.setdefault(parent, []).append(proc)
    return [_subtree(p, by_parent, None, 0) for p in by_parent.get(None, [])]


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
        child_id=_label(child.id),
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
    inner = getattr(behaviour, "behaviour", None)  # a supervisor's user module
    return ProcessInfo(
        pid=repr(proc.pid),
        kind=proc.kind,
        status="waiting" if waiting else "running",
        name=_label(proc.name) if proc.name is not None else None,
        behaviour=type(inner if inner is not None else behaviour).__name__
        if behaviour is not None
        else None,
        child_id=_label(child_id) if child_id is not None else None,
        parent=repr(proc.parent.pid) if proc.parent is not None else None,
        mailbox=len(proc.mailbox),
        handled=proc.handled,
        restarts=restarts,
        started_at=proc.started_at,
        uptime_s=round(time.time() - proc.started_at, 3),
        trap_exit=proc.trap_exit,
        links=sorted(repr(p.pid) for p in proc.links) if proc.links else [],
        monitored_by=len(proc.watchers) if proc.watchers else 0,
        summary=_plain(summary),
    )


def _label(value: Any) -> str:
    if isinstance(value, type):
        return value.__name__
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
