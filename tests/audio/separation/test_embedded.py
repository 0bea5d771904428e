"""The embedded engine (``default``): real separation with nothing downloaded.

Scored with the MDX SDR on a synthetic song whose true stems are known: vocals and
accompaniment come from Spleeter's real network and must clearly beat the "return the
mixture" baseline; drums and bass come from the DSP split, which must at least beat it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from soundforge.audio.separation import (
    EMBEDDED_MODEL,
    SeparationOptions,
    SeparationResult,
    Separator,
    sdr,
)
from soundforge.audio.separation.synth import SynthSong, synth_song
from tests.audio.separation.conftest import read, write_song

DEFAULT = SeparationOptions(engine="default", format="wav", bit_depth=32)


@pytest.fixture(scope="module")
def separated(
    separator: Separator, song_wav: Path, tmp_path_factory: pytest.TempPathFactory
) -> SeparationResult:
    return separator.separate(song_wav, tmp_path_factory.mktemp("embedded"), DEFAULT)


def _stems(result: SeparationResult) -> dict[str, np.ndarray]:
    return {stem.name: read(stem.path) for stem in result.stems}


def test_result_names_the_embedded_engine(separated: SeparationResult) -> None:
    assert (separated.engine, separated.model, separated.device) == (
        "default",
        EMBEDDED_MODEL,
        "cpu",
    )
    assert [s.name for s in separated.stems] == ["vocals", "drums", "bass", "other"]
    assert all(s.sample_rate == 44100 and s.channels == 2 for s in separated.stems)
    assert separated.fallback_reason is None


def test_vocals_and_accompaniment_really_separate(
    separated: SeparationResult, song: SynthSong
) -> None:
    est = _stems(separated)
    vocals = song.stems["vocals"]
    accompaniment = song.mixture - vocals
    gain_vocals = sdr(vocals, est["vocals"]) - sdr(vocals, song.mixture)
    estimate_acc = est["drums"] + est["bass"] + est["other"]
    gain_acc = sdr(accompaniment, estimate_acc) - sdr(accompaniment, song.mixture)
    # Measured on this song: vocals ≈ +19 dB, accompaniment ≈ +16 dB over the mixture.
    assert gain_vocals > 10.0
    assert gain_acc > 8.0
    assert np.corrcoef(vocals.ravel(), est["vocals"].ravel())[0, 1] > 0.95


def test_dsp_split_beats_the_mixture_baseline(separated: SeparationResult, song: SynthSong) -> None:
    est = _stems(separated)
    for name in ("drums", "bass", "other"):
        truth = song.stems[name]
        assert sdr(truth, est[name]) > sdr(truth, song.mixture) + 2.0, name


def test_stems_add_up_to_the_mixture(separated: SeparationResult, song: SynthSong) -> None:
    total = sum(_stems(separated).values())
    assert sdr(song.mixture, total) > 40  # the four masks sum to one in every bin


def test_windows_join_without_clicks_or_length_errors(separator: Separator, tmp_path: Path) -> None:
    song = synth_song(20.0, seed=5)
    wav = write_song(tmp_path / "long.wav", song)
    whole = separator.separate(wav, tmp_path / "whole", DEFAULT)
    options = SeparationOptions(
        engine="default", format="wav", bit_depth=32, chunk_seconds=6.0, chunk_overlap=1.0
    )
    chunked = separator.separate(wav, tmp_path / "chunked", options)
    assert whole.chunks == 1 and chunked.chunks == 4
    for a, b in zip(whole.stems, chunked.stems, strict=True):
        x, y = read(a.path), read(b.path)
        assert x.shape == y.shape == song.mixture.shape
        assert sdr(x, y) > 12, a.name  # the windows differ only near their joins
        # No click: the largest sample-to-sample step stays that of the unchunked stem.
        assert np.abs(np.diff(y)).max() < 1.5 * np.abs(np.diff(x)).max() + 1e-3, a.name
    truth = song.stems["vocals"]
    assert sdr(truth, read(chunked.stems[0].path)) > sdr(truth, read(whole.stems[0].path)) - 1.0


def test_auto_falls_back_to_the_embedded_engine_without_weights(
    separator: Separator, short_wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    result = separator.separate(
        short_wav, tmp_path / "out", SeparationOptions(engine="auto", model="htdemucs")
    )
    assert (result.engine, result.model) == ("default", EMBEDDED_MODEL)
    assert result.fallback_reason is not None and "htdemucs" in result.fallback_reason
    assert [s.name for s in result.stems] == ["vocals", "drums", "bass", "other"]


def test_auto_uses_demucs_when_its_weights_are_there(
    separator: Separator, short_wav: Path, tmp_path: Path
) -> None:
    result = separator.separate(
        short_wav, tmp_path, SeparationOptions(engine="auto", model="tinytest", shifts=0)
    )
    assert (result.engine, result.model, result.fallback_reason) == ("demucs", "tinytest", None)
