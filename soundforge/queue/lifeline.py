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
of after ``rescue_after``. Emits ``("queue", "lifeline", "rescue")`` with ``rescued`` and
``discarded`` counts when it rescued anything.

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
        timeout = ctx.config.op_timeout
        # The database must be there when the queues start (the Repo starts before them):
        # a failure here is this child's start failure, reported by its supervisor.
        async with pool_of(ctx.pool).acquire(timeout=timeout) as conn:
            started_at = await _sql.heartbeat(conn, ctx.node, None, dict(ctx.config.queues))
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
