"""``soundforge chaos``: the studio tree survives killed actors, killed audio programs and a
PostgreSQL restart under a steady stream of imports (issue 6).

The slow test runs the real command in a child process (``python -m soundforge.chaos``, the
same handler ``soundforge chaos`` runs) for half a minute of chaos and reads its JSON report;
the quick ones pin the package's surface, the command line and the memory verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import pytest

import soundforge.chaos
from soundforge.chaos import register
from soundforge.chaos.checks import MIB, check_memory

#: Half a minute of chaos: with a kill every ~3 s that is about ten actions, two actors for
#: each audio program, and the PostgreSQL restart between 35 % and 65 % of the run.
CHAOS_ARGS = ["--minutes", "0.5", "--seed", "6", "--kill-every", "3", "--import-every", "3"]
#: Boot, chaos, settling (retries back off for 15 s and more), stop: about a minute here.
RUN_TIMEOUT = 200


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_the_studio_tree_survives_half_a_minute_of_chaos() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "soundforge.chaos", *CHAOS_ARGS, "--json"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    took = time.monotonic() - started
    log = done.stderr[-6000:]
    assert done.stdout.strip(), f"no report (exit status {done.returncode}):\n{log}"
    report = json.loads(done.stdout)
    failed = [
        f"{c['name']}: {c['summary']} {c['details']}" for c in report["checks"] if not c["ok"]
    ]
    assert not failed, "\n".join(failed) + f"\n--- log ---\n{log}"
    assert done.returncode == 0 and report["ok"] and report["failures"] == []
    assert [c["name"] for c in report["checks"]] == [
        "jobs",
        "tracks",
        "supervisors",
        "memory",
        "orphans",
    ]

    # Chaos really happened, and the tree repaired it.
    assert report["actors_killed"] >= 1 and report["actors_restarted"] >= 1, report["actions"]
    assert report["ports_killed"] >= 1, report["actions"]
    assert report["postgres_restarts"] == 1, report["actions"]
    restarted = [a for a in report["actions"] if a["restarted_after_s"] is not None]
    assert all(a["kind"] == "actor" and a["path"] for a in restarted)
    assert all(a["time"].endswith("Z") and a["at_s"] >= 0 for a in report["actions"])

    # Work went through despite it: jobs all finished, tracks ready (or failed with a reason).
    assert report["tracks"].get("ready", 0) >= 3, report["tracks"]
    assert set(report["jobs"]) <= {"completed", "discarded", "cancelled"}, report["jobs"]
    assert report["imports"]["attempted"] >= 5
    assert report["rss_warm_mib"] is not None and report["rss_end_mib"] is not None
    print(f"chaos test: {took:.1f} s, {len(report['actions'])} actions, {report['tracks']}")


def test_the_package_exports_its_public_names() -> None:
    assert sorted(soundforge.chaos.__all__) == [
        "ChaosAction",
        "ChaosError",
        "ChaosOptions",
        "ChaosReport",
        "Check",
        "ImportSummary",
        "register",
        "run_chaos",
    ]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soundforge")
    register(parser.add_subparsers(dest="command"))
    return parser


def test_register_adds_the_chaos_command_with_its_options() -> None:
    args = _parser().parse_args(
        ["chaos", "--minutes", "0.5", "--seed", "7", "--import-every", "2.5", "--json"]
    )
    assert args.command == "chaos" and callable(args.handler)
    assert (args.minutes, args.seed, args.import_every, args.kill_every) == (0.5, 7, 2.5, 5.0)
    assert args.json and not args.keep and args.settle == 120.0


@pytest.mark.parametrize(
    "option", ["--minutes", "--import-every", "--kill-every"], ids=lambda o: o.strip("-")
)
@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_durations_must_be_positive_numbers(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["chaos", option, value])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {option}: {value!r} is not a" in error and "number" in error


@pytest.mark.parametrize(
    ("warm_mib", "end_mib", "ok"),
    [
        (60, 60, True),
        (60, 110, True),  # +50 MiB: the floor of the tolerance for a small server
        (60, 110.5, False),
        (400, 480, True),  # +20 % of a large one
        (400, 481, False),
        (60, 40, True),  # shrinking is flat enough
    ],
)
def test_memory_is_flat_within_20_percent_or_50_mib(
    warm_mib: float, end_mib: float, ok: bool
) -> None:
    check = check_memory(int(warm_mib * MIB), int(end_mib * MIB))
    assert check.ok is ok, check.summary
    assert f"{warm_mib:.1f} MiB after warm-up" in check.summary


def test_memory_not_measured_before_warm_up_fails() -> None:
    assert not check_memory(None, 100 * MIB).ok
