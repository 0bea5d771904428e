"""The mapping engine, messages, presets and the clock tracker: pure code, no devices."""

from __future__ import annotations

from typing import Any

import pytest

import soundforge.studio.midi as midi
from soundforge.studio.controls import Control, control_for
from soundforge.studio.midi import (
    TAKEOVER_THRESHOLD,
    ClockTracker,
    Mapping,
    MappingEngine,
    MidiMessage,
    UnknownPreset,
    describe,
    encode,
    parse,
    preset_mappings,
)
from soundforge.studio.midi.backend import device_name
from soundforge.studio.midi.mapping import feedback_source, learned_mapping

INFO = {"stems": ["vocals", "drums"], "duration_ms": 60_000}


def _mapping(**fields: Any) -> Mapping:
    defaults: dict[str, Any] = {
        "device_name": "k",
        "message_type": "cc",
        "channel": 0,
        "number": 7,
        "action": "stem.vocals.volume",
    }
    return Mapping(**{**defaults, **fields})


class Session:
    """A session's values, as the input actor's view holds them."""

    def __init__(self, key: str = "track:1", **values: Any) -> None:
        self.key = key
        self.values = values

    def resolve(self, path: str) -> tuple[Control, Any] | None:
        try:
            return control_for(self.key, path, INFO), self.values.get(path)
        except Exception:
            return None

    def apply(self, engine: MappingEngine, message: MidiMessage) -> dict[str, Any]:
        out = engine.handle(message, self.resolve)
        self.values.update(out)
        return out


def cc(number: int, value: int, channel: int = 0) -> MidiMessage:
    return MidiMessage("cc", channel, number, value)


def test_the_public_names_are_pinned() -> None:
    assert "MidiDevices" in midi.__all__ and "MidiOptions" in midi.__all__
    assert sorted(midi.__all__) == sorted(set(midi.__all__))
    for name in midi.__all__:
        assert hasattr(midi, name), name


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([0xB1, 7, 100], MidiMessage("cc", 1, 7, 100)),
        ([0x90, 60, 0], MidiMessage("note_off", 0, 60, 0)),
        ([0x9F, 60, 1], MidiMessage("note_on", 15, 60, 1)),
        ([0x80, 60, 64], MidiMessage("note_off", 0, 60, 64)),
        ([0xE0, 0, 64], MidiMessage("pitchbend", 0, 0, 0)),
        ([0xE0, 127, 127], MidiMessage("pitchbend", 0, 0, 8191)),
        ([0xC2, 5], MidiMessage("program", 2, 5, 0)),
        ([0xF8], MidiMessage("clock")),
        ([0xFA], MidiMessage("start")),
        ([0xD0, 3], MidiMessage("other", 0, 0xD0, 0)),
    ],
)
def test_messages_parse_and_encode_back(data: list[int], expected: MidiMessage) -> None:
    assert parse(data) == expected
    if expected.kind not in ("other", "note_off") or data[0] & 0xF0 == 0x80:
        assert encode(expected) == (data if expected.kind != "note_off" else [0x80, 60, 64])


def test_the_monitor_describes_messages_as_manuals_do() -> None:
    assert describe(cc(7, 100)) == "CC 7 = 100 (ch 1)"
    assert describe(MidiMessage("note_on", 9, 36, 90)) == "note on 36 velocity 90 (ch 10)"
    assert describe(MidiMessage("pitchbend", 0, 0, -200)) == "pitch bend -200 (ch 1)"


def test_alsa_numbers_are_not_part_of_a_device_name() -> None:
    assert (
        device_name("nanoKONTROL2:nanoKONTROL2 _ CTRL 20:0") == "nanoKONTROL2:nanoKONTROL2 _ CTRL"
    )
    assert device_name("Knobs:Knobs") == "Knobs:Knobs"


def test_an_absolute_cc_scales_to_the_controls_range() -> None:
    engine = MappingEngine([_mapping(action="rate", soft_takeover=False)])
    session = Session()
    assert session.apply(engine, cc(7, 0)) == {"rate": 0.25}
    assert session.apply(engine, cc(7, 127)) == {"rate": 2.0}
    assert session.apply(engine, cc(8, 127)) == {}  # not mapped


