"""Clocks: where the runtime reads the time and arms its timers.

Every timer of the runtime (call timeouts, shutdown timeouts, idle timeouts, restart
intensity windows, receive timeouts) goes through the node's clock, so tests can replace
real time with a :class:`ManualClock` and exercise "the 4th crash within 5 seconds" or
"killed after the 300 ms shutdown timeout" without sleeping. Erlang has no such seam; OTP's
own suite sleeps instead.

    clock = ManualClock()
    async with Node(clock=clock) as node:
        ...
        await clock.advance(5.0)   # fire every timer due in the next 5 s, in order
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Clock", "LoopClock", "ManualClock", "TimerHandle"]


class TimerHandle(Protocol):
    """A timer that can be cancelled (``asyncio.TimerHandle`` satisfies this)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """The time source and timer service of a node."""

    def time(self) -> float:
        """Monotonic seconds."""
        ...

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` on the event loop at monotonic time ``when``."""
        ...

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` on the event loop ``delay`` seconds from now."""
        ...


class LoopClock:
    """The real clock: the running event loop's monotonic time and timers.

    The methods are the loop's own bound methods, so reading the time costs no extra call.
    """

    __slots__ = ("call_at", "call_later", "time")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.time: Callable[[], float] = loop.time
        self.call_at: Callable[..., TimerHandle] = loop.call_at
        self.call_later: Callable[..., TimerHandle] = loop.call_later


class _ManualTimer:
    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that only moves when a test calls :meth:`advance`."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _ManualTimer]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        timer = _ManualTimer(when, callback, args)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return self.call_at(self._now + delay, callback, *args)

    async def advance(self, seconds: float) -> None:
        """Move time forward, firing due timers in order and letting the loop run after each."""
        target = self._now + seconds
        await _settle()
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback(*timer.args)
            await _settle()
        self._now = target
        await _settle()

    def pending(self) -> int:
        """How many live timers are armed (for tests)."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)


async def _settle(rounds: int = 20) -> None:
    # Let the processes woken by a timer run (and the ones they wake) before time moves on.
    for _ in range(rounds):
        await asyncio.sleep(0)
