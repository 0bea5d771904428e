"""The ``soundforge`` command: one entry point, one subcommand per use.

    soundforge serve                 run the studio server until Ctrl-C or SIGTERM
    soundforge worker [--queues Q]   run a node that only works on jobs
    soundforge db migrate|status     apply or list the database migrations
    soundforge tree [--json]         start the tree, print it as the admin console sees it, stop
    soundforge import SOURCE... [--wait]      queue Spotify/YouTube/any URLs or files
    soundforge separate FILE... [-o DIR]      split files into stems (no server needed)
    soundforge analyze FILE... [--json]       tempo, key, loudness, structure (no server)
    soundforge export TRACK_ID [--stem S]     stems as "Artist - Title (stem).wav" or a zip
    soundforge users create EMAIL [--admin]   make an account (password on stdin/prompt)
    soundforge tokens create EMAIL [--name N] print a new API token for an account
    soundforge keys status|rotate             the keys sealing stored LLM API keys; rotate them
    soundforge actors tree|show NAME|top      the running server's processes (admin API token)
    soundforge actors restart|stop|kill NAME  restart, stop or kill one of them
    soundforge queues [pause|resume NAME]     the job queues: jobs by state, pause, resume
    soundforge chaos --minutes N              kill actors, ports and PostgreSQL under load; check
    soundforge bench runtime|queue|analysis|separation|web|control   measure (one JSON object)
    soundforge version

This is the only module that configures logging. Errors reaching the user are one sentence
on stderr and an exit code (2 for a command-line mistake), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

import msgspec

from soundforge import __version__
from soundforge.admin_cli import register as _admin_commands
from soundforge.chaos import register as _chaos_command
from soundforge.config import InvalidDataDir, Settings, load_settings
from soundforge.errors import SoundForgeError
from soundforge.runtime.application import Application

__all__ = ["main"]

log = logging.getLogger("soundforge")


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one sentence and exit status 2."""

    def error(self, message: str) -> NoReturn:
        if "invalid choice" in message:
            argument = message.split(":", 1)[0].removeprefix("argument ").strip().lower()
            bad = message.split("invalid choice: ", 1)[1].split(" (choose", 1)[0]
            choices = message.split("(choose from ", 1)[-1].rstrip(")")
            message = f"unknown {argument} {bad} (choose from {choices})"
        elif message.startswith("the following arguments are required"):
            missing = message.split(": ", 1)[1].lower()
            message = f"a {missing} is required"
        self.exit(2, f"{self.prog}: {message}. Run '{self.prog} --help' to see what it accepts.\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="soundforge",
        description="SoundForge: a self-hosted studio server for musicians, DJs and producers.",
    )
    parser.add_argument("--version", action="version", version=f"soundforge {__version__}")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="how much to log (default: info)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    serve = commands.add_parser("serve", help="run the studio server until Ctrl-C or SIGTERM")
    serve.add_argument(
        "--stop-timeout",
        type=float,
        default=30.0,
        help="seconds the tree may take to stop before what is left is killed (default: 30)",
    )
    serve.add_argument(
        "--host", default=None, help="address to listen on (default: SOUNDFORGE_HOST or 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to listen on (default: SOUNDFORGE_PORT or 4000; 0 picks a free one)",
    )
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser(
        "worker", help="run a node that only works on jobs (no studio, no web endpoint)"
    )
    worker.add_argument(
        "--queues",
        type=_queue_list,
        default=None,
        help="comma-separated queues to work on, each optionally NAME=LIMIT "
        "(default: download,processing,analysis with their default limits)",
    )
    worker.add_argument("--stop-timeout", type=float, default=30.0, help="as for serve")
    worker.set_defaults(handler=_worker)

    db = commands.add_parser("db", help="database migrations: migrate or status")
    db.add_argument(
        "action", metavar="ACTION", choices=["migrate", "status"], help="migrate|status"
    )
    db.set_defaults(handler=_db)

    tree = commands.add_parser("tree", help="start the supervision tree, print it, and stop")
    tree.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    tree.set_defaults(handler=_tree)

    _audio_commands(commands)
    _admin_commands(commands)
    _chaos_command(commands)

    bench = commands.add_parser("bench", help="run a benchmark and print one JSON object")
    bench.add_argument(
        "name",
        metavar="BENCHMARK",
        choices=["runtime", "queue", "analysis", "separation", "web", "control"],
        help="runtime|queue|analysis|separation|web|control",
    )
    bench.add_argument("--quick", action="store_true", help="a tenth of the iterations")
    bench.add_argument(
        "--asyncio", action="store_true", help="runtime: the stdlib event loop, not uvloop"
    )
    bench.add_argument(
        "--dsn", help="queue, web, control: a PostgreSQL URL (default: a throwaway cluster)"
    )
    bench.set_defaults(handler=_bench)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(handler=lambda args: print(f"soundforge {__version__}") or 0)
    return parser


