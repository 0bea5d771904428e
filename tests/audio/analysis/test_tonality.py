"""Key, Camelot code and chords on synthesized progressions in known keys."""

from __future__ import annotations

import pytest

from soundforge.audio.analysis import Analysis, analyze_audio, camelot, key_name
from soundforge.bench.analysis_corpus import _MINOR_PROGRESSIONS, Rendered, TrackSpec, render


@pytest.mark.parametrize(
    ("tonic", "mode", "timbre", "progression", "tuning"),
    [
        (6, "minor", "saw", 1, 0.0),
        (3, "major", "epiano", 0, 0.0),
        (8, "minor", "organ", 2, 25.0),
        (10, "major", "pluck", 3, -20.0),
        (0, "minor", "square", 3, 0.0),
        (11, "major", "sine", 4, 0.0),
    ],
)
def test_key_of_known_progressions(
    tonic: int, mode: str, timbre: str, progression: int, tuning: float
) -> None:
    track = render(
        TrackSpec(
            bpm=110.0,
            tonic=tonic,
            mode=mode,
            seconds=15.0,
            timbre=timbre,  # type: ignore[arg-type]
            progression=progression,
            tuning_cents=tuning,
            noise=0.2,
            seed=tonic * 7 + progression,
        )
    )
    analysis = analyze_audio(track.mix, track.spec.sample_rate)
    assert analysis.key == track.key
    assert analysis.camelot == camelot(track.key)
    assert analysis.tonality.mode == mode
    assert analysis.tonality.tuning_cents == pytest.approx(tuning, abs=8)
    assert analysis.tonality.candidates[0].key == track.key


def test_chords_follow_the_progression(dance: Rendered, dance_analysis: Analysis) -> None:
    # i - VI - III - V in A minor, one chord per bar (2 s): Am F C E.
    assert _MINOR_PROGRESSIONS[0] == ((0, "min"), (8, "maj"), (3, "maj"), (7, "maj"))
    expected = ["Am", "F", "C", "E"]
    hits = 0
    probes = 0
    for t in range(125, 20000, 250):  # probes 125 ms off the bar lines
        truth = expected[(t // 2000) % 4]
        chord = next(c for c in dance_analysis.chords if c.start_ms <= t < c.end_ms)
        hits += chord.label == truth
        probes += 1
    assert hits / probes > 0.95
    assert dance_analysis.key == key_name(9, "minor") == dance.key


def test_hpss_option_keeps_the_key(dance: Rendered) -> None:
    from soundforge.audio.analysis import AnalysisOptions

    analysis = analyze_audio(dance.mix[:, : 44100 * 8], 44100, AnalysisOptions(hpss=True))
    assert analysis.key == dance.key


def test_silence_has_no_key() -> None:
    import numpy as np

    analysis = analyze_audio(np.zeros((1, 44100 * 6), np.float32), 44100)
    assert analysis.key is None and analysis.camelot is None
    assert [c.label for c in analysis.chords] == ["N"]
