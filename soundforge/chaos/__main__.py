"""``python -m soundforge.chaos [OPTIONS]``: the ``soundforge chaos`` command on its own.

Like ``soundforge/cli.py`` (the only other place that does), this program entry configures
logging: warnings and errors of the tree go to stderr, so the crashes the monkey causes are
visible without drowning the report. ``--log-level info`` shows everything.
"""

from __future__ import annotations

import argparse
import logging
import sys

from soundforge.chaos.command import register
from soundforge.errors import SoundForgeError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soundforge")
    commands = parser.add_subparsers(dest="command")
    register(commands)
    commands.choices["chaos"].add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="how much of the tree's log to show on stderr (default: warning)",
    )
    args = parser.parse_args(["chaos", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.handler(args)
    except SoundForgeError as error:
        print(f"soundforge chaos: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
