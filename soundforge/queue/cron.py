"""Cron: inserts the crontab's jobs when their minute comes, on one leader across nodes.

Mirrors ``Oban.Plugins.Cron`` with Oban's ``Peers.Database`` leadership replaced by a
PostgreSQL session advisory lock: every ``cron_interval`` a node that is not the leader
takes a connection and tries ``pg_try_advisory_lock``; the one that gets it keeps that
connection (and so the lock) for as long as it lives. When the leader dies — killed, its
node gone, its connection cut — PostgreSQL releases the lock with the session and another
node takes over at its next try. (A killed leader's connection is closed by an exit hook,
so leadership moves even when the process dies without running ``terminate``.)

The leader checks each new minute (UTC) against every entry and inserts the due jobs with
``meta = {"cron": true, "cron_expr": expr}``, unique per (entry, minute) in every state, so
a leader that changes mid-minute cannot insert a minute's job twice. Missed minutes are not
caught up (Oban's behaviour). Emits ``("queue", "cron", "leader")`` with ``{"leader": bool}``
on each change and ``("queue", "cron", "insert")`` per inserted job.

    QueueConfig(crontab=[CronEntry("*/5 * * * *", Rescan), CronEntry("@daily", Cleanup)])

Differences from Oban: no ``@reboot``, no time zones (see ``crontab.py``); leadership is the
advisory lock alone, with no peers table.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from soundforge.queue import _sql, engine
from soundforge.queue._db import TRANSIENT, Held, hold
from soundforge.queue.config import QueueContext
from soundforge.queue.crontab import CronEntry, Schedule, parse
from soundforge.queue.job import ALL_STATES, digest, new_job
from soundforge.runtime.exit import ExitReason
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Reply
from soundforge.runtime.process import From, Process, current_process

__all__ = ["Cron", "IsLeader"]

log = logging.getLogger(__name__)

LEADER: Final = ("queue", "cron", "leader")
INSERT: Final = ("queue", "cron", "insert")


class IsLeader(msgspec.Struct, frozen=True):
    """Call: is this node's cron the leader?"""


class _Tick(msgspec.Struct, frozen=True):
    pass


class _Lost(msgspec.Struct, frozen=True):
    pass


class _State:
    __slots__ = ("ctx", "entries", "held", "last_minute", "proc")

    def __init__(self, ctx: QueueContext, proc: Process) -> None:
        self.ctx = ctx
        self.proc = proc
        self.entries: list[tuple[CronEntry, Schedule]] = [
            (entry, parse(entry.expr)) for entry in ctx.config.crontab
        ]
        self.held: Held | None = None
        self.last_minute: datetime | None = None

    @property
    def leader(self) -> bool:
        return self.held is not None


class Cron(GenServer[_State]):
    """The crontab of one ``Queues`` tree; only the leader across nodes inserts."""

    def init(self, ctx: QueueContext) -> Init[_State]:
        proc = current_process()
        assert proc is not None
        proc.trap_exit = True  # terminate releases the leadership at once on a clean stop
        state = _State(ctx, proc)
        if state.entries:
            proc.deliver(_Tick())
        return Init(state)

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State]:
        kind = type(msg)
        if kind is _Tick:
            await self._tick(state)
            state.proc.node.clock.call_later(
                state.ctx.config.cron_interval, state.proc.deliver, _Tick()
            )
        elif kind is _Lost and state.held is not None and state.held.lost:
            self._resign(state, "its connection closed")
        return NoReply(state)

    def handle_call(self, request: Any, from_: From, state: _State) -> Reply[_State]:
        if type(request) is IsLeader:
            return Reply(state.leader, state)
        raise ValueError(f"unknown cron request {request!r}")

    async def terminate(self, reason: ExitReason, state: _State) -> None:
        if state.held is not None:
            await state.held.release()
            state.held = None

    def format_status(self, state: _State) -> Any:
        return {"leader": state.leader, "entries": [e.expr for e, _ in state.entries]}

    # -- leadership ------------------------------------------------------------------------

    async def _tick(self, state: _State) -> None:
        if state.held is None:
            await self._try_lead(state)
        if state.held is None:
            return
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        if minute == state.last_minute:
            return
        try:
            for entry, schedule in state.entries:
                if schedule.matches(minute):
                    await self._insert(state, entry, minute)
        except TRANSIENT as error:
            self._resign(state, f"the database failed ({error})")
            return
        state.last_minute = minute

    async def _try_lead(self, state: _State) -> None:
        proc = state.proc
        held: Held | None = None
        try:
            held = await hold(proc, state.ctx.pool, lambda: proc.deliver(_Lost()))
            won = await _sql.try_lock(held.conn, f"{state.ctx.config.name}:cron")
        except TRANSIENT as error:
            if held is not None:
                held.kill()
            log.debug("cron could not try for leadership: %s", error)
            return
        if not won:
            await held.release()
            return
        state.held = held
        state.last_minute = None
        log.info("cron on %s is now the leader", state.ctx.node)
        self._switch(state, True)

    def _resign(self, state: _State, why: str) -> None:
        if state.held is not None:
            state.held.kill()  # the lock goes with the session
            state.held = None
        log.warning("cron on %s is no longer the leader: %s", state.ctx.node, why)
        self._switch(state, False)

    def _switch(self, state: _State, leader: bool) -> None:
        tele = state.proc.node.telemetry
        if tele.wants(LEADER):
            tele.execute(LEADER, {"count": 1}, {"leader": leader, "node": state.ctx.node})

    # -- inserting -------------------------------------------------------------------------

    async def _insert(self, state: _State, entry: CronEntry, minute: datetime) -> None:
        assert state.held is not None
        job = new_job(
            entry.worker,
            entry.args,
            queue=entry.queue,
            priority=entry.priority,
            max_attempts=entry.max_attempts,
            meta={"cron": True, "cron_expr": entry.expr},
            unique=None,
        )
        key = digest(["cron", job.worker, job.queue, entry.expr, job.args, minute.isoformat()])
        job = msgspec.structs.replace(
            job, unique_key=key, unique_period=None, unique_states=ALL_STATES
        )
        record = await engine.insert_job(state.held.conn, job)
        tele = state.proc.node.telemetry
        if not record.conflict and tele.wants(INSERT):
            tele.execute(INSERT, {"count": 1}, {"job": record, "expr": entry.expr})
