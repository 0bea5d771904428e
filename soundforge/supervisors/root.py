"""The root of SoundForge's supervision tree (DESIGN.md: ``soundforge.Application``).

    Root (one_for_one)
    ├── Registry         names → actors (unique keys)
    ├── Repo             asyncpg pool; the embedded PostgreSQL when no URL is configured
    ├── Migrator         applies pending migrations, then IGNORE (Ecto.Migrator)
    ├── PubSub           local fan-out, bridged to other nodes by ...
    ├── PgPubSubBridge   ... LISTEN/NOTIFY on the shared database
    ├── TaskSupervisor   short async tasks
    └── PortSupervisor   DynamicSupervisor of port actors (separator, analyzer, downloader)

Children start in this order, each after the ones it depends on; the queues, studio and web
endpoint join as their issues land.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from soundforge.actors import repo
from soundforge.actors.migrator import Migrator
from soundforge.actors.pg_pubsub import PgPubSubAdapter, PgPubSubBridge
from soundforge.actors.repo import Repo
from soundforge.config import Settings
from soundforge.runtime.child_spec import Strategy
from soundforge.runtime.dynamic_supervisor import DynamicSupervisor
from soundforge.runtime.pubsub import PubSub
from soundforge.runtime.registry import Keys, Registry
from soundforge.runtime.supervisor import Supervisor, SupervisorSpec
from soundforge.runtime.task import TaskSupervisor

__all__ = ["NAMES", "PUBSUB_TYPES", "Names", "Root"]


class Names(msgspec.Struct, frozen=True):
    """The registered names of the tree's well-known processes."""

    registry: str = "soundforge.registry"
    repo: str = repo.DEFAULT_NAME
    pubsub: str = "soundforge.pubsub"
    tasks: str = "soundforge.tasks"
    ports: str = "soundforge.ports"


NAMES: Final = Names()

#: The message types that may cross nodes through the PubSub bridge (besides plain JSON
#: values). Every node must run with the same list; the pipeline's events join it.
PUBSUB_TYPES: Final[tuple[type[msgspec.Struct], ...]] = ()


def _repo_dsn() -> str:
    try:
        return repo.dsn(NAMES.repo)
    except repo.DatabaseUnavailable as error:
        raise OSError(str(error)) from error  # the bridge retries on OSError with backoff


class Root(Supervisor):
    """``soundforge.Application``: the top supervisor, one_for_one, over a node's settings."""

    def init(self, settings: Any) -> SupervisorSpec:
        assert isinstance(settings, Settings), "Root needs the node's Settings"
        adapter = PgPubSubAdapter(_repo_dsn, types=PUBSUB_TYPES, node_id=settings.node_name)
        return SupervisorSpec(
            [
                Registry.child_spec({"keys": Keys.UNIQUE, "name": NAMES.registry}),
                Repo.child_spec(settings),
                Migrator.child_spec(),
                PubSub.child_spec({"name": NAMES.pubsub, "adapter": adapter}),
                PgPubSubBridge.child_spec(adapter),
                TaskSupervisor.child_spec({"name": NAMES.tasks}, id="TaskSupervisor"),
                DynamicSupervisor.child_spec({"name": NAMES.ports}, id="PortSupervisor"),
            ],
            strategy=Strategy.ONE_FOR_ONE,
        )
