"""The chaos harness: the real studio tree, a stream of imports, and a monkey breaking things.

``soundforge chaos --minutes N`` is how we show that the long-running studio server stays up
(issue 6). :func:`run_chaos` starts the same tree ``soundforge serve`` runs minus the web
endpoint — Repo on a throwaway embedded PostgreSQL, PubSub, the three audio port pools, the
download/processing/analysis queues — in this process, on a temporary data directory. Then,
for ``minutes``:

* the importer (:mod:`soundforge.chaos.importer`) imports a short synthetic song every
  ``import_every`` seconds through the product's own import, so jobs are always in flight;
* every ``kill_every`` seconds or so (uniformly 0.5× to 1.5×) the monkey
  (:mod:`soundforge.chaos.monkey`) kills a random actor below the root supervisor or SIGKILLs
  a random port's OS process (two actors for each port, in a shuffled order); once, between
  35 % and 65 % of the run, it restarts PostgreSQL.

Then it stops importing, lets the work settle (until no job is left to run and no
supervisor is restarting anything, at most ``settle`` seconds: retries back off for 15 s and
more), runs the checks (:mod:`soundforge.chaos.checks`), stops the tree, checks for orphan
OS processes and returns a :class:`~soundforge.chaos.report.ChaosReport`. Every random
choice comes from one ``random.Random(seed)``; what the tree does in between is timing,
so a seed replays the same plan, not the same run.

    report = await run_chaos(ChaosOptions(minutes=0.5, seed=7), emit=print)
    assert report.ok, report.failures

Mirrors nothing in OTP directly; it is the chaos-monkey test Erlang shops run against their
supervision trees (e.g. ``chaos_monkey`` for Erlang), plus the operating-system and database
faults only this server has.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import msgspec
import psutil  # type: ignore[import-untyped]  # no stubs installed

from soundforge.accounts import create_user
from soundforge.actors import repo
from soundforge.chaos import checks, monkey
from soundforge.chaos._tree import Snapshot, snapshot
from soundforge.chaos.checks import Check
from soundforge.chaos.importer import ImportPlan, ImportSummary, StopImporting, run_importer
from soundforge.chaos.monkey import ChaosAction
from soundforge.chaos.report import ChaosReport, format_action
from soundforge.config import Settings
from soundforge.errors import SoundForgeError
from soundforge.runtime.application import Application
from soundforge.runtime.exit import KILL, format_reason
from soundforge.runtime.introspect import label
from soundforge.runtime.node import Node
from soundforge.runtime.process import Down, Pid, Ref, exit, receive, send, spawn_monitor
from soundforge.supervisors import Root, RootOptions
from soundforge.supervisors.root import NAMES

__all__ = ["ChaosError", "ChaosOptions", "run_chaos"]

#: How often the harness looks at the tree and the clock while chaos runs.
_TICK: Final = 0.5
#: Bounds on the phases around the chaos itself.
_BOOT_TIMEOUT: Final = 120.0
_STOP_TIMEOUT: Final = 30.0
_IMPORTER_STOP_TIMEOUT: Final = 30.0
#: The warm-up: memory is measured after this share of the run (at most a minute).
_WARM_UP_SHARE: Final = 1 / 3
_WARM_UP_MAX: Final = 60.0
_MIB: Final = 1024 * 1024
#: How many of the root supervisor's last events a failed run reports.
_ROOT_EVENTS: Final = 12
_SUPERVISOR_EVENTS: Final[list[tuple[str, ...]]] = [
    ("runtime", "supervisor", "child_exit"),
    ("runtime", "supervisor", "restart"),
    ("runtime", "supervisor", "intensity_exceeded"),
]
_DB_ERRORS: Final = (SoundForgeError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class ChaosError(SoundForgeError):
    """The chaos run could not start (the tree failed to boot, bad options)."""

    exit_code = 2


class ChaosOptions(msgspec.Struct, frozen=True, kw_only=True):
    minutes: float = 1.0
    #: None: a seed is picked (and reported, so the plan can be replayed).
    seed: int | None = None
    import_every: float = 3.0
    kill_every: float = 5.0
    #: The most seconds to wait after the chaos for the work to finish.
    settle: float = 120.0
    #: Length of each imported song.
    song_seconds: float = 4.0
    #: Keep the data directory (database, tracks, PostgreSQL's log) for a post-mortem.
    keep: bool = False

    def __post_init__(self) -> None:
        for field in ("minutes", "import_every", "kill_every", "song_seconds"):
            if not getattr(self, field) > 0:
                raise ChaosError(f"--{field.replace('_', '-')} must be a positive number.")
        if self.settle < 0:
            raise ChaosError("--settle must be zero or more seconds.")


class _Run:
    """The mutable record of one run, filled in as it goes."""

    def __init__(self, options: ChaosOptions, seed: int, emit: Callable[[str], None]) -> None:
        self.options = options
        self.seed = seed
        self.rng = random.Random(seed)
        self.emit = emit
        self.actions: list[ChaosAction] = []
        self.awaiting_restart: list[ChaosAction] = []
        self.started = time.monotonic()
        self.started_at = monkey.timestamp()
        self.chaos_started = self.started
        self.me = psutil.Process()
        self.rss_warm: int | None = None
        self.rss_peak = 0
        #: Every port (one per audio program started) the harness saw.
        self.ports_seen: set[str] = set()
        self.root_exited: str | None = None
        #: When the monkey strikes next (seconds of chaos), and the kinds left in this round.
        self.next_kill = options.kill_every * self.rng.uniform(0.5, 1.5)
        self.bag: list[str] = []
        #: The root supervisor's pid and its last telemetry events (see on_supervisor_event).
        self.root: Pid | None = None
        self.root_events: collections.deque[str] = collections.deque(maxlen=_ROOT_EVENTS)

    def now(self) -> float:
        return time.monotonic() - self.chaos_started

    def on_supervisor_event(
        self, event: tuple[str, ...], measurements: Mapping[str, Any], meta: Mapping[str, Any]
    ) -> None:
        """Telemetry of the root supervisor (its child exits, restarts and giving up), kept
        so that a run whose tree went down can say what the root saw last; a failed restart
        attempt is logged nowhere else."""
        if self.root is None or meta.get("supervisor") is not self.root:
            return
        what = event[-1].replace("_", " ")
        child = f" {label(meta['id'])}" if "id" in meta else ""
        reason = f": {format_reason(meta['reason'])}" if "reason" in meta else ""
        self.root_events.append(f"[{self.now():7.1f} s] root {what}{child}{reason}")

    def record(self, action: ChaosAction) -> None:
        self.actions.append(action)
        if action.kind == "actor" and action.ok and action.path is not None:
            self.awaiting_restart.append(action)
        self.emit(format_action(action))

    def sample(self, node: Node) -> Snapshot:
        self.rss_peak = max(self.rss_peak, self.me.memory_info().rss)
        tree = snapshot(node)
        self.ports_seen.update(e.pid for e in tree.entries if e.kind == "port" and e.pid)
        by_path = tree.by_path()
        for action in list(self.awaiting_restart):
            assert action.path is not None
            entry = by_path.get(action.path)
            if entry is None or entry.pid is None or entry.pid == action.pid:
                continue
            started = entry.started_at or time.time()
            action.restarted_after_s = round(max(0.0, started - action.unix_time), 4)
            action.outcome = f"killed; started again as {entry.pid}"
            self.awaiting_restart.remove(action)
            at_s = action.at_s + action.restarted_after_s
            self.emit(
                f"[{at_s:7.1f} s] {monkey.timestamp(started)} restart  {action.path} started "
                f"again as {entry.pid}, {1000 * action.restarted_after_s:.1f} ms after the kill"
            )
        return tree


async def run_chaos(
    options: ChaosOptions, emit: Callable[[str], None] = lambda line: None
) -> ChaosReport:
    """Run the whole chaos test (see the module docstring); ``emit`` gets the live log."""
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**31)
    run = _Run(options, seed, emit)
    # The audio programs inherit this environment: no model hub on the network, and one
    # numba cache kept across runs (compiling librosa's kernels takes half a minute).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault(
        "NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "soundforge-chaos-numba")
    )
    with _data_dir(options.keep) as data_dir:
        settings = Settings(data_dir=data_dir, database_url=None, node_name="chaos")
        app = Application(
            Root.child_spec(RootOptions(settings)),
            handle_signals=False,
            stop_timeout=_STOP_TIMEOUT,
        )
        emit(
            f"chaos: seed {seed}, {options.minutes:g} min, an import every "
            f"{options.import_every:g} s, chaos every {options.kill_every:g} s; data in {data_dir}"
        )
        running = asyncio.ensure_future(app.run())
        try:
            report = await _run_tree(run, app, running, data_dir)
        finally:
            if not running.done():
                app.request_stop("the chaos run ended")
                try:
                    await asyncio.wait_for(running, _STOP_TIMEOUT + 30)
                except TimeoutError:
                    run.root_exited = run.root_exited or "the tree did not stop in time"
        orphans = await checks.check_orphans(data_dir, len(run.ports_seen))
        if not orphans.ok:
            await asyncio.to_thread(checks.kill_orphans, data_dir)
    report.checks.append(orphans)
    report.failures = [f"{c.name}: {c.summary}" for c in report.checks if not c.ok]
    report.ok = not report.failures
    report.total_s = round(time.monotonic() - run.started, 1)
    return report


@contextlib.contextmanager
def _data_dir(keep: bool) -> Iterator[Path]:
    """A fresh data directory, removed afterwards unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix="soundforge-chaos-"))
    os.chmod(path, 0o755)  # the embedded cluster may run as an unprivileged user
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


