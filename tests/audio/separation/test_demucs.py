"""The demucs engine through the Separator, on tiny random-weight models in a local repo.

Random weights make the stems meaningless but cost real compute, so these tests check the
plumbing: streamed output equals demucs' own whole-file ``apply_model``, bags, progress,
the output layout and formats, caching, devices, cancellation and odd inputs.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from soundforge.audio.errors import EngineUnavailable, UnreadableAudio
from soundforge.audio.separation import (
    InvalidSeparationOptions,
    SeparationOptions,
    Separator,
    sdr,
    stem_names,
)
from soundforge.audio.separation.synth import synth_song
from tests.audio.separation.conftest import FOUR, SIX, read, write_song


def _demucs_whole_file(separator: Separator, options: SeparationOptions, wav: Path) -> np.ndarray:
    """What demucs itself gives: normalise the whole file, ``apply_model``, de-normalise."""
    from demucs.apply import apply_model

    separator.load(options)
    model = next(e for k, e in separator._engines.items() if k.model == options.model).model
    mix = torch.from_numpy(read(wav))
    ref = mix.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    out = apply_model(model, ((mix - mean) / std)[None], shifts=0, split=True, overlap=0.25)
    return (out[0] * std + mean).numpy()


@pytest.mark.parametrize("model", ["tinytest", "tinybag"])
def test_streamed_output_equals_apply_model_on_the_whole_file(
    separator: Separator, song_wav: Path, tmp_path: Path, model: str
) -> None:
    options = SeparationOptions(engine="demucs", model=model, shifts=0, format="wav", bit_depth=32)
    result = separator.separate(song_wav, tmp_path, options)
    expected = _demucs_whole_file(separator, options, song_wav)
    assert [s.name for s in result.stems] == FOUR
    assert result.chunks >= 3  # 10 s in 4 s segments every 3 s, per model
    for i, stem in enumerate(result.stems):
        got = read(stem.path)
        assert got.shape == expected[i].shape
        assert np.abs(got - expected[i]).max() < 1e-4, stem.name
        assert sdr(expected[i], got) > 60


def test_progress_is_monotonic_fine_grained_and_labelled(
    separator: Separator, song_wav: Path, tmp_path: Path
) -> None:
    seen: list[tuple[float, str]] = []
    options = SeparationOptions(engine="demucs", model="tinytest", shifts=2)
    result = separator.separate(
        song_wav, tmp_path, options, progress=lambda f, s: seen.append((f, s))
    )
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    separating = [f for f, s in seen if s == "separating"]
    assert len(separating) >= 2 * 4  # a report per segment of each of 2 shifts
    assert {s for _, s in seen} >= {"loading model", "separating", "writing stems", "done"}
    assert result.chunks == 2 * 4 or result.chunks == 2 * 3  # 3 or 4 segments per shift


def test_layout_result_and_warm_second_job(
    separator: Separator, model_repo: Path, short_wav: Path, tmp_path: Path
) -> None:
    fresh = Separator(models_dir=model_repo)
    options = SeparationOptions(engine="demucs", model="tinytest", shifts=0)
    first = fresh.separate(short_wav, tmp_path / "a", options)
    second = fresh.separate(short_wav, tmp_path / "b", options)
    assert (first.engine, first.model, first.device) == ("demucs", "tinytest", "cpu")
    assert not first.model_cached and first.timing.load_s > 0
    assert second.model_cached and second.timing.load_s == 0.0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(f"{s}.wav" for s in FOUR)
    for stem in second.stems:
        assert Path(stem.path) == (tmp_path / "b" / stem.filename).resolve()
        info = sf.info(stem.path)
        assert (stem.sample_rate, stem.channels, stem.bit_depth) == (44100, 2, 16)
        assert info.subtype == "PCM_16" and info.frames == 3 * 44100
        assert stem.duration_ms == 3000 and stem.size_bytes == Path(stem.path).stat().st_size
    assert second.timing.audio_s == pytest.approx(3.0)
    assert second.timing.realtime_factor > 0


@pytest.mark.parametrize(
    ("fmt", "depth", "subtype"),
    [
        ("wav", 16, "PCM_16"),
        ("wav", 24, "PCM_24"),
        ("wav", 32, "FLOAT"),
        ("flac", 16, "PCM_16"),
        ("flac", 24, "PCM_24"),
        ("mp3", 16, "MPEG_LAYER_III"),
    ],
)
def test_formats_and_bit_depths(
    separator: Separator, short_wav: Path, tmp_path: Path, fmt: str, depth: int, subtype: str
) -> None:
    options = SeparationOptions(
        engine="demucs",
        model="tinytest",
        shifts=0,
        format=fmt,
        bit_depth=depth,  # type: ignore[arg-type]
    )
    result = separator.separate(short_wav, tmp_path, options)
    for stem in result.stems:
        assert stem.filename == f"{stem.name}.{fmt}" and stem.format == fmt
        info = sf.info(stem.path)
        assert info.subtype == subtype and info.samplerate == 44100 and info.channels == 2
        assert stem.bit_depth == (None if fmt == "mp3" else depth)
        # MP3 frames pad the end a little; PCM lengths are exact.
        assert abs(info.frames - 3 * 44100) <= (2500 if fmt == "mp3" else 0)
    assert not list(tmp_path.glob(".*"))  # no partial files left


def test_six_stem_model(separator: Separator, short_wav: Path, tmp_path: Path) -> None:
    assert stem_names("demucs", "tiny6", separator.models_dir) == tuple(SIX)
    assert stem_names("demucs", "htdemucs_6s") == tuple(SIX)
    result = separator.separate(
        short_wav, tmp_path, SeparationOptions(engine="demucs", model="tiny6", shifts=0)
    )
    assert [s.name for s in result.stems] == SIX
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s}.wav" for s in SIX)


def test_other_rate_and_mono_input_keeps_its_rate_and_length(
    separator: Separator, tmp_path: Path
) -> None:
    song = synth_song(3.0, sample_rate=48000, seed=4)
    mono = tmp_path / "mono48k.flac"
    sf.write(str(mono), song.mixture[0], 48000, subtype="PCM_24")
    result = separator.separate(
        mono, tmp_path / "out", SeparationOptions(engine="demucs", model="tinytest", shifts=0)
    )
    for stem in result.stems:
        info = sf.info(stem.path)
        assert (info.samplerate, info.channels, info.frames) == (48000, 2, 3 * 48000)


def test_device_auto_is_cpu_without_cuda_and_cuda_is_refused(
    separator: Separator, short_wav: Path, tmp_path: Path
) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = separator.separate(
        short_wav,
        tmp_path,
        SeparationOptions(engine="demucs", model="tinytest", device="auto", shifts=0),
    )
    assert result.device == "cpu"
    with pytest.raises(EngineUnavailable, match="CUDA was requested"):
        separator.separate(
            short_wav,
            tmp_path / "cuda",
            SeparationOptions(engine="demucs", model="tinytest", device="cuda"),
        )
    assert not (tmp_path / "cuda").exists()


def test_a_cancelled_job_leaves_no_stem_behind(
    separator: Separator, song_wav: Path, tmp_path: Path
) -> None:
    class Cancelled(Exception):
        pass

    def cancel(fraction: float, stage: str) -> None:
        if stage == "separating" and fraction > 0.3:
            raise Cancelled

    with pytest.raises(Cancelled):
        separator.separate(
            song_wav,
            tmp_path,
            SeparationOptions(engine="demucs", model="tinytest", shifts=0),
            cancel,
        )
    assert list(tmp_path.iterdir()) == []


def test_bad_input_and_options_fail_in_one_sentence(separator: Separator, tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 100)
    with pytest.raises(UnreadableAudio):
        separator.separate(
            junk, tmp_path / "out", SeparationOptions(engine="demucs", model="tinytest")
        )
    good = write_song(tmp_path / "ok.wav", synth_song(1.0))
    with pytest.raises(EngineUnavailable, match=r"at most 4\.0 s"):
        separator.separate(
            good,
            tmp_path / "out",
            SeparationOptions(engine="demucs", model="tinytest", segment=9.0),
        )
    with pytest.raises(InvalidSeparationOptions, match="flac stems cannot have 32 bits"):
        separator.separate(good, tmp_path / "out", SeparationOptions(format="flac", bit_depth=32))
    random.seed(0)  # nothing above should have drawn a shift
