"""Files on the server's disk and uploads: listing a folder, tags, and taking a copy.

The user's file is never moved or changed: a local path is *copied* (a hard link would
make our "original" change whenever the user edits their file in place), while an upload,
which the web layer wrote to a temporary file of its own, is hard-linked when it lies on
the same filesystem and copied otherwise. Metadata comes from the file's tags (through
ffprobe, when it is installed), then from a file name shaped ``Artist - Title.ext``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Final

from soundforge.audio.errors import SourceNotFound, UnsupportedSource
from soundforge.audio.sources._units import megabytes
from soundforge.audio.sources.errors import SourceTooLarge
from soundforge.audio.sources.model import LocalPath, Source, TrackMetadata

__all__ = ["AUDIO_SUFFIXES", "audio_files", "file_metadata", "safe_name", "take_copy"]

log = logging.getLogger(__name__)

#: What a folder import picks up (by extension; the content is checked when fetched).
AUDIO_SUFFIXES: Final = frozenset(
    ".wav .wave .flac .mp3 .ogg .oga .opus .m4a .m4b .aac .wma .aif .aiff .aifc .caf "
    ".webm .mka .mp4 .ape .wv".split()
)
_TAG_TIMEOUT: Final = 15.0
_UNSAFE: Final = re.compile(r"[\x00-\x1f\x7f/\\]")


def audio_files(folder: Path, limit: int) -> list[Path]:
    """The audio files directly inside ``folder`` (not its subfolders), by name."""
    try:
        names = sorted(os.listdir(folder), key=str.casefold)
    except OSError as error:
        raise SourceNotFound(f"the folder {folder} cannot be read ({error.strerror})") from error
    found = [
        folder / name
        for name in names
        if not name.startswith(".")
        and Path(name).suffix.lower() in AUDIO_SUFFIXES
        and (folder / name).is_file()
    ]
    if not found:
        raise SourceNotFound(
            f"the folder {folder} holds no audio files (files directly inside it ending in "
            ".mp3, .wav, .flac, .m4a, .ogg, …; subfolders are not searched)"
        )
    if len(found) > limit:
        log.warning("%s holds %d audio files; importing the first %d", folder, len(found), limit)
    return found[:limit]


def file_metadata(path: Path, filename: str, source: Source) -> TrackMetadata:
    """Metadata of a local or uploaded file: its tags, else its name."""
    tags = read_tags(path)
    stem = Path(filename).stem.strip() or "Untitled"
    named_artist, _, named_title = stem.partition(" - ")
    if not named_title:
        named_artist, named_title = "", stem
    artists = _split(tags.get("artist") or tags.get("album_artist") or named_artist)
    track = tags.get("track", "").split("/")[0].strip()
    return TrackMetadata(
        source=source,
        title=tags.get("title") or named_title.strip(),
        artists=artists,
        album=tags.get("album") or None,
        track_number=int(track) if track.isdigit() else None,
        isrc=tags.get("isrc") or tags.get("tsrc") or None,
        source_url=Path(path).as_uri() if isinstance(source, LocalPath) else None,
    )


def read_tags(path: Path) -> dict[str, str]:
    """The file's tags (container and first audio stream), lowercase keys; {} if unknown."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return {}
    argv = [ffprobe, "-v", "error", "-print_format", "json", "-show_entries",
            "format_tags:stream_tags", "-select_streams", "a:0", str(path)]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, timeout=_TAG_TIMEOUT, check=False)
        found = json.loads(done.stdout or b"{}")
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        log.debug("no tags read from %s: %s", path, error)
        return {}
    tags: dict[str, str] = {}
    for block in [*(found.get("streams") or []), found.get("format") or {}]:
        for key, value in (block.get("tags") or {}).items():
            if isinstance(value, str) and value.strip():
                tags.setdefault(key.lower(), value.strip())
    return tags


def _split(artists: str) -> tuple[str, ...]:
    # ";" and " / " separate several artists in ID3 and Vorbis tags; "," is too often part
    # of a name ("Earth, Wind & Fire") to split on.
    parts = re.split(r"\s*;\s*|\s+/\s+|\x00", artists)
    return tuple(p.strip() for p in parts if p.strip())


def safe_name(filename: str, fallback: str = "upload") -> str:
    """A name safe to create in a folder: no directories, no control characters."""
    name = _UNSAFE.sub("_", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip().lstrip(".")
    if not name:
        return fallback
    stem, dot, suffix = name.rpartition(".")
    if len(name.encode()) > 120:
        keep = suffix if dot and len(suffix) <= 8 else ""
        stem = (stem if dot else name).encode()[:110].decode(errors="ignore")
        name = f"{stem}.{keep}" if keep else stem
    return name


def take_copy(
    source: Path, folder: Path, filename: str, *, link: bool, max_bytes: int | None
) -> Path:
    """Put the bytes of ``source`` at ``folder/<filename>`` without touching ``source``."""
    try:
        info = source.stat()
    except FileNotFoundError as error:
        raise SourceNotFound(f"{filename} no longer exists at {source}") from error
    if not source.is_file():
        raise UnsupportedSource(
            f"{source} is a folder; resolve it into its files and fetch them one by one"
        )
    if max_bytes is not None and info.st_size > max_bytes:
        raise SourceTooLarge(
            f"{filename} is {megabytes(info.st_size)}; the limit is {megabytes(max_bytes)}"
        )
    target = folder / safe_name(filename)
    if link:
        try:
            os.link(source, target)
            return target
        except OSError as error:  # another filesystem, or links not allowed: copy instead
            log.debug("cannot hard-link %s (%s); copying", source, error)
    try:
        shutil.copyfile(source, target)
    except PermissionError as error:
        raise SourceNotFound(f"{source} cannot be read by the server ({error.strerror})") from error
    return target
