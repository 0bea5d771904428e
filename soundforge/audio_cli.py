"""The audio commands of the CLI: ``import``, ``separate``, ``analyze`` and ``users``.

They run without a server: each starts the part of the tree it needs in this process (the
warm port programs, and for ``import``/``users`` the Repo on the configured or embedded
database, joining the running server's cluster when there is one), does its work with live
progress bars, and stops. ``separate`` lays files out as demucs does:
``DIR/<model>/<track>/<stem>.<ext>``.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from soundforge.actors import port_pool, repo
from soundforge.audio.errors import AudioError
from soundforge.config import Settings
from soundforge.errors import SoundForgeError
from soundforge.runtime.application import Application
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.process import receive

__all__ = [
    "in_tree",
    "run_analyze",
    "run_export",
    "run_import",
    "run_separate",
    "run_users_create",
]

T = TypeVar("T")
_ERR = Console(stderr=True)


class StartFailed(SoundForgeError):
    pass


async def in_tree(spec: ChildSpec, body: Callable[[], Awaitable[T]]) -> T:
    """Start ``spec`` as an application, run ``body`` as a process of its node, stop."""
    app = Application(spec, handle_signals=False)
    running = asyncio.ensure_future(app.run())
    started = asyncio.ensure_future(app.started.wait())
    await asyncio.wait([running, started], return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    if not app.started.is_set():
        await running
        raise StartFailed(f"could not start {app.failure or 'the tree'}")
    shell = app.node.attach()
    try:
        return await body()
    finally:
        app.node.detach(shell)
        app.request_stop("command done")
        await running


def _bar(bars: Progress, task: TaskID) -> Callable[[float, str], None]:
    def update(fraction: float, stage: str) -> None:
        bars.update(task, completed=fraction, stage=stage)

    return update


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        console=_ERR,
    )


# -- separate ----------------------------------------------------------------------------


def run_separate(settings: Settings, files: list[str], out: Path, options: dict[str, Any]) -> int:
    from soundforge.supervisors.audio_tools import AudioTools, AudioToolsOptions

    spec = AudioTools.child_spec(AudioToolsOptions(settings, {"separator": 1}))
    inputs = {name: os.path.abspath(name) for name in files}
    root = os.path.abspath(out)

    async def work() -> int:
        failures = 0
        with _progress() as bars:
            for name in files:
                task = bars.add_task(Path(name).name, total=1.0, stage="starting")
                request = {
                    "input": inputs[name],
                    "output": os.path.join(root, "{model}", Path(name).stem),
                    "models_dir": str(settings.data_dir / "models"),
                    "options": options,
                }
                try:
                    result = await port_pool.run(
                        port_pool.pool_name("separator"),
                        "separate",
                        request,
                        progress=_bar(bars, task),
                    )
                except AudioError as error:
                    failures += 1
                    bars.update(task, stage="[red]failed")
                    _ERR.print(f"soundforge: {name}: {error}")
                    continue
                bars.update(task, completed=1.0, stage=f"{result['engine']}/{result['model']}")
                for stem in result["stems"]:
                    print(stem["path"])
        return 1 if failures else 0

    return _run(in_tree(spec, work))


# -- analyze -----------------------------------------------------------------------------


def run_analyze(
    settings: Settings, files: list[str], as_json: bool, options: dict[str, Any]
) -> int:
    from soundforge.supervisors.audio_tools import AudioTools, AudioToolsOptions

    spec = AudioTools.child_spec(AudioToolsOptions(settings, {"analyzer": 1}))
    inputs = {name: os.path.abspath(name) for name in files}

    async def work() -> int:
        failures = 0
        results: list[tuple[str, dict[str, Any]]] = []
        with _progress() as bars:
            for name in files:
                task = bars.add_task(Path(name).name, total=1.0, stage="starting")
                request = {"path": inputs[name], "output": None, "options": options}
                try:
                    result = await port_pool.run(
                        port_pool.pool_name("analyzer"),
                        "analyze",
                        request,
                        progress=_bar(bars, task),
                    )
                except AudioError as error:
                    failures += 1
                    bars.update(task, stage="[red]failed")
                    _ERR.print(f"soundforge: {name}: {error}")
                    continue
                bars.update(task, completed=1.0, stage="done")
                results.append((name, result))
        if as_json:
            documents = [msgspec.json.decode(r["document"]) for _, r in results]
            out = documents[0] if len(files) == 1 and documents else documents
            print(msgspec.json.encode(out).decode())
        else:
            _analysis_table([(n, r) for n, r in results])
        return 1 if failures else 0

    return _run(in_tree(spec, work))


def _analysis_table(rows: list[tuple[str, dict[str, Any]]]) -> None:
    table = Table("file", "BPM", "key", "Camelot", "LUFS", "length")
    for name, r in rows:
        length = r.get("duration_ms") or 0
        table.add_row(
            Path(name).name,
            f"{r['tempo']:.1f}" if r.get("tempo") else "-",
            r.get("key") or "-",
            r.get("camelot") or "-",
            f"{r['loudness_lufs']:.1f}" if r.get("loudness_lufs") is not None else "-",
            f"{length // 60000}:{length // 1000 % 60:02d}",
        )
    Console().print(table)


# -- import ------------------------------------------------------------------------------


def run_import(settings: Settings, sources: list[str], wait: bool, user_email: str | None) -> int:
    from soundforge.accounts import default_owner, get_user_by_email
    from soundforge.jobs.context import pipeline_context
    from soundforge.music.imports import ImportOutcome, import_source
    from soundforge.queue import DEFAULT_QUEUES
    from soundforge.supervisors import Root, RootOptions
    from soundforge.supervisors.root import NAMES

    queues = dict(DEFAULT_QUEUES) if wait else {}
    ports = None if wait else {"downloader": 1}
    spec = Root.child_spec(RootOptions(settings, queues=queues, ports=ports))

    async def work() -> int:
        async with repo.connection(NAMES.repo) as conn:
            user = await (
                get_user_by_email(conn, user_email) if user_email else default_owner(conn)
            )
        context = pipeline_context()
        failures = 0
        created: list[str] = []
        for text in sources:
            try:
                outcome: ImportOutcome = await import_source(
                    context, user.id, text, allow_paths=True
                )
            except AudioError as error:
                failures += 1
                _ERR.print(f"soundforge: {text}: {error}")
                continue
            created += outcome.created
            for duplicate in outcome.duplicates:
                _ERR.print(
                    f"{duplicate.title}: already in the library as track "
                    f"{duplicate.existing_id} (same {_reason(duplicate.reason)}); not imported"
                )
            for track_id in outcome.created:
                print(track_id)
        if wait and created:
            failures += await _wait_for(created, context)
        return 1 if failures else 0

    return _run(in_tree(spec, work))


def _reason(reason: str) -> str:
    return "Spotify track" if reason == "spotify_id" else "audio content"


async def _wait_for(track_ids: list[str], context: Any) -> int:
    """Follow the tracks' events until each is ready, failed or a duplicate; count failures."""
    from soundforge.music import tracks
    from soundforge.music.events import (
        DuplicateFound,
        StageChanged,
        StageProgress,
        TrackStatusChanged,
        track_topic,
    )
    from soundforge.runtime import pubsub

    for track_id in track_ids:
        pubsub.subscribe(context.pubsub, track_topic(track_id))
    stages = ("download", "separate", "analyze")
    open_ids = set(track_ids)
    failures = 0
    with _progress() as bars:
        tasks = {}
        for track_id in track_ids:
            track = await tracks.get_track(repo.pool(context.repo), track_id)
            tasks[track_id] = bars.add_task(track.title[:40], total=3.0, stage="queued")
        while open_ids:
            event = await receive()
            match event:
                case StageProgress(track_id=tid, stage=stage, fraction=f, label=label):
                    base = stages.index(stage)
                    bars.update(tasks[tid], completed=base + f, stage=f"{stage}: {label}")
                case StageChanged(track_id=tid, stage=stage, state=state, error=error) if error:
                    bars.update(tasks[tid], stage=f"{stage} {state}: {error}"[:80])
                case TrackStatusChanged(track_id=tid, status="ready") if tid in open_ids:
                    bars.update(tasks[tid], completed=3.0, stage="[green]ready")
                    open_ids.discard(tid)
                case TrackStatusChanged(track_id=tid, status="failed", error=error) if (
                    tid in open_ids
                ):
                    bars.update(tasks[tid], stage="[red]failed")
                    _ERR.print(f"soundforge: track {tid}: {error}")
                    failures += 1
                    open_ids.discard(tid)
                case DuplicateFound(track_id=tid, existing_id=existing) if tid in open_ids:
                    bars.update(tasks[tid], completed=3.0, stage=f"duplicate of {existing}")
                    open_ids.discard(tid)
                case _:
                    pass
    return failures


