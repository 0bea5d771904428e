"""What the MIDI part of the studio broadcasts (local PubSub topics of the node).

* ``midi:<user_id>`` — MIDI learn's outcome for that user: :class:`MidiLearned` (the
  mapping was saved) or :class:`MidiLearnTimeout` (no control moved within 30 s). The
  browser tab that armed learning follows this topic on its WebSocket.
* ``midi:clock`` — :class:`MidiClock`: the tempo of MIDI clock arriving from a device
  (once per beat) and its start, stop and continue.

Each event carries its ``topic`` so that the page's socket client routes it; on the wire
they are JSON objects with a dotted ``type`` like every other event.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

__all__ = [
    "CLOCK_TOPIC",
    "MidiClock",
    "MidiEvent",
    "MidiLearnTimeout",
    "MidiLearned",
    "user_topic",
]

#: Where MIDI clock from devices is published.
CLOCK_TOPIC: Final = "midi:clock"


def user_topic(user_id: str) -> str:
    """The topic MIDI learn answers ``user_id`` on."""
    return f"midi:{user_id}"


class MidiLearned(msgspec.Struct, frozen=True, tag="midi.learned", tag_field="type"):
    """Learning ended with a saved mapping: ``path`` now follows the device's control."""

    topic: str
    path: str
    device_name: str
    #: The stored mapping, as the mappings API lists it.
    mapping: dict[str, Any]
    #: What was moved, in the monitor's words ("CC 7 = 100 (ch 1)").
    message: str


class MidiLearnTimeout(msgspec.Struct, frozen=True, tag="midi.learn_timeout", tag_field="type"):
    """Learning for ``path`` ended because no control moved in time."""

    topic: str
    path: str
    seconds: float


class MidiClock(msgspec.Struct, frozen=True, tag="midi.clock", tag_field="type"):
    """MIDI clock from ``device``: the tempo once a beat, and each start/stop/continue."""

    topic: str
    device_name: str
    event: Literal["beat", "start", "stop", "continue"]
    running: bool
    #: Beats per minute from the last 24 ticks; None until a beat's worth arrived.
    bpm: float | None


MidiEvent = MidiLearned | MidiLearnTimeout | MidiClock
