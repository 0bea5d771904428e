"""soundforge.chaos: ``soundforge chaos --minutes N``, the long-running server under fire.

The harness starts the real studio tree in-process on a throwaway data directory, keeps
imports flowing, kills random actors and audio programs and restarts PostgreSQL once, then
checks that every job finished, every track is ready or failed with a reason, no OS process
was orphaned, memory stayed flat and every supervisor runs again (``docs/chaos.md``).

    from soundforge.chaos import ChaosOptions, run_chaos
    report = await run_chaos(ChaosOptions(minutes=0.5, seed=7), emit=print)

``register(commands)`` adds the subcommand to the ``soundforge`` parser.
"""

from soundforge.chaos.checks import Check
from soundforge.chaos.command import register
from soundforge.chaos.harness import ChaosError, ChaosOptions, run_chaos
from soundforge.chaos.importer import ImportSummary
from soundforge.chaos.monkey import ChaosAction
from soundforge.chaos.report import ChaosReport

__all__ = [
    "ChaosAction",
    "ChaosError",
    "ChaosOptions",
    "ChaosReport",
    "Check",
    "ImportSummary",
    "register",
    "run_chaos",
]