async def _run_tree(
    run: _Run, app: Application, running: asyncio.Future[int], data_dir: Path
) -> ChaosReport:
    await _boot(app, running)
    harness = app.node.attach("chaos")
    run.root = app.node.root.pid if app.node.root is not None else None
    app.node.telemetry.attach("soundforge.chaos", _SUPERVISOR_EVENTS, run.on_supervisor_event)
    try:
        async with repo.transaction(NAMES.repo) as conn:
            user = await create_user(conn, "chaos@example.com", "chaos monkey at work")
        baseline = snapshot(app.node)
        run.emit(f"the tree is up: {len(baseline.entries)} processes below the root")
        plan = ImportPlan(
            user.id,
            run.options.import_every,
            run.options.song_seconds,
            data_dir / "chaos-inbox",
            run.rng.randrange(2**31),
        )
        importer, importer_ref = spawn_monitor(run_importer, plan, harness.pid)
        run.chaos_started = time.monotonic()
        await _chaos(run, app, running, data_dir)
        chaos_s = run.now()
        if running.done():  # the node stopped with the tree: the importer is gone too
            summary = ImportSummary(failures=["the importer ended with the tree"])
        else:
            summary = await _stop_importer(run, harness.pid, importer, importer_ref)
        run.emit(f"[{run.now():7.1f} s] chaos over; letting the work settle")
        settle_started = time.monotonic()
        await _settle(run, app, running)
        settle_s = time.monotonic() - settle_started
        end_rss = run.me.memory_info().rss
        final = run.sample(app.node)
        if running.done():
            run.root_exited = run.root_exited or _exited(running)
        jobs_check, jobs, tracks_check, tracks = await _database_checks()
        checks_made = [
            jobs_check,
            tracks_check,
            checks.check_supervisors(baseline, final, run.root_exited, list(run.root_events)),
            checks.check_memory(run.rss_warm, end_rss),
        ]
    finally:
        app.node.detach(harness)
    for action in run.awaiting_restart:
        action.outcome = "killed; not running again by the end of the run"
    return ChaosReport(
        ok=False,
        seed=run.seed,
        minutes=run.options.minutes,
        import_every_s=run.options.import_every,
        kill_every_s=run.options.kill_every,
        started_at=run.started_at,
        chaos_s=round(chaos_s, 1),
        settle_s=round(settle_s, 1),
        total_s=0.0,
        actions=run.actions,
        actors_killed=sum(a.kind == "actor" and a.ok for a in run.actions),
        actors_restarted=sum(a.restarted_after_s is not None for a in run.actions),
        ports_killed=sum(a.kind == "port" and a.ok for a in run.actions),
        postgres_restarts=sum(a.kind == "postgres" and a.ok for a in run.actions),
        imports=summary,
        jobs=jobs,
        tracks=tracks,
        rss_warm_mib=None if run.rss_warm is None else round(run.rss_warm / _MIB, 1),
        rss_end_mib=round(end_rss / _MIB, 1),
        rss_peak_mib=round(run.rss_peak / _MIB, 1),
        checks=checks_made,
        failures=[],
    )


