"""The live supervision tree as the chaos harness reads it: paths, targets, snapshots.

The same walk as :func:`soundforge.runtime.introspect.tree` (supervised children in start
order via the supervisors' ``children_info``, children that are not running shown without a
pid, other linked children after them), without calling every process's ``format_status``:
a port's status reads the resident memory of its program's whole process tree through
psutil, which scans ``/proc`` and blocked the event loop for 100 ms and more per snapshot on
a busy machine. The harness looks twice a second.

A process is named by its *path*, the child ids from the root supervisor down to it
(``Queues/queue:download/producer``, labelled as the tree prints them): the path outlives the
pid, so after a kill the harness can tell whether a supervisor put a new process in the same
place. Processes that no static supervisor names (ports under the DynamicSupervisor, job
attempts under a foreman) have no path; nothing restarts them by design.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

import msgspec

from soundforge.runtime.introspect import label
from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid, Process
from soundforge.runtime.results import ChildError, ChildInfo

__all__ = ["ABSENT", "Snapshot", "TreeEntry", "find_pid", "snapshot"]

#: What the tree shows for a supervised child that is not running.
ABSENT: Final = ("stopped", "restarting")


class TreeEntry(msgspec.Struct, frozen=True):
    """One process below the root (or one supervised child that is not running)."""

    pid: str | None
    kind: str
    #: ``running``, or for a supervised child that is not: ``stopped`` or ``restarting``.
    status: str
    label: str
    #: Child ids from the root down, joined by ``/``; None for unnamed (dynamic) children.
    path: str | None
    #: When the process started (seconds since the epoch), for restart delays.
    started_at: float | None = None


class Snapshot(msgspec.Struct, frozen=True):
    """Every entry below the root supervisor; ``root`` is None when no root runs."""

    root: str | None
    entries: list[TreeEntry]

    def by_path(self) -> dict[str, TreeEntry]:
        return {e.path: e for e in self.entries if e.path is not None}

    def running(self) -> list[TreeEntry]:
        return [e for e in self.entries if e.pid is not None]


def snapshot(node: Node) -> Snapshot:
    """The tree below ``node.root`` now (the root itself excluded)."""
    root = node.root
    if root is None or not root.alive:
        return Snapshot(None, [])
    by_parent: dict[Process, list[Process]] = {}
    for proc in node.processes.values():
        if proc.alive and proc.parent is not None:
            by_parent.setdefault(proc.parent, []).append(proc)
    return Snapshot(repr(root.pid), list(_walk(node, root, by_parent, "")))


def find_pid(node: Node, pid: str) -> Pid | None:
    """The live pid whose text is ``pid`` (``<0.17.0>``), if it still runs."""
    try:
        proc = node.processes.get(int(pid.split(".")[1]))
    except (IndexError, ValueError):
        return None
    return proc.pid if proc is not None and proc.alive else None


def _walk(
    node: Node, proc: Process, by_parent: dict[Process, list[Process]], prefix: str | None
) -> Iterator[TreeEntry]:
    placed: set[int] = set()
    for child in _supervised(proc):
        child_label = label(child.id)
        path = None if prefix is None else f"{prefix}/{child_label}" if prefix else child_label
        running = node.processes.get(child.pid.id) if isinstance(child.pid, Pid) else None
        if running is not None and running.alive:
            placed.add(running.pid.id)
            yield _entry(running, child_label, path)
            yield from _walk(node, running, by_parent, path)
            continue
        status = "restarting" if child.pid is ChildError.RESTARTING else "stopped"
        kind = str(getattr(child.type, "value", child.type))
        yield TreeEntry(pid=None, kind=kind, status=status, label=child_label, path=path)
    for other in by_parent.get(proc, []):
        if other.pid.id not in placed:
            yield _entry(other, None, None)
            yield from _walk(node, other, by_parent, None)


def _supervised(proc: Process) -> Iterable[ChildInfo]:
    children_info: Any = getattr(proc.behaviour, "children_info", None)
    if children_info is None or proc.state is None:
        return ()
    children: Iterable[ChildInfo] = children_info(proc.state)
    return children


def _entry(proc: Process, child_label: str | None, path: str | None) -> TreeEntry:
    """A running process, labelled by its registered name, else its child id, else its
    behaviour (what ``soundforge tree`` shows first)."""
    if proc.name is not None:
        shown = label(proc.name)
    elif child_label is not None:
        shown = child_label
    else:
        behaviour = proc.behaviour
        inner = getattr(behaviour, "behaviour", None)  # a supervisor's user module
        shown = type(inner or behaviour).__name__ if behaviour is not None else proc.kind
    return TreeEntry(
        pid=repr(proc.pid),
        kind=proc.kind,
        status="running",
        label=shown,
        path=path,
        started_at=proc.started_at,
    )
