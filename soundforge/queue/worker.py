"""The Worker behaviour: what a job does, its queue options, and the results it may return.

Mirrors ``Oban.Worker``. Subclass :class:`Worker`, set the options as class attributes and
implement ``async perform(job)``::

    class Separate(Worker):
        queue = "processing"
        max_attempts = 5
        timeout = 600.0
        unique = Unique(period=None, keys=("track_id",), states=INCOMPLETE_STATES)

        class Args(msgspec.Struct):
            track_id: int

        args_type = Args

        async def perform(self, job: JobRecord) -> Any:
            args = self.load_args(job)            # a Separate.Args
            ...
            return None                           # or Error(r), Cancel(r), Snooze(s)

``perform`` returning anything but the result structs completes the job. ``Error(reason)``
or a raised exception records the attempt's error and retries after ``backoff(attempt)``
seconds, or discards the job once ``max_attempts`` are used; ``Cancel(reason)`` cancels it;
``Snooze(seconds)`` reschedules it without using up an attempt (``meta["snoozed"]`` counts
them). Running longer than ``timeout`` is a failure of kind ``timeout``.

Differences from Oban: options are class attributes rather than ``use`` options; the
worker's ``name`` (what is stored in ``jobs.worker``) defaults to ``module.QualName``;
``backoff`` receives the attempt number rather than the job; the deprecated ``:discard``
return is not mirrored. Workers are looked up through a :class:`Workers` registry that
belongs to a ``Queues`` configuration, never through a global table.
"""

from __future__ import annotations

import abc
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import msgspec

from soundforge.errors import SoundForgeError
from soundforge.queue.job import JobRecord, Unique

__all__ = [
    "Cancel",
    "Error",
    "JobTimeout",
    "Snooze",
    "UnknownWorker",
    "Worker",
    "Workers",
    "default_backoff",
]


class Error(msgspec.Struct, frozen=True, tag="error"):
    """``{:error, reason}``: this attempt failed; retry with backoff or discard."""

    reason: Any


class Cancel(msgspec.Struct, frozen=True, tag="cancel"):
    """``{:cancel, reason}``: stop trying; the job becomes ``cancelled``."""

    reason: Any


class Snooze(msgspec.Struct, frozen=True, tag="snooze"):
    """``{:snooze, seconds}``: run again later; the attempt is not used up."""

    seconds: float


class JobTimeout(SoundForgeError):
    """A job ran past its worker's ``timeout`` (Oban's ``Oban.TimeoutError``)."""

    status = 504

    def __init__(self, worker: str, timeout: float) -> None:
        super().__init__(
            f"{worker} ran longer than its timeout of {timeout:g} s; raise the worker's "
            "timeout or make the job smaller"
        )
        self.timeout = timeout


class UnknownWorker(SoundForgeError):
    """A job names a worker that this node's queues do not know."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no worker named {name!r} is configured on this node; add its class to "
            "QueueConfig.workers"
        )
        self.name = name


def default_backoff(attempt: int, max_attempts: int = 20) -> float:
    """Oban's default: ``15 + 2^a`` seconds plus up to 10 % jitter (``a`` is the attempt,
    scaled onto 0..20 when ``max_attempts`` is above 20)."""
    a = attempt if max_attempts <= 20 else round(attempt / max_attempts * 20)
    delay = 15 + 2 ** min(a, 100)
    return float(delay + int(random.random() * 0.10 * delay))


class Worker(abc.ABC):
    """The behaviour of a job. Override ``perform``; set options as class attributes."""

    #: Stored in ``jobs.worker``; defaults to ``module.QualName``.
    name: ClassVar[str] = ""
    queue: ClassVar[str] = "default"
    max_attempts: ClassVar[int] = 20
    #: Seconds an attempt may run; ``None`` is infinity (Oban's default).
    timeout: ClassVar[float | None] = None
    priority: ClassVar[int] = 0
    unique: ClassVar[Unique | None] = None
    #: A msgspec struct type for args; ``load_args`` converts ``job.args`` to it.
    args_type: ClassVar[type[Any] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = f"{cls.__module__}.{cls.__qualname__}"

    @abc.abstractmethod
    async def perform(self, job: JobRecord) -> Any:
        """Do the job; the result decides its next state (see the module docstring)."""

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retrying after failed ``attempt`` (1 for the first run)."""
        return default_backoff(attempt, type(self).max_attempts)

    def load_args(self, job: JobRecord) -> Any:
        """``job.args`` as ``args_type`` (or the dict itself when there is none)."""
        if self.args_type is None:
            return job.args
        return msgspec.convert(job.args, self.args_type)


class Workers(Mapping[str, type[Worker]]):
    """Worker classes by name: the registry a ``Queues`` configuration carries."""

    __slots__ = ("_by_name",)

    def __init__(self, workers: Iterable[type[Worker]] = ()) -> None:
        self._by_name: dict[str, type[Worker]] = {}
        for worker in workers:
            if not (isinstance(worker, type) and issubclass(worker, Worker)):
                raise TypeError(f"{worker!r} is not a Worker subclass")
            other = self._by_name.get(worker.name)
            if other is not None and other is not worker:
                raise ValueError(f"two workers are named {worker.name!r}: {other!r} and {worker!r}")
            self._by_name[worker.name] = worker

    def __getitem__(self, name: str) -> type[Worker]:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def resolve(self, name: str) -> type[Worker]:
        """The class for ``name``; raises :class:`UnknownWorker`."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownWorker(name) from None
