"""One job attempt: run ``perform`` in a supervised task and turn what happens into an outcome.

Mirrors ``Oban.Queue.Executor``: resolve the worker, emit ``("queue", "job", "start")``, run
``perform`` under the worker's timeout, classify the result (success, failure with retry or
discard, cancel, snooze), emit ``stop`` or ``exception``. The producer starts
:func:`execute` with ``task.async_nolink`` under its queue's TaskSupervisor (Oban's
foreman), so a cancel can terminate the task and a crash never reaches the producer.

Differences from Oban: the executor does not write the outcome to the database itself; it
returns an :class:`Outcome` to the producer, which acknowledges many of them in one
statement. The timeout runs on the node's clock (``node.clock``), so tests can drive it.

Telemetry (``node.telemetry``), all with metadata ``job`` (the :class:`JobRecord`),
``queue``, ``worker``, ``node``:

* ``("queue", "job", "start")``: measurements ``system_time`` (epoch seconds).
* ``("queue", "job", "stop")``: ``duration`` and ``queue_time`` in seconds; metadata
  ``state`` (``success``, ``cancelled``, ``snoozed``) and ``result``.
* ``("queue", "job", "exception")``: same measurements; ``state`` is ``failure`` or
  ``discard``, with ``kind``, ``error`` (the :class:`AttemptError`) and ``result``.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from types import TracebackType
from typing import Any, Final

import msgspec

from soundforge.queue.job import AttemptError, JobRecord
from soundforge.queue.worker import (
    Cancel,
    Error,
    JobTimeout,
    Snooze,
    UnknownWorker,
    Worker,
    default_backoff,
)
from soundforge.runtime.clock import Clock, TimerHandle
from soundforge.runtime.process import current_node

__all__ = [
    "Cancelled",
    "Completed",
    "Failed",
    "Outcome",
    "Released",
    "Snoozed",
    "execute",
    "failure",
]

START: Final = ("queue", "job", "start")
STOP: Final = ("queue", "job", "stop")
EXCEPTION: Final = ("queue", "job", "exception")


# gc=False: one per job, never part of a cycle (see JobRecord).
class Outcome(msgspec.Struct, frozen=True, tag_field="kind", gc=False):
    """How one attempt ended; ``attempt`` guards the acknowledgement (see engine.py)."""

    job_id: int
    attempt: int


class Completed(Outcome, frozen=True, tag="completed"):
    pass


class Failed(Outcome, frozen=True, tag="failed"):
    """Retry after ``delay`` seconds, or discard when ``discard``."""

    error: AttemptError
    discard: bool
    delay: float


class Cancelled(Outcome, frozen=True, tag="cancelled"):
    error: AttemptError


class Snoozed(Outcome, frozen=True, tag="snoozed"):
    seconds: float


class Released(Outcome, frozen=True, tag="released"):
    """Claimed but never started (the queue was paused meanwhile): back to available,
    the attempt not used up."""


def failure(job: JobRecord, worker: Worker | None, error: AttemptError) -> Failed:
    """A failed attempt: discarded when attempts are used up, else retried after backoff."""
    discard = job.attempt >= job.max_attempts
    delay = 0.0
    if not discard:
        delay = worker.backoff(job.attempt) if worker is not None else default_backoff(job.attempt)
    return Failed(job.id, job.attempt, error, discard, max(0.0, float(delay)))


class _Deadline:
    """``asyncio.timeout`` on the node's clock: cancel the task when the time is up and turn
    that one cancellation into :class:`JobTimeout`; any other cancellation goes through."""

    __slots__ = ("_baseline", "_clock", "_expired", "_handle", "_seconds", "_task", "_worker")

    def __init__(self, clock: Clock, seconds: float | None, worker: str) -> None:
        self._clock = clock
        self._seconds = seconds
        self._worker = worker
        self._expired = False
        self._handle: TimerHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._baseline = 0

    async def __aenter__(self) -> None:
        if self._seconds is None:
            return
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._baseline = task.cancelling()
        self._handle = self._clock.call_later(self._seconds, self._expire)

    def _expire(self) -> None:
        self._expired = True
        if self._task is not None:
            self._task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if not self._expired or self._task is None:
            return
        # Take back our own cancel; any other one (a kill arriving meanwhile) stays pending.
        ours = self._task.uncancel() <= self._baseline
        if ours and exc_type is asyncio.CancelledError:
            assert self._seconds is not None
            raise JobTimeout(self._worker, self._seconds) from exc


def _error(job: JobRecord, kind: str, message: str, tb: str | None = None) -> AttemptError:
    return AttemptError(attempt=job.attempt, kind=kind, message=message, traceback=tb)


def _reason(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


async def execute(job: JobRecord, worker_cls: type[Worker] | None, node_name: str) -> Outcome:
    """The body of a job's task: one attempt of ``job``, returned as an :class:`Outcome`."""
    node = current_node()
    tele = node.telemetry
    clock = node.clock
    if tele.wants(START):
        tele.execute(START, {"system_time": time.time()}, _meta(job, node_name))
    started = clock.time()
    worker: Worker | None = None
    result: Any = None
    try:
        if worker_cls is None:
            raise UnknownWorker(job.worker)
        worker = worker_cls()
        if worker_cls.timeout is None:
            result = await worker.perform(job)
        else:
            async with _Deadline(clock, worker_cls.timeout, job.worker):
                result = await worker.perform(job)
    except JobTimeout as timeout:
        outcome: Outcome = failure(job, worker, _error(job, "timeout", str(timeout)))
    except Exception as error:  # a crashing perform is this attempt's failure: record, retry
        text = "".join(traceback.format_exception(error))
        message = f"{type(error).__name__}: {error}"
        outcome = failure(job, worker, _error(job, "exception", message, text))
    else:
        outcome = _classify(job, worker, result)
    if type(outcome) is Failed:
        if tele.wants(EXCEPTION):
            meta = _meta(job, node_name)
            meta["state"] = "discard" if outcome.discard else "failure"
            meta["kind"] = outcome.error.kind
            meta["error"] = outcome.error
            meta["result"] = result
            tele.execute(EXCEPTION, _measure(job, clock.time() - started), meta)
    elif tele.wants(STOP):
        meta = _meta(job, node_name)
        meta["state"] = _STOP_STATES[type(outcome)]
        meta["result"] = result
        tele.execute(STOP, _measure(job, clock.time() - started), meta)
    return outcome


def _meta(job: JobRecord, node_name: str) -> dict[str, Any]:
    return {"job": job, "queue": job.queue, "worker": job.worker, "node": node_name}


def _measure(job: JobRecord, duration: float) -> dict[str, float]:
    return {"duration": duration, "queue_time": _queue_time(job)}


_STOP_STATES: Final[dict[type[Outcome], str]] = {
    Completed: "success",
    Cancelled: "cancelled",
    Snoozed: "snoozed",
}


def _classify(job: JobRecord, worker: Worker | None, result: Any) -> Outcome:
    kind = type(result)
    if kind is Error:
        return failure(job, worker, _error(job, "error", _reason(result.reason)))
    if kind is Cancel:
        return Cancelled(job.id, job.attempt, _error(job, "cancel", _reason(result.reason)))
    if kind is Snooze:
        return Snoozed(job.id, job.attempt, max(0.0, float(result.seconds)))
    return Completed(job.id, job.attempt)


def _queue_time(job: JobRecord) -> float:
    if job.attempted_at is None:
        return 0.0
    return max(0.0, (job.attempted_at - job.scheduled_at).total_seconds())
