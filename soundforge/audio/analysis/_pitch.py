"""Predominant f0 of the mix by pYIN (opt-in: ``AnalysisOptions(pitch=True)``).

librosa's pYIN between 65 Hz (C2) and 1 kHz (B5), at half the usual time resolution (hop
1024 at 22.05 kHz, 46 ms) to halve its cost, which is still the dearest step by far (about
0.1 s per second of audio, 15-25 s for 3 minutes). pYIN assumes one voice: on a full
mix it follows whichever harmonic source dominates, so it is meant for vocals stems, solo
instruments and sparse mixes. Unvoiced frames are 0.0 in ``f0_hz``.
"""

from __future__ import annotations

import logging
from typing import Final

import librosa
import numpy as np
import numpy.typing as npt

from soundforge.audio.analysis._signal import SR
from soundforge.audio.analysis.schema import Pitch

__all__ = ["pitch_track"]

log = logging.getLogger(__name__)

_HOP: Final = 1024
_FMIN, _FMAX = 65.0, 1000.0


def pitch_track(y: npt.NDArray[np.float32]) -> Pitch:
    """pYIN f0 of the mono 22.05 kHz signal ``y``."""
    hop_ms = round(_HOP * 1000 / SR, 3)
    if y.size < 2 * 2048 or float(np.max(np.abs(y))) <= 1e-6:
        return Pitch(hop_ms=hop_ms)
    f0, voiced, _ = librosa.pyin(
        y, fmin=_FMIN, fmax=_FMAX, sr=SR, frame_length=2048, hop_length=_HOP
    )
    f0 = np.where(voiced & np.isfinite(f0), f0, 0.0)
    sung = f0[f0 > 0]
    return Pitch(
        hop_ms=hop_ms,
        f0_hz=[round(float(v), 2) for v in f0],
        voiced_fraction=round(float(sung.size / max(f0.size, 1)), 4),
        median_hz=round(float(np.median(sung)), 2) if sung.size else None,
    )
