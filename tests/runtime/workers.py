"""Test children for supervisor tests: servers that record what happened to them, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from soundforge.runtime.child_spec import ChildSpec, Restart, ShutdownSpec
from soundforge.runtime.exit import ProcessExit
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Reply, Stop
from soundforge.runtime.process import From, Pid, trap_exit
from soundforge.runtime.results import Error, StartResult


@dataclass
class Trace:
    """Every start and terminate of every test child, in the order they happened."""

    events: list[tuple[str, Any]] = field(default_factory=list)

    def starts(self) -> list[Any]:
        return [e[1] for e in self.events if e[0] == "start"]

    def stops(self) -> list[Any]:
        return [e[1] for e in self.events if e[0] == "stop"]

    def clear(self) -> None:
        self.events.clear()


@dataclass
class Behaviour:
    """How a test child behaves; shared and mutable so a test can change it between restarts."""

    trap: bool = False
    terminate_delay: float = 0.0
    terminate_wait: asyncio.Event | None = None
    exit_with: Any = None
    fail_starts_after: int | None = None
    starts: int = 0


class Child(GenServer[int]):
    """A counter that records its start and stop in a Trace."""

    async def init(self, arg: tuple[Any, Trace, Behaviour]) -> Any:
        self.id, self.trace, self.how = arg
        if self.how.trap:
            trap_exit(True)
        self.trace.events.append(("start", self.id))
        await asyncio.sleep(0)  # a start that takes a loop turn: the next must still wait for it
        self.trace.events.append(("started", self.id))
        return Init(0)

    def handle_call(self, request: Any, from_: From, count: int) -> Any:
        if request == "count":
            return Reply(count, count)
        if isinstance(request, tuple) and request[0] == "crash":
            return Stop(request[1], count, reply="crashing")
        return Reply(None, count)

    def handle_cast(self, msg: Any, count: int) -> Any:
        if msg == "incr":
            return NoReply(count + 1)
        if isinstance(msg, tuple) and msg[0] == "exit":
            raise ProcessExit(msg[1])
        return NoReply(count)

    async def terminate(self, reason: Any, count: int) -> None:
        self.trace.events.append(("stop", self.id))
        if self.how.terminate_wait is not None:
            await self.how.terminate_wait.wait()
        if self.how.terminate_delay:
            await asyncio.sleep(self.how.terminate_delay)
        self.trace.events.append(("stopped", self.id))
        if self.how.exit_with is not None:
            raise ProcessExit(self.how.exit_with)


async def start_child_server(cid: Any, trace: Trace, how: Behaviour) -> StartResult:
    """A start function that can be told to fail after N successful starts."""
    how.starts += 1
    if how.fail_starts_after is not None and how.starts > how.fail_starts_after:
        return Error(("start_failed", cid))
    return await Child.start_link((cid, trace, how))


def spec(
    cid: Any,
    trace: Trace,
    how: Behaviour | None = None,
    *,
    restart: Restart = Restart.PERMANENT,
    shutdown: ShutdownSpec | None = None,
    significant: bool = False,
    start: Callable[..., Any] | None = None,
) -> ChildSpec:
    return ChildSpec(
        id=cid,
        start=start or start_child_server,
        args=(cid, trace, how or Behaviour()),
        restart=restart,
        shutdown=shutdown,
        significant=significant,
    )


def pid_of(children: list[Any], cid: Any) -> Pid | None:
    for info in children:
        if info.id == cid:
            return info.pid  # type: ignore[no-any-return]
    raise AssertionError(f"no child {cid!r}")
