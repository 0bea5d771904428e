"""The Queues supervisor and the queue-control API (Oban's top-level ``Oban`` module).

``Queues`` is the supervisor a node runs (one_for_one, like Oban's)::

    Queues (one_for_one)
    ├── Notifier          LISTEN connection, fans out inserts and signals
    ├── Lifeline          heartbeat of this node, rescue of dead nodes' jobs
    ├── QueueSupervisor   per queue (one_for_all): foreman (TaskSupervisor), Producer
    ├── Pruner            history retention
    └── Cron              crontab, one leader across nodes

Children start in that order and stop in reverse: queues drain before the lifeline gives
the node's leftovers back, and the notifier goes last. It takes a :class:`QueueConfig` and
the database as an ``asyncpg.Pool`` or a zero-argument callable returning one (the Repo's)::

    await Queues.start_link(QueueConfig(queues={"download": 3}, workers=[Download]), pool)
    await insert(pool, Download, {"track_id": 42})           # engine.insert
    await pause_queue(pool, "download")                      # every node
    await check_queue("download")                            # this node's producer

Control of every node goes through NOTIFY (``pause_queue``, ``resume_queue``,
``scale_queue``; ``cancel_job`` in engine.py); control of this node's producers is a call
by registered name (``pause_local``, ``resume_local``, ``scale_local``, ``check_queue``).

Differences from Oban: a pause is not persisted (a node that starts later runs the queue),
as in Oban's open-source engine; ``start_queue``/``stop_queue`` at run time are not
mirrored: the queues a node runs are its configuration.
"""

from __future__ import annotations

from typing import Any

from soundforge.queue import engine, signals
from soundforge.queue._db import PoolSource
from soundforge.queue._names import clear_leftovers
from soundforge.queue.config import QueueConfig, QueueContext
from soundforge.queue.cron import Cron, IsLeader
from soundforge.queue.lifeline import Lifeline
from soundforge.queue.notifier import Notifier
from soundforge.queue.producer import (
    Check,
    Pause,
    QueueInfo,
    QueueSetup,
    QueueSupervisor,
    Resume,
    Scale,
)
from soundforge.queue.pruner import Pruner
from soundforge.runtime.child_spec import ChildSpec, ChildType, Strategy
from soundforge.runtime.gen_server import Server, call
from soundforge.runtime.results import StartResult
from soundforge.runtime.supervisor import Supervisor, SupervisorSpec

__all__ = [
    "Queues",
    "check_queue",
    "is_cron_leader",
    "pause_local",
    "pause_queue",
    "resume_local",
    "resume_queue",
    "scale_local",
    "scale_queue",
]


class Queues(Supervisor):
    """All queue machinery of one node (start it after the Repo)."""

    @classmethod
    async def start_link(  # type: ignore[override]
        cls, config: QueueConfig, pool: PoolSource, *, name: Server | None = None
    ) -> StartResult:
        """Start the tree linked to the caller: ``Ok(pid)`` or ``Error(reason)`` (e.g. the
        database was unreachable for the lifeline's first heartbeat)."""
        return await super().start_link((config, pool), name=name)

    @classmethod
    def child_spec(  # type: ignore[override]
        cls, config: QueueConfig, pool: PoolSource, **overrides: Any
    ) -> ChildSpec:
        spec = ChildSpec(
            id=cls, start=cls.start_link, args=(config, pool), type=ChildType.SUPERVISOR
        )
        return spec.with_(**overrides) if overrides else spec

    async def init(  # type: ignore[override]  # the supervisor awaits an async init
        self, arg: tuple[QueueConfig, PoolSource]
    ) -> SupervisorSpec:
        config, pool = arg
        ctx = QueueContext.build(config, pool)
        # After this supervisor was killed, its old children may still be terminating under
        # the names the new ones register (see _names.py).
        roles: list[tuple[str, ...]] = [("notifier",), ("lifeline",), ("pruner",), ("cron",)]
        roles += [(role, q) for q in config.queues for role in ("foreman", "producer")]
        await clear_leftovers(ctx.name(*role) for role in roles)
        children: list[Any] = [
            Notifier.child_spec(ctx, id="notifier", start=_named(Notifier, ctx, "notifier")),
            Lifeline.child_spec(ctx, id="lifeline", start=_named(Lifeline, ctx, "lifeline")),
        ]
        for queue, limit in config.queues.items():
            children.append(
                QueueSupervisor.child_spec(QueueSetup(ctx, queue, limit), id=("queue", queue))
            )
        children.append(Pruner.child_spec(ctx, id="pruner", start=_named(Pruner, ctx, "pruner")))
        children.append(Cron.child_spec(ctx, id="cron", start=_named(Cron, ctx, "cron")))
        return SupervisorSpec(children, strategy=Strategy.ONE_FOR_ONE, max_restarts=5)


def _named(server: Any, ctx: QueueContext, role: str) -> Any:
    """A start function registering the child under the tree's name for ``role``."""

    async def start(arg: QueueContext) -> StartResult:
        result: StartResult = await server.start_link(arg, name=ctx.name(role))
        return result

    return start


# -- every node (NOTIFY) ------------------------------------------------------------------


async def pause_queue(conn: Any, queue: str, *, node: str | None = None) -> None:
    """Stop claiming jobs of ``queue`` on every node (or on ``node``); running jobs go on."""
    await engine.notify(conn, signals.Pause(queue=queue, node=node))


async def resume_queue(conn: Any, queue: str, *, node: str | None = None) -> None:
    await engine.notify(conn, signals.Resume(queue=queue, node=node))


async def scale_queue(conn: Any, queue: str, limit: int, *, node: str | None = None) -> None:
    """Set the per-node concurrency limit of ``queue`` on every node (or on ``node``)."""
    await engine.notify(conn, signals.Scale(queue=queue, limit=limit, node=node))


# -- this node (calls by name) ------------------------------------------------------------


async def check_queue(queue: str, *, name: str = "queues") -> QueueInfo:
    """This node's producer of ``queue``: limit, paused, running job ids (``check_queue``)."""
    info: QueueInfo = await call((name, "producer", queue), Check())
    return info


async def pause_local(queue: str, *, name: str = "queues") -> QueueInfo:
    info: QueueInfo = await call((name, "producer", queue), Pause())
    return info


async def resume_local(queue: str, *, name: str = "queues") -> QueueInfo:
    info: QueueInfo = await call((name, "producer", queue), Resume())
    return info


async def scale_local(queue: str, limit: int, *, name: str = "queues") -> QueueInfo:
    info: QueueInfo = await call((name, "producer", queue), Scale(limit))
    return info


async def is_cron_leader(*, name: str = "queues") -> bool:
    """Whether this node's cron holds the leadership."""
    leader: bool = await call((name, "cron"), IsLeader())
    return leader
