"""Studio: the supervisor of the studio's control parts (server nodes only).

    Studio (rest_for_one)
    ├── MixerSupervisor   DynamicSupervisor of MixerState, one per open mixer session
    ├── Mixers            opens sessions once each; keeps the control surfaces' focus
    ├── MidiDevices       controllers coming and going, one input actor per device
    └── OscServer         the OSC surfaces' UDP endpoint, with feedback

rest_for_one because each part depends on the ones before it: the surfaces act through
``Mixers`` on sessions under the mixer supervisor. A restarted ``Mixers`` forgets the focus
until a tab opens a session again; sessions keep their values (they are saved).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from soundforge.runtime.child_spec import ChildSpec, Strategy
from soundforge.runtime.dynamic_supervisor import DynamicSupervisor
from soundforge.runtime.supervisor import Supervisor, SupervisorSpec
from soundforge.studio.mixer_state import MixerOptions
from soundforge.studio.mixers import Mixers, MixersOptions

__all__ = ["MIXER_SUPERVISOR", "Studio", "StudioOptions"]

MIXER_SUPERVISOR: Final = "soundforge.studio.sessions"


class StudioOptions(msgspec.Struct, frozen=True):
    mixer: MixerOptions
    #: The surfaces' child specs (MIDI devices, OSC server), started after the mixers.
    surfaces: tuple[Any, ...] = ()


class Studio(Supervisor):
    """The studio's subtree; its children start in dependency order."""

    def init(self, options: StudioOptions) -> SupervisorSpec:
        mixers = MixersOptions(options.mixer, MIXER_SUPERVISOR)
        return SupervisorSpec(
            [
                DynamicSupervisor.child_spec({"name": MIXER_SUPERVISOR}, id="MixerSupervisor"),
                Mixers.spec(mixers),
                *options.surfaces,
            ],
            strategy=Strategy.REST_FOR_ONE,
        )

    @classmethod
    def spec(cls, options: StudioOptions) -> ChildSpec:
        return cls.child_spec(options, id="Studio")
