"""The stem player's own checks (web/static/test/player.html) in headless Chromium.

The page builds synthetic stems with an OfflineAudioContext, plays them through the real
StemPlayer (AudioWorklet mix, WSOLA time-stretch, A–B loop) and measures the output; see
web/static/test/player-test.js for the checks.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[2] / "web" / "static" / "test" / "run_player_test.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        shutil.which("chromium") is None, reason="Debian's chromium is not installed"
    ),
]


def test_the_stem_player_passes_its_browser_checks() -> None:
    spec = importlib.util.spec_from_file_location("run_player_test", RUNNER)
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    report = runner.run(shutil.which("chromium"), timeout=180.0)
    failed = [r for r in report["results"] if not r["ok"]]
    assert report["ok"], (failed, report["console"][-20:])
    names = {r["name"] for r in report["results"]}
    assert len(names) >= 10, names
