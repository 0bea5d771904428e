"""``soundforge bench separation --quick --tiny`` runs and prints every figure.

(It lives beside the separation tests because it needs their package; a tiny htdemucs keeps
it to seconds. Benchmarks are never timing assertions here.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from soundforge.bench import separation as bench

FIGURES = [
    "htdemucs_direct_s",
    "htdemucs_api_s",
    "htdemucs_overhead",
    "htdemucs_max_abs_diff",
    "htdemucs_load_first_s",
    "htdemucs_load_second_s",
    "htdemucs_rtf",
    "embedded_load_s",
    "embedded_rtf",
    "embedded_sdr",
]


def test_quick_tiny_bench_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick", "--tiny", "--threads", "1"]) == 0
    figures: dict[str, Any] = json.loads(capsys.readouterr().out)
    for name in FIGURES:
        assert name in figures, name
    assert figures["htdemucs_load_second_s"] == 0.0 and figures["htdemucs_second_job_cached"]
    assert figures["htdemucs_max_abs_diff"] < 1e-3  # the API computed what demucs computes
    for stem in ("vocals", "drums", "bass", "other", "accompaniment"):
        assert set(figures["embedded_sdr"][stem]) == {"sdr", "mixture", "gain"}
    assert figures["quick"] is True
