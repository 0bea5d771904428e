"""How ``soundforge actors`` and ``soundforge queues`` draw the server's answers (rich).

The answers' types mirror the API's (``soundforge.web.api.admin_actors`` and
``admin_jobs``): importing the web layer would cost each command a second and quart. A
process is :class:`~soundforge.runtime.introspect.ProcessInfo` and a tree
:class:`~soundforge.actors.observer.ActorsSnapshot`, the server's own types. Every value
from the server is drawn as :class:`~rich.text.Text`, never parsed as markup.
"""

from __future__ import annotations

import datetime
import json
import textwrap
from collections.abc import Callable, Iterator
from typing import Any, Final

import msgspec
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from soundforge.runtime.introspect import ActorsSnapshot, ProcessInfo

__all__ = [
    "SORTS",
    "ActionResult",
    "CrashView",
    "ProcessDetail",
    "QueueOverview",
    "process_view",
    "queues_table",
    "top_frame",
    "tree_view",
    "walk",
]


class CrashView(msgspec.Struct, frozen=True):
    at: float
    child_id: str | None
    pid: str
    reason: str
    traceback: str


class ProcessDetail(msgspec.Struct, frozen=True):
    process: ProcessInfo
    crash_reports: list[CrashView]


class ActionResult(msgspec.Struct, frozen=True):
    action: str
    target: str
    before: str | None
    after: str | None
    message: str


class QueueOverview(msgspec.Struct, frozen=True):
    queue: str
    limit: int | None
    paused: bool | None
    counts: dict[str, int]


def walk(nodes: list[ProcessInfo]) -> Iterator[ProcessInfo]:
    """Every process of a tree, depth first."""
    for info in nodes:
        yield info
        yield from walk(info.children)


# -- tree --------------------------------------------------------------------------------


def tree_view(snapshot: ActorsSnapshot) -> Tree:
    top = Tree(_header(snapshot))
    for info in snapshot.tree:
        _add_branch(top, info)
    return top


def _add_branch(parent: Tree, info: ProcessInfo) -> None:
    branch = parent.add(_line(info))
    for child in info.children:
        _add_branch(branch, child)


def _line(info: ProcessInfo) -> Text:
    """One process: label, kind, pid, status, restarts, mailbox, rate, uptime, details."""
    line = Text.assemble((_label(info), "bold"), " ", (info.kind, "cyan"), f" {info.pid or '-'} ")
    line.append(info.status, _status_style(info.status))
    facts: list[tuple[str, str]] = []
    if info.pid is not None or info.status in ("stopped", "restarting"):
        facts.append((f"restarts {info.restarts}", "yellow" if info.restarts else "dim"))
    if info.pid is not None or info.status.endswith(" open"):  # a folded group has no pid
        facts.append((f"mailbox {info.mailbox}", _mailbox_style(info.mailbox)))
        facts.append((f"{_number(info.rate)} msg/s", "dim"))
    if info.pid is not None:
        facts.append((f"up {_duration(info.uptime_s)}", "dim"))
    facts += [(detail, "") for detail in _details(info)]
    for text, style in facts:
        line.append("  ")
        line.append(text, style)
    return line


def _details(info: ProcessInfo) -> list[str]:
    """What matters about a port, a supervisor or a queue producer, in a few words."""
    summary: dict[str, Any] = info.summary if isinstance(info.summary, dict) else {}
    details: list[str] = []
    if info.kind == "port":
        details += [
            f"os pid {info.os_pid if info.os_pid is not None else '-'}",
            f"CPU {_number(info.cpu_percent)}%",
            f"RSS {_size(info.rss_bytes)}",
        ]
    if "max_restarts" in summary:
        if "strategy" in summary:
            details.append(str(summary["strategy"]))
            used = info.intensity_used
        else:  # a dynamic supervisor
            details.append(f"{summary.get('active', 0)} children")
            used = summary.get("restarts_used")
        details.append(
            f"intensity {used if used is not None else '-'}/{summary['max_restarts']} "
            f"in {summary.get('max_seconds', '?')}s"
        )
    if {"queue", "limit", "running"} <= summary.keys():  # a queue producer
        running = summary["running"]
        details.append(
            f"queue {summary['queue']} {len(running) if isinstance(running, list) else running}"
            f"/{summary['limit']} running{' PAUSED' if summary.get('paused') else ''}"
        )
        details += [f"{state} {n}" for state, n in (info.counts or {}).items()]
    return details


# -- one process -------------------------------------------------------------------------


def process_view(detail: ProcessDetail) -> Group:
    info = detail.process
    lines: list[RenderableType] = [_line(info), *_fields(list(_facts(info)))]
    if isinstance(info.summary, dict) and info.summary:
        lines.append(Text("summary", "bold"))
        lines += _fields([(key, _plain(value)) for key, value in info.summary.items()])
    elif info.summary is not None:
        lines.append(Text.assemble(("summary ", "bold"), _plain(info.summary)))
    reports = detail.crash_reports
    lines.append(Text(f"crash reports: {len(reports) or 'none'}", "bold"))
    for report in reports:
        lines.append(
            Text.assemble(
                "  ",
                (_when(report.at), "dim"),
                f"  {report.child_id or '-'} {report.pid}  ",
                (report.reason, "red"),
            )
        )
        if report.traceback.strip() not in ("", report.reason):
            lines.append(Text(textwrap.indent(report.traceback.rstrip(), "    "), "dim"))
    return Group(*lines)


