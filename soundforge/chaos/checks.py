"""The five verdicts of a chaos run: jobs, tracks, supervisors, memory, orphans.

Each check is a plain function that looks at the finished run and returns a :class:`Check`:
whether it passed and one sentence saying what was found (or why it failed), with details
for a reader chasing a failure. The harness runs the first four while the tree still runs
(after the work settled) and the orphan check after the tree stopped.

* **jobs**: every job finished: ``completed``, or ``discarded``/``cancelled`` *with* the
  error that ended it recorded; none left ``available``, ``scheduled``, ``executing`` or
  ``retryable``; and no stage completed twice for one track.
* **tracks**: every track is ``ready``, or ``failed`` with its error shown.
* **supervisors**: every supervised child that ran after boot runs again (nothing left
  ``restarting`` or ``stopped``) and the root supervisor never exited.
* **memory**: the server's resident memory at the end is within the tolerance of what it
  was after warm-up: +20 % or +50 MiB, whichever is larger.
* **orphans**: once the tree stopped, no OS process it started is alive: no child of this
  process, no audio program of this data directory, no PostgreSQL of its cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import Any, Final

import msgspec
import psutil  # type: ignore[import-untyped]  # no stubs installed

from soundforge.chaos._tree import ABSENT, Snapshot

__all__ = [
    "MEMORY_TOLERANCE_MIB",
    "MEMORY_TOLERANCE_RATIO",
    "Check",
    "check_jobs",
    "check_memory",
    "check_orphans",
    "check_supervisors",
    "check_tracks",
    "count_jobs",
    "find_orphans",
    "kill_orphans",
]

MIB: Final = 1024 * 1024
#: "Flat": the end may exceed the warm-up figure by this share or this many MiB, the larger.
MEMORY_TOLERANCE_RATIO: Final = 0.20
MEMORY_TOLERANCE_MIB: Final = 50.0
#: Job states that mean the job is still to run (Oban's incomplete states).
UNFINISHED: Final = ("available", "scheduled", "executing", "retryable")
#: How long stopped processes may take to disappear (a SIGKILLed program exits in moments).
ORPHAN_GRACE: Final = 5.0


class Check(msgspec.Struct, frozen=True):
    name: str
    ok: bool
    #: One sentence: what was found when it passed, what is wrong when it failed.
    summary: str
    details: list[str] = msgspec.field(default_factory=list)


# -- jobs and tracks -------------------------------------------------------------------------

_JOB_COUNTS: Final = """
    SELECT state, count(*) AS n,
           count(*) FILTER (WHERE jsonb_array_length(errors) = 0) AS without_error
    FROM jobs GROUP BY state ORDER BY state
"""
_UNFINISHED_JOBS: Final = """
    SELECT id, worker, state, attempt, max_attempts,
           round(extract(epoch FROM scheduled_at - now())::numeric, 1)::float8 AS due_in_s,
           errors -> -1 ->> 'message' AS last_error
    FROM jobs WHERE state = ANY($1::text[]) ORDER BY id LIMIT 10
"""
_TWICE: Final = """
    SELECT args ->> 'track_id' AS track_id, worker, count(*) AS n
    FROM jobs WHERE state = 'completed'
    GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2 LIMIT 10
"""
_TRACK_COUNTS: Final = """
    SELECT status, count(*) AS n,
           count(*) FILTER (WHERE status = 'failed' AND error IS NULL) AS without_error
    FROM tracks GROUP BY status ORDER BY status
