"""Call deadlines without one timer per call.

``asyncio.timeout`` or a ``call_at`` handle per call costs 2-6 µs, as much as the call
itself. Calls with the same timeout expire in the order they were made, so each distinct
timeout value gets a FIFO of pending calls and a single armed timer for its head; finished
calls are dropped from the head lazily. A call costs one ``deque.append``.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from soundforge.runtime.clock import Clock
from soundforge.runtime.errors import CallTimeout

if TYPE_CHECKING:
    from soundforge.runtime.process import From

__all__ = ["Deadlines"]


class Deadlines:
    __slots__ = ("_armed", "_clock", "_queues", "_time")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._time = clock.time
        self._queues: dict[float, deque[tuple[float, From]]] = {}
        self._armed: set[float] = set()

    def add(self, from_: From, timeout: float) -> None:
        """Fail ``from_`` with :class:`CallTimeout` unless it is answered within ``timeout``."""
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = deque()
        else:
            while queue and queue[0][1].fut.done():
                queue.popleft()
        deadline = self._time() + timeout
        queue.append((deadline, from_))
        if timeout not in self._armed:
            self._armed.add(timeout)
            self._clock.call_at(deadline, self._expire, timeout)

    def _expire(self, timeout: float) -> None:
        queue = self._queues[timeout]
        now = self._clock.time()
        while queue:
            deadline, from_ = queue[0]
            fut = from_.fut
            if fut.done():
                queue.popleft()
            elif deadline <= now:
                queue.popleft()
                fut.set_exception(CallTimeout(from_.server.pid, from_.request, timeout))
            else:
                self._clock.call_at(deadline, self._expire, timeout)
                return
        self._armed.discard(timeout)
        del self._queues[timeout]
