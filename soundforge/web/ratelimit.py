"""Rate limits per user (or address) and per route group: token buckets, 429 + Retry-After.

Each group has a burst and a sustained rate; a bucket per (group, key) refills continuously.
Buckets live in the node's memory: behind a proxy with several web nodes each node limits on
its own, which bounds abuse without a database round trip per request.

    limiter = RateLimiter()
    wait = limiter.hit("auth", "203.0.113.9")   # None: allowed; else seconds to wait
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Final

import msgspec

__all__ = ["DEFAULT_LIMITS", "Limit", "RateLimiter"]


class Limit(msgspec.Struct, frozen=True):
    #: Requests allowed at once.
    burst: int
    #: Requests per second sustained.
    per_second: float


#: The route groups. ``auth`` (login, registration) is keyed by client address, the others
#: by user.
DEFAULT_LIMITS: Final[Mapping[str, Limit]] = {
    "auth": Limit(burst=10, per_second=10 / 60),
    "import": Limit(burst=30, per_second=30 / 60),
    "write": Limit(burst=60, per_second=2.0),
    "read": Limit(burst=600, per_second=100.0),
    "download": Limit(burst=120, per_second=10.0),
}

_MAX_BUCKETS: Final = 100_000


class RateLimiter:
    def __init__(
        self,
        limits: Mapping[str, Limit] = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(limits)
        self._clock = clock
        #: (group, key) -> (tokens, last refill time)
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def hit(self, group: str, key: str) -> float | None:
        """Take one token; None when allowed, else the seconds until one is available."""
        limit = self.limits[group]
        now = self._clock()
        tokens, last = self._buckets.get((group, key), (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - last) * limit.per_second)
        if tokens < 1.0:
            self._buckets[(group, key)] = (tokens, now)
            return (1.0 - tokens) / limit.per_second
        if len(self._buckets) >= _MAX_BUCKETS:
            self._prune(now)
        self._buckets[(group, key)] = (tokens - 1.0, now)
        return None

    def _prune(self, now: float) -> None:
        """Forget full buckets (they equal fresh ones), so memory stays bounded."""
        for bucket, (tokens, last) in list(self._buckets.items()):
            limit = self.limits[bucket[0]]
            if tokens + (now - last) * limit.per_second >= limit.burst:
                del self._buckets[bucket]
