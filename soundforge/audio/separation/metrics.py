"""Scoring a separation against known sources: the MDX "new SDR" and its mixture baseline.

``sdr(reference, estimate) = 10·log10(Σ s² / Σ (s − ŝ)²)`` over the whole signal (all
channels), the figure Demucs' training logs and the MDX 2021 / SDX 2023 challenges report.
It is *not* museval's BSSEval v4 median-over-1-s-frames that papers and the MUSDB tables
quote; it is cheap (milliseconds) and needs no alignment solver, which makes it the right
yardstick for tests. The "mixture baseline" is the score of returning the mixture unchanged
as every stem; a separator that does not beat it has separated nothing.

    gain = sdr(true_vocals, estimated_vocals) - sdr(true_vocals, mixture)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["sdr"]


def sdr(reference: npt.ArrayLike, estimate: npt.ArrayLike, *, eps: float = 1e-10) -> float:
    """The MDX signal-to-distortion ratio in dB of ``estimate`` against ``reference``.

    Both are arrays of the same shape (``(channels, samples)`` or flat); an estimate longer
    or shorter than the reference is an error, not something to forgive.
    """
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"reference {ref.shape} and estimate {est.shape} differ in shape")
    signal = float(np.square(ref).sum())
    error = float(np.square(ref - est).sum())
    return float(10.0 * np.log10((signal + eps) / (error + eps)))
