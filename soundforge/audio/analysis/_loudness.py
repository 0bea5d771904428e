"""EBU R128 loudness: integrated LUFS, loudness range (LRA) and true peak (dBTP).

Everything runs on the file's own sample rate and channels, as BS.1770 requires.

* **K-weighting**: the two BS.1770 biquads (high shelf +4 dB at ~1.7 kHz, high pass at
  ~38 Hz), with coefficients derived for any sample rate by the bilinear formulas used by
  libebur128 (at 48 kHz they equal the Recommendation's table), run as one numba loop
  that accumulates the weighted squares (0.1 s for 3 minutes of stereo, 6x scipy's).
* **Integrated loudness** (BS.1770-4): mean square per channel over 400 ms blocks every
  100 ms, channel weights 1.0 (L, R, C) and 1.41 (surrounds; LFE ignored), absolute gate
  -70 LUFS, relative gate -10 LU. Blocks are sums of 100 ms chunks, so the whole
  measurement is one filter pass.
* **Loudness range** (EBU Tech 3342): short-term loudness (3 s windows every 100 ms), gated
  at -70 LUFS and -20 LU below their power mean; LRA = 95th - 10th percentile. ``None``
  for audio shorter than 3 s.
* **True peak** (BS.1770-4 Annex 2): 4x oversampling with the Recommendation's 48-tap
  polyphase FIR, the largest absolute value over all phases and channels (never below
  the sample peak), in dBTP. A numba kernel does it in ~0.1 s for 3 minutes of stereo.

Silence gives ``None`` for every figure, never -inf.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["LoudnessFigures", "k_weighting", "measure_loudness", "true_peak"]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_ABSOLUTE_GATE: Final = -70.0
_RELATIVE_GATE: Final = -10.0
_LRA_GATE: Final = -20.0
_PHASES: Final = (
    (
        0.0017089843750,
        0.0109863281250,
        -0.0196533203125,
        0.0332031250000,
        -0.0594482421875,
        0.1373291015625,
        0.9721679687500,
        -0.1022949218750,
        0.0476074218750,
        -0.0266113281250,
        0.0148925781250,
        -0.0083007812500,
    ),
    (
        -0.0291748046875,
        0.0292968750000,
        -0.0517578125000,
        0.0891113281250,
        -0.1665039062500,
        0.4650878906250,
        0.7797851562500,
        -0.2003173828125,
        0.1015625000000,
        -0.0582275390625,
        0.0330810546875,
        -0.0189208984375,
    ),
)


@dataclass(frozen=True, slots=True)
class LoudnessFigures:
    """Integrated LUFS, LRA (LU), true and sample peak (dB), max short-term/momentary."""

    integrated_lufs: float | None
    range_lu: float | None
    true_peak_dbtp: float | None
    sample_peak_dbfs: float | None
    short_term_max_lufs: float | None
    momentary_max_lufs: float | None


def k_weighting(rate: float) -> F64:
    """Second-order sections of the BS.1770 K-weighting filter at ``rate`` Hz."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / q + k * k) / a0,
    ]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass])


def _weights(channels: int) -> F64:
    if channels == 6:  # L R C LFE Ls Rs
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    if channels == 5:  # L R C Ls Rs
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41])
    return np.ones(channels)


def _lufs(power: F64) -> F64:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(power)


def _block_power(chunks: F64, count: int) -> F64:
    """Mean square of every run of ``count`` consecutive 100 ms chunks."""
    if chunks.size < count:
        return np.zeros(0)
    cumulative = np.concatenate([[0.0], np.cumsum(chunks)])
    return np.asarray((cumulative[count:] - cumulative[:-count]) / count)


def _finite(value: float) -> float | None:
    return round(float(value), 2) if math.isfinite(value) else None


def _gated(value: float) -> float | None:
    """A loudness in LUFS, or None below the absolute gate (silence)."""
    return _finite(value) if value > _ABSOLUTE_GATE else None


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _k_weighted_power(x: F32, sos: F64, weight: float, out: F64) -> None:
    """``out += weight * k(x)**2``: the two K-weighting biquads, in float64 (DF2T)."""
    b0, b1, b2, _, a1, a2 = sos[0]
    c0, c1, c2, _, d1, d2 = sos[1]
    z1 = z2 = y1 = y2 = 0.0
    for n in range(x.shape[0]):
        v = np.float64(x[n])
        t = b0 * v + z1
        z1 = b1 * v - a1 * t + z2
        z2 = b2 * v - a2 * t
        u = c0 * t + y1
        y1 = c1 * t - d1 * u + y2
        y2 = c2 * t - d2 * u
        out[n] += weight * u * u


