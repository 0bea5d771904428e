"""Chords over time: triad templates on beat-synchronous chroma, smoothed by Viterbi.

1. The HPCP chroma is averaged over each beat (or over half-second windows when there is
   no beat grid) and normalised; the bass chroma, weighted 0.5, is added to the root
   note's column of every template it matches, so the bass picks between chords that
   share two notes (C vs Am).
2. Each beat is scored against 24 triad templates (12 major, 12 minor; root 1.0, third
   and fifth 0.8) by cosine similarity, plus a "no chord" state that wins on beats with
   little tonal energy.
3. A hidden Markov model with the softmax of the scores as emissions and a sticky
   transition matrix (stay with p = 0.85, or move to any other chord) is decoded with
   Viterbi, so single-beat flickers disappear and chords change where the harmony does.
4. Runs of the same label become spans; a span's confidence is its mean best cosine.

Labels are "C", "F#m" (sharps), and "N" for no chord. Only triads: sevenths, sus and
power chords map onto the nearest triad (a C5 power chord is read as C or Cm).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from soundforge.audio.analysis._tonal import TONAL_HOP_S, Tonal
from soundforge.audio.analysis.keys import PITCH_CLASSES

__all__ = ["ChordSpan", "detect_chords", "pool_frames"]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_STAY: Final = 0.85
_SHARPNESS: Final = 12.0
_NO_CHORD_ENERGY: Final = 0.05
_WINDOW_S: Final = 0.5


@dataclass(frozen=True, slots=True)
class ChordSpan:
    """A chord from ``start`` to ``end`` (seconds); ``root`` None for "N"."""

    start: float
    end: float
    root: int | None
    quality: str | None
    confidence: float

    @property
    def label(self) -> str:
        if self.root is None:
            return "N"
        return PITCH_CLASSES[self.root] + ("m" if self.quality == "min" else "")


def _templates() -> F64:
    rows = []
    for quality, third in (("maj", 4), ("min", 3)):
        del quality
        for root in range(12):
            row = np.zeros(12)
            row[root], row[(root + third) % 12], row[(root + 7) % 12] = 1.0, 0.8, 0.8
            rows.append(row / np.linalg.norm(row))
    return np.stack(rows)


def pool_frames(values: F32, times: F64, edges: F64) -> F64:
    """Mean of the columns of ``values`` (frames at ``times``) between each pair of edges."""
    frames = np.clip(np.searchsorted(times, edges), 0, values.shape[1])
    cumulative = np.concatenate(
        [np.zeros((values.shape[0], 1)), np.cumsum(values, axis=1, dtype=np.float64)], axis=1
    )
    sums = cumulative[:, frames[1:]] - cumulative[:, frames[:-1]]
    counts = frames[1:] - frames[:-1]
    # An interval shorter than one frame takes the frame it falls in.
    empty = counts == 0
    if empty.any():
        nearest = np.clip(frames[:-1][empty], 0, values.shape[1] - 1)
        sums[:, empty] = values[:, nearest]
        counts = np.where(empty, 1, counts)
    return np.asarray(sums / counts)


def _viterbi(log_emission: F64, stay: float) -> npt.NDArray[np.int64]:
    states, steps = log_emission.shape
    log_stay, log_move = np.log(stay), np.log((1 - stay) / (states - 1))
    score = log_emission[:, 0].copy()
    back = np.zeros((states, steps), dtype=np.int64)
    for t in range(1, steps):
        best_other = int(np.argmax(score))
        moved = score[best_other] + log_move
        stayed = score + log_stay
        back[:, t] = np.where(stayed >= moved, np.arange(states), best_other)
        score = np.maximum(stayed, moved) + log_emission[:, t]
    path = np.zeros(steps, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for t in range(steps - 1, 0, -1):
        path[t - 1] = back[path[t], t]
    return path


def detect_chords(tonal: Tonal, beats: F64, duration: float) -> list[ChordSpan]:
    """Chord spans covering ``0..duration`` seconds."""
    if tonal.frames == 0 or duration <= 0:
        return []
    if beats.size >= 2:
        edges = np.concatenate([[0.0], beats[beats > 0], [duration]])
    else:
        edges = np.append(np.arange(0.0, duration, _WINDOW_S), duration)
    edges = np.unique(edges)
    if edges.size < 2:
        return []
    times = tonal.times + TONAL_HOP_S / 2
    chroma = pool_frames(tonal.chroma, times, edges)
    bass = pool_frames(tonal.bass, times, edges)
    energy = chroma.sum(axis=0)
    loud = (
        energy > _NO_CHORD_ENERGY * max(float(np.median(energy[energy > 0])), 1e-12)
        if (energy > 0).any()
        else np.zeros(energy.size, dtype=bool)
    )
    templates = _templates()
    unit = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-12)
    bass_unit = bass / (bass.sum(axis=0, keepdims=True) + 1e-12)
    cosine = templates @ unit
    roots = np.tile(np.arange(12), 2)
    cosine += 0.5 * bass_unit[roots] * (cosine > 0.5)
    no_chord = np.where(loud, 0.3, 1.0)
    scores = np.vstack([cosine, no_chord[None, :]])
    log_emission = _SHARPNESS * scores
    log_emission -= np.log(np.exp(log_emission).sum(axis=0, keepdims=True))
    path = _viterbi(log_emission, _STAY)
    spans: list[ChordSpan] = []
    start = 0
    for i in range(1, path.size + 1):
        if i < path.size and path[i] == path[start]:
            continue
        state = int(path[start])
        root, quality = (
            (None, None) if state == 24 else (state % 12, "maj" if state < 12 else "min")
        )
        confidence = float(np.clip(np.mean(scores[state, start:i]), 0.0, 1.0))
        spans.append(ChordSpan(float(edges[start]), float(edges[i]), root, quality, confidence))
        start = i
    return spans
