"""The file entry point: progress, errors, degenerate audio, waveform, drums, pitch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from soundforge.audio.analysis import Analysis, AnalysisOptions, analyze, decode, encode
from soundforge.audio.errors import UnreadableAudio
from soundforge.bench.analysis_corpus import Rendered

from .test_schema import check_db_constraints


def test_file_analysis_reports_monotonic_progress(
    dance: Rendered, write_wav: Callable[..., Path]
) -> None:
    path = write_wav(dance.mix, name="dance")
    calls: list[tuple[float, str]] = []
    analysis = analyze(path, progress=lambda f, s: calls.append((f, s)))
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len({s for _, s in calls}) >= 8  # every step says what it is doing
    assert analysis.tempo == pytest.approx(120.0, rel=0.002)
    assert analysis.duration_ms == 20000 and analysis.sample_rate == 44100
    assert analysis.channels == 2
    check_db_constraints(analysis)


def test_not_audio_raises_unreadable(tmp_path: Path) -> None:
    bogus = tmp_path / "song.mp3"
    bogus.write_text("this is not audio at all, just text " * 50)
    with pytest.raises(UnreadableAudio):
        analyze(bogus)
    with pytest.raises(UnreadableAudio):
        analyze(tmp_path / "missing.wav")


@pytest.mark.parametrize("seconds", [0.5, 0.01])
def test_short_clip_gives_a_valid_analysis(seconds: float, write_wav: Callable[..., Path]) -> None:
    t = np.arange(round(seconds * 44100)) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
    analysis = analyze(write_wav(tone, name="short"))
    assert analysis.duration_ms == round(seconds * 1000)
    assert analysis.tempo is None and analysis.rhythm.beats_ms == []
    assert [s.label for s in analysis.structure] == ["intro"]
    assert analysis.structure[0].end_ms == analysis.duration_ms
    assert decode(encode(analysis)) == analysis
    check_db_constraints(analysis)


def test_silence_gives_a_valid_analysis(write_wav: Callable[..., Path]) -> None:
    analysis = analyze(write_wav(np.zeros((2, 44100 * 12), np.float32), name="silence"))
    assert analysis.tempo is None and analysis.key is None
    assert analysis.loudness_lufs is None and analysis.loudness.true_peak_dbtp is None
    assert analysis.loops == [] and analysis.markers == []
    assert analysis.energy is not None and max(analysis.energy.curve.values) == 0.0
    assert decode(encode(analysis)) == analysis


def test_waveform_levels(dance: Rendered, dance_analysis: Analysis) -> None:
    waveform = dance_analysis.waveform
    assert waveform is not None and waveform.bits == 8
    samples = dance.mix.shape[1]
    spp = [level.samples_per_pixel for level in waveform.levels]
    assert spp == sorted(spp, reverse=True) and len(spp) == 3  # coarse to fine
    for level in waveform.levels:
        assert level.length == -(-samples // level.samples_per_pixel)
        assert len(level.data) == 2 * level.length
        lows, highs = np.array(level.data[0::2]), np.array(level.data[1::2])
        assert (lows <= highs).all() and lows.min() >= -128 and highs.max() <= 127
        # The loudest bin reaches the file's peak (0.89 full scale = 114).
        assert highs.max() == pytest.approx(np.ceil(dance.mix.max() * 128), abs=1)
    finest = waveform.levels[-1]
    first = dance.mix[:, : finest.samples_per_pixel]
    assert finest.data[:2] == [int(np.floor(first.min() * 128)), int(np.ceil(first.max() * 128))]


def test_drum_onsets_from_the_stem(dance: Rendered, write_wav: Callable[..., Path]) -> None:
    mix, stem = write_wav(dance.mix, name="mix"), write_wav(dance.drums, name="drums")
    drums = analyze(mix, drums_path=stem).drums
    assert drums is not None

    def recall(found_ms: list[int], truth_s: np.ndarray) -> float:
        found = np.asarray(found_ms) / 1000
        return float(np.mean([np.min(np.abs(found - t)) <= 0.03 for t in truth_s]))

    truth = np.unique(np.concatenate([dance.kick_s, dance.snare_s, dance.hat_s]))
    assert recall(drums.onsets_ms, truth) > 0.9
    assert recall(drums.kick_ms, dance.kick_s) > 0.9
    assert recall(drums.snare_ms, dance.snare_s) > 0.9
    assert recall(drums.hat_ms, dance.hat_s) > 0.8
    # Precision: few hits where the stem has none.
    assert len(drums.onsets_ms) <= 1.1 * len(truth)
    assert analyze(mix).drums is None


def test_unreadable_drums_stem(
    dance: Rendered, write_wav: Callable[..., Path], tmp_path: Path
) -> None:
    bogus = tmp_path / "drums.wav"
    bogus.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(UnreadableAudio):
        analyze(write_wav(dance.mix[:, :44100], name="mix"), drums_path=bogus)


def test_pitch_is_opt_in(write_wav: Callable[..., Path]) -> None:
    t = np.arange(3 * 44100) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)[None, :]
    path = write_wav(tone, name="a3")
    assert analyze(path).pitch is None
    pitch = analyze(path, AnalysisOptions(pitch=True)).pitch
    assert pitch is not None and pitch.voiced_fraction > 0.8
    assert pitch.median_hz == pytest.approx(220.0, rel=0.01)


def test_options_reject_unknown_fields() -> None:
    import msgspec

    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"hpss": True, "turbo": True}, AnalysisOptions)
    assert msgspec.convert({"hpss": True}, AnalysisOptions).hpss is True


@pytest.mark.parametrize(
    ("rate", "channels", "fmt"), [(48000, 1, "flac"), (8000, 1, "wav"), (48000, 6, "wav")]
)
def test_other_rates_and_layouts(
    dance: Rendered, tmp_path: Path, rate: int, channels: int, fmt: str
) -> None:
    import soundfile as sf
    import soxr

    audio = soxr.resample(dance.mix.T, 44100, rate).T.astype(np.float32)
    audio = np.vstack([audio] * 3)[:channels] * 0.5 if channels > 1 else audio[:1]
    path = tmp_path / f"clip.{fmt}"
    sf.write(str(path), audio.T, rate)
    analysis = analyze(path)
    assert (analysis.sample_rate, analysis.channels) == (rate, channels)
    assert analysis.tempo == pytest.approx(120.0, rel=0.005)
    assert analysis.key == dance.key
    assert analysis.loudness_lufs is not None
    check_db_constraints(analysis)
