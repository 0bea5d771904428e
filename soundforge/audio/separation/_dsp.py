"""Splitting an accompaniment into drums, bass and other with signal processing, cheaply.

No network here: median-filter harmonic/percussive separation (Fitzgerald 2010) decides
what is a drum hit (short in time, broad in frequency) and what is a held note; held notes
below a soft crossover (150–300 Hz) go to bass, the rest to other. It runs on the mono
magnitude of the accompaniment's first 1024 bins of Spleeter's 4096/1024 STFT (0–11 kHz,
the same grid as a 2048/512 STFT at 22.05 kHz), about a quarter of the full-rate stereo
cost, and its masks are extended above 11 kHz with their 8–11 kHz mean.

This is a *works without weights* fallback, not a quality feature: SiSEC 2018's median-filter
HPSS scored below "return the mixture" on real vocals. On the synthetic song of
:mod:`.synth` it beats the mixture baseline for drums, bass and other (see
``docs/separation.md`` for the measured figures); on real music expect cymbals and
consonants in drums, and any held low note (kick tails, low piano, synth) in bass.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import scipy.ndimage  # type: ignore[import-untyped]  # no type hints shipped

__all__ = ["accompaniment_masks"]

Mask = npt.NDArray[np.float32]

_BINS: Final = 1024
_EXTEND_FROM: Final = 768
#: Median lengths: 31 frames (0.72 s) along time for held notes, 17 bins (183 Hz) along
#: frequency for hits; a longer time median keeps kick-drum tails out of the bass.
_HARMONIC_FRAMES: Final = 31
_PERCUSSIVE_BINS: Final = 17
_BASS_FULL_HZ: Final = 150.0
_BASS_NONE_HZ: Final = 300.0


def _extend(low: Mask, bins: int) -> Mask:
    high = low[_EXTEND_FROM:].mean(axis=0, keepdims=True)
    return np.concatenate([low, np.repeat(high, bins - low.shape[0], axis=0)]).astype(np.float32)


def accompaniment_masks(
    magnitude: npt.NDArray[np.float32], bins: int, sample_rate: int, n_fft: int
) -> tuple[Mask, Mask, Mask]:
    """Drums, bass and other masks (each ``(bins, frames)``, summing to 1) for an
    accompaniment whose mono magnitude is ``magnitude`` ``(F ≥ 1024, frames)``."""
    low = np.ascontiguousarray(magnitude[:_BINS], dtype=np.float32)
    harmonic = scipy.ndimage.median_filter(low, size=(1, _HARMONIC_FRAMES), mode="reflect")
    percussive = scipy.ndimage.median_filter(low, size=(_PERCUSSIVE_BINS, 1), mode="reflect")
    h2, p2 = harmonic.astype(np.float32) ** 2, percussive.astype(np.float32) ** 2
    drums = _extend(p2 / (h2 + p2 + 1e-12), bins)
    freqs = np.arange(bins, dtype=np.float32) * (sample_rate / n_fft)
    ramp = np.clip((_BASS_NONE_HZ - freqs) / (_BASS_NONE_HZ - _BASS_FULL_HZ), 0.0, 1.0)
    low_band = (0.5 - 0.5 * np.cos(np.pi * ramp)).astype(np.float32)[:, None]
    held = 1.0 - drums
    return drums, held * low_band, held * (1.0 - low_band)
