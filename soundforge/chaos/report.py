"""What a chaos run found: one :class:`ChaosReport`, as JSON or as lines for a person.

The same struct is the ``--json`` output (one object) and the source of the human report,
so the two never disagree. ``ok`` is true only when every check passed; ``failures`` holds
one sentence per failed check, which is what the command prints last.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from soundforge.chaos.checks import Check
from soundforge.chaos.importer import ImportSummary
from soundforge.chaos.monkey import ChaosAction

__all__ = ["ChaosReport", "format_action", "format_report"]


class ChaosReport(msgspec.Struct, kw_only=True):
    ok: bool
    seed: int
    minutes: float
    import_every_s: float
    kill_every_s: float
    started_at: str
    #: Seconds of chaos, of settling afterwards, and of the whole run (boot and stop included).
    chaos_s: float
    settle_s: float
    total_s: float
    actions: list[ChaosAction]
    actors_killed: int
    #: Supervised actors (those with a place in a static supervisor) killed and run again.
    actors_restarted: int
    ports_killed: int
    postgres_restarts: int
    imports: ImportSummary
    jobs: dict[str, int]
    tracks: dict[str, int]
    rss_warm_mib: float | None
    rss_end_mib: float | None
    rss_peak_mib: float | None
    checks: list[Check]
    failures: list[str]


def format_action(action: ChaosAction) -> str:
    """One chaos action as a log line: time since start, wall-clock time, what, outcome."""
    what = f"{action.kind:<8} {action.target}"
    if action.os_pid is not None:
        what += f" os pid {action.os_pid}"
    return f"[{action.at_s:7.1f} s] {action.time} {what}: {action.outcome}"


def format_report(report: ChaosReport) -> Iterator[str]:
    """The human-readable summary, one line at a time (the actions were printed live)."""
    yield ""
    yield (
        f"chaos: {len(report.actions)} actions in {report.chaos_s:.0f} s: "
        f"{report.actors_killed} actors killed ({report.actors_restarted} supervised ones "
        f"restarted), {report.ports_killed} port programs SIGKILLed, PostgreSQL restarted "
        f"{report.postgres_restarts} time{'s' if report.postgres_restarts != 1 else ''}"
    )
    imports = report.imports
    yield (
        f"imports: {imports.attempted} attempted, {len(imports.created)} tracks created, "
        f"{imports.duplicates} duplicates, {len(imports.failures)} failed under chaos"
    )
    for failure in imports.failures[:5]:
        yield f"  {failure}"
    if len(imports.failures) > 5:
        yield f"  ... and {len(imports.failures) - 5} more"
    yield f"settled in {report.settle_s:.1f} s; the whole run took {report.total_s:.1f} s"
    if report.rss_peak_mib is not None:
        yield f"memory: peak resident memory {report.rss_peak_mib:.1f} MiB"
    yield "checks:"
    for check in report.checks:
        yield f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.summary}"
        for detail in check.details[:10]:
            yield f"         {detail}"
    if report.ok:
        yield f"result: all {len(report.checks)} checks passed (seed {report.seed})"
    else:
        yield f"result: {len(report.failures)} of {len(report.checks)} checks failed:"
        for sentence in report.failures:
            yield f"  {sentence}"
