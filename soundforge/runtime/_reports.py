"""Crash reports: a supervisor logs each child exit it handles, once, with id and reason.

Orderly exits (normal, shutdown, {shutdown, _}) are not errors and are logged at debug
level; anything else is logged at error level with the traceback of the exception that
ended the child. A supervisor that gives up (intensity exceeded) says so once too. The
reports are kept on the supervisor process (the last few) for the admin console.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Hashable
from typing import Any, Final

import msgspec

from soundforge.runtime.exit import ExitReason, format_reason, is_normal
from soundforge.runtime.process import Pid, Process

__all__ = [
    "CrashReport",
    "report_child_exit",
    "report_intensity_exceeded",
    "report_restart_failed",
]

log = logging.getLogger("soundforge.runtime.supervisor")

#: How many crash reports a supervisor keeps for inspection.
KEEP_REPORTS: Final = 20

_CHILD_EXIT_EVENT: Final = ("runtime", "supervisor", "child_exit")
_INTENSITY_EVENT: Final = ("runtime", "supervisor", "intensity_exceeded")


class CrashReport(msgspec.Struct, frozen=True):
    """What a supervisor saw when a child exited abnormally."""

    at: float
    child_id: Any
    pid: Any
    reason: str
    traceback: str


def report_child_exit(
    sup: Process, reports: deque[CrashReport], child_id: Hashable, pid: Pid, reason: ExitReason
) -> None:
    """Log one child exit (once) and remember it if it was a crash."""
    tele = sup.node.telemetry
    if tele.wants(_CHILD_EXIT_EVENT):
        tele.execute(
            _CHILD_EXIT_EVENT,
            {"count": 1},
            {"supervisor": sup.pid, "id": child_id, "pid": pid, "reason": reason},
        )
    if is_normal(reason):
        log.debug(
            "supervisor %r: child %r (%r) exited: %s", sup.pid, child_id, pid, format_reason(reason)
        )
        return
    text = format_reason(reason, with_traceback=True)
    log.error("supervisor %r: child %r (%r) crashed: %s", sup.pid, child_id, pid, text)
    reports.append(CrashReport(time.time(), child_id, pid, format_reason(reason), text))
    while len(reports) > KEEP_REPORTS:
        reports.popleft()


def report_restart_failed(sup: Process | None, child_id: Hashable, reason: Any) -> None:
    """OTP's ``start_error`` report: a child that could not be started again (without it,
    such a child shows only as the restart intensity its retries use up)."""
    log.error(
        "supervisor %r: restarting child %r failed: %s",
        sup.pid if sup is not None else None,
        child_id,
        format_reason(reason),
    )


def report_intensity_exceeded(sup: Process, max_restarts: int, max_seconds: float) -> None:
    log.error(
        "supervisor %r: more than %d restarts within %g s; shutting down its children and itself",
        sup.pid,
        max_restarts,
        max_seconds,
    )
    tele = sup.node.telemetry
    if tele.wants(_INTENSITY_EVENT):
        tele.execute(_INTENSITY_EVENT, {"count": 1}, {"supervisor": sup.pid})
