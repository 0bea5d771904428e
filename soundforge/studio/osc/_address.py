"""The OSC address space: ``/sf/`` plus a control path with slashes, and the values it takes.

Every control path of a mixer session (``soundforge.studio.controls``) has one address:
``stem.vocals.volume`` is ``/sf/stem/vocals/volume``, ``deck.1.eq.low`` is
``/sf/deck/1/eq/low``. Paths are routed to the focused track's session or to the DJ
console's by their first part (:func:`session_of`: ``deck.…`` and ``crossfader…`` are the
console's); a console path that a track also has (``master.volume``) is addressed under
``/sf/dj/`` (``/sf/dj/master/volume``), and ``/sf/dj/`` names the console for any path.
Three addresses are not controls: ``/sf/register [port]`` (send me
feedback), ``/sf/unregister`` and ``/sf/sync`` (send me the whole state now).

What a message's first argument means depends on the control's kind, so that a TouchOSC
fader or button works without scripting:

* ``level``: a float 0..1, through :func:`controls.scale`;
* ``number``: the value itself (``/sf/rate 0.8``, ``/sf/pitch -2``; nil empties a hot cue);
* ``toggle``: on when the number is ≥ 0.5 (or ``T``/``F``);
* ``trigger``: fires on any value but 0 (buttons send 1 on press and 0 on release), or
  with no argument at all;
* ``choice``: the name, or a number 0..1 across the choices (a TouchOSC radio);
* ``track``: a track id, or nil/empty to eject.

Feedback goes the other way (:func:`feedback_args`): floats for levels
(:func:`controls.fraction`), raw numbers for numbers, 1.0/0.0 for toggles, strings for
choices and tracks. OSC address *patterns* (``*``, ``?``, ``[..]``, ``{..}``) are not
expanded: such an address counts as unknown.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

import msgspec

from soundforge.errors import SoundForgeError
from soundforge.studio import controls
from soundforge.studio.controls import Control

__all__ = [
    "PREFIX",
    "SKIP",
    "BadArguments",
    "Register",
    "SetControl",
    "Sync",
    "UnknownAddress",
    "Unregister",
    "address_for",
    "feedback_args",
    "parse_address",
    "session_of",
    "value_for",
]

PREFIX: Final = "/sf"

_SEGMENT: Final = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_PATTERN_CHARS: Final = frozenset("*?[]{}!,")


class UnknownAddress(SoundForgeError):
    """The address names nothing in SoundForge's OSC address space."""


class BadArguments(SoundForgeError):
    """The arguments do not fit the control the address names."""


class SetControl(msgspec.Struct, frozen=True):
    """A message setting the control at ``path`` of ``session`` ("dj" for ``/sf/dj/…``;
    None: the session :func:`session_of` routes the path to)."""

    path: str
    session: str | None = None


class Register(msgspec.Struct, frozen=True):
    """``/sf/register [port]``: feedback to the sender (at ``port``, default its own)."""

    port: int | None = None


class Unregister(msgspec.Struct, frozen=True):
    """``/sf/unregister``: no more feedback to the sender."""


class Sync(msgspec.Struct, frozen=True):
    """``/sf/sync``: the whole state of the focused session, to the sender, now."""


Command = SetControl | Register | Unregister | Sync


class _Skip:
    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIP"


#: What :func:`value_for` returns for a message that changes nothing (a button's release).
SKIP: Final = _Skip()


def address_for(path: str, session: str | None = None) -> str:
    """The OSC address of a control path of ``session`` ("track" or "dj"; None: the one
    the path routes to): ``rate`` → ``/sf/rate``, the console's ``master.volume`` →
    ``/sf/dj/master/volume``."""
    slashed = path.replace(".", "/")
    if session == "dj" and session_of(path) != "dj":
        return f"{PREFIX}/dj/{slashed}"
    return f"{PREFIX}/{slashed}"


def parse_address(address: str, args: list[Any]) -> Command:
    """What a message at ``address`` asks for. Raises :class:`UnknownAddress` or
    :class:`BadArguments` (for ``/sf/register`` with a port that is not one)."""
    if not address.startswith(PREFIX + "/"):
        raise UnknownAddress(f"{_short(address)} is outside SoundForge's /sf/ address space.")
    if _PATTERN_CHARS.intersection(address):
        raise UnknownAddress(f"{_short(address)} is an OSC address pattern; send exact addresses.")
    segments = address[len(PREFIX) + 1 :].split("/")
    if not all(_SEGMENT.match(segment) for segment in segments):
        raise UnknownAddress(f"{_short(address)} is not a SoundForge address.")
    if len(segments) == 1:
        match segments[0]:
            case "register":
                return Register(_port(args))
            case "unregister":
                return Unregister()
            case "sync":
                return Sync()
    if segments[0] == "dj" and len(segments) > 1:
        return SetControl(".".join(segments[1:]), "dj")
    return SetControl(".".join(segments))


def session_of(path: str) -> str:
    """Which of the focused user's sessions a path goes to: ``"dj"`` or ``"track"``."""
    return "dj" if path.startswith("deck.") or path.split(".", 1)[0] == "crossfader" else "track"


def value_for(control: Control, args: list[Any]) -> Any:
    """The control value a message's arguments mean, or :data:`SKIP` (a trigger's 0)."""
    kind = control.kind
    if not args:
        if kind == "trigger":
            return True
        raise BadArguments(f"{address_for(control.path)} needs a value.")
    arg = args[0]
    if kind == "trigger":
        return True if _truthy(arg, control, threshold=None) else SKIP
    if kind == "toggle":
        return _truthy(arg, control, threshold=0.5)
    if kind == "level":
        return controls.scale(control, _number(arg, control))
    if kind == "number":
        if arg is None and control.nullable:
            return None
        number = _number(arg, control)
        return round(number) if control.integer else number
    if kind == "choice":
        if isinstance(arg, str):
            return arg
        return controls.scale(control, _number(arg, control))
    # track: an id, or nil / an empty string to eject
    if arg is None or arg == "":
        return None
    if isinstance(arg, str):
        return arg
    raise BadArguments(f"{address_for(control.path)} takes a track id (a string) or nil.")


def feedback_args(control: Control, value: Any) -> list[Any] | None:
    """The OSC arguments that show ``value`` on a surface, or None (nothing to show)."""
    kind = control.kind
    if kind == "trigger":
        return None
    if kind == "level":
        return [float(controls.fraction(control, value))]
    if kind == "toggle":
        return [1.0 if value else 0.0]
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return [float(value)]
    if kind == "choice":
        return [str(value)] if isinstance(value, str) else None
    return [value if isinstance(value, str) else ""]


def _number(arg: Any, control: Control) -> float:
    if isinstance(arg, bool):
        return 1.0 if arg else 0.0
    if isinstance(arg, int | float) and math.isfinite(arg):
        return float(arg)
    raise BadArguments(f"{address_for(control.path)} takes a number, not {_short(repr(arg))}.")


def _truthy(arg: Any, control: Control, threshold: float | None) -> bool:
    if isinstance(arg, bool):
        return arg
    number = _number(arg, control)
    return number != 0.0 if threshold is None else number >= threshold


def _port(args: list[Any]) -> int | None:
    if not args:
        return None
    arg = args[0]
    if isinstance(arg, str) and arg.isdigit():
        arg = int(arg)
    if isinstance(arg, float) and arg.is_integer():
        arg = int(arg)
    if isinstance(arg, int) and not isinstance(arg, bool) and 0 < arg < 65536:
        return arg
    raise BadArguments(f"/sf/register takes a UDP port 1..65535, not {_short(repr(arg))}.")


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."