def _audio_commands(commands: Any) -> None:
    imp = commands.add_parser("import", help="import tracks: Spotify/YouTube/any URL, files")
    imp.add_argument("sources", nargs="+", metavar="SOURCE", help="a URL, file or folder")
    imp.add_argument("--wait", action="store_true", help="process them now, with progress")
    imp.add_argument("--user", metavar="EMAIL", help="who owns them (default: the first admin)")
    imp.set_defaults(handler=_import)

    sep = commands.add_parser("separate", help="separate audio files into stems")
    sep.add_argument("files", nargs="+", metavar="FILE")
    sep.add_argument("-o", "--out", default="separated", help="output folder (default: separated)")
    sep.add_argument(
        "--engine",
        choices=["auto", "default", "demucs"],
        default="auto",
        help="auto: demucs when its weights are here, else the embedded engine",
    )
    sep.add_argument("-n", "--model", help="e.g. htdemucs, htdemucs_ft, htdemucs_6s")
    sep.add_argument("--format", choices=["wav", "flac", "mp3"], default="wav")
    sep.add_argument("--bit-depth", type=int, choices=[16, 24, 32], default=None)
    sep.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    sep.add_argument("--shifts", type=int, default=None)
    sep.add_argument("--overlap", type=float, default=None)
    sep.add_argument("--segment", type=float, default=None)
    sep.set_defaults(handler=_separate)

    ana = commands.add_parser("analyze", help="analyse audio files (tempo, key, loudness...)")
    ana.add_argument("files", nargs="+", metavar="FILE")
    ana.add_argument("--json", action="store_true", help="print the analysis documents")
    ana.set_defaults(handler=_analyze)

    exp = commands.add_parser("export", help="a track's stems as a zip, one stem, or analysis")
    exp.add_argument("track", metavar="TRACK_ID")
    exp.add_argument("-o", "--out", default=".", help="folder to write into (default: here)")
    exp.add_argument("--stem", help="only this stem (vocals, drums, bass, other...)")
    exp.add_argument("-n", "--model", help="which separation (default: the newest)")
    exp.add_argument("--analysis", action="store_true", help="the analysis document (JSON)")
    exp.set_defaults(handler=_export)

    users = commands.add_parser("users", help="accounts")
    users_commands = users.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    users_commands.required = True
    create = users_commands.add_parser("create", help="create an account")
    create.add_argument("email", metavar="EMAIL")
    create.add_argument("--admin", action="store_true", help="make it an administrator")
    create.set_defaults(handler=_users_create)

    keys = commands.add_parser("keys", help="the server keys sealing stored LLM API keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_commands.add_parser(
        "status", help="the keys, and how many stored API keys each seals"
    ).set_defaults(handler=_keys_status)
    keys_rotate = keys_commands.add_parser(
        "rotate", help="a new current key; re-seal every stored API key (the server may run)"
    )
    keys_rotate.add_argument(
        "--nodes-stopped",
        action="store_true",
        help="with SOUNDFORGE_DATABASE_URL: every node using that database is stopped",
    )
    keys_rotate.set_defaults(handler=_keys_rotate)

    tokens = commands.add_parser("tokens", help="API tokens")
    tokens_commands = tokens.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    tokens_commands.required = True
    token_create = tokens_commands.add_parser(
        "create", help="print a new API token for an account (shown once)"
    )
    token_create.add_argument("email")
    token_create.add_argument(
        "--name", default=None, help="a name to recognise it by (default: cli-<date>-<time>)"
    )
    token_create.set_defaults(handler=_tokens_create)