def _facts(info: ProcessInfo) -> Iterator[tuple[str, str]]:
    yield "pid", info.pid or "-"
    yield "kind", info.kind
    yield "status", info.status
    for key, value in (
        ("name", info.name),
        ("behaviour", info.behaviour),
        ("child id", info.child_id),
        ("parent", info.parent),
    ):
        if value is not None:
            yield key, value
    if info.started_at is not None:
        yield "started", f"{_when(info.started_at)} (up {_duration(info.uptime_s)})"
    rate = "" if info.rate is None else f", {info.rate:.1f}/s"
    yield "mailbox", f"{info.mailbox} waiting, {info.handled} handled{rate}"
    yield "restarts", str(info.restarts)
    yield "trap exit", "yes" if info.trap_exit else "no"
    if info.intensity_used is not None:
        yield "intensity used", str(info.intensity_used)
    if info.crashes is not None:
        yield "crashes kept", str(info.crashes)
    if info.os_pid is not None:
        yield "os pid", str(info.os_pid)
        yield "CPU", f"{_number(info.cpu_percent)}%"
        yield "RSS", _size(info.rss_bytes)
    if info.counts is not None:
        yield "jobs", ", ".join(f"{state} {n}" for state, n in info.counts.items())
    yield "links", ", ".join(info.links) or "-"
    yield "monitors", ", ".join(info.monitors) or "-"
    yield "monitored by", f"{info.monitored_by} process{'es' if info.monitored_by != 1 else ''}"


def _fields(pairs: list[tuple[str, str]]) -> list[Text]:
    """Aligned ``key  value`` lines (a grid would pad every line to the widest value)."""
    width = max((len(key) for key, _ in pairs), default=0)
    return [Text.assemble("  ", (key.ljust(width), "dim"), "  ", value) for key, value in pairs]


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# -- top ---------------------------------------------------------------------------------

#: ``top --sort``: the key, larger first (unknown values last).
SORTS: Final[dict[str, Callable[[ProcessInfo], float]]] = {
    "rate": lambda info: -1.0 if info.rate is None else info.rate,
    "mailbox": lambda info: info.mailbox,
    "cpu": lambda info: -1.0 if info.cpu_percent is None else info.cpu_percent,
    "memory": lambda info: -1.0 if info.rss_bytes is None else info.rss_bytes,
}
_COLUMNS: Final = ("PID", "NAME", "KIND", "STATUS", "MSG/S", "MAILBOX", "CPU%", "RSS", "UP")
_NUMERIC: Final = frozenset({"MSG/S", "MAILBOX", "CPU%", "RSS", "UP"})


def top_frame(
    snapshot: ActorsSnapshot,
    sort: str,
    rows: int | None = None,
    interval: float | None = None,
    note: str | None = None,
) -> Group:
    """The header and the ``rows`` first processes by ``sort``; ``interval`` when live."""
    header = _header(snapshot)
    header.append(f"  sorted by {sort}", "dim")
    if interval is not None:
        header.append(f", every {interval:g}s; Ctrl-C quits", "dim")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in _COLUMNS:
        table.add_column(column, justify="right" if column in _NUMERIC else "left")
    for info in sorted(walk(snapshot.tree), key=SORTS[sort], reverse=True)[:rows]:
        table.add_row(
            Text(info.pid or "-"),
            Text(_label(info), "bold"),
            Text(info.kind),
            Text(info.status, _status_style(info.status)),
            _number(info.rate),
            Text(str(info.mailbox), _mailbox_style(info.mailbox)),
            _number(info.cpu_percent),
            _size(info.rss_bytes),
            _duration(info.uptime_s),
        )
    parts: list[RenderableType] = [header] if note is None else [header, Text(note, "red")]
    return Group(*parts, table)


# -- queues ------------------------------------------------------------------------------


def queues_table(queues: list[QueueOverview]) -> Table:
    """One row per queue: this node's limit and pause, then all nodes' jobs by state."""
    states = list(queues[0].counts) if queues else []
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("QUEUE")
    table.add_column("LIMIT", justify="right")
    table.add_column("PAUSED")
    for state in states:
        table.add_column(state.upper(), justify="right")
    for queue in queues:
        paused = "-" if queue.paused is None else "yes" if queue.paused else "no"
        table.add_row(
            Text(queue.queue, "bold"),
            "-" if queue.limit is None else str(queue.limit),
            Text(paused, "yellow" if queue.paused else ""),
            *(str(queue.counts.get(state, 0)) for state in states),
        )
    return table


# -- formatting --------------------------------------------------------------------------


def _label(info: ProcessInfo) -> str:
    """What to call a process: what ``actors show`` and the actions accept, mostly."""
    label = info.child_id or info.name or info.behaviour or info.kind
    if info.kind == "port" and isinstance(info.summary, dict) and "name" in info.summary:
        return f"{label} {info.summary['name']}"  # which program: a pool's ports share an id
    return label


def _header(snapshot: ActorsSnapshot) -> Text:
    return Text.assemble(
        (snapshot.node, "bold"), f"  {snapshot.processes} processes  ", _when(snapshot.at)
    )


def _status_style(status: str) -> str:
    return {"stopped": "red", "restarting": "yellow", "running": "green"}.get(status, "")


def _mailbox_style(size: int) -> str:
    return "red" if size >= 100 else "yellow" if size else "dim"


def _when(at: float) -> str:
    return datetime.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
