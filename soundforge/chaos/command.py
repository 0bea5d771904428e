"""``soundforge chaos``: the command line of the chaos harness.

    soundforge chaos --minutes 0.5 --seed 7           # live log, then the checks; exit 0/1
    soundforge chaos --minutes 5 --json > chaos.json  # the log on stderr, one JSON object

:func:`register` adds the subcommand to the ``soundforge`` parser (``soundforge/cli.py``
calls it); ``python -m soundforge.chaos`` runs the same command on its own. The exit status
is 0 when every check passed and 1 otherwise, after one sentence per failed check.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec

from soundforge.chaos.harness import ChaosOptions, run_chaos
from soundforge.chaos.report import ChaosReport, format_report

__all__ = ["register", "run_command"]


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``chaos`` to a ``soundforge`` parser's subcommands (its handler included)."""
    chaos = commands.add_parser(
        "chaos",
        help="run the studio tree under imports while killing actors, ports and PostgreSQL",
        description=(
            "Start the studio tree on a throwaway data directory, import a short song every "
            "few seconds, and meanwhile kill random actors and audio programs and restart "
            "PostgreSQL once; then check that every job finished, no OS process was orphaned, "
            "memory stayed flat and every supervisor runs again. Exit status 0 only if all "
            "checks pass."
        ),
    )
    chaos.add_argument(
        "--minutes",
        type=_positive,
        default=1.0,
        help="how long the chaos lasts; fractions allowed (default: 1)",
    )
    chaos.add_argument(
        "--seed", type=int, default=None, help="seed of every random choice (default: random)"
    )
    chaos.add_argument(
        "--import-every",
        type=_positive,
        default=3.0,
        metavar="SECONDS",
        help="import a new song this often (default: 3)",
    )
    chaos.add_argument(
        "--kill-every",
        type=_positive,
        default=5.0,
        metavar="SECONDS",
        help="kill an actor or an audio program about this often (default: 5)",
    )
    chaos.add_argument(
        "--settle",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="at most this long, after the chaos, for the work to finish (default: 120)",
    )
    chaos.add_argument(
        "--keep",
        action="store_true",
        help="keep the data directory (database, tracks, PostgreSQL's log) for a post-mortem",
    )
    chaos.add_argument(
        "--json", action="store_true", help="print one JSON object (the live log goes to stderr)"
    )
    chaos.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    """The handler: run the harness, print the report, 0 if every check passed."""
    options = ChaosOptions(
        minutes=args.minutes,
        seed=args.seed,
        import_every=args.import_every,
        kill_every=args.kill_every,
        settle=args.settle,
        keep=args.keep,
    )
    live = sys.stderr if args.json else sys.stdout

    def emit(line: str) -> None:
        print(line, file=live, flush=True)

    report: ChaosReport = _run(run_chaos(options, emit))
    if args.json:
        sys.stdout.write(msgspec.json.encode(report).decode() + "\n")
    else:
        for line in format_report(report):
            print(line)
    return 0 if report.ok else 1


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
