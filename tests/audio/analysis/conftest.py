"""Fixtures of the analysis tests: warm numba once, synthesize tracks with known answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf

from soundforge.audio.analysis import Analysis, analyze_audio, warm_up
from soundforge.bench.analysis_corpus import Rendered, TrackSpec, render


@pytest.fixture(scope="session", autouse=True)
def _warm() -> None:
    """JIT-compile (or load) librosa's and our numba code before any timed test."""
    warm_up()


@pytest.fixture(scope="session")
def dance() -> Rendered:
    """20 s of four-on-the-floor at exactly 120 BPM in A minor: the quantisation trap."""
    return render(TrackSpec(bpm=120.0, tonic=9, mode="minor", seconds=20.0, seed=11))


@pytest.fixture(scope="session")
def dance_analysis(dance: Rendered) -> Analysis:
    return analyze_audio(dance.mix, dance.spec.sample_rate, drums=dance.drums)


@pytest.fixture(scope="session")
def arranged() -> Rendered:
    """A 3-minute track with intro, verse, build-ups, drops, breakdown and outro."""
    return render(
        TrackSpec(
            bpm=126.0,
            tonic=2,
            mode="minor",
            seconds=180.0,
            arrangement=True,
            groove="four-floor",
            timbre="square",
            seed=21,
        )
    )


@pytest.fixture(scope="session")
def arranged_analysis(arranged: Rendered) -> Analysis:
    return analyze_audio(arranged.mix, arranged.spec.sample_rate)


@pytest.fixture(scope="session")
def write_wav(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Write (channels, samples) audio to a fresh WAV file and return its path."""
    folder = tmp_path_factory.mktemp("audio")
    count = 0

    def write(audio: object, rate: int = 44100, name: str = "clip") -> Path:
        nonlocal count
        count += 1
        path = folder / f"{count}-{name}.wav"
        sf.write(str(path), audio.T, rate, subtype="PCM_16")  # type: ignore[attr-defined]
        return path

    return write
