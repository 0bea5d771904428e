"""``soundforge bench queue --quick`` against the test cluster prints every figure."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import pytest

from soundforge.bench import queue as bench
from soundforge.runtime.application import GC_THRESHOLDS

FIGURES = [
    "jobs_per_s",
    "insert_to_start_p50_ms",
    "insert_to_start_p99_ms",
    "pgqueuer_jobs_per_s",
    "vs_pgqueuer",
]


async def test_quick_bench_prints_every_figure(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    thresholds = gc.get_threshold()
    gc.unfreeze()  # an earlier test's Application may have frozen this process's objects
    # The bench runs its own event loop (uvloop), so it gets a thread of its own here.
    code = await asyncio.to_thread(bench.main, ["--quick", "--jobs", "1000", "--dsn", database_url])
    assert code == 0
    # It ran with the server's GC settings and gave the process its own back.
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0
    figures: dict[str, Any] = json.loads(capsys.readouterr().out)
    for name in FIGURES:
        assert name in figures, name
    assert figures["jobs_per_s"] > 0
    assert 0 < figures["insert_to_start_p50_ms"] <= figures["insert_to_start_p99_ms"]
    # pgqueuer is in the bench extra; when it could not run, the reason is printed.
    assert figures["pgqueuer_jobs_per_s"] is not None or figures["pgqueuer_error"]
    assert figures["database"] == "dsn" and figures["quick"] is True
    assert figures["gc_thresholds"] == list(GC_THRESHOLDS)


async def test_turnover_rounds_report_the_tables_fillfactor(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--quick", "--jobs", "500", "--turnover", "2", "--dsn", database_url]
    assert await asyncio.to_thread(bench.main, argv) == 0
    figures: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert len(figures["turnover_jobs_per_s_rounds"]) == 2
    assert all(rate > 0 for rate in figures["turnover_jobs_per_s_rounds"])
    # The schema's (0007_jobs_fillfactor.sql), not PostgreSQL's default of 100.
    assert figures["fillfactor"] == 70


def test_fillfactor_is_refused_on_a_database_the_bench_does_not_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        bench.main(["--fillfactor", "100", "--dsn", "postgresql://localhost/anything"])
    assert exited.value.code == 2
    assert "only with the throwaway cluster" in capsys.readouterr().err
