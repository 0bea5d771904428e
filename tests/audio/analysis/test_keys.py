"""Key names and the Camelot wheel, checked against the wheel as DJs print it."""

from __future__ import annotations

import re

import pytest

from soundforge.audio.analysis import camelot, camelot_of, key_name, parse_key
from soundforge.audio.analysis.keys import KEY_NAMES
from soundforge.audio.analysis.schema import CAMELOT_PATTERN, KEY_PATTERN

# The Camelot wheel, written out by hand from the published chart.
WHEEL = {
    "Ab minor": "1A", "B major": "1B", "Eb minor": "2A", "F# major": "2B",
    "Bb minor": "3A", "Db major": "3B", "F minor": "4A", "Ab major": "4B",
    "C minor": "5A", "Eb major": "5B", "G minor": "6A", "Bb major": "6B",
    "D minor": "7A", "F major": "7B", "A minor": "8A", "C major": "8B",
    "E minor": "9A", "G major": "9B", "B minor": "10A", "D major": "10B",
    "F# minor": "11A", "A major": "11B", "Db minor": "12A", "E major": "12B",
}  # fmt: skip


@pytest.mark.parametrize(("key", "code"), sorted(WHEEL.items()))
def test_camelot_of_every_key(key: str, code: str) -> None:
    assert camelot(key) == code
    assert re.match(CAMELOT_PATTERN, code)


def test_all_24_keys_have_distinct_codes_and_db_spelling() -> None:
    codes = {camelot(k) for k in KEY_NAMES}
    assert len(KEY_NAMES) == 24 and len(codes) == 24
    assert all(re.match(KEY_PATTERN, k) for k in KEY_NAMES)


@pytest.mark.parametrize(
    ("spelling", "pitch", "mode"),
    [
        ("C# minor", 1, "minor"),
        ("Db minor", 1, "minor"),
        ("Cb major", 11, "major"),
        ("E# minor", 5, "minor"),
        ("Bb major", 10, "major"),
        ("G## major", 9, "major"),
    ],
)
def test_parse_key_accepts_enharmonic_spellings(spelling: str, pitch: int, mode: str) -> None:
    assert parse_key(spelling) == (pitch, mode)


@pytest.mark.parametrize("bad", ["H major", "C dorian", "c major", "C#minor", "", "Cx major"])
def test_parse_key_rejects_non_keys(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a key"):
        parse_key(bad)


def test_conventional_spelling() -> None:
    assert key_name(3, "major") == "Eb major"
    assert key_name(8, "minor") == "G# minor"
    assert key_name(6, "major") == "F# major"
    assert camelot_of(9, "minor") == camelot_of(0, "major").replace("B", "A")
