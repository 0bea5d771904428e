"""Tempo, beats, downbeats and meter on synthesized tracks of known tempo."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from soundforge.audio.analysis import Analysis, analyze_audio
from soundforge.audio.analysis._signal import HOP, SR, front_end, mono_mix
from soundforge.bench.analysis_corpus import Rendered, TrackSpec, render


def test_120_bpm_is_120_where_plain_beat_track_is_2_percent_off(
    dance: Rendered, dance_analysis: Analysis
) -> None:
    # The trap: 120 BPM lies between two lags of the onset envelope's grid.
    front = front_end(mono_mix(dance.mix, dance.spec.sample_rate))
    plain, _ = librosa.beat.beat_track(onset_envelope=front.onset, sr=SR, hop_length=HOP)
    plain = float(np.atleast_1d(plain)[0])
    assert abs(plain - 120.0) / 120.0 > 0.02 or abs(plain - 60.0) / 60.0 > 0.02
    assert dance_analysis.tempo == pytest.approx(120.0, rel=0.002)
    assert dance_analysis.rhythm.half_bpm == pytest.approx(60.0, rel=0.002)
    assert dance_analysis.rhythm.double_bpm == pytest.approx(240.0, rel=0.002)
    assert dance_analysis.rhythm.confidence > 0.3


def _median_error_ms(estimated_ms: list[int], truth_s: np.ndarray) -> float:
    est = np.asarray(estimated_ms) / 1000
    inside = est[(est > truth_s[0] + 1) & (est < truth_s[-1] - 1)]
    return float(np.median([np.min(np.abs(truth_s - t)) for t in inside]) * 1000)


def test_beats_and_downbeats_land_on_the_grid(dance: Rendered, dance_analysis: Analysis) -> None:
    rhythm = dance_analysis.rhythm
    assert _median_error_ms(rhythm.beats_ms, dance.beats_s) < 25
    assert _median_error_ms(rhythm.downbeats_ms, dance.downbeats_s) < 25
    assert rhythm.time_signature is not None and rhythm.time_signature.beats_per_bar == 4
    assert len(rhythm.beats_ms) == pytest.approx(len(dance.beats_s), abs=2)
    # Bars follow each other without gaps, four beats long.
    for bar, following in zip(rhythm.bars, rhythm.bars[1:], strict=False):
        assert bar.end_ms == following.start_ms
        assert bar.end_ms - bar.start_ms == pytest.approx(2000, abs=3)


@pytest.mark.parametrize(
    ("bpm", "groove", "beats_per_bar"),
    [
        (123.5, "backbeat", 4),
        (174.0, "breakbeat", 4),
        (92.3, "four-floor", 4),
        (140.0, "waltz", 3),
        (78.6, "backbeat", 4),
    ],
)
def test_tempo_within_one_percent(bpm: float, groove: str, beats_per_bar: int) -> None:
    track = render(
        TrackSpec(
            bpm=bpm,
            tonic=4,
            mode="major",
            seconds=16.0,
            groove=groove,  # type: ignore[arg-type]
            timbre="organ",
            swing=0.2 if groove == "backbeat" else 0.0,
            seed=int(bpm * 10),
        )
    )
    analysis = analyze_audio(track.mix, track.spec.sample_rate)
    assert analysis.tempo is not None
    # Octave errors count as misses here, apart from a double-time reading of slow tracks.
    octave = 2.0 if bpm < 80 and analysis.tempo > 1.5 * bpm else 1.0
    assert analysis.tempo == pytest.approx(bpm * octave, rel=0.01)
    assert analysis.rhythm.time_signature is not None
    if octave == 1.0:
        assert analysis.rhythm.time_signature.beats_per_bar == beats_per_bar


def test_noise_and_silence_have_no_tempo() -> None:
    rng = np.random.default_rng(5)
    noise = (rng.standard_normal((1, 44100 * 12)) * 0.1).astype(np.float32)
    assert analyze_audio(noise, 44100).tempo is None
    assert analyze_audio(np.zeros((2, 44100 * 10), np.float32), 44100).tempo is None
