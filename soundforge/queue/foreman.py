"""The Foreman: the task supervisor where a queue's job attempts run, one process each.

Mirrors Oban's foreman, which is a ``Task.Supervisor`` whose tasks the producer starts with
``async_nolink``. The semantics are those of ``async_nolink``: every attempt is a process
linked to the foreman (so it dies with the queue, and shows under the foreman in the
introspection tree) but not to the producer, which gets the attempt's result as a message
and is told of a task that died instead of answering::

    producer ── Run([job, ...]) ──▶ foreman ── spawn_link ──▶ task (execute(job))
    producer ◀────────────── Done(outcome) ───────────────────── task
    producer ◀── Died(job_id, reason) ── foreman (Exit of a task that did not answer)

A task that answered unlinks itself from the foreman as its last step, so its normal exit
signals no one (Erlang's unlink-then-exit): one message per job fewer, ~1 µs of the ~25 µs
of Python a no-op job costs. The foreman drops ended tasks from its table when it starts the
next batch.

``Kill(job_id)`` terminates one attempt's task (a cancelled job): the task is cancelled at
its next ``await`` (its ``finally`` blocks run; the ports it owns are closed as their owner
dies) and the producer receives ``Died`` for it. On shutdown the foreman ends every task
it still runs.

Differences from Elixir's ``Task.Supervisor``: one ``Run`` message starts a whole claimed
batch, and a task's result goes straight to the producer, so starting an attempt costs one
spawn instead of a call to a supervisor, a child spec and a monitor per job
(``soundforge bench queue`` measures ~11 µs against ~47 µs for ``async_nolink`` here,
which is what makes 20,000 no-op jobs a second reachable). Tasks are temporary: a crashed
attempt is never restarted by the foreman; the job's retry policy decides.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import msgspec

from soundforge.queue.executor import Outcome, execute
from soundforge.queue.job import JobRecord
from soundforge.queue.worker import Worker
from soundforge.runtime import process
from soundforge.runtime.exit import NORMAL, SHUTDOWN, ExitReason
from soundforge.runtime.gen_server import GenServer, Init, NoReply
from soundforge.runtime.process import Exit, Pid, current_process, send, spawn

__all__ = ["Died", "Done", "Foreman", "Kill", "Run"]

log = logging.getLogger(__name__)


# gc=False on the per-job messages: never part of a cycle (see JobRecord).
class Run(msgspec.Struct, frozen=True, gc=False):
    """Start one task per job; ``workers[i]`` is ``jobs[i]``'s class (None if unknown)."""

    jobs: list[JobRecord]
    workers: list[Any]
    reply_to: Pid
    node: str


class Kill(msgspec.Struct, frozen=True):
    """Terminate the task running ``job_id`` (it was cancelled)."""

    job_id: int


class Done(msgspec.Struct, frozen=True, gc=False):
    """To the producer: an attempt finished with ``outcome``."""

    outcome: Outcome


class Died(msgspec.Struct, frozen=True):
    """To the producer: the task of ``job_id`` exited without answering."""

    job_id: int
    reason: Any


async def _attempt(job: JobRecord, worker: type[Worker] | None, node: str, reply_to: Pid) -> None:
    outcome = await execute(job, worker, node)
    send(reply_to, Done(outcome))
    # The producer has its answer: an exit signal to the foreman would be news for no one.
    # Unlinked, the normal exit sends none (Erlang's unlink-then-exit); the foreman forgets
    # the task when it next starts a batch. A crash or kill before this line still reaches
    # the foreman, which tells the producer.
    proc = current_process()
    if proc is not None and proc.parent is not None:
        process.unlink(proc.parent.pid)


class _State:
    __slots__ = ("by_job", "by_pid", "reply_to")

    def __init__(self) -> None:
        self.by_pid: dict[Pid, int] = {}
        self.by_job: dict[int, Pid] = {}
        self.reply_to: Pid | None = None

    def forget_finished(self) -> None:
        """Drop the tasks that ended normally (they unlinked: no exit signal came)."""
        ended = [pid for pid in self.by_pid if pid._proc is None]
        for pid in ended:
            job_id = self.by_pid.pop(pid)
            if self.by_job.get(job_id) is pid:
                del self.by_job[job_id]


class Foreman(GenServer[_State]):
    """Runs each job attempt of one queue as a linked task."""

    #: A supervisor kind: the runtime leaves reporting its children's exits to it.
    kind: ClassVar[str] = "task_supervisor"

    def init(self, arg: Any) -> Init[_State]:
        proc = current_process()
        assert proc is not None
        proc.trap_exit = True
        return Init(_State())

    def handle_cast(self, msg: Any, state: _State) -> NoReply[_State]:
        if type(msg) is Run:
            state.reply_to = msg.reply_to
            state.forget_finished()
            for job, worker in zip(msg.jobs, msg.workers, strict=True):
                pid = spawn(_attempt, job, worker, msg.node, msg.reply_to, link=True, kind="task")
                state.by_pid[pid] = job.id
                state.by_job[job.id] = pid
        elif type(msg) is Kill:
            victim = state.by_job.get(msg.job_id)
            if victim is not None:
                process.exit(victim, SHUTDOWN)
        return NoReply(state)

    def handle_info(self, msg: Any, state: _State) -> NoReply[_State]:
        if type(msg) is Exit:
            job_id = state.by_pid.pop(msg.pid, None) if msg.pid is not None else None
            if job_id is not None:
                state.by_job.pop(job_id, None)
                # A task that answered exits normally; any other exit is news for the producer.
                if msg.reason is not NORMAL and state.reply_to is not None:
                    send(state.reply_to, Died(job_id, msg.reason))
        return NoReply(state)

    def terminate(self, reason: ExitReason, state: _State) -> None:
        state.forget_finished()
        for pid in list(state.by_pid):
            process.exit(pid, SHUTDOWN)
        if state.by_pid:
            log.info("stopped %d running job attempts at shutdown", len(state.by_pid))

    def format_status(self, state: _State) -> Any:
        return {"running": sum(1 for pid in state.by_pid if pid._proc is not None)}