async def _boot(app: Application, running: asyncio.Future[int]) -> None:
    deadline = time.monotonic() + _BOOT_TIMEOUT
    while not app.started.is_set():
        if running.done():
            raise ChaosError(f"The studio tree did not start: {app.failure or 'see the log'}.")
        if time.monotonic() > deadline:
            raise ChaosError(f"The studio tree did not start within {_BOOT_TIMEOUT:g} s.")
        await asyncio.sleep(0.05)


async def _chaos(run: _Run, app: Application, running: asyncio.Future[int], data: Path) -> None:
    """The chaos phase; the PostgreSQL restart runs beside the kills, in a task it awaits."""
    duration = run.options.minutes * 60.0
    postgres_at: float | None = duration * run.rng.uniform(0.35, 0.65)
    restart: asyncio.Task[ChaosAction] | None = None
    try:
        while run.now() < duration:
            await asyncio.sleep(_TICK)
            if running.done():
                run.root_exited = _exited(running)
                run.emit(f"[{run.now():7.1f} s] the tree went down: {run.root_exited}")
                return
            await _tick(run, app.node, run.sample(app.node), duration)
            if postgres_at is not None and run.now() >= postgres_at:
                postgres_at = None
                restart = asyncio.create_task(monkey.restart_postgres(data, run.now()))
            if restart is not None and restart.done():
                run.record(restart.result())
                restart = None
    finally:
        if restart is not None:  # still restarting at the end: its outcome counts too
            run.record(await restart)


