"""Small helpers for tests: bounded waiting, never an unbounded sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from soundforge.runtime import pubsub
from soundforge.runtime.exit import KILL
from soundforge.runtime.process import exit as exit_process
from soundforge.runtime.process import receive, spawn


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


class Follower:
    """A process subscribed to a PubSub topic that records what arrives (``events``).

    async with Follower(NAMES.pubsub, "mixer:...") as follower:
        ...
        await eventually(lambda: bool(follower.events))
    """

    def __init__(self, pubsub_name: str, topic: str) -> None:
        self.pubsub_name = pubsub_name
        self.topic = topic
        self.events: list[Any] = []

    async def __aenter__(self) -> Follower:
        ready = asyncio.Event()

        async def follow() -> None:
            pubsub.subscribe(self.pubsub_name, self.topic)
            ready.set()
            while True:
                self.events.append(await receive())

        self.pid = spawn(follow)
        await asyncio.wait_for(ready.wait(), 5)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        exit_process(self.pid, KILL)
