"""``soundforge bench web``: the web endpoint under load from a separate process on loopback.

Prints one JSON object. The bench starts the real tree (Repo on a throwaway embedded
PostgreSQL or ``--dsn``, PubSub, the Endpoint on a free port; no queues or audio programs)
with one user owning 50 analysed tracks, and drives ``soundforge.bench.web_load`` in a
child process:

* ``ws_p50_ms``/``ws_p99_ms``/``ws_max_ms``: ``--clients`` WebSocket clients (1,000)
  subscribed to one track's topic; the server publishes ``--events`` progress events on it,
  one every ``--event-interval`` seconds (default 0.2 s: the fastest a pipeline stage
  publishes one track's progress, ``PROGRESS_EVENT_INTERVAL``), and each client records
  publish-to-receive time for each. ``ws_fanout_p50_ms``/``ws_fanout_max_ms`` is the
  server's share: from publishing an event until its last socket write returned. (The load
  generator is one Python process reading 1,000 sockets; what it adds on top is its own.)
* ``ws_idle_kib_per_client``: the server's resident memory growth per connected, idle,
  subscribed client (RSS after connecting minus before, divided by the clients).
* ``tracks_p50_ms``/``tracks_p99_ms``: ``GET /api/v1/tracks`` (50 tracks with their stages
  and analysis) at an open-loop ``--rate`` (500/s) for ``--seconds``, latency counted from
  each request's scheduled time; ``tracks_achieved_rate`` and ``tracks_errors`` say whether
  the server kept up; ``tracks_kept_ratio`` is the share of those answered with a kept
  page (``soundforge/web/page_cache.py``: the library did not change meanwhile, so the
  page is the one built for the first request). ``health_p50_ms`` is the same load on
  ``GET /health`` (one small query), the reference for what the framework and the database
  cost without the library query.
* ``tracks_built_p50_ms``/``tracks_built_p99_ms``: the same request with no page kept, so
  every answer runs the library query and encodes the page, at ``--built-rate`` (200/s);
  what a library that changes on every request would cost.

The rate limits are lifted for the bench (one user sending 500 requests a second is over
the ``read`` group's limit by design). Targets (issue 5): ws p99 ≤ 100 ms; tracks p50 ≤ 5 ms
at 500 requests/s. The machine's two cores serve the load generator, the server and
PostgreSQL together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs installed

from soundforge.accounts import create_token, create_user
from soundforge.actors import repo
from soundforge.bench._tree import running_tree
from soundforge.config import Settings
from soundforge.jobs.pipeline import PROGRESS_EVENT_INTERVAL
from soundforge.music import tracks
from soundforge.music.events import Stage, StageProgress, track_topic
from soundforge.queue import insert
from soundforge.runtime import pubsub
from soundforge.supervisors.root import NAMES

__all__ = ["main", "run"]


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def _seed(n_tracks: int) -> tuple[str, str, str]:
    """A user with ``n_tracks`` analysed tracks (each with its three completed jobs)."""
    from soundforge.jobs.pipeline import Analyze, Download, Separate

    async with repo.transaction(NAMES.repo) as conn:
        user = await create_user(conn, "bench@example.com", "bench password")
        _, token = await create_token(conn, user.id, "bench")
        first = ""
        for i in range(n_tracks):
            track_id = await tracks.create_track(
                conn,
                tracks.NewTrack(
                    user_id=user.id,
                    source_kind="upload",
                    source_name=f"track {i}.wav",
                    title=f"Bench track {i}",
                    artists=["The Benchmarks"],
                    duration_ms=180_000,
                ),
            )
            first = first or track_id
            for worker in (Download, Separate, Analyze):
                job = await insert(conn, worker, {"track_id": track_id, "options": {}})
                await conn.execute(
                    "UPDATE jobs SET state = 'completed', attempt = 1, attempted_at = now(),"
                    " completed_at = now() WHERE id = $1",
                    job.id,
                )
            await tracks.record_analysis(
                conn,
                track_id,
                version=1,
                result_json=b'{"version": 1}',
                options={},
                tempo=120.0 + i % 10,
                key="A minor",
                camelot="8A",
                loudness_lufs=-9.5,
                duration_ms=180_000,
            )
    return user.id, token, first


async def _web_metrics() -> Any:
    from soundforge.runtime.gen_server import get_state
    from soundforge.web import DEFAULT_NAME

    state: Any = await get_state(DEFAULT_NAME)
    return state.context.metrics


async def _pages() -> Any:
    from soundforge.runtime.gen_server import get_state
    from soundforge.web import DEFAULT_NAME

    state: Any = await get_state(DEFAULT_NAME)
    return state.context.pages


async def _lift_rate_limits() -> None:
    """The bench measures the server, not its limiter: one user sends 500 requests a second,
    five times what the ``read`` group allows a user."""
    from soundforge.runtime.gen_server import get_state
    from soundforge.web import DEFAULT_NAME
    from soundforge.web.ratelimit import Limit

    state: Any = await get_state(DEFAULT_NAME)
    limits = state.context.limiter.limits
    for group in limits:
        limits[group] = Limit(burst=1_000_000, per_second=1_000_000.0)


async def _ask(proc: asyncio.subprocess.Process, command: dict[str, Any]) -> Any:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps(command) + "\n").encode())
    await proc.stdin.drain()
    line = await asyncio.wait_for(proc.stdout.readline(), 300)
    if not line:
        raise RuntimeError("the load generator exited early (see its stderr)")
    return json.loads(line)


async def _measure(url: str, token: str, track_id: str, args: argparse.Namespace) -> dict[str, Any]:
    me = psutil.Process()
    load = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "soundforge.bench.web_load",
        url,
        token,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        limit=64 << 20,  # a line carries every latency measured (20,000 and more)
    )
    figures: dict[str, Any] = {
        "clients": args.clients,
        "events": args.events,
        "event_interval_s": args.event_interval,
    }
    try:
        rss_before = me.memory_info().rss
        connected = await _ask(
            load, {"op": "connect", "clients": args.clients, "topic": track_topic(track_id)}
        )
        await asyncio.sleep(0.5)
        rss_after = me.memory_info().rss
        figures["ws_connected"] = connected["connected"]
        figures["ws_idle_kib_per_client"] = round(
            (rss_after - rss_before) / 1024 / max(1, connected["connected"]), 1
        )
        metrics = await _web_metrics()
        fanouts: list[float] = []
        for _ in range(args.events):
            sent = metrics.websocket_events + connected["connected"]
            started = time.monotonic()
            pubsub.broadcast(
                NAMES.pubsub,
                track_topic(track_id),
                StageProgress(track_id, Stage.SEPARATE, 0.5, repr(started)),
            )
            # polled: the sockets count their writes; nothing signals the last one
            while metrics.websocket_events < sent and time.monotonic() - started < 5.0:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            fanouts.append((time.monotonic() - started) * 1000.0)
            await asyncio.sleep(max(0.0, args.event_interval - (time.monotonic() - started)))
        figures["ws_fanout_p50_ms"] = _percentile(fanouts, 0.5)
        figures["ws_fanout_max_ms"] = _percentile(fanouts, 1.0)
        latencies = (await _ask(load, {"op": "collect", "events": args.events}))["latencies_ms"]
        figures["ws_deliveries"] = len(latencies)
        figures["ws_p50_ms"] = _percentile(latencies, 0.5)
        figures["ws_p99_ms"] = _percentile(latencies, 0.99)
        figures["ws_max_ms"] = _percentile(latencies, 1.0)
        pages = await _pages()
        phases = (
            ("health", "/health", args.rate),
            ("tracks", "/api/v1/tracks?limit=50", args.rate),
            ("tracks_built", "/api/v1/tracks?limit=50", args.built_rate),
        )
        for name, path, rate in phases:
            if name == "tracks_built":  # every page built: no page is kept from here on
                pages.max_bytes = 0
            hits, misses = pages.hits, pages.misses
            result = await _ask(
                load,
                {
                    "op": "http",
                    "path": path,
                    "rate": rate,
                    "seconds": args.seconds,
                    "connections": 16,
                },
            )
            if name == "tracks":
                sent = pages.hits - hits + pages.misses - misses
                figures["tracks_kept_ratio"] = round((pages.hits - hits) / max(1, sent), 4)
            values = result["latencies_ms"]
            figures[f"{name}_p50_ms"] = _percentile(values, 0.5)
            figures[f"{name}_p99_ms"] = _percentile(values, 0.99)
            figures[f"{name}_achieved_rate"] = round(result["achieved_rate"], 1)
            figures[f"{name}_errors"] = result["errors"]
            if name == "tracks" and values:
                figures["tracks_mean_ms"] = round(statistics.fmean(values), 3)
        await _ask(load, {"op": "close"})
    finally:
        if load.returncode is None:
            load.kill()
        await load.wait()
    return figures


async def _run(dsn: str | None, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="soundforge-bench-web-") as tmp:
        os.chmod(tmp, 0o755)  # the embedded cluster may run as an unprivileged user
        settings = Settings(data_dir=Path(tmp), database_url=dsn, port=0, node_name="bench-web")
        async with running_tree(settings, queues={}, ports={}, web=True):
            from soundforge.web import url

            _, token, track_id = await _seed(50)
            await _lift_rate_limits()
            figures = await _measure(await url(), token, track_id, args)
    figures["database"] = "dsn" if dsn else "embedded"
    figures["cpus"] = os.cpu_count()
    return figures


def run(dsn: str | None, args: argparse.Namespace) -> dict[str, Any]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        return uvloop.run(_run(dsn, args))
    except ImportError:
        return asyncio.run(_run(dsn, args))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soundforge bench web", description=__doc__)
    parser.add_argument("--dsn", help="PostgreSQL URL (default: a throwaway embedded cluster)")
    parser.add_argument("--quick", action="store_true", help="100 clients, 2 s of HTTP load")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--event-interval", type=float, default=PROGRESS_EVENT_INTERVAL)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--built-rate", type=float, default=200.0)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.clients, args.events, args.seconds = min(args.clients, 100), 5, 2.0
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(run(args.dsn, args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
