"""A producer's table of running job attempts (Oban's producer ``running`` map).

Private to ``producer.py``. Attempts run as tasks of the queue's foreman; the producer
records each claimed job here, hands the batch to the foreman, and hears back either
``Done(outcome)`` from the task or ``Died(job_id, reason)`` from the foreman. A task that
died becomes a failure of kind ``exit`` — unless the producer killed it for a ``pkill``:
the job is then already ``cancelled`` in the database and nothing is acknowledged.
"""

from __future__ import annotations

from typing import Any, Final

from soundforge.queue.config import QueueContext
from soundforge.queue.executor import STOP, Outcome, failure
from soundforge.queue.foreman import Died, Done, Kill, Run
from soundforge.queue.job import AttemptError, JobRecord
from soundforge.queue.worker import Worker
from soundforge.runtime.exit import format_reason
from soundforge.runtime.gen_server import cast
from soundforge.runtime.process import Down, Pid, Process, receive
from soundforge.runtime.task import Task, TaskReply

__all__ = ["Running"]

_CANCELLED: Final = "cancelled"


class _Run:
    __slots__ = ("job", "killing", "started_at", "worker")

    def __init__(self, job: JobRecord, worker: type[Worker] | None, now: float) -> None:
        self.job = job
        self.worker = worker
        self.killing = False
        self.started_at = now


class Running:
    """The attempts one producer runs, by job id."""

    __slots__ = ("ctx", "foreman", "proc", "queue", "running")

    def __init__(self, ctx: QueueContext, queue: str, proc: Process, foreman: Pid) -> None:
        self.ctx = ctx
        self.queue = queue
        self.proc = proc
        self.foreman = foreman
        self.running: dict[int, _Run] = {}

    def job_ids(self) -> list[int]:
        return list(self.running)

    def start(self, jobs: list[JobRecord]) -> None:
        """Hand a claimed batch to the foreman (one message for the whole batch)."""
        if not jobs:
            return
        now = self.proc.node.clock.time()
        workers = self.ctx.workers
        classes = [workers.get(job.worker) for job in jobs]
        for job, worker in zip(jobs, classes, strict=True):
            self.running[job.id] = _Run(job, worker, now)
        cast(self.foreman, Run(jobs, classes, self.proc.pid, self.ctx.node))

    def finished(self, done: Done) -> Outcome | None:
        """A task answered: its outcome to acknowledge (None for a job not running here)."""
        outcome = done.outcome
        return outcome if self.running.pop(outcome.job_id, None) is not None else None

    def died(self, died: Died) -> Outcome | None:
        """A task ended without answering: killed for a cancel, or it crashed."""
        run = self.running.pop(died.job_id, None)
        if run is None:
            return None
        job = run.job
        if run.killing:
            tele = self.proc.node.telemetry
            if tele.wants(STOP):
                tele.execute(
                    STOP,
                    {"duration": self.proc.node.clock.time() - run.started_at, "queue_time": 0.0},
                    {
                        "job": job,
                        "queue": job.queue,
                        "worker": job.worker,
                        "node": self.ctx.node,
                        "state": _CANCELLED,
                        "result": None,
                    },
                )
            return None
        worker = run.worker() if run.worker is not None else None
        error = AttemptError(
            attempt=job.attempt,
            kind="exit",
            message=f"the job's task exited: {format_reason(died.reason)}",
        )
        return failure(job, worker, error)

    def kill(self, job_id: int) -> None:
        """Terminate the task running ``job_id`` (it was cancelled), if it runs here."""
        run = self.running.get(job_id)
        if run is None or run.killing:
            return
        run.killing = True
        cast(self.foreman, Kill(job_id))

    async def receive_own(self, timeout: float, steps: tuple[Task | None, ...]) -> Any:
        """The next message about a running attempt or about one of the database ``steps``."""
        refs = [step.ref for step in steps if step is not None]

        def ours(msg: Any) -> bool:
            kind = type(msg)
            if kind is Done or kind is Died:
                return True
            return (kind is TaskReply or kind is Down) and any(msg.ref is r for r in refs)

        return await receive(ours, timeout)