# -- export ------------------------------------------------------------------------------


def run_export(
    settings: Settings,
    track_id: str,
    out: Path,
    *,
    stem: str | None,
    model: str | None,
    analysis: bool,
) -> int:
    from soundforge.music import exports
    from soundforge.supervisors import Root, RootOptions
    from soundforge.supervisors.root import NAMES

    spec = Root.child_spec(RootOptions(settings, queues={}, ports={}))
    target = Path(os.path.abspath(out))

    async def work() -> int:
        async with repo.connection(NAMES.repo) as conn:
            if analysis:
                path = await exports.export_analysis(conn, settings.data_dir, track_id, target)
            elif stem is not None:
                path = await exports.export_stem(
                    conn, settings.data_dir, track_id, stem, target, model=model
                )
            else:
                path = await exports.export_stems(
                    conn, settings.data_dir, track_id, target, model=model
                )
        print(path)
        return 0

    return _run(in_tree(spec, work))


# -- users -------------------------------------------------------------------------------


def run_users_create(settings: Settings, email: str, admin: bool) -> int:
    from soundforge.accounts import create_user
    from soundforge.supervisors import Root, RootOptions
    from soundforge.supervisors.root import NAMES

    password = _read_password()
    spec = Root.child_spec(RootOptions(settings, queues={}, ports={}))

    async def work() -> int:
        async with repo.connection(NAMES.repo) as conn:
            user = await create_user(conn, email, password, admin=admin)
        print(f"created {user.role} {user.email} ({user.id})")
        return 0

    return _run(in_tree(spec, work))


