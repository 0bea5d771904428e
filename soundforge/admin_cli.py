"""The admin commands of the CLI: ``soundforge actors`` and ``soundforge queues``.

Erlang's observer in a terminal, against a running server, with an administrator's token:

    soundforge actors tree                  the supervision tree, one line per process
    soundforge actors show Queues           one process: fields, links, monitors, summary,
                                            crash reports with their tracebacks
    soundforge actors restart|stop|kill T   OTP's restart_child, terminate_child, exit(Pid, kill)
    soundforge actors top [--sort mailbox]  the busiest processes, refreshed like htop
    soundforge queues [list|pause Q|resume Q]

Unlike ``soundforge tree``, which starts a tree of its own, these read the running node
through ``/api/v1/admin/actors`` and ``/api/v1/admin/queues``: ``soundforge.client`` finds
the server and the token, ``soundforge._admin_views`` draws the answers. ``--json`` prints
the server's answer as it came, one document. Each node answers for its own processes:
point ``--url`` at the node to look at. A target ``T`` is a pid (``<0.13.0>``), a
registered name (``soundforge.repo``), a child id (``Queues``) or, for a process started
from no spec, its behaviour (``Root``).
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Final, TypeVar

from rich.console import Console, RenderableType
from rich.live import Live

from soundforge._admin_views import (
    SORTS,
    ActionResult,
    ProcessDetail,
    QueueOverview,
    process_view,
    queues_table,
    top_frame,
    tree_view,
    walk,
)
from soundforge.client import Client, ServerUnavailable, connection
from soundforge.runtime.introspect import ActorsSnapshot

__all__ = ["register"]

P = TypeVar("P", bound=argparse.ArgumentParser)

ACTORS: Final = "/api/v1/admin/actors"
QUEUES: Final = "/api/v1/admin/queues"
TARGET_HELP: Final = "a pid (<0.13.0>), registered name, child id (Queues) or behaviour (Root)"


def register(commands: argparse._SubParsersAction[P]) -> None:
    """Add ``actors`` and ``queues`` to the ``soundforge`` command's subcommands."""
    actors = commands.add_parser(
        "actors", help="the running server's processes: tree, show, top, restart, stop, kill"
    )
    # The parser class the CLI gave us (its one-sentence errors), for the nested commands.
    actions = actors.add_subparsers(dest="action", metavar="COMMAND", parser_class=type(actors))
    actions.required = True
    tree = actions.add_parser("tree", help="the supervision tree, one line per process")
    tree.set_defaults(handler=_tree)
    show = actions.add_parser("show", help="one process, its links, summary and crash reports")
    show.add_argument("target", metavar="NAME", help=TARGET_HELP)
    show.set_defaults(handler=_show)
    for action, text in (
        ("restart", "restart a supervised child (a supervisor: its whole subtree)"),
        ("stop", "stop a supervised child; it stays stopped until restarted"),
        ("kill", "kill a process (untrappable); its supervisor reacts as to any crash"),
    ):
        act = actions.add_parser(action, help=text)
        act.add_argument("target", metavar="NAME", help=TARGET_HELP)
        act.set_defaults(handler=_act)
    top = actions.add_parser("top", help="the busiest processes, refreshed every second")
    top.add_argument(
        "--sort",
        choices=list(SORTS),
        default="rate",
        metavar="KEY",
        help="rate (messages handled per second, the default), mailbox, cpu or memory",
    )
    top.add_argument(
        "--interval", type=_seconds, default=1.0, help="seconds between frames (default: 1)"
    )
    top.add_argument("--once", action="store_true", help="print one frame and exit")
    top.set_defaults(handler=_top)

    queues = commands.add_parser("queues", help="the job queues: counts by state, pause, resume")
    queue_actions = queues.add_subparsers(
        dest="queue_action", metavar="COMMAND", parser_class=type(queues)
    )
    queue_actions.add_parser("list", help="every queue (the default)")
    for action, text in (
        ("pause", "stop starting the queue's jobs on every node (running jobs go on)"),
        ("resume", "start running the queue's jobs again on every node"),
    ):
        control = queue_actions.add_parser(action, help=text)
        control.add_argument("queue", metavar="NAME")
        control.set_defaults(handler=_queue_control)
    queues.set_defaults(handler=_queues)
    for parser in (actors, queues, *actions.choices.values(), *queue_actions.choices.values()):
        _connection_options(parser)


