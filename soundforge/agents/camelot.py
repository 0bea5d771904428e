"""The Camelot wheel as a DJ reads it: a key's mixable neighbours, and what moving from one
key to another sounds like (the relation the mix planner scores and explains).

The wheel's spelling (``8A`` = A minor, ``8B`` = C major) is the analysis's
(``docs/analysis.md``); :func:`compatible_camelot` of the library gives the same four codes
the library's ``compatible_with`` filter uses.

    >>> neighbours("8A")
    [Neighbour(code='8A', relation='same key'), Neighbour(code='7A', ...), ...]
    >>> relation("8A", "9A").name
    'adjacent (+1)'
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from soundforge.music.library import compatible_camelot

__all__ = ["KeyRelation", "Neighbour", "neighbours", "parse_camelot", "relation"]

_CODE: Final = re.compile(r"^(1[0-2]|[1-9])([AB])$")


class Neighbour(msgspec.Struct, frozen=True):
    code: str
    relation: str


class KeyRelation(msgspec.Struct, frozen=True):
    """How the incoming key sits against the outgoing one."""

    #: "same key", "adjacent (+1)", "relative major/minor", "energy boost (+2)", "clash" ...
    name: str
    #: 0 (the same key) to 1 (a clash); 0.6 when either key is unknown.
    cost: float
    #: One sentence of advice for the transition.
    advice: str


def parse_camelot(code: str | None) -> tuple[int, str] | None:
    """``"11A"`` → ``(11, "A")``; None for None or anything that is not a Camelot code."""
    if code is None:
        return None
    match = _CODE.match(code.strip().upper())
    return None if match is None else (int(match.group(1)), match.group(2))


def neighbours(code: str) -> list[Neighbour]:
    """The keys that mix harmonically with ``code``: itself, one hour either way, and its
    relative major or minor."""
    same, below, above, relative = compatible_camelot(code)
    mode = "major" if same.endswith("A") else "minor"
    return [
        Neighbour(same, "same key"),
        Neighbour(below, "adjacent (-1)"),
        Neighbour(above, "adjacent (+1)"),
        Neighbour(relative, f"relative {mode}"),
    ]


def relation(outgoing: str | None, incoming: str | None) -> KeyRelation:
    """What moving from ``outgoing`` to ``incoming`` does, harmonically."""
    a, b = parse_camelot(outgoing), parse_camelot(incoming)
    if a is None or b is None:
        return KeyRelation("unknown key", 0.6, "One key is unknown; check the transition by ear.")
    steps = (b[0] - a[0] + 5) % 12 - 5  # -5 .. +6 hours around the wheel
    same_letter = a[1] == b[1]
    if steps == 0 and same_letter:
        return KeyRelation("same key", 0.0, "Same key: any long blend works.")
    if steps == 0:
        return KeyRelation(
            "relative major/minor",
            0.15,
            "Relative major/minor: a smooth blend that changes the mood.",
        )
    if abs(steps) == 1 and same_letter:
        return KeyRelation(f"adjacent ({steps:+d})", 0.1, "Adjacent on the wheel: blends cleanly.")
    if steps == 2 and same_letter:
        return KeyRelation(
            "energy boost (+2)", 0.4, "Two steps up lifts the energy; keep the overlap short."
        )
    if steps == -2 and same_letter:
        return KeyRelation(
            "two steps down (-2)", 0.5, "Two steps down lowers the energy; keep the overlap short."
        )
    if abs(steps) == 1:
        return KeyRelation(
            f"diagonal ({steps:+d}, mode change)",
            0.45,
            "A diagonal move: blend over drums or a breakdown rather than melodic parts.",
        )
    if steps == -5 and same_letter:
        return KeyRelation(
            "semitone up (+7)", 0.55, "A semitone lift: cut or swap on a phrase boundary."
        )
    return KeyRelation(
        "clash",
        1.0,
        "The keys clash: mix on drums only, use a breakdown or an echo-out, or pitch one track.",
    )