def run_tokens_create(settings: Settings, email: str, name: str) -> int:
    """Print a new API token for ``email`` on stdout (only the token: scripts capture it)."""
    from soundforge.accounts import audit, create_token, get_user_by_email
    from soundforge.supervisors import Root, RootOptions
    from soundforge.supervisors.root import NAMES

    spec = Root.child_spec(RootOptions(settings, queues={}, ports={}))

    async def work() -> int:
        async with repo.transaction(NAMES.repo) as conn:
            user = await get_user_by_email(conn, email)
            token, secret = await create_token(conn, user.id, name)
            await audit.record(
                conn,
                audit.Action.TOKEN_CREATED,
                actor_id=user.id,
                target_type="token",
                target_id=token.id,
                details={"name": name, "via": "cli"},
            )
        print(
            f"created API token {token.name!r} ({token.prefix}...) for {user.email}; "
            "it is shown only once",
            file=sys.stderr,
        )
        print(secret)
        return 0

    return _run(in_tree(spec, work))


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat it: ") != first:
            raise SoundForgeError("the two passwords differ; nothing was created")
        return first
    return sys.stdin.readline().rstrip("\n")


def _run(coro: Awaitable[int]) -> int:
    from soundforge.cli import _run as run_loop

    return int(run_loop(coro))
