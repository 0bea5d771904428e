"""The endpoint's own counters and the Prometheus text format (0.0.4) of ``GET /metrics``.

Only what the web layer itself knows: requests by route group and status class, request
time, WebSocket clients and events sent. Queue and database figures are read at scrape time
(see ``health``); the runtime's, the queue's and the ports' come from telemetry
(``telemetry_metrics``). The web layer's own telemetry events are named here:

* ``("web", "request", "stop")``: measurements ``duration`` (s); metadata ``group``,
  ``method``, ``status``, ``route`` (the URL rule, or None) and ``path``.
* ``("web", "websocket", "connect")``: ``count``; metadata ``user_id``.
* ``("web", "websocket", "disconnect")``: ``duration`` (s connected); metadata ``user_id``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, NamedTuple

__all__ = [
    "REQUEST_STOP",
    "WEBSOCKET_CONNECT",
    "WEBSOCKET_DISCONNECT",
    "Sample",
    "WebMetrics",
    "format_value",
    "render",
]

REQUEST_STOP: Final = ("web", "request", "stop")
WEBSOCKET_CONNECT: Final = ("web", "websocket", "connect")
WEBSOCKET_DISCONNECT: Final = ("web", "websocket", "disconnect")

#: The suffixes of a histogram's samples; its HELP and TYPE lines name the family without.
_HISTOGRAM_SUFFIXES: Final = ("_bucket", "_sum", "_count")


class Sample(NamedTuple):
    """One line of the exposition: ``name{labels} value``, with its family's type and help.

    A histogram's samples are named ``<family>_bucket`` (with an ``le`` label), ``_sum``
    and ``_count``, and typed ``histogram``.
    """

    name: str
    kind: str  # counter, gauge or histogram
    help: str
    labels: dict[str, str]
    value: float


@dataclass
class WebMetrics:
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    request_seconds: float = 0.0
    websocket_clients: int = 0
    websocket_events: int = 0
    websocket_dropped: int = 0

    def observe(self, group: str, status: int, seconds: float) -> None:
        self.requests[(group, f"{status // 100}xx")] += 1
        self.request_seconds += seconds


def render(samples: Iterable[tuple[str, str, str, Mapping[str, str], float]]) -> str:
    """Prometheus text: ``samples`` are (name, type, help, labels, value), each family's
    samples next to each other (a :class:`Sample` is such a tuple)."""
    lines: list[str] = []
    seen: set[str] = set()
    for name, kind, help_text, labels, value in samples:
        family = _family(name) if kind == "histogram" else name
        if family not in seen:
            seen.add(family)
            lines.append(f"# HELP {family} {help_text}")
            lines.append(f"# TYPE {family} {kind}")
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        number = format_value(value)
        lines.append(f"{name}{{{label_text}}} {number}" if label_text else f"{name} {number}")
    return "\n".join(lines) + "\n"


def format_value(value: float) -> str:
    """A sample value (or an ``le`` bound) as Prometheus reads it.

    Whole numbers are written in full (``:g`` would round a byte count to six digits),
    others with every digit Python keeps; infinities as ``+Inf``/``-Inf``.
    """
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _family(name: str) -> str:
    for suffix in _HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
