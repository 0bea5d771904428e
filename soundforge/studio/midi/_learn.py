"""MIDI learn's values and the check of what is being learned (used by MidiDevices).

Arming needs the control the path names in the user's session (its kind decides the mode a
learned button or knob gets): deck and crossfader paths are looked up in the user's ``dj``
session, the others in the track session the user has focused. A path the session does not
have is refused with ``controls``' own sentence before anything is armed.
"""

from __future__ import annotations

import msgspec

from soundforge.errors import SoundForgeError
from soundforge.studio import controls, mixers
from soundforge.studio.controls import Control
from soundforge.studio.midi.input import is_dj_path

__all__ = ["Armed", "LearnArmed", "MidiOff", "arm_control"]


class MidiOff(SoundForgeError):
    """MIDI cannot be used on this node (no ALSA/JACK, or turned off)."""

    status = 409


class LearnArmed(msgspec.Struct, frozen=True):
    """MIDI learn is waiting for a control to move (the answer of ``learn``)."""

    path: str
    #: Seconds it waits before giving up with ``midi.learn_timeout``.
    timeout: float


class Armed(msgspec.Struct, frozen=True):
    """What MidiDevices remembers while learning is armed."""

    user_id: str
    path: str
    mode: str | None
    control: Control
    serial: int


async def arm_control(user_id: str, path: str) -> Control:
    """The control ``path`` names for ``user_id``, or ``controls.ControlError`` saying why not."""
    if is_dj_path(path):
        key = "dj"
    else:
        focus = mixers.focused(user_id=user_id)
        if focus is None or focus.key == "dj":
            raise controls.ControlError(
                "Open the track whose control you want to map first, then start MIDI learn."
            )
        key = focus.key
    snapshot = await mixers.snapshot(user_id, key)
    return controls.control_for(key, path, snapshot.info)
