"""The DAW's render, sample by sample: each edit's exact factor over its region, the de-click
ramps at hard edges, equal-power fades, edits composing in order, and the streamed file
render matching the in-memory one without touching its source."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import msgspec
import numpy as np
import pytest
import soundfile as sf  # type: ignore[import-untyped]

from soundforge.audio.errors import UnreadableAudio
from soundforge.audio.render import (
    DECLICK_MS,
    Clip,
    RegionEdit,
    clips,
    envelope,
    frame_at,
    render,
    render_file,
)

RATE = 8000
RAMP = frame_at(DECLICK_MS, RATE)  # 40 frames
ONE_SECOND = RATE


def ones(seconds: float = 2.0, channels: int = 2) -> np.ndarray:
    return np.full((int(seconds * RATE), channels), 0.5, dtype=np.float32)


def env(*edits: RegionEdit, seconds: float = 2.0) -> np.ndarray:
    return envelope(list(edits), RATE, 0, int(seconds * RATE))


def test_no_edits_is_unity() -> None:
    assert np.array_equal(env(), np.ones(2 * RATE, dtype=np.float32))


def test_mute_is_digital_silence_with_ramps_outside_the_region() -> None:
    e = env(RegionEdit("mute", 500, 1000))
    s, t = frame_at(500, RATE), frame_at(1000, RATE)
    assert np.all(e[s:t] == 0.0)
    assert np.all(e[: s - RAMP] == 1.0) and np.all(e[t + RAMP :] == 1.0)
    before, after = e[s - RAMP : s], e[t : t + RAMP]
    assert np.all(np.diff(before) < 0) and np.all(np.diff(after) > 0)  # smooth, no jump
    assert 0.0 < before.min() < before.max() < 1.0 and 0.0 < after.min() < after.max() < 1.0


@pytest.mark.parametrize("gain_db", [-96.0, -6.0, 3.5, 24.0])
def test_gain_scales_the_region_exactly(gain_db: float) -> None:
    e = env(RegionEdit("gain", 250, 1250, gain_db=gain_db))
    s, t = frame_at(250, RATE), frame_at(1250, RATE)
    factor = 10 ** (gain_db / 20)
    np.testing.assert_allclose(e[s:t], factor, rtol=1e-6)
    assert np.all(e[: s - RAMP] == 1.0) and np.all(e[t + RAMP :] == 1.0)
    ramp = e[s - RAMP : s]
    assert np.all((ramp - 1.0) * (factor - 1.0) > 0)  # heading from 1 towards the factor
    assert np.all(np.abs(ramp - 1.0) < abs(factor - 1.0))


def test_trim_silences_outside_and_ramps_inside() -> None:
    e = env(RegionEdit("trim", 400, 1600))
    s, t = frame_at(400, RATE), frame_at(1600, RATE)
    assert np.all(e[:s] == 0.0) and np.all(e[t:] == 0.0)
    assert np.all(e[s + RAMP : t - RAMP] == 1.0)
    assert np.all(np.diff(e[s : s + RAMP]) > 0) and np.all(np.diff(e[t - RAMP : t]) < 0)
    assert 0.0 < e[s] < 0.1 and 0.0 < e[t - 1] < 0.1


def test_a_trim_shorter_than_two_ramps_ramps_over_half_each() -> None:
    e = env(RegionEdit("trim", 1000, 1004))  # 32 frames
    s = frame_at(1000, RATE)
    kept = e[s : s + 32]
    assert np.all(kept > 0) and kept.max() <= 1.0
    assert np.count_nonzero(e) == 32


def test_fades_are_equal_power() -> None:
    fade_in = env(RegionEdit("fade_in", 0, 1000))
    fade_out = env(RegionEdit("fade_out", 1000, 2000))
    n = frame_at(1000, RATE)
    assert fade_in[0] == 0.0
    assert fade_in[n // 2] == pytest.approx(math.sin(math.pi / 4), abs=1e-6)
    assert np.all(np.diff(fade_in[:n]) > 0) and np.all(fade_in[n:] == 1.0)
    assert fade_out[2 * n - 1] == pytest.approx(0.0, abs=1e-6)
    assert fade_out[n + n // 2 - 1] == pytest.approx(math.cos(math.pi / 4), abs=1e-6)
    assert np.all(np.diff(fade_out[n : 2 * n]) < 0) and np.all(fade_out[:n] == 1.0)
    # Equal power: a fade-out over the same region as a fade-in sums to constant power.
    both_out = env(RegionEdit("fade_out", 0, 1000))
    power = fade_in[1:n] ** 2 + both_out[: n - 1] ** 2
    np.testing.assert_allclose(power, 1.0, atol=1e-6)


def test_split_changes_no_sample_and_makes_clips() -> None:
    assert np.all(env(RegionEdit("split", 700)) == 1.0)
    edits = [RegionEdit("split", 700), RegionEdit("split", 300), RegionEdit("mute", 0, 10)]
    assert clips(1000, edits) == [Clip(0, 300), Clip(300, 700), Clip(700, 1000)]
    assert clips(1000, []) == [Clip(0, 1000)]
    assert clips(1000, [RegionEdit("split", 1000)]) == [Clip(0, 1000)]


def test_edits_compose_in_order() -> None:
    gain = RegionEdit("gain", 0, 2000, gain_db=-6.0)
    mute = RegionEdit("mute", 500, 1000)
    e = env(gain, mute)
    factor = 10 ** (-6 / 20)
    assert np.all(e[frame_at(500, RATE) : frame_at(1000, RATE)] == 0.0)
    np.testing.assert_allclose(e[frame_at(1500, RATE) :], factor, rtol=1e-6)


def test_render_applies_the_envelope_to_every_channel() -> None:
    audio = ones()
    out = render(audio, RATE, [RegionEdit("gain", 0, 1000, gain_db=-20.0)])
    assert out.shape == audio.shape and out.dtype == np.float32
    np.testing.assert_allclose(out[: frame_at(1000, RATE)], 0.05, rtol=1e-5)
    mono = render(audio[:, 0], RATE, [RegionEdit("mute", 0, 1000)])
    assert np.all(mono[: frame_at(1000, RATE)] == 0.0)


def test_blocks_match_the_whole() -> None:
    edits = [
        RegionEdit("fade_in", 0, 300),
        RegionEdit("mute", 777, 901),
        RegionEdit("gain", 1000, 1500, gain_db=6.0),
        RegionEdit("trim", 100, 1900),
        RegionEdit("fade_out", 1600, 1900),
    ]
    whole = envelope(edits, RATE, 0, 2 * RATE)
    parts = [envelope(edits, RATE, a, min(a + 333, 2 * RATE)) for a in range(0, 2 * RATE, 333)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_render_file_streams_and_leaves_the_source_alone(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    audio = (0.2 * rng.standard_normal((3 * RATE, 2))).astype(np.float32)
    source = tmp_path / "vocals.wav"
    sf.write(source, audio, RATE, subtype="FLOAT")
    before = source.read_bytes()
    edits = [RegionEdit("mute", 1000, 1500), RegionEdit("gain", 2000, 2500, gain_db=-6.0)]
    seen: list[float] = []
    info = render_file(
        source, tmp_path / "vocals.v2.wav", edits, progress=seen.append, block_frames=1000
    )
    assert source.read_bytes() == before
    written, rate = sf.read(info.path, dtype="float32", always_2d=True)
    assert rate == RATE and info.frames == 3 * RATE and info.duration_ms == 3000
    assert sf.info(info.path).subtype == "FLOAT" and info.bit_depth == 32
    np.testing.assert_allclose(written, render(audio, RATE, edits), rtol=1e-6, atol=1e-7)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 24
    assert not list(tmp_path.glob(".*partial"))


def test_render_file_refuses_what_is_not_audio(tmp_path: Path) -> None:
    source = tmp_path / "vocals.wav"
    source.write_bytes(b"not a wav at all")
    with pytest.raises(UnreadableAudio, match="cannot be read as audio"):
        render_file(source, tmp_path / "out.wav", [RegionEdit("mute", 0, 10)])
    assert not (tmp_path / "out.wav").exists()


NODE = shutil.which("node")
ENVELOPE_JS = Path(__file__).resolve().parents[2] / "web" / "static" / "js" / "daw-envelope.js"


@pytest.mark.skipif(NODE is None, reason="comparing with the page's envelope needs node")
def test_the_pages_preview_envelope_matches_the_render() -> None:
    """web/static/js/daw-envelope.js (the preview's gain automation) computes the same
    factors as the render, so what the page plays is what a render writes."""
    edits = [
        RegionEdit("trim", 50, 1950),
        RegionEdit("split", 999),
        RegionEdit("fade_in", 50, 400),
        RegionEdit("mute", 600, 700),
        RegionEdit("gain", 900, 1300, gain_db=-7.5),
        RegionEdit("fade_out", 1500, 1950),
    ]
    script = f"""
        import {{ envelope }} from {json.dumps(ENVELOPE_JS.as_uri())};
        const edits = {json.dumps([msgspec.to_builtins(e) for e in edits])};
        const env = envelope(edits, {RATE}, 0, {2 * RATE});
        process.stdout.write(JSON.stringify(Array.from(env)));
    """
    done = subprocess.run(
        [str(NODE), "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    page = np.array(json.loads(done.stdout), dtype=np.float32)
    np.testing.assert_allclose(page, env(*edits), atol=1e-6)