def _tokens_create(args: argparse.Namespace) -> int:
    import datetime

    from soundforge.audio_cli import run_tokens_create

    name = args.name or datetime.datetime.now().strftime("cli-%Y-%m-%d-%H%M%S")
    return run_tokens_create(_settings(), args.email, name)


def _import(args: argparse.Namespace) -> int:
    from soundforge.audio_cli import run_import

    return run_import(_settings(), args.sources, args.wait, args.user)


def _separate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from soundforge.audio_cli import run_separate

    options = {
        key: value
        for key, value in {
            "engine": args.engine,
            "model": args.model,
            "format": args.format,
            "bit_depth": args.bit_depth,
            "device": args.device,
            "shifts": args.shifts,
            "overlap": args.overlap,
            "segment": args.segment,
        }.items()
        if value is not None
    }
    return run_separate(_settings(), args.files, Path(args.out), options)


def _analyze(args: argparse.Namespace) -> int:
    from soundforge.audio_cli import run_analyze

    return run_analyze(_settings(), args.files, args.json, {})


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from soundforge.audio_cli import run_export

    return run_export(
        _settings(),
        args.track,
        Path(args.out),
        stem=args.stem,
        model=args.model,
        analysis=args.analysis,
    )


def _keys_status(args: argparse.Namespace) -> int:
    from soundforge.llm.keys_cli import run_keys_status

    settings = _settings()
    return run_keys_status(settings, _in_root_tree(settings))


def _keys_rotate(args: argparse.Namespace) -> int:
    from soundforge.llm.keys_cli import run_keys_rotate

    settings = _settings()
    return run_keys_rotate(settings, _in_root_tree(settings), nodes_stopped=args.nodes_stopped)


def _in_root_tree(settings: Settings) -> Callable[[Callable[[], Awaitable[int]]], int]:
    """Runs a body inside the root tree without queues or ports (the database, the repo)."""

    def run(body: Callable[[], Awaitable[int]]) -> int:
        from soundforge.audio_cli import in_tree
        from soundforge.supervisors import Root, RootOptions

        spec = Root.child_spec(RootOptions(settings, queues={}, ports={}))
        return int(_run(in_tree(spec, body)))

    return run


