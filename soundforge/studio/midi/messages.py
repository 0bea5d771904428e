"""MIDI messages as typed values: parsing rtmidi's bytes, building the ones we send.

rtmidi hands each complete message as a list of bytes; :func:`parse` turns it into a
:class:`MidiMessage` the mapping engine and the monitor understand, and :func:`encode`
does the reverse for feedback and the clock. Only what a control surface sends is kept
apart (notes, control changes, pitch bend, program change and the real-time clock); any
other message (sysex, aftertouch, song position) parses as ``kind="other"`` and is shown
in the monitor but never mapped. A note-on with velocity 0 is a note-off, as the MIDI
specification says.

    >>> parse([0xB1, 7, 100])
    MidiMessage(kind='cc', channel=1, number=7, value=100)
    >>> encode(MidiMessage("note_on", 0, 60, 127))
    [144, 60, 127]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import msgspec

__all__ = [
    "CLOCK_KINDS",
    "MessageKind",
    "MidiMessage",
    "describe",
    "encode",
    "parse",
]

MessageKind = Literal[
    "note_on",
    "note_off",
    "cc",
    "pitchbend",
    "program",
    "clock",
    "start",
    "continue",
    "stop",
    "other",
]

#: The system real-time messages of MIDI clock (24 per quarter note, and transport).
CLOCK_KINDS: Final = frozenset({"clock", "start", "continue", "stop"})

_REALTIME: Final[dict[int, MessageKind]] = {
    0xF8: "clock",
    0xFA: "start",
    0xFB: "continue",
    0xFC: "stop",
}
_STATUS: Final[dict[MessageKind, int]] = {
    "note_off": 0x80,
    "note_on": 0x90,
    "cc": 0xB0,
    "program": 0xC0,
    "pitchbend": 0xE0,
}
_REALTIME_STATUS: Final = {kind: status for status, kind in _REALTIME.items()}


class MidiMessage(msgspec.Struct, frozen=True):
    """One message: its kind, channel 0–15, number (note, controller or program) and value.

    ``value`` is the velocity of a note, the value of a control change, and the bend of a
    pitch bend as -8192..8191 (0 = centre). Clock messages have channel, number and value 0.
    """

    kind: MessageKind
    channel: int = 0
    number: int = 0
    value: int = 0


def parse(data: Sequence[int]) -> MidiMessage:
    """The message in ``data`` (one complete MIDI message, as rtmidi delivers it)."""
    if not data:
        return MidiMessage("other")
    status = data[0]
    realtime = _REALTIME.get(status)
    if realtime is not None:
        return MidiMessage(realtime)
    high, channel = status & 0xF0, status & 0x0F
    first = data[1] & 0x7F if len(data) > 1 else 0
    second = data[2] & 0x7F if len(data) > 2 else 0
    if high == 0x90:
        return MidiMessage("note_on" if second else "note_off", channel, first, second)
    if high == 0x80:
        return MidiMessage("note_off", channel, first, second)
    if high == 0xB0:
        return MidiMessage("cc", channel, first, second)
    if high == 0xE0:
        return MidiMessage("pitchbend", channel, 0, (second << 7 | first) - 8192)
    if high == 0xC0:
        return MidiMessage("program", channel, first, 0)
    return MidiMessage("other", 0, status, 0)


def encode(message: MidiMessage) -> list[int]:
    """The bytes of ``message`` (for feedback and clock out); ``other`` cannot be sent."""
    kind = message.kind
    realtime = _REALTIME_STATUS.get(kind)
    if realtime is not None:
        return [realtime]
    status = _STATUS.get(kind)
    if status is None:
        raise ValueError(f"a {kind} message cannot be encoded")
    channel = message.channel & 0x0F
    if kind == "pitchbend":
        bend = min(16383, max(0, message.value + 8192))
        return [status | channel, bend & 0x7F, bend >> 7]
    if kind == "program":
        return [status | channel, message.number & 0x7F]
    return [status | channel, message.number & 0x7F, message.value & 0x7F]


def describe(message: MidiMessage) -> str:
    """A short line for the monitor, in the words controller manuals use."""
    kind = message.kind
    channel = f"ch {message.channel + 1}"
    if kind in ("note_on", "note_off"):
        word = "note on" if kind == "note_on" else "note off"
        return f"{word} {message.number} velocity {message.value} ({channel})"
    if kind == "cc":
        return f"CC {message.number} = {message.value} ({channel})"
    if kind == "pitchbend":
        return f"pitch bend {message.value:+d} ({channel})"
    if kind == "program":
        return f"program change {message.number} ({channel})"
    if kind in CLOCK_KINDS:
        return f"clock {kind}"
    return f"status byte 0x{message.number:02X}"
