"""The queue's configuration (Oban's ``config :my_app, Oban, queues: [...], plugins: [...]``)
and the context its actors share.

    QueueConfig(
        queues={"download": 3, "processing": 2, "analysis": 2},
        workers=[Download, Separate, Analyse],
        crontab=[CronEntry("@daily", Cleanup)],
    )

Differences from Oban: plugins are not pluggable — Lifeline, Pruner and Cron are always
there, tuned by the fields below; the worker registry (:class:`Workers`) is built from
``workers`` and lives in the :class:`QueueContext` of one running ``Queues`` tree, not in a
global module table. ``node_name`` must be unique among the nodes sharing a database (it is
what ``jobs.attempted_by`` and ``queue_nodes`` record); the default is host and OS pid.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from soundforge.errors import SoundForgeError
from soundforge.queue._db import PoolSource
from soundforge.queue.crontab import CronEntry, parse
from soundforge.queue.worker import Workers

__all__ = ["DEFAULT_QUEUES", "InvalidQueueConfig", "QueueConfig", "QueueContext"]

#: The product's queues and their per-node concurrency limits (DESIGN.md).
DEFAULT_QUEUES: Final[Mapping[str, int]] = MappingProxyType(
    {"download": 3, "processing": 2, "analysis": 2}
)


class InvalidQueueConfig(SoundForgeError):
    """The queue configuration cannot work as given."""

    exit_code = 2


@dataclass(frozen=True)
class QueueConfig:
    """What a ``Queues`` tree runs. Times are seconds."""

    #: queue name → concurrency limit on this node (Oban's limits are local too).
    queues: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_QUEUES))
    workers: Sequence[type[Any]] = ()
    node_name: str | None = None
    #: A node that has not heartbeated for this long is dead; its executing jobs are rescued.
    rescue_after: float = 60.0
    #: Completed, cancelled and discarded jobs are deleted after this long.
    prune_after: float = 7 * 86400.0
    #: Producers look for due scheduled/retryable jobs (and missed inserts) this often.
    poll_interval: float = 1.0
    crontab: Sequence[CronEntry] = ()
    #: Names this tree's processes on the node, e.g. ("queues", "producer", "download").
    name: str = "queues"
    #: On shutdown, running jobs get this long to finish before their tasks are killed.
    shutdown_grace: float = 15.0
    #: Defaults to a quarter of ``rescue_after``.
    heartbeat_interval: float | None = None
    prune_interval: float = 60.0
    prune_limit: int = 10_000
    #: How often cron checks whether a new minute has begun (and, off leader, for leadership).
    cron_interval: float = 1.0
    #: A producer's database step (acknowledge and claim) gives up after this long.
    op_timeout: float = 30.0
    #: At most this many jobs claimed by one statement.
    max_claim: int = 1000

    def __post_init__(self) -> None:
        for queue, limit in self.queues.items():
            if not queue or not isinstance(queue, str):
                raise InvalidQueueConfig(f"queue names must be non-empty strings, not {queue!r}")
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise InvalidQueueConfig(
                    f"the limit of queue {queue!r} must be a positive integer, not {limit!r}"
                )
        for name in (
            "rescue_after",
            "prune_after",
            "poll_interval",
            "shutdown_grace",
            "prune_interval",
            "cron_interval",
            "op_timeout",
        ):
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or value < 0
                or (value == 0 and name != "shutdown_grace")
            ):
                raise InvalidQueueConfig(
                    f"{name} must be a positive number of seconds, not {value!r}"
                )
        if self.heartbeat_interval is not None and not (
            0 < self.heartbeat_interval < self.rescue_after
        ):
            raise InvalidQueueConfig("heartbeat_interval must be positive and below rescue_after")
        if self.max_claim < 1 or self.prune_limit < 1:
            raise InvalidQueueConfig("max_claim and prune_limit must be at least 1")
        for entry in self.crontab:
            parse(entry.expr)  # raises InvalidCron with the offending field

    @property
    def heartbeat_every(self) -> float:
        return self.heartbeat_interval or self.rescue_after / 4


def default_node_name() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


@dataclass(frozen=True)
class QueueContext:
    """What every actor of one running ``Queues`` tree shares (built by ``Queues.init``)."""

    config: QueueConfig
    pool: PoolSource
    workers: Workers
    node: str

    @classmethod
    def build(cls, config: QueueConfig, pool: PoolSource) -> QueueContext:
        workers = Workers(config.workers)
        for entry in config.crontab:
            if not isinstance(entry.worker, str) and entry.worker.name not in workers:
                workers = Workers([*workers.values(), entry.worker])
        return cls(config, pool, workers, config.node_name or default_node_name())

    def name(self, *parts: str) -> tuple[str, ...]:
        """A registered name of this tree, e.g. ``name("producer", "download")``."""
        return (self.config.name, *parts)
