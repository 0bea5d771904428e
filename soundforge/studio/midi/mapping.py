"""The mapping engine: what a message from one controller does to the mixer, and back.

Pure code, no I/O: a :class:`MappingEngine` holds one device's mappings (rows of the
``midi_mappings`` table as :class:`Mapping` values) and turns each incoming
:class:`~soundforge.studio.midi.messages.MidiMessage` into control values
(``{"stem.vocals.volume": 0.5}``), and each value the mixer broadcast into the feedback
messages for the device's LEDs and motor faders. A mapping's ``action`` is the control path
itself (``soundforge.studio.controls``); its ``mode`` says how the message is read:

``absolute``
    CC 0–127 (or pitch bend) is the control's range through ``controls.scale``. With
    **soft takeover** (Mixxx's name) a knob whose value another source changed since this
    device last set it acts only once it comes within :data:`TAKEOVER_THRESHOLD` of the
    current value or crosses it, so a far-away knob never makes the value jump. A knob whose
    control value this device has never seen is in the same state: it picks up.
``relative``
    Endless encoders: 1–63 turn up by that many steps, 65–127 down (two's complement),
    each step 1/127 of the range unless ``params["step"]`` says otherwise.
``toggle``
    A press (note on, CC ≥ 64 after a release, program change) flips an on/off control,
    swaps a level between its ends, cycles a choice, or fires a trigger.
``momentary``
    On while held: press → on (maximum), release → off (minimum); triggers fire on press.
    A note mapped ``absolute`` behaves like this, since a key has no position.

Differences from Mixxx: a mapping names one control path instead of a script; there are no
modifier (shift) layers; soft takeover is on per mapping and on by default.

    >>> engine = MappingEngine([Mapping(device_name="k", message_type="cc", channel=0,
    ...                                 number=7, action="master.volume")])
    >>> level = Control("master.volume", "level")
    >>> engine.handle(MidiMessage("cc", 0, 7, 127), lambda path: (level, None))
    {'master.volume': 1.0}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal

import msgspec

from soundforge.studio.controls import Control, fraction, scale
from soundforge.studio.midi.messages import MidiMessage

__all__ = [
    "ACTION_PATTERN",
    "TAKEOVER_THRESHOLD",
    "Mapping",
    "MappingEngine",
    "MessageType",
    "Mode",
    "Resolve",
    "feedback_source",
    "learned_mapping",
    "message_key",
]

MessageType = Literal["cc", "note", "pitchbend", "program"]
Mode = Literal["absolute", "relative", "toggle", "momentary"]
Source = Literal["learned", "preset"]
Key = tuple[str, int, int]

#: How near (as a fraction of the range) a knob must come to the value to pick it up.
TAKEOVER_THRESHOLD: Final = 3 / 127

#: What the ``midi_mappings.action`` column accepts (its CHECK constraint).
ACTION_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")

#: A path's control in the focused session and its current value (None: not known yet),
#: or None when the focused session has no such control.
Resolve = Callable[[str], "tuple[Control, Any] | None"]

_PLAY_TRIGGERS: Final = ("transport.play", "transport.pause", "transport.toggle")


class Mapping(msgspec.Struct, frozen=True, kw_only=True):
    """One control of one controller mapped to one control path (a ``midi_mappings`` row)."""

    device_name: str
    message_type: MessageType
    channel: int
    #: CC or note number; 0 for pitch bend and program change (as the table stores them).
    number: int
    #: The control path, e.g. ``stem.vocals.volume`` or ``deck.1.play``.
    action: str
    mode: Mode = "absolute"
    soft_takeover: bool = True
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    source: Source = "learned"
    id: str | None = None
    user_id: str | None = None

    @property
    def key(self) -> Key:
        return (self.message_type, self.channel, self.number)


def message_key(message: MidiMessage) -> Key | None:
    """The mapping key a message would match, or None for messages that map to nothing."""
    kind = message.kind
    if kind == "cc":
        return ("cc", message.channel, message.number)
    if kind in ("note_on", "note_off"):
        return ("note", message.channel, message.number)
    if kind == "pitchbend":
        return ("pitchbend", message.channel, 0)
    if kind == "program":
        return ("program", message.channel, message.number)
    return None


def feedback_source(mapping: Mapping) -> str:
    """The path whose value a mapping's LED shows: its own, or for a trigger what it drives.

    A play button lights while its transport plays; a hot cue pad while the cue is set.
    ``params["feedback"]`` overrides it.
    """
    explicit = mapping.params.get("feedback")
    if isinstance(explicit, str):
        return explicit
    path = mapping.action
    if path in _PLAY_TRIGGERS:
        return "transport.playing"
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "deck" and parts[2] == "play":
        return f"deck.{parts[1]}.playing"
    if len(parts) == 5 and parts[2] == "hotcue" and parts[4] == "trigger":
        return ".".join(parts[:4])
    return path


def learned_mapping(
    device_name: str, message: MidiMessage, control: Control, mode: Mode | None = None
) -> Mapping | None:
    """The mapping MIDI learn makes from the first message after arming, or None when the
    message cannot drive a control (clock, release of a key, sysex)."""
    key = message_key(message)
    if key is None or message.kind == "note_off":
        return None
    message_type = key[0]
    if mode is None:
        if message_type == "pitchbend":
            mode = "absolute"
        elif control.kind in ("toggle", "trigger"):
            mode = "toggle" if control.kind == "toggle" else "momentary"
        elif message_type == "cc":
            mode = "absolute"
        else:
            mode = "toggle"
    return Mapping(
        device_name=device_name,
        message_type=message_type,  # type: ignore[arg-type]  # message_key's first items
        channel=key[1],
        number=key[2],
        action=control.path,
        mode=mode,
    )


class MappingEngine:
    """One device's mappings and what it remembers between messages (knobs, presses)."""

    def __init__(self, mappings: Iterable[Mapping] = ()) -> None:
        self.mappings: tuple[Mapping, ...] = ()
        self._by_key: dict[Key, Mapping] = {}
        self._by_feedback: dict[str, list[Mapping]] = {}
        #: The last position (0..1) each absolute control of the device was seen at.
        self._knob: dict[Key, float] = {}
        #: CC buttons held down now (a press is a rise through 64).
        self._held: set[Key] = set()
        #: Paths this device set last: soft takeover lets their knobs act at once.
        self._owned: set[str] = set()
        self.replace(mappings)

    def replace(self, mappings: Iterable[Mapping]) -> None:
        """Use these mappings from now on (knob positions of unchanged keys are kept)."""
        self.mappings = tuple(mappings)
        self._by_key = {m.key: m for m in self.mappings}
        self._by_feedback = {}
        for mapping in self.mappings:
            self._by_feedback.setdefault(feedback_source(mapping), []).append(mapping)
        self._knob = {k: v for k, v in self._knob.items() if k in self._by_key}

    def mapping_for(self, message: MidiMessage) -> Mapping | None:
        key = message_key(message)
        return self._by_key.get(key) if key is not None else None

    def external_change(self, path: str) -> None:
        """Another source set ``path``: its knob must pick the value up again."""
        self._owned.discard(path)

    def handle(self, message: MidiMessage, resolve: Resolve) -> dict[str, Any]:
        """The control values ``message`` sets (empty when it sets nothing)."""
        mapping = self.mapping_for(message)
        if mapping is None:
            return {}
        found = resolve(mapping.action)
        if found is None:
            return {}
        control, current = found
        if control.kind == "track":
            return {}  # loading a deck needs a track id: never from a knob
        value = self._value(mapping, message, control, current)
        if value is _NOTHING:
            return {}
        self._owned.add(mapping.action)
        return {mapping.action: value}

    def shows(self, path: str) -> bool:
        """Whether a mapped control of the device shows ``path`` (has feedback for it)."""
        return path in self._by_feedback

    def feedback(self, path: str, value: Any, control: Control | None) -> list[MidiMessage]:
        """The messages that show ``path``'s new ``value`` on the device's mapped controls
        (none for a path whose control is unknown: a stem this track does not have)."""
        out: list[MidiMessage] = []
        for mapping in self._by_feedback.get(path, ()):
            if mapping.action != path:  # a trigger's LED: lit while what it drives is on
                position = 0.0 if value is None or value is False else 1.0
            elif control is None:
                continue
            else:
                position = fraction(control, value)
            message = _feedback_message(mapping, position)
            if message is not None:
                out.append(message)
        return out

    # -- reading one message ------------------------------------------------------------

    def _value(self, mapping: Mapping, message: MidiMessage, control: Control, current: Any) -> Any:
        mode = mapping.mode
        if message.kind == "pitchbend":
            return self._absolute(mapping, (message.value + 8192) / 16383, control, current)
        if message.kind in ("note_on", "note_off", "program"):
            pressed = message.kind != "note_off"
            if mode == "toggle" or message.kind == "program":
                return _flip(control, current) if pressed else _NOTHING
            return _hold(control, pressed)
        # A control change.
        if mode == "relative":
            return _relative(message.value, mapping, control, current)
        if mode in ("toggle", "momentary"):
            key = mapping.key
            pressed = message.value >= 64
            was = key in self._held
            if pressed:
                self._held.add(key)
            else:
                self._held.discard(key)
            if mode == "toggle":
                return _flip(control, current) if pressed and not was else _NOTHING
            return _hold(control, pressed) if pressed != was else _NOTHING
        if control.kind == "trigger":
            return True if message.value >= 64 else _NOTHING
        return self._absolute(mapping, message.value / 127, control, current)

    def _absolute(self, mapping: Mapping, position: float, control: Control, current: Any) -> Any:
        key = mapping.key
        previous = self._knob.get(key)
        self._knob[key] = position
        takeover = mapping.soft_takeover and control.kind in ("level", "number", "choice")
        if takeover and mapping.action not in self._owned and current is not None:
            target = fraction(control, current)
            near = abs(position - target) <= TAKEOVER_THRESHOLD
            crossed = previous is not None and (previous - target) * (position - target) <= 0
            if not (near or crossed):
                return _NOTHING
        return scale(control, position)