def _users_create(args: argparse.Namespace) -> int:
    from soundforge.audio_cli import run_users_create

    return run_users_create(_settings(), args.email, args.admin)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except SoundForgeError as error:
        print(f"soundforge: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


def _run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _settings() -> Settings:
    """The node's settings, with its data directory created (``serve``, ``tree``, ``db``)."""
    settings = load_settings()
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidDataDir(
            f"The data directory {settings.data_dir} cannot be created ({error.strerror}); "
            "set SOUNDFORGE_DATA_DIR to a directory you can write."
        ) from error
    return settings


def _start_failed(app: Application) -> int:
    print(f"soundforge: could not start {app.failure}", file=sys.stderr)
    return 1


def _serve(args: argparse.Namespace) -> int:
    from soundforge.supervisors import RootOptions

    settings = _settings()
    changes = {key: value for key in ("host", "port") if (value := getattr(args, key)) is not None}
    if changes:
        settings = msgspec.structs.replace(settings, **changes)
    return _run_node(RootOptions(settings, web=True), args.stop_timeout)


def _worker(args: argparse.Namespace) -> int:
    from soundforge.queue import DEFAULT_QUEUES
    from soundforge.supervisors import RootOptions

    queues = args.queues if args.queues is not None else dict(DEFAULT_QUEUES)
    return _run_node(RootOptions(_settings(), queues=queues), args.stop_timeout)


def _run_node(options: Any, stop_timeout: float) -> int:
    from soundforge.supervisors import Root

    settings = options.settings

    async def serve() -> int:
        app = Application(Root.child_spec(options), stop_timeout=stop_timeout)
        running = asyncio.ensure_future(app.run())
        started = asyncio.ensure_future(app.started.wait())
        await asyncio.wait([running, started], return_when=asyncio.FIRST_COMPLETED)
        if app.started.is_set():
            log.info(
                "SoundForge %s is running: %d processes under the root supervisor, data in %s. "
                "Press Ctrl-C to stop.",
                __version__,
                len(app.node.processes),
                settings.data_dir,
            )
        started.cancel()
        code = await running
        return _start_failed(app) if app.failure else code

    return int(_run(serve()))


def _db(args: argparse.Namespace) -> int:
    from soundforge.storage.db_command import run_db_command
    from soundforge.storage.embedded_postgres import EmbeddedPostgres

    settings = _settings()

    async def db() -> int:
        if settings.database_url is not None:
            return await run_db_command(args.action, settings.database_url, sys.stdout)
        # The running server's cluster when one is up; otherwise one for this command only.
        cluster = EmbeddedPostgres(settings.data_dir)
        dsn = await cluster.start()
        try:
            return await run_db_command(args.action, dsn, sys.stdout)
        finally:
            await cluster.stop()

    return int(_run(db()))


def _tree(args: argparse.Namespace) -> int:
    from soundforge.runtime.introspect import ProcessInfo, tree
    from soundforge.supervisors import Root

    settings = _settings()

    async def snapshot() -> list[ProcessInfo] | None:
        app = Application(Root.child_spec(settings), handle_signals=False)
        running = asyncio.ensure_future(app.run())
        started = asyncio.ensure_future(app.started.wait())
        await asyncio.wait([running, started], return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if not app.started.is_set():
            await running
            return None
        roots = tree(app.node)
        app.request_stop("tree printed")
        await running
        return roots

    app_roots = _run(snapshot())
    if app_roots is None:
        print("soundforge: the supervision tree could not start (see the log)", file=sys.stderr)
        return 1
    roots = app_roots
    if args.json:
        print(msgspec.json.encode(roots).decode())
        return 0
    from rich.console import Console
    from rich.tree import Tree

    def add(node: Tree, info: ProcessInfo) -> None:
        label = f"[bold]{info.child_id or info.name or info.behaviour or info.kind}[/bold]"
        branch = node.add(f"{label} {info.kind} {info.pid or '-'} {info.status}")
        for child in info.children:
            add(branch, child)

    top = Tree("soundforge")
    for info in roots:
        add(top, info)
    Console().print(top)
    return 0


def _bench(args: argparse.Namespace) -> int:
    if args.name in ("analysis", "separation"):
        import importlib

        module = importlib.import_module(f"soundforge.bench.{args.name}")
        return int(module.main(["--quick"] if args.quick else []))
    if args.name == "web":
        from soundforge.bench import web as web_bench

        web_argv = ["--quick"] if args.quick else []
        return web_bench.main([*web_argv, *(["--dsn", args.dsn] if args.dsn else [])])
    if args.name == "control":
        from soundforge.bench import control

        control_argv = ["--quick"] if args.quick else []
        return control.main([*control_argv, *(["--dsn", args.dsn] if args.dsn else [])])
    if args.name == "queue":
        from soundforge.bench import queue

        queue_argv = ["--quick"] if args.quick else []
        return queue.main([*queue_argv, *(["--dsn", args.dsn] if args.dsn else [])])
    from soundforge.bench import runtime

    argv = [flag for flag, on in (("--quick", args.quick), ("--asyncio", args.asyncio)) if on]
    return runtime.main(argv)


def _queue_list(text: str) -> dict[str, int]:
    """``download,processing=4`` → {"download": 3, "processing": 4} (defaults from the queue)."""
    from soundforge.queue import DEFAULT_QUEUES

    queues: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, limit = item.partition("=")
        if limit:
            if not limit.isdigit() or int(limit) < 1:
                raise argparse.ArgumentTypeError(f"the limit of queue {name!r} must be >= 1")
            queues[name] = int(limit)
        elif name in DEFAULT_QUEUES:
            queues[name] = DEFAULT_QUEUES[name]
        else:
            raise argparse.ArgumentTypeError(
                f"queue {name!r} has no default limit; give one as {name}=N"
            )
    if not queues:
        raise argparse.ArgumentTypeError("name at least one queue")
    return queues


if __name__ == "__main__":
    raise SystemExit(main())