def test_soft_takeover_waits_until_the_knob_reaches_the_value() -> None:
    engine = MappingEngine([_mapping()])
    session = Session(**{"stem.vocals.volume": 0.2})
    assert session.apply(engine, cc(7, 127)) == {}  # far away: ignored
    assert session.apply(engine, cc(7, 100)) == {}
    near = round(0.2 * 127) + 1
    assert abs(near / 127 - 0.2) <= TAKEOVER_THRESHOLD
    assert session.apply(engine, cc(7, near)) == {"stem.vocals.volume": near / 127}
    assert session.apply(engine, cc(7, 127)) == {"stem.vocals.volume": 1.0}  # it owns it now
    engine.external_change("stem.vocals.volume")  # a browser moved the fader
    session.values["stem.vocals.volume"] = 0.5
    assert session.apply(engine, cc(7, 100)) == {}  # the knob is still above it
    assert session.apply(engine, cc(7, 10)) == {"stem.vocals.volume": 10 / 127}  # crossed 0.5


def test_a_value_not_known_yet_is_taken_at_once() -> None:
    engine = MappingEngine([_mapping(action="master.volume")])
    assert Session().apply(engine, cc(7, 64)) == {"master.volume": 64 / 127}


@pytest.mark.parametrize(
    ("message_type", "press", "release"),
    [
        ("note", MidiMessage("note_on", 0, 7, 100), MidiMessage("note_off", 0, 7, 0)),
        ("cc", cc(7, 127), cc(7, 0)),
    ],
)
def test_buttons_toggle_or_hold(
    message_type: str, press: MidiMessage, release: MidiMessage
) -> None:
    toggle = MappingEngine(
        [_mapping(message_type=message_type, action="stem.drums.mute", mode="toggle")]
    )
    session = Session()
    assert session.apply(toggle, press) == {"stem.drums.mute": True}
    assert session.apply(toggle, release) == {}
    assert session.apply(toggle, press) == {"stem.drums.mute": False}
    hold = MappingEngine(
        [_mapping(message_type=message_type, action="stem.drums.solo", mode="momentary")]
    )
    assert session.apply(hold, press) == {"stem.drums.solo": True}
    assert session.apply(hold, release) == {"stem.drums.solo": False}


def test_triggers_fire_on_the_press_only() -> None:
    engine = MappingEngine(
        [_mapping(message_type="note", number=11, action="deck.1.play", mode="momentary")]
    )
    session = Session("dj")
    assert session.apply(engine, MidiMessage("note_on", 0, 11, 127)) == {"deck.1.play": True}
    assert session.apply(engine, MidiMessage("note_off", 0, 11, 0)) == {}


def test_relative_encoders_step_from_the_current_value() -> None:
    engine = MappingEngine([_mapping(action="master.volume", mode="relative")])
    session = Session(**{"master.volume": 0.5})
    assert session.apply(engine, cc(7, 2)) == {"master.volume": pytest.approx(0.5 + 2 / 127)}
    assert session.apply(engine, cc(7, 126)) == {"master.volume": pytest.approx(0.5)}
    stepped = MappingEngine(
        [_mapping(action="master.volume", mode="relative", params={"step": 0.25})]
    )
    assert session.apply(stepped, cc(7, 1)) == {"master.volume": pytest.approx(0.75)}


def test_pitch_bend_covers_the_range() -> None:
    engine = MappingEngine(
        [_mapping(message_type="pitchbend", number=0, action="pitch", soft_takeover=False)]
    )
    session = Session()
    assert session.apply(engine, MidiMessage("pitchbend", 0, 0, -8192)) == {"pitch": -12.0}
    assert session.apply(engine, MidiMessage("pitchbend", 0, 0, 8191)) == {"pitch": 12.0}


def test_a_stem_the_track_lacks_does_nothing() -> None:
    engine = MappingEngine([_mapping(action="stem.guitar.volume")])
    assert Session().apply(engine, cc(7, 64)) == {}


