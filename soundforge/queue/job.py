"""Jobs as values: the states, the stored row, a job about to be inserted, uniqueness.

Mirrors ``Oban.Job``: a row of the ``jobs`` table with Oban's seven states (``suspended`` is
not mirrored), ``attempt`` counting from 1 for the first run, ``errors`` holding one entry per
failed attempt, and unique jobs identified by a key over worker, queue and chosen args.

    job = new_job(Download, Download.Args(track_id=42), schedule_in=30)
    record = await insert_job(conn, job)          # engine.py; record.conflict for uniques

Differences from Oban: args and meta are JSON objects decoded to dicts (a worker may declare
a msgspec ``args_type`` to get a typed payload back); the unique key is stored in the row
(``unique_key``, a sha256) instead of being recomputed by a query over args, which keeps the
uniqueness check an index lookup; ``scheduled_at`` in the past still inserts ``available``.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

from soundforge.errors import SoundForgeError

if TYPE_CHECKING:
    from soundforge.queue.worker import Worker

__all__ = [
    "ALL_STATES",
    "INCOMPLETE_STATES",
    "SUCCESSFUL_STATES",
    "AttemptError",
    "InvalidJob",
    "JobRecord",
    "JobState",
    "NewJob",
    "Unique",
    "new_job",
]


class JobState(enum.StrEnum):
    AVAILABLE = "available"
    SCHEDULED = "scheduled"
    EXECUTING = "executing"
    RETRYABLE = "retryable"
    COMPLETED = "completed"
    DISCARDED = "discarded"
    CANCELLED = "cancelled"


#: Oban's named state groups for uniqueness.
ALL_STATES: Final = tuple(JobState)
INCOMPLETE_STATES: Final = (
    JobState.AVAILABLE,
    JobState.SCHEDULED,
    JobState.EXECUTING,
    JobState.RETRYABLE,
)
SUCCESSFUL_STATES: Final = (*INCOMPLETE_STATES, JobState.COMPLETED)


class InvalidJob(SoundForgeError):
    """A job cannot be inserted as described (bad priority, attempts, args...)."""

    exit_code = 2
    status = 422


class AttemptError(msgspec.Struct, frozen=True):
    """One failed attempt, as stored in ``jobs.errors``.

    ``kind`` is ``error`` (perform returned ``Error``), ``exception`` (perform raised),
    ``timeout``, ``exit`` (the job's task died), ``cancel`` (perform returned ``Cancel``),
    ``orphaned`` or ``rescued`` (the node or producer running it went away).
    """

    attempt: int
    kind: str
    message: str
    traceback: str | None = None
    at: datetime | None = None


class Unique(msgspec.Struct, frozen=True):
    """Oban's unique options: at most one job per key within ``period`` and ``states``.

    ``period`` is seconds counted back from now over ``inserted_at`` (``None`` = forever);
    ``keys`` are the args keys that make up the key (``None`` = all args); ``states`` the
    states in which an existing job blocks a new one (default: every state but
    cancelled and discarded, Oban's ``:successful``).
    """

    period: float | None = 60.0
    keys: tuple[str, ...] | None = None
    states: tuple[JobState, ...] = SUCCESSFUL_STATES


# gc=False here and on the per-job messages (outcomes, Done, Run): a busy queue keeps
# thousands alive at once, and as tracked objects they made the cycle collector run more
# often and scan more. They hold plain values, dicts and lists: they cannot form a cycle.
class JobRecord(msgspec.Struct, frozen=True, gc=False):
    """A stored job (a row of ``jobs``); ``conflict`` is true when a unique insert found it."""

    id: int
    state: JobState
    queue: str
    worker: str
    args: dict[str, Any]
    meta: dict[str, Any]
    priority: int
    attempt: int
    max_attempts: int
    errors: list[AttemptError]
    inserted_at: datetime
    scheduled_at: datetime
    attempted_at: datetime | None = None
    attempted_by: str | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    discarded_at: datetime | None = None
    unique_key: str | None = None
    conflict: bool = False


class NewJob(msgspec.Struct, frozen=True, gc=False):
    """A job not yet inserted (Oban's changeset from ``Worker.new``); build it with
    :func:`new_job`, insert it with ``engine.insert_job``/``insert_all``."""

    worker: str
    queue: str
    args: dict[str, Any]
    meta: dict[str, Any]
    priority: int
    max_attempts: int
    scheduled_at: datetime | None = None
    schedule_in: float | None = None
    unique_key: str | None = None
    unique_period: float | None = None
    unique_states: tuple[JobState, ...] = ()


def new_job(
    worker: type[Worker] | str,
    args: Any = None,
    *,
    queue: str | None = None,
    priority: int | None = None,
    max_attempts: int | None = None,
    meta: dict[str, Any] | None = None,
    scheduled_at: datetime | None = None,
    schedule_in: float | None = None,
    unique: Unique | msgspec.UnsetType | None = msgspec.UNSET,
) -> NewJob:
    """Describe a job: defaults come from the worker class (or Oban's when given a name).

    ``args`` is a dict or a msgspec struct (encoded as its JSON object). ``unique`` overrides
    the worker's uniqueness (``None`` turns it off for this job).
    """
    if isinstance(worker, str):
        name = worker
        queue = queue or "default"
        priority = 0 if priority is None else priority
        max_attempts = 20 if max_attempts is None else max_attempts
        unique_opt = None if unique is msgspec.UNSET else unique
    else:
        name = worker.name
        queue = queue or worker.queue
        priority = worker.priority if priority is None else priority
        max_attempts = worker.max_attempts if max_attempts is None else max_attempts
        unique_opt = worker.unique if unique is msgspec.UNSET else unique
    payload = _as_object(args, "args")
    if not name:
        raise InvalidJob("a job needs a worker name")
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 9:
        raise InvalidJob(f"priority must be an integer from 0 (highest) to 9, not {priority!r}")
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise InvalidJob(f"max_attempts must be an integer of at least 1, not {max_attempts!r}")
    if scheduled_at is not None and schedule_in is not None:
        raise InvalidJob("give scheduled_at or schedule_in, not both")
    if scheduled_at is not None and scheduled_at.tzinfo is None:
        raise InvalidJob("scheduled_at must be timezone-aware (e.g. datetime.now(UTC))")
    key = None
    period = None
    states: tuple[JobState, ...] = ()
    if unique_opt is not None:
        try:
            key = unique_key(name, queue, payload, unique_opt.keys)
        except (TypeError, msgspec.EncodeError) as error:
            raise InvalidJob(f"job args must be JSON-encodable: {error}") from None
        period = unique_opt.period
        states = unique_opt.states
    return NewJob(
        worker=name,
        queue=queue,
        args=payload,
        meta=_as_object(meta, "meta"),
        priority=priority,
        max_attempts=max_attempts,
        scheduled_at=scheduled_at,
        schedule_in=schedule_in,
        unique_key=key,
        unique_period=period,
        unique_states=states,
    )


def unique_key(worker: str, queue: str, args: dict[str, Any], keys: tuple[str, ...] | None) -> str:
    """The stored uniqueness key: sha256 over worker, queue and the chosen args (sorted)."""
    chosen = args if keys is None else {k: args.get(k) for k in keys}
    return digest(["job", worker, queue, chosen])


def digest(value: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(value, order="sorted")).hexdigest()


def _as_object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, msgspec.Struct):
        value = msgspec.to_builtins(value)
    if not isinstance(value, dict):
        raise InvalidJob(
            f"job {what} must be a dict or a msgspec struct, not {type(value).__name__}"
        )
    return value