"""


async def count_jobs(conn: Any) -> dict[str, int]:
    """Jobs by state."""
    return {row["state"]: row["n"] for row in await conn.fetch(_JOB_COUNTS)}


async def check_jobs(conn: Any) -> tuple[Check, dict[str, int]]:
    rows = await conn.fetch(_JOB_COUNTS)
    counts = {row["state"]: row["n"] for row in rows}
    silent = {
        row["state"]: row["without_error"]
        for row in rows
        if row["state"] in ("discarded", "cancelled") and row["without_error"]
    }
    left = {state: n for state, n in counts.items() if state in UNFINISHED}
    shown = _counts(counts) or "no jobs at all"
    details = []
    if left:
        for job in await conn.fetch(_UNFINISHED_JOBS, list(UNFINISHED)):
            due = f", due in {job['due_in_s']:g} s" if job["state"] != "executing" else ""
            details.append(
                f"job {job['id']} {job['worker']} {job['state']} (attempt {job['attempt']} of "
                f"{job['max_attempts']}{due}): {job['last_error'] or 'no error recorded'}"
            )
        summary = f"{sum(left.values())} jobs never finished ({_counts(left)}); all: {shown}."
        return Check("jobs", False, summary, details), counts
    if silent:
        summary = f"{sum(silent.values())} jobs ended without a recorded error ({_counts(silent)})."
        return Check("jobs", False, summary), counts
    twice = await conn.fetch(_TWICE)
    if twice:
        # Each stage's job commits together with the next stage's: a stage completed twice
        # for one track means an attempt that was no longer its job's committed anyway.
        details = [f"track {r['track_id']}: {r['worker']} completed {r['n']} times" for r in twice]
        return Check("jobs", False, "a pipeline stage ran twice for a track.", details), counts
    if not counts:
        return Check("jobs", False, "no job ran at all: nothing was imported."), counts
    return Check("jobs", True, f"every job finished: {shown}."), counts


async def check_tracks(conn: Any) -> tuple[Check, dict[str, int]]:
    rows = await conn.fetch(_TRACK_COUNTS)
    counts = {row["status"]: row["n"] for row in rows}
    silent = sum(row["without_error"] for row in rows)
    stuck = {status: n for status, n in counts.items() if status not in ("ready", "failed")}
    shown = _counts(counts) or "no tracks"
    if stuck:
        summary = f"{sum(stuck.values())} tracks are still in progress ({_counts(stuck)})."
        return Check("tracks", False, summary), counts
    if silent:
        return Check("tracks", False, f"{silent} failed tracks show no error."), counts
    if not counts.get("ready"):
        return Check("tracks", False, f"no track became ready ({shown})."), counts
    return Check("tracks", True, f"every track is ready or failed with a reason: {shown}."), counts


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


# -- supervisors ------------------------------------------------------------------------------


def check_supervisors(
    baseline: Snapshot, now: Snapshot, root_exited: str | None, root_events: list[str]
) -> Check:
    """Every supervised child that ran at boot runs now, nothing is left restarting.

    ``root_events`` (the root supervisor's last child exits and restarts) are the details
    when the whole tree went down.
    """
    if root_exited is not None or now.root is None:
        why = root_exited or "the root supervisor is not running"
        return Check("supervisors", False, f"the tree went down: {why}.", root_events)
    before = baseline.by_path()
    after = now.by_path()
    problems = []
    for path, entry in before.items():
        if entry.pid is None:
            continue  # not running at boot either (the Migrator, which returns ignore)
        current = after.get(path)
        if current is None:
            problems.append(f"{path}: gone from the tree")
        elif current.status in ABSENT:
            problems.append(f"{path}: {current.status}")
    problems += [
        f"{e.path or e.label}: {e.status}"
        for e in now.entries
        if e.status == "restarting" and e.path not in before
    ]
    supervisors = sum(1 for e in now.running() if "supervisor" in e.kind)
    if problems:
        summary = f"{len(problems)} supervised children are not running again."
        return Check("supervisors", False, summary, problems)
    summary = (
        f"all {len(before)} supervised children are running again, under "
        f"{supervisors + 1} running supervisors."
    )
    return Check("supervisors", True, summary)


# -- memory -------------------------------------------------------------------------------------


def check_memory(warm_rss: int | None, end_rss: int) -> Check:
    if warm_rss is None:
        return Check("memory", False, "the run ended before warm-up; memory was not measured.")
    limit = max(warm_rss * MEMORY_TOLERANCE_RATIO, MEMORY_TOLERANCE_MIB * MIB)
    growth = end_rss - warm_rss
    figures = (
        f"{warm_rss / MIB:.1f} MiB after warm-up, {end_rss / MIB:.1f} MiB at the end "
        f"({growth / MIB:+.1f} MiB, {100 * growth / warm_rss:+.1f} %; "
        f"allowed +{limit / MIB:.1f} MiB)"
    )
    if growth > limit:
        return Check("memory", False, f"the server's resident memory grew: {figures}.")
    return Check("memory", True, f"the server's resident memory stayed flat: {figures}.")


# -- orphans ------------------------------------------------------------------------------------


def find_orphans(data_dir: Path) -> dict[int, str]:
    """OS processes the stopped tree left behind: pid → one line saying what it is."""
    me = psutil.Process()
    found: dict[int, str] = {}
    for child in me.children(recursive=True):
        _note(found, child, "a child of this process")
    cluster = (data_dir / "pg").resolve()
    wanted = str(data_dir)
    for proc in psutil.process_iter(["name"]):
        if proc.pid == me.pid or proc.pid in found:
            continue
        try:
            if proc.info["name"] == "postgres" and Path(proc.cwd()) == cluster:
                _note(found, proc, "a PostgreSQL process of the cluster")
            elif proc.environ().get("SOUNDFORGE_DATA_DIR") == wanted:
                _note(found, proc, "an audio program of this data directory")
        except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
            continue
    return dict(sorted(found.items()))


def kill_orphans(data_dir: Path) -> None:
    """SIGKILL what :func:`find_orphans` finds (after it was reported), so a failed run leaves
    nothing running on the machine; a PostgreSQL killed so recovers on its next start."""
    for pid in find_orphans(data_dir):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def _note(found: dict[int, str], proc: psutil.Process, why: str) -> None:
    try:
        if proc.status() == psutil.STATUS_ZOMBIE:
            return  # exited; only its exit status waits to be collected
        command = " ".join(proc.cmdline()[:4]) or proc.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return
    found[proc.pid] = f"pid {proc.pid} ({why}): {command}"


async def check_orphans(data_dir: Path, ports_seen: int) -> Check:
    """After the tree stopped: wait up to :data:`ORPHAN_GRACE` for stragglers, then judge."""
    deadline = time.monotonic() + ORPHAN_GRACE
    orphans = await asyncio.to_thread(find_orphans, data_dir)
    while orphans and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        orphans = await asyncio.to_thread(find_orphans, data_dir)
    if orphans:
        return Check(
            "orphans",
            False,
            f"{len(orphans)} OS processes outlived the tree ({ORPHAN_GRACE:g} s after it stopped).",
            list(orphans.values()),
        )
    summary = (
        f"no OS process outlived the tree (of {ports_seen} audio programs started; "
        f"PostgreSQL stopped; pid {os.getpid()} has no children left)."
    )
    return Check("orphans", True, summary)
