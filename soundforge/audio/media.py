"""Audio files in and out: probe, read, decode to WAV, write WAV/FLAC/MP3, hash.

Everything the pipeline reads goes through :func:`read_audio` and everything it writes
through :func:`write_audio`, so every stage fails the same way on bad input: an
:class:`~soundforge.audio.errors.UnreadableAudio` that says in one sentence what is wrong
with the file, or a :class:`~soundforge.audio.errors.DiskFull` after which no partial file
is left behind (writes go to a temporary name and are renamed into place).

libsndfile (through soundfile) reads WAV, FLAC, OGG and MP3 itself; anything else (M4A/AAC,
Opus in WebM, video containers) is decoded by the ``ffmpeg`` program. Arrays are
``float32`` shaped ``(channels, samples)``, the layout torch and demucs use.

    info = probe("song.m4a")                  # AudioInfo(duration_ms=..., sample_rate=44100, ...)
    audio, rate = read_audio("song.m4a", sample_rate=44100)
    write_audio("out/vocals.flac", audio, rate, format="flac", bit_depth=24)
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Final, Literal

import msgspec
import numpy as np
import numpy.typing as npt
import soundfile as sf  # type: ignore[import-untyped]

from soundforge.audio.errors import AudioTooLong, DiskFull, UnreadableAudio

__all__ = [
    "FORMATS",
    "AudioFormat",
    "AudioInfo",
    "check_duration",
    "decode_to_wav",
    "ffmpeg_path",
    "probe",
    "read_audio",
    "sha256_file",
    "write_audio",
]

AudioFormat = Literal["wav", "flac", "mp3"]
FORMATS: Final[tuple[AudioFormat, ...]] = ("wav", "flac", "mp3")
_SUBTYPES: Final = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
#: How long ffmpeg/ffprobe may take to look at a file's header (seconds).
_PROBE_TIMEOUT: Final = 30.0

Audio = npt.NDArray[np.float32]


class AudioInfo(msgspec.Struct, frozen=True):
    """What a file holds: its length, rate, channels and container/codec name."""

    duration_ms: int
    sample_rate: int
    channels: int
    format: str


def ffmpeg_path() -> str | None:
    """The ffmpeg program on PATH, or None."""
    return shutil.which("ffmpeg")


def _not_audio(path: Path, why: str) -> UnreadableAudio:
    return UnreadableAudio(f"{path.name} {why}")


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise _not_audio(path, "does not exist or is not a file")
    if path.stat().st_size == 0:
        raise _not_audio(path, "is empty (0 bytes)")


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Look at a file's header: duration, rate, channels. Raises UnreadableAudio."""
    path = Path(path)
    _check_file(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return _ffprobe(path)
    if info.frames <= 0 or info.samplerate <= 0:
        raise _not_audio(path, "contains no audio samples (it may be truncated)")
    return AudioInfo(
        duration_ms=round(info.frames * 1000 / info.samplerate),
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        format=str(info.format).lower(),
    )


def _ffprobe(path: Path) -> AudioInfo:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise _not_audio(
            path,
            "is not in a format libsndfile reads (WAV, FLAC, OGG, MP3); install ffmpeg "
            "(apt install ffmpeg) to read other formats",
        )
    argv = [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    done = subprocess.run(
        [*argv, "-select_streams", "a:0", str(path)],
        capture_output=True,
        timeout=_PROBE_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise _not_audio(path, "is not an audio file ffmpeg can read")
    found = json.loads(done.stdout or b"{}")
    streams = found.get("streams") or []
    if not streams:
        raise _not_audio(path, "has no audio stream")
    stream = streams[0]
    duration = float(stream.get("duration") or found.get("format", {}).get("duration") or 0.0)
    if duration <= 0:
        raise _not_audio(path, "contains no audio samples (it may be truncated)")
    return AudioInfo(
        duration_ms=round(duration * 1000),
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
        format=str(found.get("format", {}).get("format_name") or stream.get("codec_name")),
    )


def check_duration(info: AudioInfo, max_seconds: float | None, name: str = "the audio") -> None:
    """Raise AudioTooLong if ``info`` is longer than ``max_seconds`` (None: no limit)."""
    if max_seconds is not None and info.duration_ms > max_seconds * 1000:
        raise AudioTooLong(
            f"{name} is {info.duration_ms / 60000:.0f} minutes long; the limit is "
            f"{max_seconds / 60:.0f} minutes"
        )


def read_audio(
    path: str | os.PathLike[str],
    sample_rate: int | None = None,
    *,
    mono: bool = False,
) -> tuple[Audio, int]:
    """Decode a whole file to float32 ``(channels, samples)``, resampled to ``sample_rate``."""
    path = Path(path)
    _check_file(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        audio: Audio = np.ascontiguousarray(data.T)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        info = probe(path)
        rate = sample_rate or info.sample_rate
        audio = _ffmpeg_decode(path, rate, 1 if mono else info.channels)
    if audio.shape[1] == 0:
        raise _not_audio(path, "contains no audio samples (it may be truncated)")
    if not np.isfinite(audio).all():
        audio = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)
    if mono and audio.shape[0] > 1:
        audio = audio.mean(axis=0, keepdims=True, dtype=np.float32)
    if sample_rate is not None and sample_rate != rate:
        audio = _resample(audio, int(rate), sample_rate)
        rate = sample_rate
    return audio, int(rate)


def _resample(audio: Audio, rate: int, target: int) -> Audio:
    # librosa's resampler; imported here to keep this module light
    import soxr  # type: ignore[import-untyped]

    out = soxr.resample(audio.T, rate, target, quality="HQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, audio.shape[0]).T)


def _ffmpeg_decode(path: Path, rate: int, channels: int) -> Audio:
    ffmpeg = ffmpeg_path()
    if ffmpeg is None:
        raise _not_audio(path, "needs ffmpeg to be decoded; install it with apt install ffmpeg")
    done = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-nostdin",
            "-i",
            str(path),
            "-vn",
            "-f",
            "f32le",
            "-ac",
            str(channels),
            "-ar",
            str(rate),
            "-",
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout:
        raise _not_audio(path, "could not be decoded (it may be truncated or not audio)")
    flat = np.frombuffer(done.stdout, dtype=np.float32)
    frames = flat.size // channels
    return np.ascontiguousarray(flat[: frames * channels].reshape(frames, channels).T)


def decode_to_wav(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    sample_rate: int = 44100,
    max_seconds: float | None = None,
) -> AudioInfo:
    """Decode any readable file to a stereo 32-bit float WAV at ``sample_rate``.

    Float keeps the decoder's full resolution for separation; the file is what every later
    stage reads. Mono sources are duplicated to two channels; more than two are cut to two.
    With ffmpeg the decode streams (constant memory, RF64 past 4 GiB, so a three-hour set
    costs no more RAM than a song); without it, libsndfile decodes in memory.
    """
    source, target = Path(source), Path(target)
    info = probe(source)
    check_duration(info, max_seconds, source.name)
    ffmpeg = ffmpeg_path()
    if ffmpeg is None:
        audio, rate = read_audio(source, sample_rate)
        if audio.shape[0] == 1:
            audio = np.repeat(audio, 2, axis=0)
        write_audio(target, audio[:2], rate, format="wav", bit_depth=32)
        return probe(target)
    partial = target.with_name(f".{target.name}.partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-nostdin",
            "-y",
            "-i",
            str(source),
            "-vn",
            "-ac",
            "2",
            "-ar",
            str(sample_rate),
            "-c:a",
            "pcm_f32le",
            "-rf64",
            "auto",
            "-f",
            "wav",
            str(partial),
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        why = done.stderr.decode(errors="replace").strip().splitlines()
        if _is_disk_full(OSError(why[-1] if why else ""), target.parent):
            raise DiskFull(f"the disk holding {target.parent} is full; free some space and retry")
        raise _not_audio(source, "could not be decoded (it may be truncated or not audio)")
    os.replace(partial, target)
    return probe(target)


def write_audio(
    path: str | os.PathLike[str],
    audio: npt.NDArray[np.floating],
    sample_rate: int,
    *,
    format: AudioFormat = "wav",
    bit_depth: int = 16,
) -> int:
    """Write ``(channels, samples)`` audio atomically; returns the file's size in bytes.

    ``bit_depth`` is 16, 24 or 32 (float) for WAV, 16 or 24 for FLAC; MP3 ignores it.
    Raises DiskFull (leaving nothing behind) when the disk has no room.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown audio format {format!r}; use one of {', '.join(FORMATS)}")
    if format == "mp3":
        subtype = "MPEG_LAYER_III"
    elif bit_depth not in _SUBTYPES or (format == "flac" and bit_depth == 32):
        raise ValueError(f"{format} cannot be written with a bit depth of {bit_depth}")
    else:
        subtype = _SUBTYPES[bit_depth]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    frames = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).T)
    if format != "wav" or bit_depth != 32:
        frames = np.clip(frames, -1.0, 1.0)
    try:
        sf.write(str(partial), frames, sample_rate, format=format.upper(), subtype=subtype)
        os.replace(partial, path)
    except (OSError, sf.LibsndfileError, RuntimeError) as error:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        if _is_disk_full(error, path.parent, frames.nbytes):
            raise DiskFull(
                f"the disk holding {path.parent} is full; free some space and retry"
            ) from error
        raise
    return path.stat().st_size


def _is_disk_full(error: BaseException, where: Path | None = None, needed: int = 0) -> bool:
    """Whether a failed write ran out of space. libsndfile reports only "System error", so
    when the error does not say, the free space where the file was going decides."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error).lower()
    if "no space left" in text or "disk full" in text or "quota exceeded" in text:
        return True
    if where is None:
        return False
    try:
        return shutil.disk_usage(where).free < max(needed, 1 << 20)
    except OSError:
        return False


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as 64 lowercase hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
