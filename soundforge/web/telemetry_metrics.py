"""Prometheus metrics fed by telemetry: the runtime, the queue, the ports and the web layer.

Mirrors Elixir's ``Telemetry.Metrics`` with a Prometheus reporter
(``TelemetryMetricsPrometheus.Core``): handlers attached to the node's telemetry events
aggregate counters, gauges and histograms in memory, and a scrape of ``GET /metrics``
renders them (``health.metrics``). Where it differs: the metrics are one fixed table here,
not definitions an application passes in, and they count from the moment the endpoint
attaches them (events of the tree's start-up, before the endpoint, are not counted; a
restart resets them, which Prometheus's ``rate`` expects of counters).

Labels are bounded: kinds, queue and worker names, port labels, supervisor names and the
ids of their children, never pids or job ids. Each family keeps at most
:data:`MAX_SERIES` label sets; later ones are counted under the value ``other``.

    metrics = TelemetryMetrics()
    metrics.attach(node, "endpoint <0.42.0>")   # handler ids are "<prefix>:<event>"
    text = render(metrics.samples())
    metrics.detach()

Every event and family is listed in ``docs/telemetry.md``.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from soundforge.runtime.exit import KILLED, NOPROC, NORMAL, ExitReason, is_normal
from soundforge.runtime.gen_server import resolve
from soundforge.runtime.loop_monitor import STALL_EVENT
from soundforge.runtime.port import EXIT_EVENT as PORT_EXIT
from soundforge.runtime.port import RSS_EVENT as PORT_RSS
from soundforge.runtime.port import START_EVENT as PORT_START
from soundforge.runtime.process import Pid
from soundforge.runtime.telemetry import Event, Handler, Telemetry
from soundforge.web.metrics import (
    REQUEST_STOP,
    WEBSOCKET_CONNECT,
    WEBSOCKET_DISCONNECT,
    Sample,
    format_value,
)

if TYPE_CHECKING:
    from soundforge.runtime.node import Node

__all__ = ["MAX_SERIES", "OTHER", "TelemetryMetrics"]

#: The most label sets one family keeps (a bound on memory and on the scrape's size).
MAX_SERIES: Final = 500
#: The label value that stands for every label set past :data:`MAX_SERIES`.
OTHER: Final = "other"
#: The longest label value taken from an id (a child id may be any term).
_MAX_LABEL: Final = 80

PROCESS_SPAWN: Final = ("runtime", "process", "spawn")
PROCESS_EXIT: Final = ("runtime", "process", "exit")
SUPERVISOR_CHILD_EXIT: Final = ("runtime", "supervisor", "child_exit")
SUPERVISOR_RESTART: Final = ("runtime", "supervisor", "restart")
SUPERVISOR_INTENSITY: Final = ("runtime", "supervisor", "intensity_exceeded")
JOB_START: Final = ("queue", "job", "start")
JOB_STOP: Final = ("queue", "job", "stop")
JOB_EXCEPTION: Final = ("queue", "job", "exception")

#: Seconds: a request is milliseconds, a download or an upload may be minutes.
HTTP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)
#: Seconds: jobs run from milliseconds (a no-op) to an hour (separating a DJ set).
JOB_BUCKETS: Final = (0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
#: Seconds: a stall is at least the monitor's threshold (100 ms by default).
STALL_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Family:
    """One metric family: its name, help, label names and a value per label set."""

    __slots__ = ("help", "labels", "name", "series")

    kind: str = ""

    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labels = labels
        self.series: dict[tuple[str, ...], Any] = {}
        if not labels:
            # An unlabelled family reads 0 before its first event, so it is always there
            # to alert on.
            self.series[()] = self.zero()

    def zero(self) -> Any:
        return 0

    def key(self, values: tuple[str, ...]) -> tuple[str, ...]:
        if values in self.series or len(self.series) < MAX_SERIES:
            return values
        return (OTHER,) * len(values)

    def samples(self) -> Iterator[Sample]:
        for values, value in sorted(self.series.items(), key=_by_labels):
            yield Sample(
                self.name, self.kind, self.help, dict(zip(self.labels, values, strict=True)), value
            )


class _Counter(_Family):
    __slots__ = ()
    kind = "counter"

    def inc(self, *values: str, amount: float = 1.0) -> None:
        key = self.key(values)
        self.series[key] = self.series.get(key, 0) + amount


class _Gauge(_Family):
    __slots__ = ()
    kind = "gauge"

    def set(self, value: float, *values: str) -> None:
        self.series[self.key(values)] = value


class _Buckets:
    __slots__ = ("count", "counts", "sum")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size
        self.sum = 0.0
        self.count = 0


class _Histogram(_Family):
    __slots__ = ("bounds",)
    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, labels: tuple[str, ...], bounds: tuple[float, ...]
    ) -> None:
        self.bounds = bounds
        super().__init__(name, help_text, labels)

    def zero(self) -> Any:
        return _Buckets(len(self.bounds))

    def observe(self, value: float, *values: str) -> None:
        key = self.key(values)
        buckets = self.series.get(key)
        if buckets is None:
            buckets = self.series[key] = self.zero()
        index = bisect.bisect_left(self.bounds, value)
        if index < len(self.bounds):
            buckets.counts[index] += 1
        buckets.sum += value
        buckets.count += 1

    def samples(self) -> Iterator[Sample]:
        name, help_text, kind = self.name, self.help, self.kind
        for values, buckets in sorted(self.series.items(), key=_by_labels):
            labels = dict(zip(self.labels, values, strict=True))
            cumulative = 0
            for bound, count in zip(self.bounds, buckets.counts, strict=True):
                cumulative += count
                le = {**labels, "le": format_value(bound)}
                yield Sample(f"{name}_bucket", kind, help_text, le, cumulative)
            inf = {**labels, "le": "+Inf"}
            yield Sample(f"{name}_bucket", kind, help_text, inf, buckets.count)
            yield Sample(f"{name}_sum", kind, help_text, labels, buckets.sum)
            yield Sample(f"{name}_count", kind, help_text, labels, buckets.count)


class TelemetryMetrics:
    """The aggregator: attach it to a node, render its :meth:`samples` on each scrape."""

    def __init__(self) -> None:
        self._node: Node | None = None
        self._handler_ids: list[str] = []
        #: Live ports' last resident memory: port pid id → (label, bytes).
        self._port_rss: dict[int, tuple[str, int]] = {}
        self.spawned = _Counter(
            "soundforge_processes_spawned_total", "processes started, by kind", ("kind",)
        )
        self.exited = _Counter(
            "soundforge_processes_exited_total",
            "processes ended, by kind and reason (normal, shutdown, killed, noproc, error)",
            ("kind", "reason"),
        )
        self.restarts = _Counter(
            "soundforge_supervisor_restarts_total",
            "children restarted, by supervisor and child id",
            ("supervisor", "child"),
        )
        self.crashes = _Counter(
            "soundforge_supervisor_child_crashes_total",
            "abnormal child exits a supervisor handled, by supervisor and child id",
            ("supervisor", "child"),
        )
        self.intensity = _Counter(
            "soundforge_supervisor_intensity_exceeded_total",
            "supervisors that gave up after too many restarts",
            ("supervisor",),
        )
        self.jobs_started = _Counter(
            "soundforge_jobs_started_total", "job attempts started", ("queue", "worker")
        )
        self.jobs_stopped = _Counter(
            "soundforge_jobs_stopped_total",
            "job attempts ended without error (success, cancelled, snoozed)",
            ("queue", "worker", "state"),
        )
        self.jobs_failed = _Counter(
            "soundforge_jobs_failed_total",
            "job attempts that failed (failure: retried; discard: out of attempts)",
            ("queue", "worker", "state", "kind"),
        )
        self.job_seconds = _Histogram(
            "soundforge_job_duration_seconds",
            "how long job attempts ran",
            ("queue", "worker"),
            JOB_BUCKETS,
        )
        self.ports_started = _Counter(
            "soundforge_ports_started_total", "port programs started", ("label",)
        )
        self.ports_exited = _Counter(
            "soundforge_ports_exited_total",
            "port programs ended, by how (normal, error, or the signal that killed them)",
            ("label", "reason"),
        )
        self.port_seconds = _Counter(
            "soundforge_port_run_seconds_total",
            "seconds port programs ran, counted when they exit",
            ("label",),
        )
        self.port_rss = _Gauge(
            "soundforge_port_resident_memory_bytes",
            "last sampled resident memory of the running port programs and their children",
            ("label",),
        )
        self.stalls = _Counter(
            "soundforge_event_loop_stalls_total", "times the event loop was blocked too long"
        )
        self.stall_seconds = _Histogram(
            "soundforge_event_loop_stall_seconds",
            "how long the event loop was blocked, per stall",
            (),
            STALL_BUCKETS,
        )
        self.stall_max = _Gauge(
            "soundforge_event_loop_stall_max_seconds", "the longest stall of the event loop"
        )
        self.http_seconds = _Histogram(
            "soundforge_http_request_duration_seconds",
            "how long requests took, by route group",
            ("group",),
            HTTP_BUCKETS,
        )
        self.ws_connects = _Counter(
            "soundforge_websocket_connects_total", "WebSocket clients that signed in"
        )
        self.ws_disconnects = _Counter(
            "soundforge_websocket_disconnects_total", "WebSocket clients that went away"
        )
        self._handlers: dict[Event, Handler] = {
            PROCESS_SPAWN: self._spawn,
            PROCESS_EXIT: self._exit,
            SUPERVISOR_CHILD_EXIT: self._child_exit,
            SUPERVISOR_RESTART: self._restart,
            SUPERVISOR_INTENSITY: self._intensity,
            JOB_START: self._job_start,
            JOB_STOP: self._job_stop,
            JOB_EXCEPTION: self._job_exception,
            PORT_START: self._port_start,
            PORT_EXIT: self._port_exit,
            PORT_RSS: self._port_sample,
            STALL_EVENT: self._stall,
            REQUEST_STOP: self._request,
            WEBSOCKET_CONNECT: self._ws_connect,
            WEBSOCKET_DISCONNECT: self._ws_disconnect,
        }

    # -- attaching --------------------------------------------------------------------

    def attach(self, node: Node, prefix: str) -> None:
        """Attach a handler per event to ``node``'s telemetry, ids ``<prefix>:<event>``.

        One handler per event, so a handler that fails is detached (telemetry's rule)
        without silencing the others.
        """
        if self._node is not None:
            raise RuntimeError("these telemetry metrics are attached already; detach first")
        self._node = node
        telemetry = node.telemetry
        for event, handler in self._handlers.items():
            handler_id = f"{prefix}:{'.'.join(event)}"
            telemetry.attach(handler_id, event, handler)
            self._handler_ids.append(handler_id)

    def detach(self) -> None:
        """Detach every handler (idempotent); the figures stay readable."""
        node, self._node = self._node, None
        if node is not None:
            telemetry: Telemetry = node.telemetry
            for handler_id in self._handler_ids:
                telemetry.detach(handler_id)
        self._handler_ids.clear()

    @property
    def handler_ids(self) -> tuple[str, ...]:
        return tuple(self._handler_ids)

    # -- scraping ---------------------------------------------------------------------

    def samples(self) -> list[Sample]:
        """Every family, each family's samples together, in a stable order."""
        families: list[_Family] = [
            self.spawned,
            self.exited,
            self._running_processes(),
            self.restarts,
            self.crashes,
            self.intensity,
            self.jobs_started,
            self.jobs_stopped,
            self.jobs_failed,
            self.job_seconds,
            self.ports_started,
            self.ports_exited,
            self.port_seconds,
            self._port_memory(),
            self.stalls,
            self.stall_seconds,
            self.stall_max,
            self.http_seconds,
            self.ws_connects,
            self.ws_disconnects,
        ]
        samples: list[Sample] = []
        for family in families:
            samples.extend(family.samples())
        return samples

    def _running_processes(self) -> _Gauge:
        gauge = _Gauge("soundforge_processes", "processes alive now, by kind", ("kind",))
        if self._node is not None:
            counts: dict[str, int] = {}
            for proc in self._node.processes.values():
                counts[proc.kind] = counts.get(proc.kind, 0) + 1
            for kind, count in counts.items():
                gauge.set(count, kind)
        return gauge

    def _port_memory(self) -> _Gauge:
        totals: dict[str, int] = {}
        for label, rss in self._port_rss.values():
            totals[label] = totals.get(label, 0) + rss
        gauge = self.port_rss
        gauge.series.clear()
        for label, rss in totals.items():
            gauge.set(rss, label)
        return gauge

    # -- handlers (called synchronously by the emitter: keep them small) --------------

    def _spawn(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        self.spawned.inc(str(metadata.get("kind")))

    def _exit(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        self.exited.inc(str(metadata.get("kind")), _reason_class(metadata.get("reason")))

    def _child_exit(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        if not is_normal(metadata.get("reason")):
            supervisor = _process_label(metadata.get("supervisor"))
            self.crashes.inc(supervisor, _id_label(metadata.get("id")))

    def _restart(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        supervisor = _process_label(metadata.get("supervisor"))
        self.restarts.inc(supervisor, _id_label(metadata.get("id")))

    def _intensity(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        self.intensity.inc(_process_label(metadata.get("supervisor")))

    def _job_start(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        self.jobs_started.inc(str(metadata.get("queue")), str(metadata.get("worker")))

    def _job_stop(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        queue, worker = str(metadata.get("queue")), str(metadata.get("worker"))
        self.jobs_stopped.inc(queue, worker, str(metadata.get("state")))
        self.job_seconds.observe(float(measurements.get("duration", 0.0)), queue, worker)

    def _job_exception(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        queue, worker = str(metadata.get("queue")), str(metadata.get("worker"))
        state, kind = str(metadata.get("state")), str(metadata.get("kind"))
        self.jobs_failed.inc(queue, worker, state, kind)
        self.job_seconds.observe(float(measurements.get("duration", 0.0)), queue, worker)

    def _port_start(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        self.ports_started.inc(str(metadata.get("label")))

    def _port_exit(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        label = str(metadata.get("label"))
        status = metadata.get("status")
        reason = metadata.get("signal") or ("normal" if status == 0 else "error")
        self.ports_exited.inc(label, str(reason))
        self.port_seconds.inc(label, amount=float(measurements.get("duration", 0.0)))
        port = metadata.get("port")
        if isinstance(port, Pid):
            self._port_rss.pop(port.id, None)

    def _port_sample(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        port = metadata.get("port")
        if isinstance(port, Pid):
            self._port_rss[port.id] = (str(metadata.get("label")), int(measurements["rss"]))

    def _stall(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        duration = float(measurements.get("duration", 0.0))
        self.stalls.inc()
        self.stall_seconds.observe(duration)
        self.stall_max.set(max(duration, self.stall_max.series.get((), 0.0)))

    def _request(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        duration = float(measurements.get("duration", 0.0))
        self.http_seconds.observe(duration, str(metadata.get("group")))

    def _ws_connect(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        self.ws_connects.inc()

    def _ws_disconnect(
        self, _event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        self.ws_disconnects.inc()


def _reason_class(reason: ExitReason) -> str:
    """An exit reason as a bounded label: normal, shutdown, killed, noproc or error."""
    if reason is NORMAL:
        return "normal"
    if reason is KILLED:
        return "killed"
    if reason is NOPROC:
        return "noproc"
    return "shutdown" if is_normal(reason) else "error"


def _process_label(pid: Any) -> str:
    """A supervisor as a label: its registered name, else its behaviour's class name."""
    proc = resolve(pid) if isinstance(pid, Pid) else None
    if proc is None:
        return "unknown"
    if isinstance(proc.name, str):
        return proc.name
    if proc.behaviour is not None:
        return type(proc.behaviour).__name__
    return proc.kind


def _id_label(child_id: Hashable | None) -> str:
    """A child id as a label: ids are names (``"Repo"``), classes, or None (dynamic)."""
    if child_id is None:
        return ""
    if isinstance(child_id, str):
        text = child_id
    elif isinstance(child_id, type):
        text = child_id.__name__
    else:
        text = repr(child_id)
    return text[:_MAX_LABEL]


def _by_labels(item: tuple[tuple[str, ...], Any]) -> tuple[str, ...]:
    return item[0]
