"""The deterministic mix planner: order a set of the user's analysed tracks for a DJ set,
with advice for every transition. It needs no model at all.

Each track brings its tempo, Camelot code and energy (the mean RMS level of its analysis,
or its integrated loudness, normalised over the set). The order minimises the key, tempo
and energy costs of ``_ordering`` for the chosen energy flow:

* ``rising``: calm to intense, a warm-up set;
* ``peak``: build to a peak about 70 % through, then ease off a little;
* ``steady``: keep the energy level, whatever it is.

Tempo is half/double-time aware (a 64 BPM track mixes into a 128 BPM one counted double).
Each :class:`Transition` says the key relation and what to do about it, the tempo change in
per cent, the adjustment that beatmatches the incoming track (and the key shift it causes
without key lock), and where to mix: the outgoing track's outro and the incoming track's
first downbeat. The ``mix_planner`` agent gets this plan as a tool, so its advice starts
from the same numbers.

    plan = await plan_mix(conn, user.id, [a, b, c], flow="peak")
    for t in plan.transitions:
        print(t.from_title, "→", t.to_title, t.key_relation, f"{t.tempo_change_pct:+.1f} %")
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from soundforge.agents._ordering import Flow, Item, order, tempo_match
from soundforge.agents.camelot import relation
from soundforge.music.library import InvalidFilter, TrackNotFound

__all__ = [
    "FLOWS",
    "MAX_SET",
    "Excluded",
    "MixPlan",
    "PlanTrack",
    "PlannerTrack",
    "Transition",
    "order_tracks",
    "plan_mix",
]

FLOWS: Final = ("rising", "peak", "steady")
#: The most tracks one plan orders.
MAX_SET: Final = 40
#: Beyond this tempo change a smooth beatmatch is not advised.
BEATMATCH_LIMIT_PCT: Final = 8.0


class PlannerTrack(msgspec.Struct, frozen=True, kw_only=True):
    """A track as the planner reads it."""

    id: str
    title: str
    artists: list[str] = []
    bpm: float | None = None
    key: str | None = None
    camelot: str | None = None
    #: A loudness measure comparable between tracks (dB or LUFS); None if unknown.
    level_db: float | None = None
    duration_ms: int | None = None
    #: Where the outgoing track's outro starts, and the incoming track's first downbeat.
    outro_ms: int | None = None
    first_downbeat_ms: int | None = None


class PlanTrack(msgspec.Struct, frozen=True):
    position: int
    track_id: str
    title: str
    artists: list[str]
    bpm: float | None
    key: str | None
    camelot: str | None
    #: 0 (the calmest of the set) .. 1 (the most energetic).
    energy: float
    duration_ms: int | None


class Transition(msgspec.Struct, frozen=True):
    from_track_id: str
    to_track_id: str
    from_title: str
    to_title: str
    key_relation: str
    key_advice: str
    #: "same tempo", "half time", "double time", or "unknown tempo".
    tempo_relation: str
    #: The change of tempo to beatmatch, in per cent of the outgoing tempo (None: unknown).
    tempo_change_pct: float | None
    #: Pitch the incoming track by this many per cent to match the outgoing one.
    tempo_adjust_pct: float | None
    #: The incoming track's BPM after that adjustment (in its own counting).
    target_bpm: float | None
    #: Semitones the adjustment shifts the incoming key without key lock.
    key_shift_semitones: float | None
    energy_change: float
    mix_out_ms: int | None
    mix_in_ms: int | None
    #: 1 is a perfect transition, 0 the worst the planner knows.
    score: float
    advice: str


class Excluded(msgspec.Struct, frozen=True):
    track_id: str
    title: str
    reason: str


class MixPlan(msgspec.Struct, frozen=True):
    flow: str
    tracks: list[PlanTrack]
    transitions: list[Transition]
    #: The plan's mean transition score (1 is perfect); None for fewer than two tracks.
    score: float | None
    excluded: list[Excluded] = []


def _energies(tracks: Sequence[PlannerTrack]) -> list[float]:
    levels = [t.level_db for t in tracks if t.level_db is not None]
    low, high = (min(levels), max(levels)) if levels else (0.0, 0.0)
    if high - low < 1e-6:
        return [0.5] * len(tracks)
    return [0.5 if t.level_db is None else (t.level_db - low) / (high - low) for t in tracks]


def _transition(a: PlannerTrack, b: PlannerTrack, ea: float, eb: float) -> Transition:
    key = relation(a.camelot, b.camelot)
    tempo = tempo_match(a.bpm, b.bpm)
    adjust = target = shift = None
    if tempo is not None and a.bpm is not None and b.bpm is not None:
        ratio = a.bpm / tempo.effective_bpm
        adjust = round((ratio - 1) * 100, 2)
        target = round(b.bpm * ratio, 2)
        shift = round(12 * math.log2(ratio), 2)
    advice = [key.advice, _tempo_advice(tempo, adjust, target, shift)]
    if eb - ea > 0.3:
        advice.append("The energy jumps: bring it in on a drop or after a build-up.")
    elif ea - eb > 0.3:
        advice.append("The energy falls: use the outgoing breakdown or an echo-out.")
    tempo_cost = tempo.cost if tempo is not None else 0.6
    score = 1 - (0.4 * tempo_cost + 0.35 * key.cost + 0.25 * min(1.0, abs(eb - ea)))
    return Transition(
        from_track_id=a.id,
        to_track_id=b.id,
        from_title=a.title,
        to_title=b.title,
        key_relation=key.name,
        key_advice=key.advice,
        tempo_relation=tempo.relation if tempo is not None else "unknown tempo",
        tempo_change_pct=tempo.change_pct if tempo is not None else None,
        tempo_adjust_pct=adjust,
        target_bpm=target,
        key_shift_semitones=shift,
        energy_change=round(eb - ea, 2),
        mix_out_ms=a.outro_ms,
        mix_in_ms=b.first_downbeat_ms,
        score=round(max(0.0, score), 3),
        advice=" ".join(advice),
    )


def _tempo_advice(
    tempo: Any, adjust: float | None, target: float | None, shift: float | None
) -> str:
    if tempo is None or adjust is None:
        return "A tempo is unknown: beatmatch by ear."
    counted = "" if tempo.relation == "same tempo" else f" ({tempo.relation})"
    if abs(tempo.change_pct) < 0.5:
        return f"The tempos already match{counted}."
    if abs(tempo.change_pct) > BEATMATCH_LIMIT_PCT:
        return (
            f"The tempos are {abs(tempo.change_pct):.1f} % apart{counted}: too far for a long "
            "beatmatched blend; cut, echo out or mix through a beatless breakdown."
        )
    lock = " with key lock on" if shift is not None and abs(shift) >= 0.5 else ""
    return f"Pitch the incoming track {adjust:+.1f} % to {target:.1f} BPM{counted}{lock}."


def order_tracks(tracks: Sequence[PlannerTrack], flow: Flow = "rising") -> MixPlan:
    """The plan for ``tracks`` (already loaded); pure, deterministic."""
    if flow not in FLOWS:
        raise InvalidFilter(f"the flow must be one of {', '.join(FLOWS)}, not {flow!r}")
    energies = _energies(tracks)
    items = [Item(t.bpm, t.camelot, e) for t, e in zip(tracks, energies, strict=True)]
    sequence = order(items, flow)
    planned = [
        PlanTrack(
            place + 1,
            tracks[i].id,
            tracks[i].title,
            list(tracks[i].artists),
            tracks[i].bpm,
            tracks[i].key,
            tracks[i].camelot,
            round(energies[i], 2),
            tracks[i].duration_ms,
        )
        for place, i in enumerate(sequence)
    ]
    transitions = [
        _transition(tracks[i], tracks[j], energies[i], energies[j])
        for i, j in itertools.pairwise(sequence)
    ]
    score = round(sum(t.score for t in transitions) / len(transitions), 3) if transitions else None
    return MixPlan(flow, planned, transitions, score)


# -- from the database ------------------------------------------------------------------------

_COLUMNS: Final = """t.id::text AS id, t.title, t.artists, t.duration_ms,
    a.tempo_bpm AS bpm, a.key, a.camelot,
    coalesce((a.result #>> '{energy,rms_db,mean}')::float8, a.loudness_lufs) AS level_db,
    (a.result #>> '{rhythm,downbeats_ms,0}')::int AS first_downbeat_ms,
    (SELECT (s ->> 'start_ms')::int FROM jsonb_array_elements(
         CASE WHEN jsonb_typeof(a.result -> 'structure') = 'array'
              THEN a.result -> 'structure' ELSE '[]'::jsonb END) s
     WHERE s ->> 'label' = 'outro' ORDER BY (s ->> 'start_ms')::int DESC LIMIT 1) AS outro_ms,
    a.id IS NOT NULL AS analysed"""


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise TrackNotFound(f"there is no track {value}; it may have been deleted") from None


async def plan_mix(
    conn: Any,
    user_id: str,
    track_ids: Sequence[str] | None = None,
    *,
    flow: Flow = "rising",
    limit: int = MAX_SET,
) -> MixPlan:
    """Plan a set of the user's tracks: ``track_ids`` (each must be theirs: another user's
    is TrackNotFound), or their most recently added analysed tracks (at most ``limit``).
    Tracks without an analysis or a tempo are listed in ``excluded``."""
    if flow not in FLOWS:
        raise InvalidFilter(f"the flow must be one of {', '.join(FLOWS)}, not {flow!r}")
    if not 1 <= limit <= MAX_SET:
        raise InvalidFilter(f"a plan holds 1 to {MAX_SET} tracks, not {limit}")
    if track_ids is not None:
        ids = list(dict.fromkeys(_uuid(t) for t in track_ids))
        if len(ids) > MAX_SET:
            raise InvalidFilter(f"a plan holds at most {MAX_SET} tracks; you gave {len(ids)}")
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM tracks t
                LEFT JOIN analyses a ON a.track_id = t.id AND a.is_current
                WHERE t.user_id = $1::uuid AND t.id = ANY($2::uuid[])""",
            user_id,
            ids,
        )
        found = {r["id"] for r in rows}
        missing = [t for t in ids if t not in found]
        if missing:
            raise TrackNotFound(f"there is no track {missing[0]}; it may have been deleted")
        by_id = {r["id"]: r for r in rows}
        rows = [by_id[t] for t in ids]
    else:
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM tracks t
                JOIN analyses a ON a.track_id = t.id AND a.is_current
                WHERE t.user_id = $1::uuid AND a.tempo_bpm IS NOT NULL
                ORDER BY t.created_at DESC, t.id LIMIT $2""",
            user_id,
            limit,
        )
    usable, excluded = [], []
    for row in rows:
        if not row["analysed"]:
            excluded.append(Excluded(row["id"], row["title"], "not analysed yet"))
        elif row["bpm"] is None:
            excluded.append(Excluded(row["id"], row["title"], "no tempo was found"))
        else:
            fields = {f: row[f] for f in PlannerTrack.__struct_fields__}
            usable.append(msgspec.convert(fields, PlannerTrack))
    plan = order_tracks(usable, flow)
    return msgspec.structs.replace(plan, excluded=excluded)
