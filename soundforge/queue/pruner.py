"""The Pruner: deletes finished jobs once their history is older than the retention period.

Mirrors ``Oban.Plugins.Pruner``: every ``prune_interval`` seconds it deletes jobs that are
``completed``, ``cancelled`` or ``discarded`` and finished more than ``prune_after`` seconds
ago, ``prune_limit`` per statement; while a statement fills its limit it goes on, up to
``_MAX_ROUNDS`` statements a tick, so a backlog drains without one huge transaction. It
emits ``("queue", "pruner", "stop")`` with the ``pruned`` count. Several nodes may prune at
once: the rows are taken ``FOR UPDATE SKIP LOCKED``, so they share the work instead of
waiting on each other, and each node's pruner is an independent actor (no leader needed:
deleting a row twice is impossible, and pruning is idempotent).

Differences from Oban: the age is measured from when the job finished (``completed_at``,
``cancelled_at``, ``discarded_at``), and the default retention is a week rather than a
minute, because the dashboard shows a job's history (attempts and errors). A database
outage skips a round with one warning; the next round tries again.

    QueueConfig(prune_after=3 * 86400, prune_interval=300)   # keep three days
"""

from __future__ import annotations

import logging
from typing import Any, Final

import msgspec

from soundforge.queue import _sql
from soundforge.queue._db import TRANSIENT, pool_of
from soundforge.queue.config import QueueContext
from soundforge.runtime.gen_server import GenServer, Init, NoReply
from soundforge.runtime.process import Process, current_process

__all__ = ["Pruner"]

log = logging.getLogger(__name__)

PRUNED: Final = ("queue", "pruner", "stop")
#: Statements one tick may run when each deletes a full ``prune_limit``.
_MAX_ROUNDS: Final = 10


class _Tick(msgspec.Struct, frozen=True):
    pass


class _State:
    __slots__ = ("ctx", "failing", "proc", "pruned")

    def __init__(self, ctx: QueueContext, proc: Process) -> None:
        self.ctx = ctx
        self.proc = proc
        self.failing = False
        self.pruned = 0


class Pruner(GenServer[_State]):
    """Keeps the jobs table to the retention period."""

    def init(self, ctx: QueueContext) -> Init[_State]:
        proc = current_process()
        assert proc is not None
        state = _State(ctx, proc)
        self._arm(state)
        return Init(state)

    def _arm(self, state: _State) -> None:
        clock = state.proc.node.clock
        clock.call_later(state.ctx.config.prune_interval, state.proc.deliver, _Tick())

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State]:
        if type(msg) is _Tick:
            await self._prune(state)
            self._arm(state)
        return NoReply(state)

    async def _prune(self, state: _State) -> None:
        config = state.ctx.config
        pruned = 0
        try:
            async with pool_of(state.ctx.pool).acquire(timeout=config.op_timeout) as conn:
                for _ in range(_MAX_ROUNDS):
                    deleted = await _sql.prune(conn, config.prune_after, config.prune_limit)
                    pruned += deleted
                    if deleted < config.prune_limit:
                        break
        except TRANSIENT as error:
            if not state.failing:
                log.warning("the job pruner cannot reach the database (%s)", error)
            state.failing = True
            return
        state.failing = False
        state.pruned += pruned
        tele = state.proc.node.telemetry
        if tele.wants(PRUNED):
            tele.execute(PRUNED, {"pruned": pruned}, {"node": state.ctx.node})

    def format_status(self, state: _State) -> Any:
        """What the admin console shows: the total pruned by this node and the settings."""
        return {
            "pruned": state.pruned,
            "prune_after": state.ctx.config.prune_after,
            "prune_interval": state.ctx.config.prune_interval,
        }
