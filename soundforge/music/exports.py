"""Exports with names people can read: one stem, every stem of a separation as a zip, or
the analysis document, named ``"Artist - Title (vocals).wav"`` and the like.

Shared by ``soundforge export`` and the web API. The files are read from the data directory
(rows hold paths relative to it); what is written goes to a partial name first, so a failed
export leaves nothing behind.

The web API streams instead of writing: :func:`stems_zip_entries` checks ownership and the
files, and :func:`iter_zip` yields the zip chunk by chunk, never holding a whole file::

    entries = await stems_zip_entries(conn, data_dir, user.id, track_id)
    for chunk in iter_zip(entries):   # blocking reads: iterate it in a thread
        send(chunk)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from soundforge.audio.separation.export import export_zip, safe_filename, stem_filename
from soundforge.audio.separation.options import StemFile
from soundforge.errors import SoundForgeError
from soundforge.music import library, tracks

__all__ = [
    "NothingToExport",
    "export_analysis",
    "export_stem",
    "export_stems",
    "iter_zip",
    "stems_zip_entries",
]


class NothingToExport(SoundForgeError):
    status = 404
    exit_code = 66


def _artist(track: tracks.Track) -> str | None:
    return ", ".join(track.artists) or None


async def _stems(conn: Any, track: tracks.Track, model: str | None) -> list[tracks.StemRow]:
    rows = await tracks.stems_of(conn, track.id)
    if not rows:
        raise NothingToExport(f'"{track.title}" has no stems yet; separate it first')
    chosen = model or rows[0].model  # the newest separation
    picked = [row for row in rows if row.model == chosen]
    if not picked:
        models = ", ".join(sorted({row.model for row in rows}))
        raise NothingToExport(f'"{track.title}" has no {chosen} stems (it has: {models})')
    return picked


def _stem_file(data_dir: Path, row: tracks.StemRow) -> StemFile:
    path = data_dir / row.path
    return StemFile(
        name=row.stem,
        path=str(path),
        filename=path.name,
        format=row.format,  # type: ignore[arg-type]  # the table's CHECK holds the same set
        sample_rate=row.sample_rate or 0,
        channels=row.channels or 0,
        bit_depth=row.bit_depth,
        duration_ms=row.duration_ms or 0,
        size_bytes=row.size_bytes or 0,
    )


async def export_stems(
    conn: Any, data_dir: Path, track_id: str, out_dir: Path, *, model: str | None = None
) -> Path:
    """A zip of every stem of one separation (the newest, or ``model``'s)."""
    track = await tracks.get_track(conn, track_id)
    stems = [_stem_file(data_dir, row) for row in await _stems(conn, track, model)]
    artist = _artist(track)
    label = f"{artist} - {track.title}" if artist else track.title
    name = safe_filename(f"{label} (stems)")
    target = out_dir / f"{name}.zip"
    return await asyncio.to_thread(export_zip, stems, target, artist=artist, title=track.title)


async def export_stem(
    conn: Any, data_dir: Path, track_id: str, stem: str, out_dir: Path, *, model: str | None = None
) -> Path:
    """One stem, copied under its readable name."""
    track = await tracks.get_track(conn, track_id)
    rows = [row for row in await _stems(conn, track, model) if row.stem == stem]
    if not rows:
        raise NothingToExport(f'"{track.title}" has no {stem} stem')
    row = rows[0]
    target = out_dir / stem_filename(stem, row.format, artist=_artist(track), title=track.title)
    await asyncio.to_thread(_copy, data_dir / row.path, target)
    return target


async def export_analysis(conn: Any, data_dir: Path, track_id: str, out_dir: Path) -> Path:
    """The current analysis document as ``"Artist - Title (analysis).json"``."""
    track = await tracks.get_track(conn, track_id)
    document = data_dir / "tracks" / track.id / "analysis.json"
    if not await asyncio.to_thread(document.is_file):
        raise NothingToExport(f'"{track.title}" has no analysis yet')
    target = out_dir / stem_filename("analysis", "json", artist=_artist(track), title=track.title)
    await asyncio.to_thread(_copy, document, target)
    return target


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


async def stems_zip_entries(
    conn: Any, data_dir: Path, user_id: str, track_id: str, model: str | None = None
) -> list[tuple[str, Path]]:
    """``(name in the archive, file)`` for every stem of one separation of a track the user
    owns (the newest, or ``model``'s), named ``"Artist - Title/vocals.wav"``. Every file is
    checked before the first byte is sent, so a stream never breaks off for a missing one."""
    track = await library.get_owned_track(conn, user_id, track_id)
    rows = await _stems(conn, track, model)
    artist = _artist(track)
    folder = safe_filename(f"{artist} - {track.title}" if artist else track.title)
    entries: list[tuple[str, Path]] = []
    used: set[str] = set()
    for row in rows:
        name = f"{folder}/{safe_filename(row.stem, 'stem')}.{row.format}"
        while name in used:  # two engines with one model name: keep both files
            name = name.replace(f".{row.format}", f"_.{row.format}")
        used.add(name)
        entries.append((name, await asyncio.to_thread(library.data_file, data_dir, row.path)))
    return entries


class _Sink:
    """The file a streaming ZipFile writes to: it has no seek nor tell, so zipfile writes
    each entry's sizes after its data (a data descriptor) and never goes back."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def iter_zip(entries: Iterable[tuple[str, Path]], chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """A zip of ``entries`` as it is written, about ``chunk_size`` bytes at a time.

    Stored, not deflated (audio barely shrinks); ZIP64 where a file or the archive passes
    4 GiB. Memory stays at about one chunk whatever the files' sizes. Reads block: iterate
    it in a thread from async code.
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo.from_file(path, name, strict_timestamps=False)
            info.compress_type = zipfile.ZIP_STORED
            with open(path, "rb") as source, archive.open(info, "w") as target:
                while chunk := source.read(chunk_size):
                    target.write(chunk)
                    yield sink.take()
            if tail := sink.take():  # the entry's data descriptor
                yield tail
    if rest := sink.take():  # the central directory
        yield rest
