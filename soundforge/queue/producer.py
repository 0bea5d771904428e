"""The Producer: one actor per queue and node that claims jobs and runs them as tasks.

Mirrors ``Oban.Queue.Producer`` with its foreman and watchman. Each queue is a small
supervisor (:class:`QueueSupervisor`, one_for_all like Oban's) of the foreman (where every
job attempt runs as a task, see ``foreman.py``) and the producer, which:

* claims jobs in batches sized to its free capacity (``limit`` minus running) with one
  ``UPDATE … WHERE id = ANY(ARRAY(SELECT … FOR UPDATE SKIP LOCKED LIMIT demand)) RETURNING``;
* collects finished attempts and acknowledges them in batches, in the statement that claims
  the next batch when every outcome is a completion (the busy queue's usual case);
* wakes on an ``insert`` notification, on its poll timer (``poll_interval``; also when it
  stages its queue's due scheduled/retryable jobs) and when the notifier reconnects;
* pauses, resumes and scales on local calls or NOTIFY signals from any node;
* on ``pkill`` has the foreman terminate the task of a cancelled executing job;
* on shutdown stops claiming and gives running jobs ``shutdown_grace`` to finish (Oban's
  watchman), acknowledges what finished, and leaves the rest to the lifeline.

Database work never runs in the producer's own loop. A *step* (reconcile, stage,
acknowledge, claim, as needed) runs in a linked helper task on one of two *lanes*: a lane is
a connection the producer keeps across steps (released when it stops, terminated by an exit
hook if it is killed, dropped and taken again after a failed step) with at most one step in
flight. A step takes every finished attempt not yet sent and claims the free capacity, so
each batch costs one round trip and one commit, and with two lanes a batch is claimed while
the other lane's step is still in flight. While jobs run, a step waits until half a batch is
ready (finished attempts or free capacity) or ``_FLUSH_AFTER`` has passed, so a busy queue
makes one round trip per batch, not per job. A failed step (PostgreSQL restarting) is
retried with backoff and its acknowledgements are kept; since a claim may have committed
unseen, the next step first *reconciles*: jobs this node holds as executing in this queue
but does not run go back to available. A reconciling step runs alone, after the claims in
flight have answered. A fresh producer starts by reconciling too, which rescues the jobs of
a producer that crashed on a live node.

Differences from Oban: staging of due jobs is done by each queue's producers with SKIP
LOCKED instead of by one elected stager, so no leader is needed for scheduled jobs to run,
and a queue no node runs is not staged at all. Acknowledgements are batched and share the
next claim's statement (Oban's basic engine acks each job from its own process).
"""

from __future__ import annotations

import logging
from typing import Any, Final

import msgspec

from soundforge.queue import _sql, signals
from soundforge.queue._db import Kept
from soundforge.queue._names import clear_leftovers
from soundforge.queue._running import Running
from soundforge.queue.config import QueueContext
from soundforge.queue.executor import Outcome, Released
from soundforge.queue.foreman import Died, Done, Foreman
from soundforge.runtime.child_spec import ChildSpec, Strategy
from soundforge.runtime.exit import ExitReason
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Reply
from soundforge.runtime.process import Down, Exit, From, Pid, Process, current_process, demonitor
from soundforge.runtime.results import StartResult
from soundforge.runtime.supervisor import Supervisor, SupervisorSpec
from soundforge.runtime.task import Task, TaskReply, async_task

__all__ = [
    "Check",
    "Pause",
    "Producer",
    "QueueInfo",
    "QueueSetup",
    "QueueSupervisor",
    "Resume",
    "Scale",
]

log = logging.getLogger(__name__)

SHUTDOWN_EVENT: Final = ("queue", "queue", "shutdown")
_MAX_BACKOFF: Final = 2.0
#: The longest a finished job waits for its acknowledgement to be batched with others.
_FLUSH_AFTER: Final = 0.005


class QueueInfo(msgspec.Struct, frozen=True):
    """``check_queue``: a producer's view of its queue on this node."""

    queue: str
    node: str
    limit: int
    paused: bool
    running: list[int]


class Pause(msgspec.Struct, frozen=True):
    """Local call: stop claiming (running jobs go on)."""