def test_feedback_shows_values_and_what_triggers_drive() -> None:
    engine = MappingEngine(
        [
            _mapping(),
            _mapping(message_type="note", number=40, action="stem.vocals.mute", mode="toggle"),
            _mapping(message_type="note", number=11, action="deck.1.play", mode="momentary"),
            _mapping(message_type="note", number=0, action="deck.1.hotcue.1.trigger"),
        ]
    )
    volume = control_for("track:1", "stem.vocals.volume", INFO)
    assert engine.feedback("stem.vocals.volume", 0.5, volume) == [cc(7, 64)]
    mute = control_for("track:1", "stem.vocals.mute", INFO)
    assert engine.feedback("stem.vocals.mute", True, mute) == [MidiMessage("note_on", 0, 40, 127)]
    playing = control_for("dj", "deck.1.playing", {})
    assert engine.feedback("deck.1.playing", True, playing) == [MidiMessage("note_on", 0, 11, 127)]
    cue = control_for("dj", "deck.1.hotcue.1", {})
    assert engine.feedback("deck.1.hotcue.1", None, cue) == [MidiMessage("note_on", 0, 0, 0)]
    assert engine.feedback("stem.vocals.volume", 0.5, None) == []
    assert feedback_source(_mapping(action="transport.toggle")) == "transport.playing"


@pytest.mark.parametrize(
    ("message", "path", "kind", "mode"),
    [
        (cc(7, 3), "stem.vocals.volume", "cc", "absolute"),
        (cc(64, 127), "stem.vocals.mute", "cc", "toggle"),
        (MidiMessage("note_on", 1, 36, 90), "stem.vocals.mute", "note", "toggle"),
        (MidiMessage("note_on", 1, 36, 90), "transport.toggle", "note", "momentary"),
        (MidiMessage("pitchbend", 0, 0, 10), "pitch", "pitchbend", "absolute"),
    ],
)
def test_learn_picks_the_mode_from_the_control(
    message: MidiMessage, path: str, kind: str, mode: str
) -> None:
    learned = learned_mapping("k", message, control_for("track:1", path, INFO))
    assert learned is not None
    assert (learned.message_type, learned.action, learned.mode) == (kind, path, mode)


def test_learn_ignores_what_cannot_drive_a_control() -> None:
    control = control_for("track:1", "master.volume", INFO)
    assert learned_mapping("k", MidiMessage("clock"), control) is None
    assert learned_mapping("k", MidiMessage("note_off", 0, 1, 0), control) is None


def test_the_generic_preset_follows_the_tracks_stems() -> None:
    mappings = preset_mappings("generic", "nano", ["vocals", "drums", "bass"])
    by_cc = {m.number: m for m in mappings}
    assert by_cc[0].action == "stem.vocals.volume" and by_cc[2].action == "stem.bass.volume"
    assert by_cc[7].action == "master.volume"
    assert by_cc[33].action == "stem.drums.solo" and by_cc[33].mode == "toggle"
    assert by_cc[50].action == "stem.bass.mute"
    assert by_cc[41].action == "transport.toggle"
    assert all(m.source == "preset" and m.device_name == "nano" for m in mappings)
    assert len({m.key for m in mappings}) == len(mappings)
    default = preset_mappings("generic", "nano")
    assert [m.action for m in default[:4]] == [
        f"stem.{s}.volume" for s in midi.presets.DEFAULT_STEMS
    ]


def test_the_dj_preset_maps_both_decks_and_the_crossfader() -> None:
    mappings = preset_mappings("dj", "ddj")
    actions = {m.action for m in mappings}
    for deck in (1, 2):
        assert {f"deck.{deck}.play", f"deck.{deck}.cue", f"deck.{deck}.sync"} <= actions
        assert {
            f"deck.{deck}.rate",
            f"deck.{deck}.eq.low",
            f"deck.{deck}.hotcue.8.trigger",
        } <= actions
    assert "crossfader" in actions
    assert len({m.key for m in mappings}) == len(mappings)
    for m in mappings:
        control_for("dj", m.action, {})  # every path is a real control


def test_an_unknown_preset_is_a_clear_error() -> None:
    with pytest.raises(UnknownPreset, match="choose one of generic, dj"):
        preset_mappings("mpc", "x")


def test_the_clock_tracker_measures_beats_per_minute() -> None:
    tracker = ClockTracker()
    tracker.start()
    interval = 60 / (128 * 24)
    beats = [tracker.tick(i * interval) for i in range(48)]
    assert beats.count(True) == 2
    assert tracker.bpm == pytest.approx(128.0)
    tracker.stop()
    assert not tracker.running
    tracker.resume()
    tracker.tick(100.0)  # the pause is not an interval
    assert tracker.bpm == pytest.approx(128.0)
