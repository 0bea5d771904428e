"""The root of SoundForge's supervision tree (DESIGN.md: ``soundforge.Application``).

    Root (one_for_one)
    ├── Registry         names → actors (unique keys)
    ├── PubSub           local fan-out (the PostgreSQL bridge joins with the database issue)
    ├── TaskSupervisor   short async tasks
    └── PortSupervisor   DynamicSupervisor of port actors (separator, analyzer, downloader)

The database (Repo), queues, studio and web endpoint join this tree as their issues land;
each is a child added here, started after the parts it depends on.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from soundforge.runtime.child_spec import Strategy
from soundforge.runtime.dynamic_supervisor import DynamicSupervisor
from soundforge.runtime.pubsub import PubSub
from soundforge.runtime.registry import Keys, Registry
from soundforge.runtime.supervisor import Supervisor, SupervisorSpec
from soundforge.runtime.task import TaskSupervisor

__all__ = ["NAMES", "Names", "Root"]


class Names(msgspec.Struct, frozen=True):
    """The registered names of the tree's well-known processes."""

    registry: str = "soundforge.registry"
    pubsub: str = "soundforge.pubsub"
    tasks: str = "soundforge.tasks"
    ports: str = "soundforge.ports"


NAMES: Final = Names()


class Root(Supervisor):
    """``soundforge.Application``: the top supervisor, one_for_one."""

    def init(self, arg: Any) -> SupervisorSpec:
        return SupervisorSpec(
            [
                Registry.child_spec({"keys": Keys.UNIQUE, "name": NAMES.registry}),
                PubSub.child_spec({"name": NAMES.pubsub}),
                TaskSupervisor.child_spec({"name": NAMES.tasks}, id="TaskSupervisor"),
                DynamicSupervisor.child_spec({"name": NAMES.ports}, id="PortSupervisor"),
            ],
            strategy=Strategy.ONE_FOR_ONE,
        )
