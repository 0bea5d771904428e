"""The shared front end of an analysis: one mono 22.05 kHz signal, one STFT, one mel.

Every feature reads the arrays computed here once: the magnitude STFT (2048/512, Hann)
feeds the mel spectrogram, the onset envelope, the spectral shape and RMS; the mel (dB)
feeds MFCC, structure and loops. Only tonality has a second, longer STFT (``_tonal``)
because key and chords need the frequency resolution that this one lacks below 200 Hz.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import librosa
import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]

__all__ = ["HOP", "N_FFT", "SR", "Front", "front_end", "mono_mix"]

log = logging.getLogger(__name__)

#: Analysis sample rate, FFT size and hop of the shared STFT.
SR: Final = 22050
N_FFT: Final = 2048
HOP: Final = 512
_N_MELS: Final = 128

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Front:
    """The mono analysis signal and the spectral arrays shared by every step."""

    y: F32
    #: Magnitude STFT, (1 + N_FFT/2, frames).
    spec: F32
    #: Mel power spectrogram in dB (ref 1.0, floor -100 dB), (128, frames).
    mel_db: F32
    #: Spectral-flux onset strength of the mel spectrogram, one value per frame.
    onset: F32
    #: The same below 200 Hz: kicks and bass, the instruments that carry the beat.
    low_onset: F32

    @property
    def fps(self) -> float:
        """Frames per second of ``spec``/``mel_db``/``onset``."""
        return SR / HOP

    @property
    def frames(self) -> int:
        return int(self.spec.shape[1])

    @property
    def duration(self) -> float:
        return self.y.size / SR


def mono_mix(audio: F32, rate: int) -> F32:
    """The channel mean of ``audio`` (channels, samples), resampled to :data:`SR`."""
    mono = audio.mean(axis=0, dtype=np.float32) if audio.shape[0] > 1 else audio[0]
    if rate != SR:
        mono = soxr.resample(mono, rate, SR, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def front_end(y: F32) -> Front:
    """STFT, mel and onset envelope of the mono 22.05 kHz signal ``y``.

    A clip shorter than one FFT window is zero-padded to one (``Front.y`` is padded too).
    """
    y = np.pad(y, (0, max(0, N_FFT - y.size)))
    spec = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=True)).astype(np.float32)
    mel = librosa.feature.melspectrogram(S=spec**2, sr=SR, n_mels=_N_MELS)
    mel_db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)
    # Spectral flux on a log-compressed mel (librosa's default onset feature), but with a
    # fixed floor so that silence gives a flat zero envelope rather than amplified noise.
    floored = np.maximum(mel_db, -80.0)
    low_bands = int(np.searchsorted(librosa.mel_frequencies(_N_MELS + 2, fmax=SR / 2), 200.0))
    return Front(
        y=y, spec=spec, mel_db=mel_db, onset=_flux(floored), low_onset=_flux(floored[:low_bands])
    )


def _flux(db: F32) -> F32:
    """librosa's default ``onset_strength`` of a dB spectrogram, without importing
    ``librosa.onset`` (whose import costs a second of numba loading in a fresh process):
    the band mean of the rectified frame-to-frame increase, shifted by three frames (one
    for the difference, two for librosa's centred-frame correction)."""
    frames = db.shape[1]
    rise = np.maximum(db[:, 1:] - db[:, :-1], 0.0).mean(axis=0)
    out = np.zeros(frames, dtype=np.float32)
    shift = 1 + N_FFT // (2 * HOP)
    if frames > shift:
        out[shift:] = rise[: frames - shift]
    return out
