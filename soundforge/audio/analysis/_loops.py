"""Loop points: bar-aligned spans of 1, 2, 4 or 8 bars that loop well, scored and ranked.

Every span that starts on a bar line and ends on one is a candidate. Each gets three
scores in 0..1:

* **repetition**: how much the span sounds like the span that follows it (or, at the end
  of the track, the one before), bar by bar: the mean of exp(-mean |mel dB difference| /
  3 dB) and the chroma cosine. Music that repeats itself loops without sounding cut.
* **seam**: how alike the audio is just before the loop's end and just before its start
  (what the listener hears leading into the wrap), and just after both: exp(-mean |mel dB
  difference| / 6 dB) over 4 frames (93 ms) on each side. A click-free wrap needs this.
* **energy**: the span's level against the loudest bar, 0 at 24 dB below; loops from a
  silent intro are rarely what a producer wants.

``score = 0.5 repetition + 0.3 seam + 0.2 energy``. The best are kept greedily, skipping a
candidate that overlaps a kept loop of the same length by more than half, so the list
offers different places and lengths rather than eight shifts of one loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from soundforge.audio.analysis._signal import Front
from soundforge.audio.analysis._structure import Units

__all__ = ["LoopCandidate", "find_loops"]

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]

_LENGTHS: Final = (1, 2, 4, 8)
_SEAM_FRAMES: Final = 4
_WEIGHTS: Final = (0.5, 0.3, 0.2)


@dataclass(frozen=True, slots=True)
class LoopCandidate:
    """Bars ``first`` .. ``first + bars`` (exclusive) and their scores."""

    first: int
    bars: int
    score: float
    repetition: float
    seam: float
    energy: float


def _pair_similarity(units: Units, lag: int) -> F64:
    """Similarity of unit i to unit i + lag, for every i (n - lag values)."""
    a, b = units.mel[:, :-lag], units.mel[:, lag:]
    mel = np.abs(a - b).mean(axis=0)
    ca, cb = units.chroma[:, :-lag], units.chroma[:, lag:]
    cosine = np.sum(ca * cb, axis=0) / (
        np.linalg.norm(ca, axis=0) * np.linalg.norm(cb, axis=0) + 1e-12
    )
    return np.asarray(0.5 * np.exp(-mel / 3.0) + 0.5 * np.clip(cosine, 0.0, 1.0))


def _seam(front: Front, start: float, end: float) -> float:
    mel = front.mel_db
    s, e = round(start * front.fps), round(end * front.fps)
    w = _SEAM_FRAMES
    diffs = []
    if s >= w and e >= w:
        diffs.append(np.abs(mel[:, e - w : e] - mel[:, s - w : s]).mean())
    if e + w <= mel.shape[1] and s + w <= mel.shape[1]:
        diffs.append(np.abs(mel[:, e : e + w] - mel[:, s : s + w]).mean())
    if not diffs:
        return 0.0
    return float(np.exp(-float(np.mean(diffs)) / 6.0))


def find_loops(
    front: Front, units: Units, bars: list[tuple[float, float]], limit: int
) -> list[LoopCandidate]:
    """The ``limit`` best loops of whole ``bars`` ((start, end) seconds, from the meter)."""
    if not units.bars or limit <= 0 or not bars:
        return []
    lengths = np.array([end - start for start, end in bars])
    whole = int(np.sum(lengths >= 0.9 * np.median(lengths)))  # a clipped last bar is out
    count = min(whole, units.count - units.offset)
    loudest = float(units.rms_db.max())
    found: list[LoopCandidate] = []
    for length in _LENGTHS:
        if length >= units.count:
            break
        # Mean similarity of bars a..a+L-1 to the L bars after them (or, near the end,
        # before them): a window mean of the lag-L pair similarities.
        pairs = np.concatenate([[0.0], np.cumsum(_pair_similarity(units, length))])
        for first in range(count - length + 1):
            a = first + units.offset
            b = a + length if first + 2 * length <= count else a - length
            if b < units.offset:
                continue
            lo = min(a, b)
            repetition = float((pairs[lo + length] - pairs[lo]) / length)
            seam = _seam(front, bars[first][0], bars[first + length - 1][1])
            level = 10 * np.log10(np.mean(10 ** (units.rms_db[a : a + length] / 10)))
            energy = float(np.clip(1 + (level - loudest) / 24.0, 0.0, 1.0))
            score = _WEIGHTS[0] * repetition + _WEIGHTS[1] * seam + _WEIGHTS[2] * energy
            found.append(LoopCandidate(first, length, float(score), repetition, seam, energy))
    found.sort(key=lambda c: -c.score)
    chosen: list[LoopCandidate] = []
    for candidate in found:
        clash = any(
            other.bars == candidate.bars
            and min(other.first + other.bars, candidate.first + candidate.bars)
            - max(other.first, candidate.first)
            > candidate.bars / 2
            for other in chosen
        )
        if not clash:
            chosen.append(candidate)
        if len(chosen) == limit:
            break
    return chosen
