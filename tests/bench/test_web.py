"""``soundforge bench web`` on a small scale against the test cluster prints every figure."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from soundforge.bench import web as bench

pytestmark = pytest.mark.timeout(180)


async def test_small_bench_prints_every_figure(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--dsn", database_url, "--clients", "20", "--events", "3"]
    argv += ["--event-interval", "0.05", "--rate", "50", "--built-rate", "20", "--seconds", "1"]
    # The bench runs its own event loop (uvloop), so it gets a thread of its own here.
    code = await asyncio.to_thread(bench.main, argv)
    assert code == 0
    figures: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["ws_connected"] == 20 and figures["ws_deliveries"] == 60
    assert 0 < figures["ws_p50_ms"] <= figures["ws_p99_ms"] <= figures["ws_max_ms"]
    assert figures["ws_fanout_p50_ms"] > 0 and figures["ws_idle_kib_per_client"] is not None
    for name in ("health", "tracks", "tracks_built"):
        assert figures[f"{name}_errors"] == 0, figures
        assert 0 < figures[f"{name}_p50_ms"] <= figures[f"{name}_p99_ms"]
    # The same page 50 times: built once (the bench's own seeding moved the version last).
    assert 0.9 <= figures["tracks_kept_ratio"] < 1
    assert figures["database"] == "dsn"