class _Nothing:
    __slots__ = ()


_NOTHING: Final = _Nothing()


def _flip(control: Control, current: Any) -> Any:
    kind = control.kind
    if kind == "trigger":
        return True
    if kind == "toggle":
        return not bool(current)
    if kind == "choice" and control.choices:
        index = control.choices.index(current) if current in control.choices else -1
        return control.choices[(index + 1) % len(control.choices)]
    below_half = current is None or fraction(control, current) < 0.5
    return scale(control, 1.0 if below_half else 0.0)


def _hold(control: Control, pressed: bool) -> Any:
    if control.kind == "trigger":
        return True if pressed else _NOTHING
    if control.kind == "toggle":
        return pressed
    return scale(control, 1.0 if pressed else 0.0)


def _relative(raw: int, mapping: Mapping, control: Control, current: Any) -> Any:
    steps = raw if raw < 64 else raw - 128
    if steps == 0 or raw == 64:
        return _NOTHING
    step = mapping.params.get("step")
    size = float(step) if isinstance(step, int | float) and step > 0 else 1 / 127
    start = fraction(control, current) if current is not None else 0.0
    if control.kind == "toggle":
        return steps > 0
    if control.kind == "trigger":
        return True
    return scale(control, min(1.0, max(0.0, start + steps * size)))


def _feedback_message(mapping: Mapping, position: float) -> MidiMessage | None:
    kind = mapping.message_type
    if kind == "cc":
        return MidiMessage("cc", mapping.channel, mapping.number, round(position * 127))
    if kind == "note":
        lit = position >= 0.5
        return MidiMessage("note_on", mapping.channel, mapping.number, 127 if lit else 0)
    if kind == "pitchbend":
        return MidiMessage("pitchbend", mapping.channel, 0, round(position * 16383) - 8192)
    return None