@numba.njit(cache=True, fastmath=True, nogil=True, boundscheck=False)
def _oversampled_peak(x: npt.NDArray[np.float32], taps: npt.NDArray[np.float32]) -> float:
    """max |y| of the 4-phase FIR interpolation of ``x`` (taps: (4, 12), reversed)."""
    n = x.shape[0] - 11
    block = 1024
    acc = np.zeros((4, block), np.float32)
    hi = np.float32(0.0)
    lo = np.float32(0.0)
    for start in range(0, n, block):
        m = min(block, n - start)
        window = x[start : start + m + 11]
        acc[:, :] = 0.0
        for j in range(12):
            for phase in range(4):
                c = taps[phase, j]
                row = acc[phase]
                for i in range(m):
                    row[i] += c * window[i + j]
        for phase in range(4):
            row = acc[phase]
            for i in range(m):
                hi = max(hi, row[i])
                lo = min(lo, row[i])
    return float(max(hi, -lo))


def true_peak(audio: F32) -> float:
    """The BS.1770 4x-oversampled true peak of ``audio`` (channels, samples), linear."""
    phases = np.array([*_PHASES, _PHASES[1][::-1], _PHASES[0][::-1]], dtype=np.float32)
    taps = np.ascontiguousarray(phases[:, ::-1])  # convolution, not correlation
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if audio.shape[-1] < 12:
        return peak
    for channel in np.asarray(audio, dtype=np.float32):
        padded = np.concatenate([np.zeros(11, np.float32), channel, np.zeros(11, np.float32)])
        peak = max(peak, _oversampled_peak(padded, taps))
    return peak


def measure_loudness(audio: F32, rate: int) -> LoudnessFigures:
    """EBU R128 figures of ``audio`` (channels, samples) at ``rate`` Hz."""
    sos = k_weighting(rate)
    power = np.zeros(audio.shape[1])
    for channel, weight in zip(audio, _weights(audio.shape[0]), strict=True):
        if weight > 0:
            _k_weighted_power(np.ascontiguousarray(channel), sos, float(weight), power)
    # Gating blocks (400 ms) and short-term windows (3 s) both step by 100 ms, so both
    # are sums of whole 100 ms chunks; the incomplete tail chunk belongs to no block.
    step = max(1, round(rate * 0.1))
    count = power.size // step
    chunks = power[: count * step].reshape(count, step).mean(axis=1)
    momentary = _block_power(chunks, 4)
    short = _block_power(chunks, 30)
    integrated = float("-inf")
    loud = momentary[_lufs(momentary) > _ABSOLUTE_GATE]
    if loud.size:
        gate = _lufs(np.array([loud.mean()]))[0] + _RELATIVE_GATE
        gated = loud[_lufs(loud) > gate]
        integrated = float(_lufs(np.array([gated.mean()]))[0])
    lra = float("nan")
    levels = _lufs(short)
    levels = levels[levels > _ABSOLUTE_GATE]
    if levels.size:
        mean = 10.0 * np.log10(np.mean(10.0 ** (levels / 10.0)))
        levels = levels[levels >= mean + _LRA_GATE]
        low, high = np.percentile(levels, [10, 95])
        lra = float(high - low)
    sample = float(np.max(np.abs(audio))) if audio.size else 0.0
    peak = true_peak(audio) if sample > 0 else 0.0
    with np.errstate(divide="ignore"):
        true_db = 20.0 * math.log10(peak) if peak > 0 else float("-inf")
        sample_db = 20.0 * math.log10(sample) if sample > 0 else float("-inf")
    figures = LoudnessFigures(
        integrated_lufs=_gated(integrated),
        range_lu=_finite(lra),
        true_peak_dbtp=_finite(true_db),
        sample_peak_dbfs=_finite(sample_db),
        short_term_max_lufs=_gated(float(_lufs(short).max())) if short.size else None,
        momentary_max_lufs=_gated(float(_lufs(momentary).max())) if momentary.size else None,
    )
    log.debug("loudness %s", figures)
    return figures
