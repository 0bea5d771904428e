"""The studio: mixer sessions shared by browsers, MIDI controllers and OSC surfaces.

``docs/studio.md`` describes the control space, the focus and the protocols; this package's
modules: ``controls`` (the paths, kinds and ranges), ``events`` (what sessions broadcast),
``mixer_state`` (one session as an actor), ``mixers`` (opening sessions, the focus, the API
the rest of the product calls), ``supervisor`` (the Studio subtree).
"""

from __future__ import annotations

from soundforge.studio import controls, mixers
from soundforge.studio.controls import Control, ControlError, SessionNotFound, UnknownControl
from soundforge.studio.events import STUDIO_TOPIC, Focus, MixerChanged, MixerSnapshot
from soundforge.studio.supervisor import Studio, StudioOptions

__all__ = [
    "STUDIO_TOPIC",
    "Control",
    "ControlError",
    "Focus",
    "MixerChanged",
    "MixerSnapshot",
    "SessionNotFound",
    "Studio",
    "StudioOptions",
    "UnknownControl",
    "controls",
    "mixers",
]
