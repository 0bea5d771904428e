"""Time signature, downbeats and bars from the beat grid.

Each beat gets an *accent*: the sum of three z-scored cues measured over the beat,

* harmonic change: 1 - cosine similarity of its chroma to the previous beat's (chords
  mostly change on the first beat of a bar), counted twice;
* low-band energy (< 150 Hz) at the beat: kick drums and bass notes land on downbeats;
* onset strength at the beat.

The meter is the one whose bar length (3 or 4 beats) makes the accent sequence repeat:
the mean autocorrelation at one and two bars. 4/4 wins unless 3/4 is clearly better, as
it is the overwhelmingly common case. The downbeat phase is the beat position (0..n-1)
with the highest mean accent. Bars run from each downbeat to the next; beats before the
first downbeat (a pickup) belong to no bar.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from soundforge.audio.analysis._signal import N_FFT, SR, Front
from soundforge.audio.analysis._tonal import TONAL_HOP_S, Tonal

__all__ = ["Meter", "find_meter"]

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]

_LOW_HZ: Final = 150.0
_THREE_MARGIN: Final = 0.1


@dataclass(frozen=True, slots=True)
class Meter:
    """Beats per bar, downbeat times (s), bar (start, end) times (s) and confidence."""

    beats_per_bar: int = 4
    confidence: float = 0.0
    downbeats: F64 = field(default_factory=lambda: np.zeros(0))
    bars: list[tuple[float, float]] = field(default_factory=list)


def _zscore(x: F64) -> F64:
    std = float(x.std())
    return (x - x.mean()) / std if std > 1e-9 else np.zeros_like(x)


def _beat_chroma(tonal: Tonal, beats: F64) -> F64:
    edges = np.append(beats, beats[-1] + np.median(np.diff(beats)))
    frames = np.clip(np.round(edges / TONAL_HOP_S).astype(int), 0, tonal.frames)
    cumulative = np.concatenate([np.zeros((12, 1)), np.cumsum(tonal.chroma, axis=1)], axis=1)
    sums = cumulative[:, frames[1:]] - cumulative[:, frames[:-1]]
    lengths = np.maximum(frames[1:] - frames[:-1], 1)
    return np.asarray(sums / lengths)


def _accents(front: Front, tonal: Tonal, beats: F64) -> F64:
    chroma = _beat_chroma(tonal, beats)
    norm = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-12)
    change = np.ones(beats.size)
    change[1:] = 1.0 - np.sum(norm[:, 1:] * norm[:, :-1], axis=0)
    change[0] = change[1:].mean() if beats.size > 1 else 0.0
    frames = np.clip(np.round(beats * front.fps).astype(int), 0, front.frames - 1)
    low_bins = int(_LOW_HZ * N_FFT / SR) + 1
    low = front.spec[1:low_bins].sum(axis=0).astype(np.float64)
    nxt = np.minimum(frames + 1, front.frames - 1)
    low_at = np.log1p(np.maximum(low[frames], low[nxt]))
    onset_at = np.maximum(front.onset[frames], front.onset[nxt]).astype(np.float64)
    return 2.0 * _zscore(change) + _zscore(low_at) + _zscore(onset_at)


def _periodicity(accent: F64, bar: int) -> float:
    x = accent - accent.mean()
    denom = float(np.dot(x, x))
    if denom <= 0:
        return 0.0
    values = [np.dot(x[:-lag], x[lag:]) / denom for lag in (bar, 2 * bar) if lag < x.size]
    return float(np.mean(values)) if values else 0.0


def find_meter(front: Front, tonal: Tonal, beats: F64, duration: float) -> Meter:
    """Meter, downbeats and bars for ``beats`` (seconds)."""
    if beats.size < 8:
        return Meter()
    accent = _accents(front, tonal, beats)
    three, four = _periodicity(accent, 3), _periodicity(accent, 4)
    per_bar = 3 if three > four + _THREE_MARGIN else 4
    confidence = float(np.clip(abs(four - three) / (abs(four) + abs(three) + 1e-9), 0, 1))
    phase_scores = [float(accent[p::per_bar].mean()) for p in range(per_bar)]
    phase = int(np.argmax(phase_scores))
    downbeats = beats[phase::per_bar]
    period = float(np.median(np.diff(beats)))
    bars = []
    for i, start in enumerate(downbeats):
        end = downbeats[i + 1] if i + 1 < downbeats.size else start + per_bar * period
        bars.append((float(start), float(min(end, duration))))
    log.debug("meter %d/4 (3: %.2f, 4: %.2f), downbeat phase %d", per_bar, three, four, phase)
    return Meter(beats_per_bar=per_bar, confidence=confidence, downbeats=downbeats, bars=bars)
