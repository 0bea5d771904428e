"""The endpoint's own counters, for ``GET /metrics`` (Prometheus text format 0.0.4).

Only what the web layer itself knows: requests by route group and status class, request
time, WebSocket clients and events sent. Queue and database figures are read at scrape time
(see ``health``); the runtime's telemetry joins with the admin-console issue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["WebMetrics", "render"]


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


def render(samples: list[tuple[str, str, str, dict[str, str], float]]) -> str:
    """Prometheus text: ``samples`` are (name, type, help, labels, value), grouped by name."""
    lines: list[str] = []
    seen: set[str] = set()
    for name, kind, help_text, labels, value in samples:
        if name not in seen:
            seen.add(name)
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        lines.append(f"{name}{{{label_text}}} {value:g}" if label_text else f"{name} {value:g}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
