"""Harmonic pitch-class profiles (HPCP-style chroma) with tuning correction.

Key and chords need semitone resolution down to the bass, which the shared 2048-point STFT
at 22.05 kHz (10.8 Hz bins) does not have. So tonality gets its own spectrogram: the mono
signal is halved to 11.025 kHz and analysed with a 4096-point window (2.7 Hz bins, hop
93 ms), which costs about a tenth of a second for a 3-minute track.

From it:

1. **Harmonic emphasis.** Each bin keeps the minimum of itself and its two neighbours in
   time: sustained partials survive, drum transients (shorter than ~0.2 s) are removed.
   With ``hpss=True`` a real median-filter HPSS (librosa) replaces this cheap filter.
2. **Spectral peaks**, parabolically interpolated, between 50 Hz and 5 kHz and within
   60 dB of the frame's strongest peak; noise contributes few peaks, tones many.
3. **Tuning**: the magnitude-weighted circular mean of the peaks' deviation from the
   equal-tempered A = 440 Hz grid (``tuning_cents``), removed before folding.
4. **Folding** each peak onto its pitch class with a cos^2 weight of its distance to the
   semitone centre, plus weaker contributions to the sub-harmonics f/3 and f/5 (as HPCP
   does), so a note's upper partials also vote for its root. Peaks below 250 Hz also go to
   a separate **bass chroma**, which finds chord roots and the tonic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import librosa
import numpy as np
import numpy.typing as npt
import scipy.ndimage  # type: ignore[import-untyped]
import soxr  # type: ignore[import-untyped]

from soundforge.audio.analysis._signal import SR

__all__ = ["TONAL_HOP_S", "Tonal", "tonal_features"]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_RATE: Final = SR // 2
_N_FFT: Final = 4096
_HOP: Final = 1024
#: Seconds between two chroma frames.
TONAL_HOP_S: Final = _HOP / _RATE
_F_MIN, _F_MAX, _BASS_MAX = 50.0, 5000.0, 250.0
_FLOOR_DB: Final = 60.0
# Sub-harmonic contributions: (semitones below the peak, weight).
_SUBHARMONICS: Final = ((0.0, 1.0), (19.019550008653876, 0.3), (27.863137138648348, 0.15))


@dataclass(frozen=True, slots=True)
class Tonal:
    """Chroma per frame (12, frames), bass chroma, frame times (s) and the tuning."""

    chroma: F32
    bass: F32
    times: F64
    tuning_cents: float

    @property
    def frames(self) -> int:
        return int(self.chroma.shape[1])


def _peaks(spec: F32) -> tuple[F64, F64, npt.NDArray[np.int64]]:
    """Interpolated (frequency Hz, magnitude, frame) of every spectral peak."""
    mag = spec[1:-1]
    is_peak = (mag > spec[:-2]) & (mag >= spec[2:])
    floor = spec.max(axis=0, keepdims=True) * 10 ** (-_FLOOR_DB / 20)
    is_peak &= (mag > floor) & (mag > 1e-7)
    bins, frames = np.nonzero(is_peak)
    bins = bins + 1
    a = np.log(spec[bins - 1, frames].astype(np.float64) + 1e-12)
    b = np.log(spec[bins, frames].astype(np.float64) + 1e-12)
    c = np.log(spec[bins + 1, frames].astype(np.float64) + 1e-12)
    denom = a - 2 * b + c
    delta = np.where(denom < 0, 0.5 * (a - c) / np.where(denom < 0, denom, -1.0), 0.0)
    freq = (bins + delta) * _RATE / _N_FFT
    amp = np.exp(b - 0.25 * (a - c) * delta)
    return freq, amp, frames.astype(np.int64)


def _tuning(pitch: F64, amp: F64) -> float:
    """Circular mean of the distance to the nearest semitone, in semitones (-0.5..0.5)."""
    if pitch.size == 0:
        return 0.0
    angle = 2 * np.pi * pitch
    weight = amp**2
    return float(
        np.arctan2((weight * np.sin(angle)).sum(), (weight * np.cos(angle)).sum()) / (2 * np.pi)
    )


def _fold(
    pitch: F64,
    amp: F64,
    frames: npt.NDArray[np.int64],
    count: int,
    harmonics: tuple[tuple[float, float], ...] = _SUBHARMONICS,
) -> F32:
    chroma = np.zeros(count * 12, dtype=np.float64)
    for below, weight in harmonics:
        shifted = pitch - below
        nearest = np.round(shifted)
        closeness = np.cos(np.pi * (shifted - nearest)) ** 2
        index = frames * 12 + nearest.astype(np.int64) % 12
        chroma += np.bincount(index, weights=amp * closeness * weight, minlength=count * 12)
    return chroma.reshape(count, 12).T.astype(np.float32)


def tonal_features(y: F32, *, hpss: bool = False) -> Tonal:
    """HPCP-style chroma and bass chroma of the mono 22.05 kHz signal ``y``."""
    half = np.ascontiguousarray(soxr.resample(y, SR, _RATE, quality="HQ"), dtype=np.float32)
    half = np.pad(half, (0, max(0, _N_FFT - half.size)))
    top = int(_F_MAX * _N_FFT / _RATE) + 2
    spec = np.abs(librosa.stft(half, n_fft=_N_FFT, hop_length=_HOP))[:top].astype(np.float32)
    count = spec.shape[1]
    if hpss:
        spec, _ = librosa.decompose.hpss(spec, kernel_size=(17, 31), margin=1.0)
    elif count >= 3:
        spec = scipy.ndimage.minimum_filter1d(spec, 3, axis=1, mode="nearest")
    freq, amp, frames = _peaks(spec)
    keep = (freq >= _F_MIN) & (freq <= _F_MAX)
    freq, amp, frames = freq[keep], amp[keep], frames[keep]
    pitch = 69.0 + 12.0 * np.log2(freq / 440.0)
    tuning = _tuning(pitch[freq < 2000.0], amp[freq < 2000.0])
    pitch = pitch - tuning
    chroma = _fold(pitch, amp, frames, count)
    low = freq < _BASS_MAX
    bass = _fold(pitch[low], amp[low], frames[low], count, ((0.0, 1.0),))
    times = np.arange(count) * TONAL_HOP_S
    log.debug("tonal: %d frames, %d peaks, tuning %+.1f cents", count, freq.size, tuning * 100)
    return Tonal(chroma=chroma, bass=bass, times=times, tuning_cents=tuning * 100.0)