async def _tick(run: _Run, node: Node, tree: Snapshot, duration: float) -> None:
    """One step of the monkey: note the warm-up, and kill something when it is due."""
    now = run.now()
    if run.rss_warm is None and now >= min(_WARM_UP_MAX, duration * _WARM_UP_SHARE):
        run.rss_warm = run.me.memory_info().rss
        run.emit(f"[{now:7.1f} s] warm-up over: {run.rss_warm / _MIB:.1f} MiB resident")
    if now < run.next_kill:
        return
    run.next_kill = now + run.options.kill_every * run.rng.uniform(0.5, 1.5)
    if not run.bag:
        run.bag = ["actor", "actor", "port"]
        run.rng.shuffle(run.bag)
    action = None
    if run.bag.pop() == "port":
        action = await monkey.kill_port_program(node, tree, run.rng, now)
    if action is None:  # an actor, or no port was running
        action = monkey.kill_actor(node, tree, run.rng, now)
    run.record(action)


async def _stop_importer(run: _Run, harness: Pid, importer: Pid, ref: Ref) -> ImportSummary:
    send(importer, StopImporting(harness))
    try:
        reply: Any = await receive(
            lambda m: isinstance(m, ImportSummary) or (isinstance(m, Down) and m.ref == ref),
            timeout=_IMPORTER_STOP_TIMEOUT,
        )
    except TimeoutError:
        exit(importer, KILL)
        run.emit(f"the importer did not stop within {_IMPORTER_STOP_TIMEOUT:g} s; killed it")
        return ImportSummary(failures=["the importer hung and was killed"])
    if isinstance(reply, Down):
        return ImportSummary(failures=[f"the importer crashed: {reply.reason!r}"])
    summary: ImportSummary = reply
    return summary


async def _settle(run: _Run, app: Application, running: asyncio.Future[int]) -> None:
    """Wait until no job is left to run and nothing restarts, at most ``settle`` seconds."""
    deadline = time.monotonic() + run.options.settle
    said = 0.0
    while not running.done():
        tree = run.sample(app.node)
        restarting = [e for e in tree.entries if e.status == "restarting"]
        left = await _unfinished_jobs()
        if left is not None and not left and not restarting:
            return
        if time.monotonic() >= deadline:
            return
        if time.monotonic() - said >= 10.0:
            said = time.monotonic()
            jobs = "the database is unavailable" if left is None else _shown(left)
            run.emit(
                f"[{run.now():7.1f} s] settling: {jobs}; {len(restarting)} children restarting"
            )
        await asyncio.sleep(1.0)


async def _unfinished_jobs() -> dict[str, int] | None:
    try:
        async with repo.connection(NAMES.repo) as conn:
            counts = await checks.count_jobs(conn)
    except _DB_ERRORS:  # the Repo may be reconnecting after the chaos: ask again shortly
        return None
    return {state: n for state, n in counts.items() if state in checks.UNFINISHED}


def _shown(counts: dict[str, int]) -> str:
    if not counts:
        return "no job left to run"
    return "jobs left: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


async def _database_checks() -> tuple[Check, dict[str, int], Check, dict[str, int]]:
    try:
        async with repo.connection(NAMES.repo) as conn:
            jobs_check, jobs = await checks.check_jobs(conn)
            tracks_check, tracks = await checks.check_tracks(conn)
    except _DB_ERRORS as error:
        why = f"the database could not be read at the end ({error})."
        return Check("jobs", False, why), {}, Check("tracks", False, why), {}
    return jobs_check, jobs, tracks_check, tracks


def _exited(running: asyncio.Future[int]) -> str:
    if running.cancelled():
        return "the application was cancelled"
    error = running.exception()
    if error is not None:
        return f"the application crashed ({error!r})"
    return f"the root supervisor exited and the application stopped (status {running.result()})"
