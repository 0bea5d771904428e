"""EBU R128 loudness against EBU Tech 3341/3342 style cases and BS.1770 true peak."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyloudnorm
import pytest

from soundforge.audio.analysis._loudness import k_weighting, measure_loudness, true_peak

RATE = 48000


def sine(dbfs: float, seconds: float, freq: float = 1000.0) -> npt.NDArray[np.float32]:
    t = np.arange(round(seconds * RATE)) / RATE
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def stereo(*parts: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    mono = np.concatenate(parts)
    return np.stack([mono, mono])


@pytest.mark.parametrize(
    ("case", "audio", "expected"),
    [
        (1, lambda: stereo(sine(-23, 20)), -23.0),
        (2, lambda: stereo(sine(-33, 20)), -33.0),
        (3, lambda: stereo(sine(-36, 10), sine(-23, 60), sine(-36, 10)), -23.0),
        (
            4,
            lambda: stereo(
                sine(-72, 10), sine(-36, 10), sine(-23, 60), sine(-36, 10), sine(-72, 10)
            ),
            -23.0,
        ),
        (5, lambda: stereo(sine(-26, 20), sine(-20, 20.1), sine(-26, 20)), -23.0),
    ],
)
def test_tech_3341_integrated_loudness(case: int, audio: object, expected: float) -> None:
    figures = measure_loudness(audio(), RATE)  # type: ignore[operator]
    assert figures.integrated_lufs == pytest.approx(expected, abs=0.1), case


@pytest.mark.parametrize(
    ("low", "high", "lra"), [(-20, -30, 10.0), (-20, -15, 5.0), (-40, -20, 20.0)]
)
def test_tech_3342_loudness_range(low: float, high: float, lra: float) -> None:
    figures = measure_loudness(stereo(sine(low, 20), sine(high, 20)), RATE)
    assert figures.range_lu == pytest.approx(lra, abs=1.0)


def test_k_weighting_matches_the_bs1770_table_at_48k() -> None:
    sos = k_weighting(48000)
    assert sos[0, :3] == pytest.approx([1.53512485958697, -2.69169618940638, 1.19839281085285])
    assert sos[0, 4:] == pytest.approx([-1.69065929318241, 0.73248077421585])
    assert sos[1, 4:] == pytest.approx([-1.99004745483398, 0.99007225036621])


def test_agrees_with_pyloudnorm_on_music_at_44k1(dance: object) -> None:
    mix = dance.mix  # type: ignore[attr-defined]
    ours = measure_loudness(mix, 44100).integrated_lufs
    meter = pyloudnorm.Meter(44100, filter_class="DeMan")
    assert ours == pytest.approx(meter.integrated_loudness(mix.T.astype(np.float64)), abs=0.05)


def test_true_peak_of_an_intersample_peak() -> None:
    # A quarter-rate sine at 45 degrees: every sample sits at 0.707 of the crest, so the
    # sample peak reads 3 dB low; the 4x-oversampled meter must see the crest (-6.02 dBTP).
    n = np.arange(RATE)
    x = (0.5 * np.sin(2 * np.pi * n / 4 + np.pi / 4)).astype(np.float32)
    figures = measure_loudness(np.stack([x, x]), RATE)
    assert figures.sample_peak_dbfs == pytest.approx(-9.03, abs=0.02)
    assert figures.true_peak_dbtp == pytest.approx(-6.02, abs=0.2)


def test_true_peak_against_dense_oversampling() -> None:
    from scipy import signal

    rng = np.random.default_rng(3)
    x = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(RATE)).astype(np.float32)
    x = (x / np.abs(x).max() * 0.8).astype(np.float32)
    reference = np.abs(signal.resample_poly(x, 16, 1)).max()
    assert 20 * np.log10(true_peak(x[None])) == pytest.approx(20 * np.log10(reference), abs=0.3)
    assert true_peak(x[None]) >= np.abs(x).max()


def test_silence_is_none_not_minus_infinity() -> None:
    figures = measure_loudness(np.zeros((2, RATE * 5), np.float32), RATE)
    assert figures.integrated_lufs is None
    assert figures.range_lu is None
    assert figures.true_peak_dbtp is None and figures.sample_peak_dbfs is None
    assert figures.momentary_max_lufs is None and figures.short_term_max_lufs is None


def test_short_clip_has_loudness_but_no_range() -> None:
    figures = measure_loudness(stereo(sine(-23, 1.0)), RATE)
    assert figures.integrated_lufs == pytest.approx(-23.0, abs=0.1)
    assert figures.range_lu is None