class Resume(msgspec.Struct, frozen=True):
    """Local call: claim again."""


class Scale(msgspec.Struct, frozen=True):
    """Local call: change this node's concurrency limit of the queue."""

    limit: int


class Check(msgspec.Struct, frozen=True):
    """Ask a producer for its :class:`QueueInfo`."""


class _Poll(msgspec.Struct, frozen=True):
    pass


class _Retry(msgspec.Struct, frozen=True):
    pass


class _Flush(msgspec.Struct, frozen=True):
    pass


class QueueSetup(msgspec.Struct, frozen=True):
    """What one queue's supervisor and producer start from."""

    ctx: Any  # QueueContext (not a msgspec type: it holds the pool)
    queue: str
    limit: int


class _Lane:
    """One of the producer's two database lanes: a connection kept across steps and the
    step in flight on it, with what that step carries."""

    __slots__ = ("acking", "conn", "demand", "op", "reconciling")

    def __init__(self, proc: Process) -> None:
        self.conn = Kept(proc)
        self.op: Task | None = None
        self.acking: list[Outcome] = []  # sent with the step in flight
        self.demand = 0  # claimed by the step in flight
        self.reconciling = False


class _State(Running):
    __slots__ = (
        "acks",
        "backing_off",
        "failures",
        "flush_armed",
        "flush_due",
        "lanes",
        "limit",
        "more",
        "paused",
        "reconcile",
        "stage",
        "wake",
    )

    def __init__(
        self, ctx: QueueContext, queue: str, limit: int, proc: Process, foreman: Pid
    ) -> None:
        super().__init__(ctx, queue, proc, foreman)
        self.limit = limit
        self.paused = False
        self.acks: list[Outcome] = []  # finished, not yet sent
        self.lanes: tuple[_Lane, _Lane] = (_Lane(proc), _Lane(proc))
        self.wake = True  # look for work at start
        self.more = False
        self.stage = True
        self.reconcile = True
        self.failures = 0
        self.backing_off = False
        self.flush_armed = False
        self.flush_due = False

    def ops(self) -> tuple[Task | None, ...]:
        return tuple(lane.op for lane in self.lanes)