def _connection_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: given before or after the subcommand, a flag is never reset by the other.
    parser.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help="the server (default: SOUNDFORGE_URL, client.toml, then SOUNDFORGE_HOST/PORT)",
    )
    parser.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="an administrator's API token (default: SOUNDFORGE_TOKEN, then client.toml)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the server's JSON answer (top: one snapshot)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"the interval must be 0.1 to 3600 seconds, not {text}")
    return value


def _client(args: argparse.Namespace) -> Client:
    return Client(connection(getattr(args, "url", None), getattr(args, "token", None)))


def _print(args: argparse.Namespace, body: bytes, view: Callable[[], RenderableType]) -> int:
    """The server's answer as it came with ``--json``, else ``view()``: a sentence as it is
    (never markup, never wrapped), or drawn."""
    if getattr(args, "json", False):
        sys.stdout.write(body.decode().strip() + "\n")
        return 0
    rendered = view()
    if isinstance(rendered, str):
        print(rendered)
    else:
        _console().print(rendered)
    return 0


def _console() -> Console:
    return Console(highlight=False)


# -- actors ------------------------------------------------------------------------------


def _tree(args: argparse.Namespace) -> int:
    client = _client(args)
    body = client.get(ACTORS)
    return _print(args, body, lambda: tree_view(client.decode(body, ActorsSnapshot, ACTORS)))


def _show(args: argparse.Namespace) -> int:
    client = _client(args)
    path = f"{ACTORS}/process"
    body = client.get(path, {"target": args.target})
    return _print(args, body, lambda: process_view(client.decode(body, ProcessDetail, path)))


def _act(args: argparse.Namespace) -> int:
    client = _client(args)
    path = f"{ACTORS}/{args.action}"
    body = client.post(path, {"target": args.target})

    def message() -> str:
        return client.decode(body, ActionResult, path).message

    return _print(args, body, message)


def _top(args: argparse.Namespace) -> int:
    client = _client(args)
    body = client.get(ACTORS)
    snapshot = client.decode(body, ActorsSnapshot, ACTORS)
    if args.once or getattr(args, "json", False):
        if all(info.rate is None for info in walk(snapshot.tree)):
            time.sleep(args.interval)  # rates come from the observer's previous sample
            body = client.get(ACTORS)
            snapshot = client.decode(body, ActorsSnapshot, ACTORS)
        return _print(args, body, lambda: top_frame(snapshot, args.sort))
    console = _console()
    try:
        if console.is_terminal:
            with Live(console=console, screen=True, auto_refresh=False) as live:
                _follow(client, snapshot, args, lambda f: live.update(f, refresh=True), console)
        else:  # a pipe or a file: one frame after another, like top -b
            _follow(client, snapshot, args, lambda frame: console.print(frame, "\n"))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how one quits top
    return 0


def _follow(
    client: Client,
    snapshot: ActorsSnapshot,
    args: argparse.Namespace,
    show: Callable[[RenderableType], None],
    screen: Console | None = None,
) -> None:
    """Show a frame, wait, sample again, until Ctrl-C. While the server does not answer,
    keep the last frame and say so: a restarting server comes back."""
    note: str | None = None
    lost_at: str | None = None
    while True:
        rows = None if screen is None else max(screen.size.height - 4, 1)
        show(top_frame(snapshot, args.sort, rows, args.interval, note))
        time.sleep(args.interval)
        try:
            snapshot = client.decode(client.get(ACTORS), ActorsSnapshot, ACTORS)
        except ServerUnavailable as error:
            lost_at = lost_at or time.strftime("%H:%M:%S")
            note = f"{error} (since {lost_at})"
        else:
            note, lost_at = None, None


# -- queues ------------------------------------------------------------------------------


def _queues(args: argparse.Namespace) -> int:
    client = _client(args)
    body = client.get(QUEUES)
    return _print(
        args, body, lambda: queues_table(client.decode(body, list[QueueOverview], QUEUES))
    )


def _queue_control(args: argparse.Namespace) -> int:
    client = _client(args)
    path = f"{QUEUES}/{urllib.parse.quote(args.queue, safe='')}/{args.queue_action}"
    body = client.post(path)

    def message() -> str:
        queue = client.decode(body, QueueOverview, path).queue
        if args.queue_action == "pause":
            return f"queue {queue} is paused on every node; running jobs go on"
        return f"queue {queue} runs again on every node"

    return _print(args, body, message)
