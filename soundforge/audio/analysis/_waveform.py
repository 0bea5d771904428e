"""Waveform peaks for the UI: min/max per bin at several zoom levels.

Computed on the file's own samples (all channels together: the minimum of the channel
minima and the maximum of the maxima, so a hard-panned hit is never hidden), in the
audiowaveform/peaks.js layout: 8-bit signed values (-128..127, full scale 128),
interleaved ``[min0, max0, min1, max1, ...]``. Each level has about the requested number
of bins: ``samples_per_pixel = ceil(samples / bins)`` (at least 1). Coarser levels are
folded from finer ones when the bin sizes divide, so the whole thing reads the audio once.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt

from soundforge.audio.analysis.schema import Waveform, WaveformLevel

__all__ = ["waveform_peaks"]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]


def _fold(lo: F32, hi: F32, size: int) -> tuple[F32, F32]:
    count = -(-lo.size // size)
    pad = count * size - lo.size
    lo = np.concatenate([lo, np.full(pad, lo[-1], lo.dtype)]) if pad else lo
    hi = np.concatenate([hi, np.full(pad, hi[-1], hi.dtype)]) if pad else hi
    return lo.reshape(count, size).min(axis=1), hi.reshape(count, size).max(axis=1)


def _level(lo: F32, hi: F32, spp: int) -> WaveformLevel:
    data = np.empty(lo.size * 2, dtype=np.int64)
    data[0::2] = np.clip(np.floor(lo * 128.0), -128, 127)
    data[1::2] = np.clip(np.ceil(hi * 128.0), -128, 127)
    return WaveformLevel(samples_per_pixel=spp, length=int(lo.size), data=data.tolist())


def waveform_peaks(audio: F32, rate: int, bins: tuple[int, ...]) -> Waveform:
    """Peaks of ``audio`` (channels, samples) at each of ``bins`` (coarse to fine)."""
    samples = audio.shape[1]
    if not bins or samples == 0:
        return Waveform(sample_rate=rate)
    sizes = sorted({max(1, math.ceil(samples / max(1, b))) for b in bins}, reverse=True)
    levels: dict[int, WaveformLevel] = {}
    finest = sizes[-1]
    lo_all = audio.min(axis=0) if audio.shape[0] > 1 else audio[0]
    hi_all = audio.max(axis=0) if audio.shape[0] > 1 else audio[0]
    lo, hi = _fold(lo_all, hi_all, finest)
    levels[finest] = _level(lo, hi, finest)
    for size in sizes[:-1]:
        if size % finest == 0:
            clo, chi = _fold(lo, hi, size // finest)
        else:
            clo, chi = _fold(lo_all, hi_all, size)
        levels[size] = _level(clo, chi, size)
    return Waveform(sample_rate=rate, levels=[levels[s] for s in sizes])