class Producer(GenServer[_State]):
    """Claims and runs the jobs of one queue on this node."""

    def init(self, setup: QueueSetup) -> Init[_State]:
        proc = current_process()
        assert proc is not None
        proc.trap_exit = True  # terminate runs on shutdown: drain, then acknowledge
        # The foreman starts first and restarts with us (one_for_all): look it up once.
        foreman = proc.node.names[setup.ctx.name("foreman", setup.queue)].pid
        state = _State(setup.ctx, setup.queue, setup.limit, proc, foreman)
        proc.node.clock.call_later(setup.ctx.config.poll_interval, proc.deliver, _Poll())
        self._kick(state)
        return Init(state)

    # -- messages -------------------------------------------------------------------------

    def handle_info(self, msg: Any, state: _State) -> NoReply[_State]:
        kind = type(msg)
        if kind is Done:
            outcome = state.finished(msg)
            if outcome is not None:
                state.acks.append(outcome)
        elif kind is Died:
            outcome = state.died(msg)
            if outcome is not None:
                state.acks.append(outcome)
        elif kind is TaskReply or kind is Down:
            self._step_ended(state, msg)
        elif kind is signals.Insert or kind is signals.Reconnected:
            state.wake = True
            if kind is signals.Reconnected:
                state.stage = True
        elif kind is _Poll:
            state.wake = state.stage = True
            state.proc.node.clock.call_later(
                state.ctx.config.poll_interval, state.proc.deliver, _Poll()
            )
        elif kind is _Flush:
            state.flush_armed = False
            state.flush_due = True
        elif kind is _Retry:
            state.backing_off = False
        elif kind is signals.Pkill:
            state.kill(msg.job_id)
        elif kind in (signals.Pause, signals.Resume, signals.Scale):
            if signals.meant_for(msg, state.ctx.node):
                self._signal(state, msg)
        elif kind is not Exit:
            log.debug("producer %s ignored %r", state.queue, msg)
        self._kick(state)
        return NoReply(state)

    def handle_call(self, request: Any, from_: From, state: _State) -> Reply[_State]:
        kind = type(request)
        if kind is Check:
            return Reply(self._info(state), state)
        if kind is Pause or kind is Resume or kind is Scale:
            self._signal(state, request)
            self._kick(state)
            return Reply(self._info(state), state)
        raise ValueError(f"unknown producer request {request!r}")

    def format_status(self, state: _State) -> Any:
        return msgspec.to_builtins(self._info(state))

    def _info(self, state: _State) -> QueueInfo:
        return QueueInfo(state.queue, state.ctx.node, state.limit, state.paused, state.job_ids())

    def _signal(self, state: _State, msg: Any) -> None:
        kind = type(msg)
        if kind is Pause or kind is signals.Pause:
            state.paused = True
        elif kind is Resume or kind is signals.Resume:
            state.paused = False
            state.wake = True
        elif msg.limit >= 1:
            state.limit = msg.limit
            state.wake = True

    # -- the database steps ---------------------------------------------------------------

    def _kick(self, state: _State) -> None:
        """Start a step on an idle lane if one is useful now."""
        if state.backing_off:
            return
        first, second = state.lanes
        if first.op is None:
            idle, other = first, second
        elif second.op is None:
            idle, other = second, first
        else:
            return  # both lanes busy: the first to end kicks again
        in_flight = 0
        if other.op is not None:
            if other.reconciling:
                return  # a reconcile runs alone
            in_flight = other.demand
            if state.reconcile and in_flight:
                return  # it must see what the claim in flight takes: wait for its answer
        free = state.limit - len(state.running) - in_flight
        claim = not state.paused and free > 0 and (state.wake or state.more)
        threshold = max(1, min(state.limit, state.ctx.config.max_claim) // 2)
        hurry = state.flush_due or not state.running
        acks = state.acks
        if (
            state.reconcile
            or state.stage
            or (acks and (hurry or len(acks) >= threshold))
            or (claim and (hurry or free >= threshold))
        ):
            self._step(state, idle, min(free, state.ctx.config.max_claim) if claim else 0)
            state.flush_due = False
        elif acks or claim:
            if not state.flush_armed:
                state.flush_armed = True
                state.proc.node.clock.call_later(_FLUSH_AFTER, state.proc.deliver, _Flush())
        else:
            state.flush_due = False

    def _step(self, state: _State, lane: _Lane, demand: int) -> None:
        """Start a step on ``lane``: every finished attempt not yet sent, and the claim."""
        keep = None
        if state.reconcile:
            keep = state.job_ids() + [a.job_id for a in state.acks]
            for other in state.lanes:
                keep.extend(a.job_id for a in other.acking)
        lane.acking, state.acks = state.acks, []
        lane.demand = demand
        lane.reconciling = keep is not None
        if demand:
            state.wake = False
        stage, state.stage = state.stage, False
        lane.op = async_task(
            _sql.step, state.ctx, state.queue, lane.acking, demand, keep, stage, lane.conn
        )

    def _step_ended(self, state: _State, msg: TaskReply | Down) -> None:
        for lane in state.lanes:
            if lane.op is not None and msg.ref is lane.op.ref:
                break
        else:
            return
        if isinstance(msg, TaskReply):
            demonitor(msg.ref, flush=True)
            result = msg.result
        else:  # the helper crashed (a bug, logged by the runtime): treat it as a failed step
            result = _sql.StepFailed(f"the database step crashed: {msg.reason!r}")
        demand, acking = lane.demand, lane.acking
        lane.op = None
        lane.demand = 0
        lane.acking = []
        lane.reconciling = False
        if isinstance(result, _sql.Claimed):
            if result.reconciled:
                state.reconcile = False
            if state.paused:  # paused while the claim ran: start nothing, give them back
                state.acks.extend(Released(j.id, j.attempt) for j in result.jobs)
                state.more = False
            else:
                if demand:  # an acknowledgement-only step knows nothing about what is left
                    state.more = len(result.jobs) == demand
                state.start(result.jobs)
            self._recovered(state)
        else:
            # Acknowledgements are idempotent (guarded by attempt): send them again. A claim
            # may have committed unseen: reconcile before claiming again.
            state.acks = acking + state.acks
            state.reconcile = state.reconcile or demand > 0
            state.wake = state.stage = True
            self._failed(state, result.error)

    def _recovered(self, state: _State) -> None:
        if state.failures:
            log.info("queue %s reaches the database again", state.queue)
        state.failures = 0

    def _failed(self, state: _State, error: str) -> None:
        state.failures += 1
        if state.failures == 1:
            log.warning("queue %s cannot reach the database (%s); retrying", state.queue, error)
        if not state.backing_off:
            state.backing_off = True
            delay = min(_MAX_BACKOFF, 0.02 * 2 ** min(state.failures, 10))
            state.proc.node.clock.call_later(delay, state.proc.deliver, _Retry())

    # -- shutdown -------------------------------------------------------------------------

    async def terminate(self, reason: ExitReason, state: _State) -> None:
        """Oban's watchman: stop claiming, let running jobs finish within the grace period,
        acknowledge what finished; whatever still runs is left to the lifeline."""
        state.paused = True
        clock = state.proc.node.clock
        deadline = clock.time() + state.ctx.config.shutdown_grace
        while state.running or any(lane.op is not None for lane in state.lanes):
            left = deadline - clock.time()
            if left <= 0:
                break
            try:
                msg = await state.receive_own(left, state.ops())
            except TimeoutError:
                break
            if isinstance(msg, Done):
                outcome = state.finished(msg)
            elif isinstance(msg, Died):
                outcome = state.died(msg)
            else:
                outcome = None
                self._step_ended(state, msg)
            if outcome is not None:
                state.acks.append(outcome)
        acks = [a for lane in state.lanes for a in lane.acking] + state.acks
        if acks:
            await self._final_ack(state, acks)
        # A step still in flight is killed with us: its connection is terminated, not reset.
        for lane in state.lanes:
            if lane.op is None:
                await lane.conn.release()
            else:
                lane.conn.drop()
        tele = state.proc.node.telemetry
        if tele.wants(SHUTDOWN_EVENT):
            tele.execute(
                SHUTDOWN_EVENT,
                {"orphaned": len(state.running)},
                {"queue": state.queue, "node": state.ctx.node, "orphaned": state.job_ids()},
            )

    async def _final_ack(self, state: _State, acks: list[Outcome]) -> None:
        # On an idle lane's connection (one from the pool if both are still busy).
        kept = next((lane.conn for lane in state.lanes if lane.op is None), None)
        result = await _sql.step(state.ctx, state.queue, acks, 0, None, False, kept)
        if isinstance(result, _sql.StepFailed):
            log.warning(
                "queue %s could not record %d finished jobs at shutdown (%s); they will be "
                "rescued and run again",
                state.queue,
                len(acks),
                result.error,
            )


class QueueSupervisor(Supervisor):
    """One queue on this node: its foreman (TaskSupervisor) and its producer, one_for_all.

    The producer is stopped first (it drains within the grace period), then the foreman,
    which kills whatever still runs.
    """

    async def init(self, setup: QueueSetup) -> SupervisorSpec:  # type: ignore[override]
        ctx: QueueContext = setup.ctx
        # After this supervisor was killed, its old children may still be terminating under
        # the names the new ones register (see _names.py).
        await clear_leftovers(ctx.name(role, setup.queue) for role in ("foreman", "producer"))
        return SupervisorSpec(
            [
                ChildSpec(
                    id="foreman",
                    start=_start_foreman,
                    args=(ctx.name("foreman", setup.queue),),
                    shutdown=5.0,
                ),
                ChildSpec(
                    id="producer",
                    start=_start_producer,
                    args=(setup,),
                    shutdown=ctx.config.shutdown_grace + ctx.config.op_timeout + 1.0,
                ),
            ],
            strategy=Strategy.ONE_FOR_ALL,
        )


async def _start_foreman(name: tuple[str, ...]) -> StartResult:
    return await Foreman.start_link(None, name=name)


async def _start_producer(setup: QueueSetup) -> StartResult:
    return await Producer.start_link(setup, name=setup.ctx.name("producer", setup.queue))
