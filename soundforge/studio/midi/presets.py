"""Ready-made mappings for two common kinds of controller, applied to one device at a time.

``generic``
    An 8-channel fader box in CC mode, laid out like Korg's nanoKONTROL2 factory scene (the
    most common layout; others can be MIDI-learned): faders CC 0–7 drive the stem volumes in
    the track's stem order with the last fader on the master, knob CC 16 the tempo (rate)
    and CC 17 the pitch, the S buttons (CC 32–39) solo and the M buttons (CC 48–55) mute the
    stem of their channel, and the transport buttons play/pause (CC 41), stop (CC 42) and
    switch the A–B loop (CC 46, "cycle"). All on MIDI channel 1.
``dj``
    A two-deck DJ controller in the layout of Pioneer's DDJ-SB family (deck 1 on MIDI channel
    1, deck 2 on channel 2): play note 11, cue note 12, sync note 88, tempo fader CC 0,
    channel fader CC 19, EQ high/mid/low CC 7/11/15; hot cue pads notes 0–7 on channel 8
    (deck 1) and 10 (deck 2); the crossfader CC 31 on channel 7.

Applying a preset stores its mappings for the user and the device (``source = 'preset'``),
replacing what the same controls were mapped to; other mappings of the device stay.

    >>> [m.action for m in preset_mappings("generic", "nanoKONTROL2", ["vocals", "drums"])][:3]
    ['stem.vocals.volume', 'stem.drums.volume', 'master.volume']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from soundforge.errors import SoundForgeError
from soundforge.studio.midi.mapping import Mapping, MessageType, Mode

__all__ = ["DEFAULT_STEMS", "PRESETS", "Preset", "UnknownPreset", "preset_mappings"]

#: The stems the generic preset lays out when no track is open (the default separation's).
DEFAULT_STEMS: Final = ("vocals", "drums", "bass", "other")

_FADERS: Final = 8


class UnknownPreset(SoundForgeError):
    status = 404


class Preset(msgspec.Struct, frozen=True):
    """A preset as the API lists it."""

    name: str
    title: str
    description: str


PRESETS: Final = (
    Preset(
        "generic",
        "Generic 8-fader controller",
        "Faders to stem volumes (last one: master), S/M buttons to solo/mute, knobs to tempo"
        " and pitch, transport buttons to play, stop and loop; nanoKONTROL2 layout.",
    ),
    Preset(
        "dj",
        "Two-deck DJ controller",
        "Play, cue, sync, tempo, volume and 3-band EQ per deck, hot cue pads and the"
        " crossfader; DDJ-SB layout.",
    ),
)


def preset_mappings(name: str, device_name: str, stems: Sequence[str] = ()) -> list[Mapping]:
    """The mappings preset ``name`` makes for ``device_name``; ``stems`` are the focused
    track's stems (the generic preset's fader order), :data:`DEFAULT_STEMS` when empty."""
    if name == "generic":
        rows = _generic(list(stems) or list(DEFAULT_STEMS))
    elif name == "dj":
        rows = _dj()
    else:
        known = ", ".join(p.name for p in PRESETS)
        raise UnknownPreset(f"there is no MIDI preset {name!r}; choose one of {known}.")
    return [
        Mapping(
            device_name=device_name,
            message_type=kind,
            channel=channel,
            number=number,
            action=action,
            mode=mode,
            source="preset",
        )
        for kind, channel, number, action, mode in rows
    ]


_Row = tuple[MessageType, int, int, str, Mode]


def _generic(stems: list[str]) -> list[_Row]:
    strips = stems[: _FADERS - 1]
    rows: list[_Row] = [("cc", 0, i, f"stem.{s}.volume", "absolute") for i, s in enumerate(strips)]
    rows.append(("cc", 0, _FADERS - 1, "master.volume", "absolute"))
    rows += [("cc", 0, 32 + i, f"stem.{s}.solo", "toggle") for i, s in enumerate(strips)]
    rows += [("cc", 0, 48 + i, f"stem.{s}.mute", "toggle") for i, s in enumerate(strips)]
    rows += [
        ("cc", 0, 16, "rate", "absolute"),
        ("cc", 0, 17, "pitch", "absolute"),
        ("cc", 0, 41, "transport.toggle", "momentary"),
        ("cc", 0, 42, "transport.stop", "momentary"),
        ("cc", 0, 46, "loop.enabled", "toggle"),
    ]
    return rows


def _dj() -> list[_Row]:
    rows: list[_Row] = []
    for deck, channel, pads in ((1, 0, 7), (2, 1, 9)):
        rows += [
            ("note", channel, 11, f"deck.{deck}.play", "momentary"),
            ("note", channel, 12, f"deck.{deck}.cue", "momentary"),
            ("note", channel, 88, f"deck.{deck}.sync", "momentary"),
            ("cc", channel, 0, f"deck.{deck}.rate", "absolute"),
            ("cc", channel, 19, f"deck.{deck}.volume", "absolute"),
            ("cc", channel, 7, f"deck.{deck}.eq.high", "absolute"),
            ("cc", channel, 11, f"deck.{deck}.eq.mid", "absolute"),
            ("cc", channel, 15, f"deck.{deck}.eq.low", "absolute"),
        ]
        rows += [
            ("note", pads, k - 1, f"deck.{deck}.hotcue.{k}.trigger", "momentary")
            for k in range(1, 9)
        ]
    rows.append(("cc", 6, 31, "crossfader", "absolute"))
    return rows
