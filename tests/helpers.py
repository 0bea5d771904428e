"""Small helpers for tests: bounded waiting, never an unbounded sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(predicate: Callable[[], bool], timeout: float = 2.0, what: str = "") -> None:
    """Wait until ``predicate()`` is true, polling the loop; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what or predicate}")
        await asyncio.sleep(0.001)


async def settle(rounds: int = 50) -> None:
    """Let every runnable process run (a bounded number of loop iterations)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
