"""``/metrics`` fed by telemetry: a real server, real requests, jobs, a port and a stall.

The first tests run the real tree with its endpoint (no audio pools, to start fast), do one
of each thing the metrics count, and read ``GET /metrics`` over HTTP as an admin, checking
the exposition is valid Prometheus text. The last ones drive :class:`TelemetryMetrics` on a
bare node with the runtime's own events.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from soundforge.actors import repo
from soundforge.jobs.pipeline import PIPELINE_WORKERS
from soundforge.queue import insert
from soundforge.runtime import gen_server, process, supervisor
from soundforge.runtime.exit import KILL, NORMAL
from soundforge.runtime.gen_server import cast
from soundforge.runtime.loop_monitor import LoopMonitor, LoopMonitorOptions
from soundforge.runtime.node import Node
from soundforge.runtime.port import Port, PortExit, PortOptions, close
from soundforge.runtime.process import Exit, Pid, receive, trap_exit
from soundforge.runtime.results import Ok
from soundforge.runtime.supervisor import start_supervisor
from soundforge.supervisors.root import NAMES
from soundforge.web import DEFAULT_NAME, url
from soundforge.web.metrics import render
from soundforge.web.telemetry_metrics import MAX_SERIES, OTHER, TelemetryMetrics
from tests.helpers import eventually
from tests.jobs.conftest import running_studio
from tests.queue.workers import Noop, Scripted
from tests.runtime.workers import Trace, pid_of, spec
from tests.web.conftest import WebServer, api_client, api_token

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Prometheus text 0.0.4, checked: one TYPE per family, each family's lines together."""
    types: dict[str, str] = {}
    samples: Samples = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ")
            assert family not in types, f"{family} is declared twice"
            types[family] = kind
            current = family
            continue
        if line.startswith("#") or not line:
            continue
        match = _LINE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        family = name
        if types.get(current) == "histogram" and name.startswith(current):
            family = current
        assert family == current, f"{name} is outside its family's group"
        pairs = frozenset(_LABEL.findall(labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def quick_server(database_url: str) -> AsyncIterator[WebServer]:
    """The server with two test workers and no audio pools (they take seconds to start)."""
    settings = {"port": 0, "allow_private_urls": True}
    workers = (*PIPELINE_WORKERS, Noop, Scripted)
    async with running_studio(database_url, settings, web=True, ports={}, workers=workers) as s:
        yield WebServer(s, await url())


async def _run_jobs() -> None:
    async with repo.connection(NAMES.repo) as conn:
        ok = await insert(conn, Noop, None, queue="download")
        bad = await insert(conn, Scripted, {"script": ["raise"]}, queue="download", max_attempts=1)
        ids = [ok.id, bad.id]

        async def states() -> set[str]:
            rows = await conn.fetch("SELECT state FROM jobs WHERE id = ANY($1)", ids)
            return {row["state"] for row in rows}

        async with asyncio.timeout(10):
            while await states() != {"completed", "discarded"}:  # noqa: ASYNC110 (polling the database)
                await asyncio.sleep(0.02)


async def _run_port(admin: httpx.AsyncClient) -> str:
    """Run a port until /metrics shows its memory; what /metrics said then."""
    options = PortOptions(["sleep", "30"], name="metrics-test", shutdown=1.0, rss_interval=0.02)
    result = await Port.start(options)
    assert isinstance(result, Ok), result
    gauge = 'soundforge_port_resident_memory_bytes{label="metrics-test"}'
    async with asyncio.timeout(10):
        while gauge not in (text := (await admin.get("/metrics")).text):  # noqa: ASYNC110 (a scrape has no event)
            await asyncio.sleep(0.02)
    await close(result.value)
    await receive(match=lambda m: isinstance(m, PortExit), timeout=5)
    return text


async def _stall_the_loop() -> None:
    result = await LoopMonitor.start(LoopMonitorOptions(threshold=0.1, name=None))
    assert isinstance(result, Ok), result
    await asyncio.sleep(0.05)
    time.sleep(0.2)  # noqa: ASYNC251 (the stall is the point)
    await asyncio.sleep(0.05)
    await gen_server.stop(result.value)


async def test_metrics_show_requests_jobs_ports_and_stalls(quick_server: WebServer) -> None:
    server = quick_server
    token = await api_token(server.admin_id)
    async with api_client(server, token) as admin:
        assert (await admin.get("/api/v1/me")).status_code == 200
        ws_url = server.url.replace("http://", "ws://") + f"/ws?token={token}"
        async with connect(ws_url):
            pass
        await _run_jobs()
        while_running = parse(await _run_port(admin))
        await _stall_the_loop()
        response = await admin.get("/metrics")
    assert response.status_code == 200
    text = response.text
    samples = parse(text)

    assert "# TYPE soundforge_http_request_duration_seconds histogram" in text
    inf = value(samples, "soundforge_http_request_duration_seconds_bucket", group="read", le="+Inf")
    assert inf >= 1
    assert inf == value(samples, "soundforge_http_request_duration_seconds_count", group="read")

    noop = {"queue": "download", "worker": "test.Noop"}
    scripted = {"queue": "download", "worker": "test.Scripted"}
    assert value(samples, "soundforge_jobs_started_total", **noop) == 1
    assert value(samples, "soundforge_jobs_stopped_total", **noop, state="success") == 1
    assert value(samples, "soundforge_job_duration_seconds_count", **noop) == 1
    failed = {**scripted, "state": "discard", "kind": "exception"}
    assert value(samples, "soundforge_jobs_failed_total", **failed) == 1

    rss = value(while_running, "soundforge_port_resident_memory_bytes", label="metrics-test")
    assert rss > 100_000  # `sleep`'s own few hundred KiB at least
    assert value(samples, "soundforge_ports_started_total", label="metrics-test") == 1
    exited = {"label": "metrics-test", "reason": "SIGTERM"}  # close: SIGTERM
    assert value(samples, "soundforge_ports_exited_total", **exited) == 1
    assert value(samples, "soundforge_port_run_seconds_total", label="metrics-test") > 0
    assert "soundforge_port_resident_memory_bytes" not in text  # gone with its program

    assert value(samples, "soundforge_event_loop_stalls_total") >= 1
    assert value(samples, "soundforge_event_loop_stall_max_seconds") >= 0.15
    assert value(samples, "soundforge_event_loop_stall_seconds_count") >= 1

    assert value(samples, "soundforge_websocket_connects_total") == 1
    assert value(samples, "soundforge_processes_spawned_total", kind="http") >= 2
    assert value(samples, "soundforge_processes", kind="supervisor") >= 1
    # What was there before is still there.
    assert value(samples, "soundforge_http_requests_total", group="read", status="2xx") >= 1
    assert value(samples, "soundforge_process_resident_memory_bytes") > 1_000_000


async def test_a_restarted_endpoint_detaches_the_old_handlers(quick_server: WebServer) -> None:
    first: Any = await gen_server.get_state(DEFAULT_NAME)
    old = first.context.telemetry
    ids = old.handler_ids
    assert ids
    process.exit(gen_server.whereis(DEFAULT_NAME), KILL)  # no terminate: the exit hook detaches
    assert old.handler_ids == ()
    async with asyncio.timeout(10):
        while (second := gen_server.whereis(DEFAULT_NAME)) is None:  # noqa: ASYNC110 (a restart has no event to wait on)
            await asyncio.sleep(0.02)
    new: Any = (await gen_server.get_state(second)).context.telemetry
    assert new.handler_ids and not set(new.handler_ids) & set(ids)  # ids name the endpoint
    async with httpx.AsyncClient(base_url=await url()) as client:
        await client.get("/health")  # the static group: counted, but not rate limited
    static = ("static",)
    assert static in new.http_seconds.series
    assert static not in old.http_seconds.series


# -- the aggregator on a bare node ------------------------------------------------------


async def test_supervisor_events_are_labelled_by_supervisor_and_child(
    node: Node, shell: Pid
) -> None:
    metrics = TelemetryMetrics()
    metrics.attach(node, "test")
    trap_exit(True)  # the supervisor gives up with `shutdown`, which would end the test
    trace = Trace()
    sup = (await start_supervisor([spec("mixer", trace)], max_restarts=1, name="studio")).value
    cast(pid_of(await supervisor.which_children(sup), "mixer"), ("exit", "boom"))
    await eventually(lambda: len(trace.starts()) == 2, 2.0, "the child is restarted")
    cast(pid_of(await supervisor.which_children(sup), "mixer"), ("exit", "boom"))  # one too many
    await receive(match=lambda m: isinstance(m, Exit) and m.pid is sup, timeout=5)
    samples = parse(render(metrics.samples()))
    labels = {"supervisor": "studio", "child": "mixer"}
    assert value(samples, "soundforge_supervisor_restarts_total", **labels) == 1
    assert value(samples, "soundforge_supervisor_child_crashes_total", **labels) == 2
    assert (
        value(samples, "soundforge_supervisor_intensity_exceeded_total", supervisor="studio") == 1
    )
    assert (
        value(samples, "soundforge_processes_exited_total", kind="gen_server", reason="error") >= 2
    )
    metrics.detach()


def test_label_sets_are_bounded() -> None:
    metrics = TelemetryMetrics()
    for i in range(MAX_SERIES + 10):
        metrics.ports_started.inc(f"label-{i}")
    series = metrics.ports_started.series
    assert len(series) == MAX_SERIES + 1
    assert series[(OTHER,)] == 10
    samples = parse(render(metrics.samples()))
    assert value(samples, "soundforge_ports_started_total", label=OTHER) == 10


def test_values_are_written_in_full_and_labels_escaped() -> None:
    text = render([("x_bytes", "gauge", "h", {"label": 'a "b"\\\n'}, 123_456_789_012)])
    assert text.splitlines()[-1] == 'x_bytes{label="a \\"b\\"\\\\\\n"} 123456789012'


async def test_each_endpoint_detaches_only_its_own_handlers(node: Node) -> None:
    spawn_event = ("runtime", "process", "spawn")
    first, second = TelemetryMetrics(), TelemetryMetrics()
    first.attach(node, "endpoint <0.1.0>")
    second.attach(node, "endpoint <0.2.0>")  # a second endpoint on the same node
    node.attach().die(NORMAL)  # a process comes and goes: both count it
    assert first.spawned.series == second.spawned.series == {("shell",): 1}
    first.detach()
    first.detach()  # idempotent
    assert first.handler_ids == () and node.telemetry.wants(spawn_event)
    node.attach().die(NORMAL)
    assert first.spawned.series == {("shell",): 1} and second.spawned.series == {("shell",): 2}
    second.detach()
    assert not node.telemetry.wants(spawn_event)
