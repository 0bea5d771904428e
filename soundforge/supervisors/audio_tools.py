"""A small tree for command-line audio work without a database: ports and their pools.

``soundforge separate`` and ``soundforge analyze`` run the same warm port programs as the
server, supervised the same way (so a crash or Ctrl-C kills the programs with their process
groups), but need no PostgreSQL:

    AudioTools (one_for_one)
    ├── PortSupervisor   DynamicSupervisor of the port programs
    └── <program> pools  e.g. soundforge.ports.separator (size 1)
"""

from __future__ import annotations

from typing import Any

import msgspec

from soundforge.actors.port_pool import pool_specs
from soundforge.config import Settings
from soundforge.runtime.child_spec import Strategy
from soundforge.runtime.dynamic_supervisor import DynamicSupervisor
from soundforge.runtime.supervisor import Supervisor, SupervisorSpec
from soundforge.supervisors.root import NAMES, program_environment

__all__ = ["AudioTools", "AudioToolsOptions"]


class AudioToolsOptions(msgspec.Struct, frozen=True):
    settings: Settings
    #: program → pool size
    ports: dict[str, int]


class AudioTools(Supervisor):
    def init(self, arg: Any) -> SupervisorSpec:
        options: AudioToolsOptions = arg
        return SupervisorSpec(
            [
                DynamicSupervisor.child_spec({"name": NAMES.ports}, id="PortSupervisor"),
                *pool_specs(options.ports, program_environment(options.settings)),
            ],
            strategy=Strategy.ONE_FOR_ONE,
        )
