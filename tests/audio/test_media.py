"""Audio files in and out: every format the pipeline reads, bad files, and a full disk."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from soundforge.audio import media
from soundforge.audio.errors import AudioTooLong, DiskFull, UnreadableAudio


def tone(seconds: float = 2.0, rate: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)])


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "tone.wav"
    media.write_audio(path, tone(), 44100)
    return path


@pytest.mark.parametrize(
    ("fmt", "depth"), [("wav", 16), ("wav", 24), ("wav", 32), ("flac", 24), ("mp3", 16)]
)
def test_write_then_read_round_trips(tmp_path: Path, fmt: str, depth: int) -> None:
    path = tmp_path / f"out.{fmt}"
    size = media.write_audio(path, tone(), 44100, format=fmt, bit_depth=depth)  # type: ignore[arg-type]
    assert size == path.stat().st_size > 0
    info = media.probe(path)
    assert (info.sample_rate, info.channels) == (44100, 2)
    assert abs(info.duration_ms - 2000) < 60  # mp3 pads a frame
    audio, rate = media.read_audio(path)
    assert rate == 44100 and audio.dtype == np.float32 and audio.shape[0] == 2
    if fmt != "mp3":
        assert np.abs(audio - tone()).max() < 1e-3


def test_m4a_goes_through_ffmpeg_and_decodes_to_float_wav(tmp_path: Path, wav: Path) -> None:
    m4a = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), str(m4a)], check=True)
    info = media.probe(m4a)
    assert info.channels == 2 and abs(info.duration_ms - 2000) < 100
    decoded = media.decode_to_wav(m4a, tmp_path / "audio.wav", sample_rate=48000)
    assert (decoded.sample_rate, decoded.channels) == (48000, 2)
    audio, rate = media.read_audio(tmp_path / "audio.wav", sample_rate=22050, mono=True)
    assert rate == 22050 and audio.shape[0] == 1


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is empty"),
        (b"hello, not audio" * 64, "not an audio file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not an audio file"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "song.wav"
    path.write_bytes(content)
    with pytest.raises(UnreadableAudio, match=says) as raised:
        media.probe(path)
    assert "song.wav" in str(raised.value) and "\n" not in str(raised.value)


def test_a_truncated_file_keeps_what_can_be_read_or_says_so(tmp_path: Path, wav: Path) -> None:
    cut = tmp_path / "cut.wav"
    cut.write_bytes(wav.read_bytes()[:44])  # the header only
    with pytest.raises(UnreadableAudio, match=r"cut\.wav"):
        media.read_audio(cut)


def test_too_long_audio_is_refused_in_one_sentence(tmp_path: Path, wav: Path) -> None:
    with pytest.raises(AudioTooLong, match="limit is 0 minutes"):
        media.decode_to_wav(wav, tmp_path / "audio.wav", max_seconds=1.0)
    assert not (tmp_path / "audio.wav").exists()


@contextlib.contextmanager
def tiny_filesystem(size: str = "64k") -> Iterator[Path]:
    mountpoint = Path(tempfile.mkdtemp(prefix="sf-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"cannot mount a tmpfs to fill here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False)
        mountpoint.rmdir()


def test_a_full_disk_is_disk_full_and_leaves_nothing_behind(wav: Path) -> None:
    with tiny_filesystem() as full:
        kept = full / "earlier.txt"
        kept.write_text("an earlier result")
        with pytest.raises(DiskFull, match="is full"):
            media.write_audio(full / "stem.wav", tone(seconds=5.0), 44100)
        with pytest.raises(DiskFull, match="is full"):
            media.decode_to_wav(wav, full / "audio.wav")
        assert sorted(p.name for p in full.iterdir()) == ["earlier.txt"]
        assert kept.read_text() == "an earlier result"


def test_sha256_of_a_file(wav: Path) -> None:
    import hashlib

    assert media.sha256_file(wav) == hashlib.sha256(wav.read_bytes()).hexdigest()
