"""Small test audio files, made on the spot: a sine tone as WAV, FLAC, MP3 or M4A.

WAV/FLAC/MP3 are written by soundfile (libsndfile); M4A (AAC) needs the ``ffmpeg`` program.
Keep them short and at a low rate: every test that decodes one pays for it.

    wav = tone(tmp_path / "a.wav", seconds=2.0)
    m4a = tone(tmp_path / "b.m4a", seconds=2.0, tags={"title": "Song", "artist": "Band"})
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["tone", "tone_bytes"]

_SF_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".mp3": ("MP3", None)}


def tone(
    path: Path,
    seconds: float = 2.0,
    *,
    rate: int = 8000,
    channels: int = 1,
    frequency: float = 440.0,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write a sine tone to ``path`` in the format its suffix names; returns ``path``."""
    t = np.arange(int(seconds * rate)) / rate
    signal = (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    frames = np.repeat(signal[:, None], channels, axis=1)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in _SF_FORMATS and not (tags and suffix == ".mp3"):
        fmt, subtype = _SF_FORMATS[suffix]
        sf.write(str(path), frames, rate, format=fmt, subtype=subtype)
        return path
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError(f"making a {suffix} test file needs ffmpeg")
    wav = path.with_suffix(".src.wav")
    sf.write(str(wav), frames, rate, subtype="PCM_16")
    metadata = [
        arg for key, value in (tags or {}).items() for arg in ("-metadata", f"{key}={value}")
    ]
    codec = ["-c:a", "aac", "-b:a", "64k"] if suffix in (".m4a", ".mp4") else []
    subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-y", "-i", str(wav), *codec, *metadata, str(path)],
        check=True,
        timeout=60,
    )
    wav.unlink()
    return path


def tone_bytes(seconds: float = 2.0, *, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV tone as bytes (to serve over HTTP)."""
    import io

    buffer = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()
