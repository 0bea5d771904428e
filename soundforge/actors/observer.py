"""The Observer: the node's supervision tree sampled for the admin console (Erlang's observer).

Once a second, while anyone follows :data:`TOPIC` (the console's WebSocket), the observer
takes the tree (``runtime.introspect.tree``), adds what only sampling can tell — messages
handled per second, each port's CPU, each queue producer's jobs by state from the database —
and broadcasts it on this node (:class:`ActorsSnapshot`). A ``call`` with :class:`Sample`
answers the same snapshot at once (the JSON API and the CLI). Nobody following, no sampling.

The processes that serve requests and sockets (kinds ``http`` and ``websocket``: one per
request, one per browser tab; they have no parent, like Cowboy's connection processes, and
sit at the top of the tree) would drown the tree under a busy endpoint, so the childless
processes of those kinds under one parent (or at the top) are folded into one entry per
kind (``status`` says how many, ``rate`` sums theirs).

Each snapshot is this node's: nodes share a database, not their processes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

import msgspec
import psutil  # type: ignore[import-untyped]  # no stubs installed

from soundforge.actors import repo
from soundforge.queue import live_counts
from soundforge.runtime import pubsub
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Reply
from soundforge.runtime.introspect import ActorsSnapshot, ProcessInfo, tree
from soundforge.runtime.process import From, current_process
from soundforge.runtime.results import StartResult

__all__ = ["DEFAULT_NAME", "TOPIC", "ActorsSnapshot", "Observer", "ObserverOptions", "Sample"]

log = logging.getLogger(__name__)

DEFAULT_NAME: Final = "soundforge.observer"
#: Local topic of the snapshots (admins only: see ``web.live.may_subscribe``).
TOPIC: Final = "admin:actors"
#: Kinds folded into one entry per parent (see the module's docstring).
FOLDED_KINDS: Final = frozenset({"http", "websocket"})
_LIVE_STATES: Final = ("available", "executing", "retryable", "scheduled")


class Sample(msgspec.Struct, frozen=True):
    """Call: a snapshot now."""


class _Tick(msgspec.Struct, frozen=True):
    pass


class ObserverOptions(msgspec.Struct, frozen=True):
    repo: str
    pubsub: str
    interval: float = 1.0


@dataclass
class _State:
    options: ObserverOptions
    #: pid → (messages handled, when) at the last sample, for rates.
    handled: dict[str, tuple[int, float]] = field(default_factory=dict)
    #: OS pid → psutil handle (cpu_percent measures since its previous call on it).
    programs: dict[int, Any] = field(default_factory=dict)


class Observer(GenServer[_State]):
    """Samples this node's tree for the admin console."""

    kind: ClassVar[str] = "gen_server"

    @classmethod
    def spec(cls, options: ObserverOptions) -> ChildSpec:
        """The child spec, registered as :data:`DEFAULT_NAME`."""
        return ChildSpec(id=cls, start=_start, args=(options,))

    def init(self, options: ObserverOptions) -> Init[_State]:
        state = _State(options)
        self._schedule(state)
        return Init(state)

    async def handle_call(self, request: Any, from_: From, state: _State) -> Reply[_State]:
        if isinstance(request, Sample):
            return Reply(await self._sample(state), state)
        raise ValueError(f"unknown observer request {request!r}")

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State]:
        if isinstance(msg, _Tick):
            self._schedule(state)
            if pubsub.subscribers(state.options.pubsub, TOPIC):
                snapshot = await self._sample(state)
                pubsub.local_broadcast(state.options.pubsub, TOPIC, snapshot)
        return NoReply(state)

    def format_status(self, state: _State) -> Any:
        return {"interval": state.options.interval, "followed": len(state.handled) > 0}

    def _schedule(self, state: _State) -> None:
        proc = current_process()
        assert proc is not None
        proc.node.clock.call_later(state.options.interval, proc.deliver, _Tick())

    async def _sample(self, state: _State) -> ActorsSnapshot:
        proc = current_process()
        assert proc is not None
        node = proc.node
        now = time.monotonic()
        roots = tree(node)
        counts = await self._queue_counts(state)
        seen: dict[str, tuple[int, float]] = {}
        live: set[int] = set()
        for root in roots:
            _enrich(root, state, seen, live, now, counts)
        state.handled = seen
        for os_pid in [p for p in state.programs if p not in live]:
            del state.programs[os_pid]
        return ActorsSnapshot(node.name, time.time(), len(node.processes), _fold(roots), TOPIC)

    async def _queue_counts(self, state: _State) -> dict[str, dict[str, int]] | None:
        """Jobs by queue and live state, from the partial indexes (never the history)."""
        try:
            async with repo.connection(state.options.repo, timeout=1.0) as conn:
                counts = await live_counts(conn, timeout=1.0)
        except Exception as error:  # the console must show the tree while the database is down
            log.debug("observer: no queue counts (%s)", error)
            return None
        return {queue: dict.fromkeys(_LIVE_STATES, 0) | n for queue, n in counts.items()}


async def _start(options: ObserverOptions) -> StartResult:
    return await Observer.start_link(options, name=DEFAULT_NAME)


def _enrich(
    info: ProcessInfo,
    state: _State,
    seen: dict[str, tuple[int, float]],
    live: set[int],
    now: float,
    counts: dict[str, dict[str, int]] | None,
) -> None:
    if info.pid is not None:
        seen[info.pid] = (info.handled, now)
        before = state.handled.get(info.pid)
        if before is not None and now > before[1]:
            info.rate = round((info.handled - before[0]) / (now - before[1]), 1)
    if info.os_pid is not None:
        live.add(info.os_pid)
        info.cpu_percent = _cpu(state, info.os_pid)
    summary = info.summary
    if counts is not None and _is_producer(summary):
        info.counts = counts.get(summary["queue"], dict.fromkeys(_LIVE_STATES, 0))
    for child in info.children:
        _enrich(child, state, seen, live, now, counts)
    info.children = _fold(info.children)


def _is_producer(summary: Any) -> bool:
    """A queue producer's ``format_status`` (its QueueInfo)."""
    return isinstance(summary, dict) and {"queue", "limit", "running"} <= summary.keys()


def _cpu(state: _State, os_pid: int) -> float | None:
    program = state.programs.get(os_pid)
    try:
        if program is None:
            program = state.programs[os_pid] = psutil.Process(os_pid)
            program.cpu_percent(None)  # the first call only starts the measurement
            return None
        return round(float(program.cpu_percent(None)), 1)
    except psutil.Error:
        return None


def _fold(children: list[ProcessInfo]) -> list[ProcessInfo]:
    """One entry per folded kind for a parent's childless request/socket processes."""
    folded: dict[str, list[ProcessInfo]] = {}
    kept: list[ProcessInfo] = []
    for child in children:
        if child.kind in FOLDED_KINDS and not child.children:
            folded.setdefault(child.kind, []).append(child)
        else:
            kept.append(child)
    for kind, group in folded.items():
        kept.append(
            ProcessInfo(
                pid=None,
                kind=kind,
                status=f"{len(group)} open",
                child_id=f"{len(group)} {kind} process{'es' if len(group) > 1 else ''}",
                mailbox=sum(c.mailbox for c in group),
                handled=sum(c.handled for c in group),
                rate=round(sum(c.rate or 0.0 for c in group), 1),
            )
        )
    return kept
