"""The Lifeline: heartbeats of this node, and the rescue of jobs whose node died.

Mirrors ``Oban.Plugins.Lifeline`` with a heartbeat, like Oban Pro's ``DynamicLifeline``. Every
``heartbeat_interval`` (default a quarter of ``rescue_after``) the node writes its heartbeat
into ``queue_nodes``, then rescues executing jobs whose node

* has no row (it stopped cleanly and gave its jobs back, or was never registered),
* has not heartbeated for ``rescue_after`` seconds (killed, partitioned), or
* has started again since the job was claimed (``attempted_at < started_at``: the node
  crashed and came back under the same name before anyone noticed).

A rescued job goes back to ``available`` (or ``discarded`` when its attempts are used up)
with an error entry of kind ``rescued``. The rescue is one ``UPDATE`` over rows selected
``FOR UPDATE SKIP LOCKED`` and re-checked as still executing, so with several lifelines
racing each job is rescued exactly once. Every node runs one; no leader is needed.

The lifeline starts before the queues (its first heartbeat is in ``init``, so no job is ever
claimed by a node without a row) and stops after them; on a clean stop it gives back what
its node still holds and deletes its row, so other nodes pick the work up at once instead
of after ``rescue_after``. A node's *run* begins with its first lifeline; one restarted by
its supervisor continues that run (its start is kept on the runtime node), since the
node's producers are still running the jobs they claimed. Emits ``("queue", "lifeline",
"rescue")`` with ``rescued`` and ``discarded`` counts when it rescued anything.

Differences from Oban: Oban's open-source lifeline rescues by age alone (``rescue_after``,
default 60 min) and so may re-run jobs that are still running; heartbeats make the rescue
depend on the node's death, not on how long a job runs.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final

import msgspec

from soundforge.queue import _sql
from soundforge.queue._db import TRANSIENT, pool_of
from soundforge.queue.config import QueueContext
from soundforge.runtime.exit import ExitReason
from soundforge.runtime.gen_server import GenServer, Init, NoReply
from soundforge.runtime.process import Process, current_process

__all__ = ["Lifeline"]

log = logging.getLogger(__name__)

RESCUE: Final = ("queue", "lifeline", "rescue")
#: Where a runtime node keeps the start of each queue tree's run (``node.extensions``).
_RUNS: Final = "soundforge.queue.lifeline.runs"
#: Backoff between attempts of the first heartbeat while the database is unreachable.
_FIRST_BACKOFF: Final = 0.1
_MAX_FIRST_BACKOFF: Final = 2.0


class _Tick(msgspec.Struct, frozen=True):
    pass


class _State:
    __slots__ = ("ctx", "failing", "proc", "started_at")

    def __init__(self, ctx: QueueContext, proc: Process, started_at: datetime) -> None:
        self.ctx = ctx
        self.proc = proc
        self.started_at = started_at
        self.failing = False


class Lifeline(GenServer[_State]):
    """Heartbeats this node and rescues the jobs of dead ones."""

    async def init(self, ctx: QueueContext) -> Init[_State]:
        proc = current_process()
        assert proc is not None
        proc.trap_exit = True  # terminate gives the node's jobs back on a clean stop
        started_at = await _first_heartbeat(ctx, proc)
        state = _State(ctx, proc, started_at)
        self._arm(state)
        return Init(state)

    def _arm(self, state: _State) -> None:
        clock = state.proc.node.clock
        clock.call_later(state.ctx.config.heartbeat_every, state.proc.deliver, _Tick())

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State]:
        if type(msg) is _Tick:
            await self._tick(state)
            self._arm(state)
        return NoReply(state)

    async def _tick(self, state: _State) -> None:
        ctx = state.ctx
        try:
            async with pool_of(ctx.pool).acquire(timeout=ctx.config.op_timeout) as conn:
                await _sql.heartbeat(conn, ctx.node, state.started_at, dict(ctx.config.queues))
                rescued = await _sql.rescue(conn, ctx.config.rescue_after)
        except TRANSIENT as error:
            if not state.failing:
                log.warning("the lifeline of %s cannot reach the database (%s)", ctx.node, error)
            state.failing = True
            return
        if state.failing:
            log.info("the lifeline of %s reaches the database again", ctx.node)
        state.failing = False
        if rescued:
            discarded = sum(1 for _, _, s in rescued if s == "discarded")
            log.warning(
                "rescued %d jobs of dead nodes (%d discarded, out of attempts)",
                len(rescued),
                discarded,
            )
            tele = state.proc.node.telemetry
            if tele.wants(RESCUE):
                tele.execute(
                    RESCUE,
                    {"rescued": len(rescued) - discarded, "discarded": discarded},
                    {"node": ctx.node, "jobs": [job_id for job_id, _, _ in rescued]},
                )

    async def terminate(self, reason: ExitReason, state: _State) -> None:
        ctx = state.ctx
        try:
            async with pool_of(ctx.pool).acquire(timeout=ctx.config.op_timeout) as conn:
                given_back = await _sql.release_node(conn, ctx.node)
        except TRANSIENT as error:
            log.warning(
                "node %s stopped without reaching the database (%s); its jobs will be "
                "rescued after %g s",
                ctx.node,
                error,
                ctx.config.rescue_after,
            )
            return
        if given_back:
            log.info("node %s gave back %d unfinished jobs as it stopped", ctx.node, given_back)

    def format_status(self, state: _State) -> Any:
        return {"node": state.ctx.node, "started_at": state.started_at.isoformat()}


async def _first_heartbeat(ctx: QueueContext, proc: Process) -> datetime:
    """Register the node before any job can be claimed; the database must answer.

    At boot the Repo starts first, so it does. But the queues may also be restarted while
    PostgreSQL restarts (the chaos harness does both): failing at once would make the
    supervisor above retry at once, and spend its whole restart intensity within
    milliseconds. So a transient failure is retried with capped backoff, on the node's
    clock, for up to ``op_timeout``; after that it is this child's start failure, reported
    by its supervisor.
    """
    clock = proc.node.clock
    deadline = clock.time() + ctx.config.op_timeout
    delay = _FIRST_BACKOFF
    # The node's run outlives this process: a lifeline restarted by its supervisor continues
    # it, or its own producers' running jobs would look claimed by a dead run and be rescued
    # (and run twice) while they still run.
    runs: dict[tuple[str, str], datetime] = proc.node.extensions.setdefault(_RUNS, {})
    key = (ctx.config.name, ctx.node)
    while True:
        try:
            async with pool_of(ctx.pool).acquire(timeout=ctx.config.op_timeout) as conn:
                started_at: datetime = await _sql.heartbeat(
                    conn, ctx.node, runs.get(key), dict(ctx.config.queues)
                )
                runs[key] = started_at
                return started_at
        except TRANSIENT as error:
            if clock.time() + delay > deadline:
                raise
            if delay == _FIRST_BACKOFF:
                log.warning("the lifeline of %s waits for the database (%s)", ctx.node, error)
        woken = proc.node.loop.create_future()
        timer = clock.call_later(delay, woken.set_result, None)
        try:
            await woken
        finally:
            timer.cancel()
        delay = min(delay * 2, _MAX_FIRST_BACKOFF)
