"""MIDI controllers for the studio: devices, mappings, learn, presets, feedback and clock.

Put :class:`MidiDevices` under the Studio supervisor (after the mixers)::

    MidiDevices.child_spec(MidiOptions(repo=NAMES.repo, pubsub=NAMES.pubsub,
                                       enabled=settings.midi))

and use the functions below from the API and pages. ``docs/midi.md`` explains the design:
the backend (ALSA, then JACK), one input actor per device, the mapping engine with soft
takeover, learn, presets, feedback and MIDI clock in and out.
"""

from soundforge.studio.midi.backend import CLIENT_NAME, MidiBackend, Unavailable, select_backend
from soundforge.studio.midi.clock import CLOCK_PORT, PPQN, ClockOut, ClockTracker
from soundforge.studio.midi.devices import (
    DEFAULT_NAME,
    DeviceInfo,
    LearnArmed,
    MidiDevices,
    MidiOff,
    MidiOptions,
    MidiStatus,
    MonitorEntry,
    cancel_learn,
    learn,
    mappings_changed,
    status,
)
from soundforge.studio.midi.events import (
    CLOCK_TOPIC,
    MidiClock,
    MidiLearned,
    MidiLearnTimeout,
    user_topic,
)
from soundforge.studio.midi.input import MidiInput
from soundforge.studio.midi.mapping import (
    TAKEOVER_THRESHOLD,
    Mapping,
    MappingEngine,
    MessageType,
    Mode,
)
from soundforge.studio.midi.messages import MidiMessage, describe, encode, parse
from soundforge.studio.midi.presets import PRESETS, Preset, UnknownPreset, preset_mappings
from soundforge.studio.midi.store import (
    InvalidMapping,
    delete_mapping,
    list_mappings,
    save_mapping,
    save_mappings,
)

__all__ = [
    "CLIENT_NAME",
    "CLOCK_PORT",
    "CLOCK_TOPIC",
    "DEFAULT_NAME",
    "PPQN",
    "PRESETS",
    "TAKEOVER_THRESHOLD",
    "ClockOut",
    "ClockTracker",
    "DeviceInfo",
    "InvalidMapping",
    "LearnArmed",
    "Mapping",
    "MappingEngine",
    "MessageType",
    "MidiBackend",
    "MidiClock",
    "MidiDevices",
    "MidiInput",
    "MidiLearnTimeout",
    "MidiLearned",
    "MidiMessage",
    "MidiOff",
    "MidiOptions",
    "MidiStatus",
    "Mode",
    "MonitorEntry",
    "Preset",
    "Unavailable",
    "UnknownPreset",
    "cancel_learn",
    "delete_mapping",
    "describe",
    "encode",
    "learn",
    "list_mappings",
    "mappings_changed",
    "parse",
    "preset_mappings",
    "save_mapping",
    "save_mappings",
    "select_backend",
    "status",
    "user_topic",
]
