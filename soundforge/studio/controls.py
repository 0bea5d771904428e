"""The control space: every value a mixer session holds, by path, with its kind and range.

A mixer session's state is a flat mapping of *control paths* to values
(``"stem.vocals.volume" → 0.8``). Every source — a browser tab, an OSC surface, a MIDI
controller, the JSON API — names what it changes by path, so one table here says what each
path is, what range it has and how a surface's 0..1 maps onto it. The OSC address of a path
is ``/sf/`` plus the path with slashes (``/sf/stem/vocals/volume``); a MIDI mapping's action
is the path itself.

Two kinds of session (``docs/studio.md``):

* ``track:<id>`` — the track page's player and practice mode: transport, master, one strip
  per stem, the A–B loop, rate and pitch, count-in and the step-up trainer;
* ``dj`` — two decks (track, transport, cue, tempo, sync, volume, 3-band EQ, stem mutes,
  eight hot cues each), the crossfader and its curve.

    >>> control = control_for("track:1", "stem.vocals.volume", {"stems": ["vocals"]})
    >>> scale(control, 0.5)
    0.5
    >>> control_for("dj", "deck.1.rate", {}).max
    1.5
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

import msgspec

from soundforge.errors import SoundForgeError

__all__ = [
    "DECKS",
    "HOT_CUES",
    "Control",
    "ControlError",
    "Kind",
    "SessionNotFound",
    "UnknownControl",
    "clamp",
    "control_for",
    "controls",
    "fraction",
    "scale",
]

Kind = Literal["level", "toggle", "number", "trigger", "choice", "track"]

#: The DJ console's decks and each deck's hot cues.
DECKS: Final = (1, 2)
HOT_CUES: Final = tuple(range(1, 9))
CURVES: Final = ("linear", "equal_power")

_STEM_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class ControlError(SoundForgeError):
    """A control change cannot be applied (unknown path, wrong type, a track not yours)."""

    status = 422


class UnknownControl(ControlError):
    """The path names no control of this session."""


class SessionNotFound(ControlError):
    """The session names a track the user does not have (or no session kind at all)."""

    status = 404


class Control(msgspec.Struct, frozen=True):
    """One control: its path, kind and range.

    ``level``: 0..1 (faders, knobs). ``number``: ``min``..``max`` in the control's own unit
    (ms, rate, semitones, beats); ``nullable`` ones may be emptied (hot cues). ``toggle``: a
    bool. ``trigger``: an action, never stored (play, cue, sync). ``choice``: one of
    ``choices``. ``track``: a track id of the session's user, or null.
    """

    path: str
    kind: Kind
    min: float = 0.0
    max: float = 1.0
    choices: tuple[str, ...] = ()
    nullable: bool = False
    #: Whole numbers only (beats, passes).
    integer: bool = False


def _level(path: str) -> Control:
    return Control(path, "level")


def _toggle(path: str) -> Control:
    return Control(path, "toggle")


def _trigger(path: str) -> Control:
    return Control(path, "trigger", 0.0, 1.0)


def _ms(path: str, info: Mapping[str, Any], nullable: bool = False) -> Control:
    duration = info.get("duration_ms")
    top = float(duration) if isinstance(duration, int | float) and duration > 0 else 24 * 3600e3
    return Control(path, "number", 0.0, top, nullable=nullable)


_TRACK_FIXED: Final = {
    c.path: c
    for c in (
        _toggle("transport.playing"),
        _trigger("transport.play"),
        _trigger("transport.pause"),
        _trigger("transport.toggle"),
        _trigger("transport.stop"),
        _level("master.volume"),
        _toggle("loop.enabled"),
        Control("rate", "number", 0.25, 2.0),
        Control("pitch", "number", -12.0, 12.0),
        Control("practice.count_in", "number", 0.0, 8.0, integer=True),
        _toggle("practice.trainer.enabled"),
        Control("practice.trainer.step", "number", 0.01, 0.25),
        Control("practice.trainer.target", "number", 0.25, 2.0),
        Control("practice.trainer.every", "number", 1.0, 16.0, integer=True),
        _trigger("practice.loop_pass"),
    )
}
_TRACK_MS: Final = ("transport.position_ms", "loop.a_ms", "loop.b_ms")
_STEM_PARTS: Final = {"volume": _level, "mute": _toggle, "solo": _toggle}

_DJ_FIXED: Final = {
    c.path: c
    for c in (
        _level("crossfader"),
        Control("crossfader.curve", "choice", choices=CURVES),
        _level("master.volume"),
    )
}
_DECK_PARTS: Final = {
    "track_id": lambda p: Control(p, "track", nullable=True),
    "playing": _toggle,
    "play": _trigger,
    "cue": _trigger,
    "sync": _trigger,
    "rate": lambda p: Control(p, "number", 0.5, 1.5),
    "volume": _level,
    "eq.low": _level,
    "eq.mid": _level,
    "eq.high": _level,
}


def control_for(key: str, path: str, info: Mapping[str, Any]) -> Control:
    """The control ``path`` names in a session with key ``key`` and this ``info``.

    Raises :class:`UnknownControl`, with a sentence, for a path the session does not have.
    """
    found = _dj_control(path, info) if key == "dj" else _track_control(path, info)
    if found is None:
        raise UnknownControl(f"{path!r} is not a control of this mixer (see docs/studio.md).")
    return found


def controls(key: str, info: Mapping[str, Any]) -> list[Control]:
    """Every control of a session (for layouts, learn menus and the API), in a stable order."""
    if key == "dj":
        paths = [*_DJ_FIXED]
        for deck in DECKS:
            deck_info = _deck_info(info, str(deck))
            paths += [f"deck.{deck}.{part}" for part in _DECK_PARTS]
            paths += [f"deck.{deck}.{part}" for part in ("position_ms", "cue_ms")]
            paths += [f"deck.{deck}.stem.{s}.mute" for s in _stems(deck_info)]
            for k in HOT_CUES:
                paths += [f"deck.{deck}.hotcue.{k}{end}" for end in ("", ".trigger", ".clear")]
    else:
        paths = [*_TRACK_FIXED, *_TRACK_MS]
        for stem in _stems(info):
            paths += [f"stem.{stem}.{part}" for part in _STEM_PARTS]
    return [control_for(key, path, info) for path in paths]


def clamp(control: Control, value: Any) -> Any:
    """``value`` checked for ``control``'s kind and clamped into its range.

    Raises :class:`ControlError` for a value of the wrong type. Triggers pass any value.
    """
    kind = control.kind
    if kind == "trigger":
        return value
    if kind == "toggle":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and math.isfinite(value):
            return value >= 0.5
        raise ControlError(f"{control.path} is on or off: send true or false, not {value!r}.")
    if kind == "choice":
        if value not in control.choices:
            allowed = " or ".join(control.choices)
            raise ControlError(f"{control.path} must be {allowed}, not {value!r}.")
        return value
    if kind == "track":
        if value is None or (isinstance(value, str) and 0 < len(value) <= 64):
            return value
        raise ControlError(f"{control.path} takes a track id or null, not {value!r}.")
    if value is None and control.nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError(f"{control.path} takes a number, not {value!r}.")
    number = min(control.max, max(control.min, float(value)))
    return round(number) if control.integer else number


def scale(control: Control, value: float) -> Any:
    """A surface's 0..1 (a CC over 127, an OSC fader) as ``control``'s value."""
    position = min(1.0, max(0.0, float(value)))
    if control.kind in ("level", "number"):
        number = control.min + position * (control.max - control.min)
        return round(number) if control.integer else number
    if control.kind == "toggle":
        return position >= 0.5
    if control.kind == "choice":
        index = min(len(control.choices) - 1, int(position * len(control.choices)))
        return control.choices[index]
    return position


def fraction(control: Control, value: Any) -> float:
    """The inverse of :func:`scale`: where ``value`` sits in 0..1 (LEDs, motor faders)."""
    if control.kind == "toggle":
        return 1.0 if value else 0.0
    if control.kind == "choice":
        if value not in control.choices or len(control.choices) < 2:
            return 0.0
        return control.choices.index(value) / (len(control.choices) - 1)
    if not isinstance(value, int | float) or control.max == control.min:
        return 0.0
    return min(1.0, max(0.0, (float(value) - control.min) / (control.max - control.min)))


def _track_control(path: str, info: Mapping[str, Any]) -> Control | None:
    fixed = _TRACK_FIXED.get(path)
    if fixed is not None:
        return fixed
    if path in _TRACK_MS:
        return _ms(path, info)
    parts = path.split(".")
    is_stem = len(parts) == 3 and parts[0] == "stem" and parts[2] in _STEM_PARTS
    if is_stem and parts[1] in _stems(info):
        return _STEM_PARTS[parts[2]](path)
    return None


def _dj_control(path: str, info: Mapping[str, Any]) -> Control | None:
    fixed = _DJ_FIXED.get(path)
    if fixed is not None:
        return fixed
    parts = path.split(".")
    if len(parts) < 3 or parts[0] != "deck" or parts[1] not in ("1", "2"):
        return None
    deck_info = _deck_info(info, parts[1])
    rest = ".".join(parts[2:])
    maker = _DECK_PARTS.get(rest)
    if maker is not None:
        return maker(path)
    if rest in ("position_ms", "cue_ms"):
        return _ms(path, deck_info)
    if len(parts) == 5 and parts[2] == "stem" and parts[4] == "mute":
        return _toggle(path) if parts[3] in _stems(deck_info) else None
    if parts[2] == "hotcue" and len(parts) in (4, 5) and parts[3].isdigit():
        if int(parts[3]) not in HOT_CUES:
            return None
        if len(parts) == 4:
            return _ms(path, deck_info, nullable=True)
        return _trigger(path) if parts[4] in ("trigger", "clear") else None
    return None


def _deck_info(info: Mapping[str, Any], deck: str) -> Mapping[str, Any]:
    decks = info.get("decks")
    found = decks.get(deck) if isinstance(decks, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _stems(info: Mapping[str, Any]) -> Iterable[str]:
    stems = info.get("stems")
    if not isinstance(stems, list | tuple):
        return ()
    return [s for s in stems if isinstance(s, str) and _STEM_NAME.match(s)]
