"""Key names and the Camelot wheel: "F# minor" <-> (6, "minor") <-> "11A".

Keys are written the way DJ software and the database's CHECK expect: a tonic letter with
an optional ``#``/``b`` and the mode, ``"Eb major"``, ``"G# minor"``. We spell each key with
its conventional tonic (flats for Db/Eb/Ab/Bb major, sharps for C#/G# minor); :func:`parse_key`
accepts any enharmonic spelling.

The Camelot code puts the 24 keys on a clock: the number moves by a fifth per hour, ``B``
is major and ``A`` minor, and a key's relative shares its number (C major 8B, A minor 8A).

    camelot("F# minor")   # "11A"
    key_name(3, "major")  # "Eb major"
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "KEY_NAMES",
    "PITCH_CLASSES",
    "Mode",
    "camelot",
    "camelot_of",
    "key_name",
    "parse_key",
    "tonic_name",
]

Mode = Literal["major", "minor"]

#: Pitch class names with sharps, index 0 = C (the chroma order of every array here).
PITCH_CLASSES: Final = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_MAJOR_TONICS: Final = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_TONICS: Final = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_LETTERS: Final = MappingProxyType({"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11})

#: All 24 key names, majors first, each list in pitch-class order from C.
KEY_NAMES: Final = tuple(f"{t} major" for t in _MAJOR_TONICS) + tuple(
    f"{t} minor" for t in _MINOR_TONICS
)


def tonic_name(pitch_class: int, mode: Mode) -> str:
    """The conventional spelling of a tonic in ``mode`` ("Eb" for 3 major, "G#" for 8 minor)."""
    names = _MAJOR_TONICS if mode == "major" else _MINOR_TONICS
    return names[pitch_class % 12]


def key_name(pitch_class: int, mode: Mode) -> str:
    """``"Eb major"`` for ``(3, "major")``."""
    return f"{tonic_name(pitch_class, mode)} {mode}"


def parse_key(key: str) -> tuple[int, Mode]:
    """``"F# minor"`` -> ``(6, "minor")``; accepts flats, sharps and enharmonics (``"Cb"``)."""
    tonic, _, mode = key.strip().partition(" ")
    if mode not in ("major", "minor") or not tonic or tonic[0] not in _LETTERS:
        raise ValueError(f"{key!r} is not a key like 'F# minor' or 'Eb major'")
    pitch = _LETTERS[tonic[0]]
    for accidental in tonic[1:]:
        if accidental == "#":
            pitch += 1
        elif accidental == "b":
            pitch -= 1
        else:
            raise ValueError(f"{key!r} is not a key like 'F# minor' or 'Eb major'")
    return pitch % 12, mode  # type: ignore[return-value]  # checked just above


def camelot_of(pitch_class: int, mode: Mode) -> str:
    """The Camelot code of a key given as pitch class (0 = C) and mode."""
    major = pitch_class % 12 if mode == "major" else (pitch_class + 3) % 12
    number = (major * 7 % 12 + 7) % 12 + 1
    return f"{number}{'B' if mode == 'major' else 'A'}"


def camelot(key: str) -> str:
    """The Camelot code of a key name: ``camelot("C major") == "8B"``."""
    return camelot_of(*parse_key(key))
