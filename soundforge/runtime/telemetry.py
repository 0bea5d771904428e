"""Telemetry: named events with measurements and metadata, in the shape of Erlang's telemetry.

The runtime emits events such as ``("runtime", "process", "exit")`` or
``("runtime", "supervisor", "restart")``; handlers attach to an exact event name and are
called synchronously, in the emitting process, with ``(event, measurements, metadata)``.
A handler that raises is detached and logged (telemetry's rule), so instrumentation can
never crash the code it observes.

    node.telemetry.attach("trace", ("runtime", "process", "exit"), handler)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Event", "Handler", "Telemetry"]

log = logging.getLogger(__name__)

Event = tuple[str, ...]
Handler = Callable[[Event, Mapping[str, Any], Mapping[str, Any]], None]


class Telemetry:
    """A node's event bus for instrumentation (not for application messages: use PubSub)."""

    __slots__ = ("_by_event", "_by_id")

    def __init__(self) -> None:
        self._by_id: dict[str, tuple[tuple[Event, ...], Handler]] = {}
        self._by_event: dict[Event, list[tuple[str, Handler]]] = {}

    def attach(self, handler_id: str, events: Event | list[Event], handler: Handler) -> None:
        """Call ``handler`` for each of ``events``; ``handler_id`` must be unique."""
        if handler_id in self._by_id:
            raise ValueError(f"a telemetry handler named {handler_id!r} is already attached")
        names = tuple(events) if isinstance(events, list) else (events,)
        self._by_id[handler_id] = (names, handler)
        for name in names:
            self._by_event.setdefault(name, []).append((handler_id, handler))

    def detach(self, handler_id: str) -> bool:
        entry = self._by_id.pop(handler_id, None)
        if entry is None:
            return False
        for name in entry[0]:
            handlers = [h for h in self._by_event.get(name, []) if h[0] != handler_id]
            if handlers:
                self._by_event[name] = handlers
            else:
                self._by_event.pop(name, None)
        return True

    def wants(self, event: Event) -> bool:
        """Cheap check for hot paths: is anyone listening to ``event``?"""
        return event in self._by_event

    def execute(
        self, event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        for handler_id, handler in self._by_event.get(event, ()):
            try:
                handler(event, measurements, metadata)
            except Exception:  # a broken handler must not break the emitter; telemetry detaches it
                log.exception("telemetry handler %r failed on %s; detaching it", handler_id, event)
                self.detach(handler_id)
