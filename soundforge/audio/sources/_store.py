"""Putting a fetched file in its track folder: all or nothing.

Every fetch works in a private staging folder ``<track_dir>/.fetch-XXXX/``: the download
or copy lands there, is probed, renamed to ``source.<ext>`` (the extension of its real
container, not of its URL), hashed, and decoded to ``audio.wav``. Only when all of that
worked are the two files renamed into ``track_dir`` (same filesystem, so each rename is
atomic); the staging folder is removed whatever happened. A failure therefore leaves the
track folder exactly as it was, earlier results included. Staging folders left by a
killed process are swept on the next fetch into the same folder once they are a day old.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import msgspec

from soundforge.audio.errors import AudioTooLong, DiskFull, UnreadableAudio
from soundforge.audio.media import decode_to_wav, probe, sha256_file
from soundforge.audio.progress import Progress
from soundforge.audio.sources._units import clock
from soundforge.audio.sources.model import FetchResult, SourceSettings, TrackMetadata

__all__ = ["ORIGINAL_STEM", "WAV_NAME", "extension_for", "finish", "staging"]

log = logging.getLogger(__name__)

ORIGINAL_STEM: Final = "source"
WAV_NAME: Final = "audio.wav"
_STAGE_PREFIX: Final = ".fetch-"
_STALE_AFTER_S: Final = 24 * 3600

#: The first name of a container format (libsndfile's or ffprobe's) → file extension.
_EXTENSIONS: Final = {
    "wav": "wav", "rf64": "wav", "w64": "w64", "wave64": "w64", "flac": "flac", "mp3": "mp3",
    "mpeg": "mp3", "ogg": "ogg", "aiff": "aiff", "caf": "caf", "aac": "aac", "asf": "wma",
    "amr": "amr", "ape": "ape", "wv": "wv", "au": "au", "opus": "opus",
}  # fmt: skip
_MP4_SUFFIXES: Final = frozenset({"m4a", "mp4", "m4b", "mov", "3gp"})
_MATROSKA_SUFFIXES: Final = frozenset({"webm", "mka", "mkv"})


def extension_for(format_name: str, suffix: str) -> str:
    """The extension a file of ``format_name`` should have (``suffix`` breaks ties)."""
    first = format_name.lower().split(",")[0].strip()
    suffix = suffix.lower().lstrip(".")
    if first in ("mov", "mp4", "m4a"):
        return suffix if suffix in _MP4_SUFFIXES else "m4a"
    if first in ("matroska", "webm"):
        return suffix if suffix in _MATROSKA_SUFFIXES else "mka"
    if first in _EXTENSIONS:
        return _EXTENSIONS[first]
    return suffix if suffix.isalnum() and 0 < len(suffix) <= 5 else "bin"


@contextlib.contextmanager
def staging(track_dir: Path) -> Iterator[Path]:
    """A fresh staging folder inside ``track_dir``, removed on the way out."""
    with _disk_errors(track_dir):
        track_dir.mkdir(parents=True, exist_ok=True)
        _sweep(track_dir)
        stage = Path(tempfile.mkdtemp(prefix=_STAGE_PREFIX, dir=track_dir))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _sweep(track_dir: Path) -> None:
    cutoff = time.time() - _STALE_AFTER_S
    for old in track_dir.glob(_STAGE_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if old.is_dir() and old.stat().st_mtime < cutoff:
                log.info("removing a stale staging folder %s", old)
                shutil.rmtree(old, ignore_errors=True)


def finish(
    staged: Path,
    metadata: TrackMetadata,
    track_dir: Path,
    settings: SourceSettings,
    progress: Progress,
    *,
    origin: str | None = None,
) -> FetchResult:
    """Probe, hash and decode ``staged`` (inside a staging folder), then commit both files.

    Errors name the file as the user knows it: ``origin`` (the URL) for a download, else
    the staged file's name (the upload's or local file's own name).
    """
    stage = staged.parent
    progress(0.0, "checking")
    name = f"the download from {origin}" if origin else staged.name
    try:
        info = probe(staged)
    except UnreadableAudio as error:
        # media names the file by its (staging) name; a URL tells the user more.
        why = str(error).removeprefix(staged.name).strip()
        raise UnreadableAudio(f"{name} {why}") from error
    limit = settings.max_seconds
    if limit is not None and info.duration_ms > limit * 1000:
        raise AudioTooLong(
            f"{name} is {clock(info.duration_ms / 1000)} long; the limit is {clock(limit)}"
        )
    with _disk_errors(track_dir):
        original = stage / f"{ORIGINAL_STEM}.{extension_for(info.format, staged.suffix)}"
        os.replace(staged, original)
        progress(0.1, "hashing")
        digest = sha256_file(original)
        size = original.stat().st_size
        progress(0.2, "decoding")
        try:
            decode_to_wav(
                original, stage / WAV_NAME, sample_rate=settings.sample_rate,
                max_seconds=settings.max_seconds,
            )  # fmt: skip
        except UnreadableAudio as error:
            why = str(error).removeprefix(original.name).strip()
            raise UnreadableAudio(f"{name} {why}") from error
        final_original = track_dir / original.name
        final_wav = track_dir / WAV_NAME
        os.replace(original, final_original)
        os.replace(stage / WAV_NAME, final_wav)
    if metadata.duration_ms is None:
        metadata = _with_duration(metadata, info.duration_ms)
    progress(1.0, "done")
    log.info("fetched %r into %s (%s, %d bytes)", metadata.title, track_dir, info.format, size)
    return FetchResult(
        original_path=str(final_original),
        wav_path=str(final_wav),
        sha256=digest,
        size_bytes=size,
        duration_ms=info.duration_ms,
        sample_rate=info.sample_rate,
        channels=info.channels,
        format=info.format,
        metadata=metadata,
    )


def _with_duration(metadata: TrackMetadata, duration_ms: int) -> TrackMetadata:
    return msgspec.structs.replace(metadata, duration_ms=duration_ms)


@contextlib.contextmanager
def _disk_errors(where: Path) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(
                f"the disk holding {where} is full; free some space and retry"
            ) from error
        raise
