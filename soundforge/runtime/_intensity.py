"""Restart intensity: at most ``max_restarts`` restarts within ``max_seconds`` (sliding).

OTP's rule: a restart is allowed while the restarts inside the window, this one included,
number at most ``max_restarts``; the one that makes it more shuts the supervisor down. One
restart *event* counts once however many children it restarts, and each failed restart
attempt is an event. Unlike OTP's list, the window is a deque trimmed from the old end, so a
restart costs O(1) amortised however many fall in the window.
"""

from __future__ import annotations

from collections import deque

__all__ = ["Intensity"]


class Intensity:
    __slots__ = ("_stamps", "max_restarts", "max_seconds")

    def __init__(self, max_restarts: int, max_seconds: float) -> None:
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self._stamps: deque[float] = deque()

    def add_restart(self, now: float) -> bool:
        """Record a restart at ``now``; False means the limit is exceeded (shut down)."""
        stamps = self._stamps
        stamps.append(now)
        threshold = now - self.max_seconds
        while stamps and stamps[0] <= threshold:
            stamps.popleft()
        return len(stamps) <= self.max_restarts

    def used(self, now: float) -> int:
        """Restarts inside the current window (what the admin console shows as budget used)."""
        threshold = now - self.max_seconds
        return sum(1 for t in self._stamps if t > threshold)
