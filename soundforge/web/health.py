"""``GET /health`` for load balancers and ``GET /metrics`` for Prometheus.

Health answers 200 when the database answers, the queues are readable and the data
directory has room (1 GiB), else 503, with what is wrong in words. It needs no login (load
balancers have none) and reveals only counts. Metrics need an admin (a scrape job sends an
admin's API token as a Bearer token), because they describe the whole server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from typing import Final

import msgspec
import psutil  # type: ignore[import-untyped]  # no stubs installed
from quart import Blueprint, Response

from soundforge.actors import repo
from soundforge.queue import live_counts
from soundforge.web.auth import require_admin
from soundforge.web.context import web
from soundforge.web.http import json_response
from soundforge.web.metrics import render
from soundforge.web.openapi import operation

__all__ = ["Health", "blueprint"]

blueprint = Blueprint("health", __name__)

MIN_FREE_BYTES: Final = 1 << 30


class Check(msgspec.Struct, frozen=True):
    ok: bool
    detail: str


class Health(msgspec.Struct, frozen=True):
    status: str  # ok or degraded
    database: Check
    queues: dict[str, dict[str, int]]
    storage: Check


async def _queues() -> tuple[Check, dict[str, dict[str, int]]]:
    try:
        async with asyncio.timeout(3.0):
            async with repo.connection(web().repo) as conn:
                counts = await live_counts(conn)
    except (repo.DatabaseUnavailable, TimeoutError, OSError) as error:
        return Check(False, f"the database does not answer: {error}"), {}
    return Check(True, "answers"), counts


def _storage() -> Check:
    data_dir = web().data_dir
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError as error:
        return Check(False, f"the data directory {data_dir} cannot be read: {error.strerror}")
    if not os.access(data_dir, os.W_OK):
        return Check(False, f"the data directory {data_dir} is not writable")
    gib = free / (1 << 30)
    if free < MIN_FREE_BYTES:
        return Check(False, f"only {gib:.2f} GiB free in {data_dir}; free some space")
    return Check(True, f"{gib:.1f} GiB free")


@blueprint.get("/health")
@operation(
    "Is the server healthy (database, queues, storage)?",
    tag="health",
    response=Health,
    auth=False,
    errors=(503,),
)
async def health() -> Response:
    database, queues = await _queues()
    storage = await asyncio.to_thread(_storage)
    ok = database.ok and storage.ok
    report = Health("ok" if ok else "degraded", database, queues, storage)
    return json_response(report, 200 if ok else 503)


@blueprint.get("/metrics")
async def metrics() -> Response:
    require_admin()
    context = web()
    samples: list[tuple[str, str, str, dict[str, str], float]] = []
    for (group, status), count in sorted(context.metrics.requests.items()):
        samples.append(
            (
                "soundforge_http_requests_total",
                "counter",
                "HTTP requests by route group and status class",
                {"group": group, "status": status},
                count,
            )
        )
    samples += [
        (
            "soundforge_http_request_seconds_total",
            "counter",
            "time spent answering requests",
            {},
            context.metrics.request_seconds,
        ),
        (
            "soundforge_websocket_clients",
            "gauge",
            "open WebSocket connections",
            {},
            context.metrics.websocket_clients,
        ),
        (
            "soundforge_websocket_events_total",
            "counter",
            "events sent to WebSocket clients",
            {},
            context.metrics.websocket_events,
        ),
        (
            "soundforge_websocket_dropped_total",
            "counter",
            "clients disconnected for being too slow",
            {},
            context.metrics.websocket_dropped,
        ),
        (
            "soundforge_library_pages_total",
            "counter",
            "library list pages sent, kept (hit) or built (miss)",
            {"result": "hit"},
            context.pages.hits,
        ),
        (
            "soundforge_library_pages_total",
            "counter",
            "library list pages sent, kept (hit) or built (miss)",
            {"result": "miss"},
            context.pages.misses,
        ),
        (
            "soundforge_library_pages_kept_bytes",
            "gauge",
            "bytes of library list pages kept",
            {},
            context.pages.size_bytes,
        ),
    ]
    _, queues = await _queues()
    for queue, states in sorted(queues.items()):
        for state, count in sorted(states.items()):
            samples.append(
                (
                    "soundforge_jobs",
                    "gauge",
                    "jobs waiting or running, by queue and state",
                    {"queue": queue, "state": state},
                    count,
                )
            )
    samples += context.telemetry.samples()
    process = psutil.Process()
    samples += [
        (
            "soundforge_process_resident_memory_bytes",
            "gauge",
            "the server's resident memory",
            {},
            process.memory_info().rss,
        ),
        (
            "soundforge_process_cpu_seconds_total",
            "counter",
            "the server's CPU time",
            {},
            sum(process.cpu_times()[:2]),
        ),
        ("soundforge_scrape_timestamp_seconds", "gauge", "when this was taken", {}, time.time()),
    ]
    return Response(render(samples), content_type="text/plain; version=0.0.4; charset=utf-8")
