"""Structure: novelty segmentation on bar-synchronous features, labelled by heuristics.

**Units.** Features are pooled per bar (or per 2-second window when there is no bar grid):
chroma (harmony), MFCC 1-12 (timbre), RMS in dB and onset strength (energy, density), and
the mean mel spectrum (kept for loop scoring).

**Boundaries.** The z-scored unit features form a cosine self-similarity matrix; a
Gaussian-tapered checkerboard kernel (Foote 2000) slid along its diagonal gives a novelty
curve whose peaks (above mean + 0.5 std) are boundary candidates; so are jumps of 3 dB or
more between the two units before and the two after a unit edge, which is how drops and
breakdowns announce themselves even when the harmony goes on. The strongest candidates
at least 4 units apart become the boundaries.

**Labels.** These are heuristics, not a trained model; they read energy and repetition:

* segment loudness is the power mean of its units' RMS; the loudest sets the scale, and
  segments within 2.5 dB of it are *high*, those 8 dB or more below are *low*;
* a high segment entered with a jump of 4 dB or more is a **drop**; the segment before a
  drop, or any non-high one whose level rises through it (> 0.25 dB per unit) into a high
  one, is a **build-up**;
* the first segment (unless high) is the **intro**, the last (unless high) the **outro**;
* other low segments are **breakdowns**; other high segments **choruses**;
* the rest are **verses**, except a mid-level segment heard only once, in the second half,
  after a chorus or drop: that is a **bridge**.

Segments with similar mean features (cosine >= 0.85) share a repetition ``group``. Clips
shorter than 8 units (and silence) are one segment, labelled "intro". A segment's
confidence is the strength of the boundary that starts it, relative to the strongest.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from soundforge.audio.analysis._chords import pool_frames
from soundforge.audio.analysis._signal import Front
from soundforge.audio.analysis._tonal import TONAL_HOP_S, Tonal
from soundforge.audio.analysis.schema import Section

__all__ = ["SegmentSpan", "Units", "label_segments", "make_units", "segment"]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_WINDOW_S: Final = 2.0
_MIN_UNITS: Final = 8
_MIN_GAP: Final = 4
_HIGH_DB, _LOW_DB, _JUMP_DB, _RISE_DB, _CUT_DB = 2.5, 8.0, 4.0, 0.25, 3.0
_SAME_GROUP: Final = 0.85
_SILENT_DB: Final = -80.0


@dataclass(frozen=True, slots=True)
class Units:
    """Features pooled over bars (or fixed windows); ``edges`` in seconds, n + 1 values."""

    edges: F64
    chroma: F64
    mfcc: F64
    mel: F64
    rms_db: F64
    onset: F64
    bars: bool
    #: Units before the first bar (a pickup from 0 s to the first downbeat): 0 or 1.
    offset: int = 0

    @property
    def count(self) -> int:
        return int(self.edges.size - 1)


@dataclass(frozen=True, slots=True)
class SegmentSpan:
    """Units ``first`` to ``end`` (exclusive) with a label, group, level and confidence."""

    first: int
    end: int
    label: Section
    group: int
    energy: float
    confidence: float


def make_units(
    front: Front,
    tonal: Tonal,
    mfcc: F32,
    rms: F32,
    downbeats: F64,
    duration: float,
) -> Units:
    """Pool the features over bars from ``downbeats`` (or 2 s windows without them)."""
    bars = downbeats.size >= _MIN_UNITS
    offset = 0
    if bars:
        inner = downbeats[(downbeats > 0) & (downbeats < duration)]
        edges = np.concatenate([[0.0], inner, [duration]])
        offset = 1 if downbeats[0] > 0 else 0
    else:
        edges = np.append(np.arange(0.0, duration, _WINDOW_S), duration)
        if edges.size >= 3 and edges[-1] - edges[-2] < _WINDOW_S / 2:
            edges = np.delete(edges, -2)
    edges = np.unique(edges)
    frame_times = np.arange(front.frames) / front.fps
    power = pool_frames((rms * rms)[None, :], frame_times, edges)[0]
    with np.errstate(divide="ignore"):
        rms_db = np.maximum(10 * np.log10(np.maximum(power, 1e-12)), -120.0)
    return Units(
        edges=edges,
        chroma=pool_frames(tonal.chroma, tonal.times + TONAL_HOP_S / 2, edges),
        mfcc=pool_frames(mfcc, frame_times, edges),
        mel=pool_frames(front.mel_db, frame_times, edges),
        rms_db=rms_db,
        onset=pool_frames(front.onset[None, :], frame_times, edges)[0],
        bars=bars,
        offset=offset,
    )


def _standardised(units: Units) -> F64:
    chroma = units.chroma / (np.linalg.norm(units.chroma, axis=0, keepdims=True) + 1e-12)
    parts = [chroma, units.mfcc[1:13], 2.0 * units.rms_db[None, :], units.onset[None, :]]
    x = np.vstack(parts).T
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 1e-9, std, 1.0)
    weights = np.concatenate(
        [np.full(12, 1.0), np.full(min(12, units.mfcc.shape[0] - 1), 1.0), [3.0, 1.5]]
    )
    x = x * weights[: x.shape[1]]
    return np.asarray(x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12))


def _novelty(similarity: F64, half: int) -> F64:
    n = similarity.shape[0]
    offsets = np.arange(-half, half) + 0.5
    taper = np.exp(-0.5 * (offsets / (half / 2)) ** 2)
    kernel = np.outer(taper, taper) * np.sign(offsets)[:, None] * np.sign(offsets)[None, :]
    padded = np.pad(similarity, half, mode="edge")
    out = np.zeros(n)
    for i in range(n):
        out[i] = float(np.sum(kernel * padded[i : i + 2 * half, i : i + 2 * half]))
    return np.maximum(out, 0.0)


def _energy_jumps(rms_db: F64) -> F64:
    """|level of the next two units - level of the previous two| / 8 dB."""
    n = rms_db.size
    jumps = np.zeros(n)
    for i in range(1, n):
        before = rms_db[max(0, i - 2) : i].mean()
        after = rms_db[i : i + 2].mean()
        jumps[i] = abs(after - before) / (2 * _JUMP_DB)
    return jumps


def segment(units: Units) -> tuple[list[tuple[int, int]], F64]:
    """Boundaries as (first, end) unit ranges, and the boundary strength curve (0..1)."""
    n = units.count
    if n < _MIN_UNITS:
        return [(0, n)], np.zeros(n)
    x = _standardised(units)
    novelty = _novelty(x @ x.T, half=4 if n >= 16 else 2)
    novelty = novelty / novelty.max() if novelty.max() > 0 else novelty
    threshold = novelty.mean() + 0.5 * novelty.std()
    jumps = _energy_jumps(units.rms_db)
    strength = novelty + jumps
    strength /= strength.max() if strength.max() > 0 else 1.0
    candidates = [
        i
        for i in range(2, n - 1)
        if (0 < novelty[i] >= threshold and novelty[i] == novelty[max(0, i - 2) : i + 3].max())
        or (jumps[i] >= _CUT_DB / (2 * _JUMP_DB) and jumps[i] == jumps[max(0, i - 1) : i + 2].max())
    ]
    chosen: list[int] = []
    for i in sorted(candidates, key=lambda c: -strength[c]):
        if (
            all(abs(i - c) >= _MIN_GAP for c in chosen)
            and i >= _MIN_GAP // 2
            and n - i >= _MIN_GAP // 2
        ):
            chosen.append(i)
    cuts = [0, *sorted(chosen), n]
    return [(a, b) for a, b in itertools.pairwise(cuts)], strength


def _groups(units: Units, spans: list[tuple[int, int]]) -> list[int]:
    x = _standardised(units)
    means = np.stack([x[a:b].mean(axis=0) for a, b in spans])
    means /= np.linalg.norm(means, axis=1, keepdims=True) + 1e-12
    groups: list[int] = []
    leaders: list[int] = []
    for i in range(len(spans)):
        match = next(
            (g for g, lead in enumerate(leaders) if float(means[i] @ means[lead]) >= _SAME_GROUP),
            None,
        )
        if match is None:
            leaders.append(i)
            match = len(leaders) - 1
        groups.append(match)
    return groups


def label_segments(units: Units, spans: list[tuple[int, int]], novelty: F64) -> list[SegmentSpan]:
    """Label each span with the energy/repetition heuristics of the module docstring."""
    n = len(spans)
    if n == 1 or float(units.rms_db.max(initial=-120.0)) < _SILENT_DB:
        # One section (a short clip) or silence: nothing to compare; one "intro".
        a, b = spans[0][0], spans[-1][1]
        return [
            SegmentSpan(
                first=a,
                end=b,
                label="intro",
                group=0,
                energy=1.0 if n == 1 and units.rms_db.max(initial=-120.0) >= _SILENT_DB else 0.0,
                confidence=1.0,
            )
        ]
    level = np.array([10 * np.log10(np.mean(10 ** (units.rms_db[a:b] / 10))) for a, b in spans])
    slope = np.array(
        [
            np.polyfit(np.arange(b - a), units.rms_db[a:b], 1)[0] if b - a >= 2 else 0.0
            for a, b in spans
        ]
    )
    top = float(level.max())
    high = level >= top - _HIGH_DB
    low = level <= top - _LOW_DB
    groups = _groups(units, spans)
    labels: list[Section | None] = [None] * n
    for i in range(1, n):
        if high[i] and level[i] - level[i - 1] >= _JUMP_DB:
            labels[i] = "drop"
    for i in range(n - 1):
        before_drop = labels[i + 1] == "drop" and i > 0
        rising = not high[i] and high[i + 1] and slope[i] > _RISE_DB
        if labels[i] is None and (before_drop or (rising and i > 0)):
            labels[i] = "build-up"
    if labels[0] is None and not high[0]:
        labels[0] = "intro"
    if n >= 3 and labels[-1] is None and not high[-1]:
        labels[-1] = "outro"
    seen_peak = False
    for i in range(n):
        if labels[i] is None:
            if low[i]:
                labels[i] = "breakdown"
            elif high[i]:
                labels[i] = "chorus"
            elif groups.count(groups[i]) == 1 and i >= n / 2 and seen_peak:
                labels[i] = "bridge"
            else:
                labels[i] = "verse"
        seen_peak = seen_peak or labels[i] in ("chorus", "drop")
    peak = float(novelty.max()) if novelty.size and novelty.max() > 0 else 1.0
    out = []
    for i, (a, b) in enumerate(spans):
        label = labels[i]
        assert label is not None
        confidence = 1.0 if i == 0 else float(np.clip(novelty[a] / peak, 0.0, 1.0))
        out.append(
            SegmentSpan(
                first=a,
                end=b,
                label=label,
                group=groups[i],
                energy=float(10 ** ((level[i] - top) / 20)),
                confidence=confidence,
            )
        )
    return out
