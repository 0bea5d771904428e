"""Stems on disk: the file a row names, refused when it resolves outside the data
directory, and a user's stem with its download name (``stem_path``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Final

from soundforge.audio.separation.export import stem_filename
from soundforge.music.library._db import _uuid
from soundforge.music.library._values import (
    StemFileMissing,
    StemInfo,
    StemNotFound,
    UnsafePath,
)

_MEDIA_TYPES: Final = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg"}


# -- stems on disk ---------------------------------------------------------------------------


def _resolve_inside(data_dir: Path, relative: str) -> Path | None:
    root = data_dir.resolve()
    path = (root / relative).resolve()
    return path if path != root and path.is_relative_to(root) else None


def data_file(data_dir: Path, relative: str) -> Path:
    """The file a row names (``relative`` to ``data_dir``), every symlink resolved; refused
    when that lies outside ``data_dir`` or is not a file. The schema already refuses '..'
    and absolute paths; a symlink planted under the data directory is what this catches.
    Blocking (it touches the disk): call it in a thread."""
    path = _resolve_inside(data_dir, relative)
    if path is None:
        raise UnsafePath("the stem's file lies outside the data directory; it is not served")
    if not path.is_file():
        raise StemFileMissing("the stem's file is missing; re-separate the track")
    return path


async def stem_path(conn: Any, user_id: str, stem_id: str, data_dir: Path) -> tuple[StemInfo, Path]:
    """A stem the user owns and its file, checked to exist inside ``data_dir``."""
    row = await conn.fetchrow(
        """SELECT s.id::text, s.track_id::text, s.engine, s.model, s.stem, s.format, s.version,
                  s.size_bytes, s.duration_ms, s.sample_rate, s.channels, s.path,
                  t.title, t.artists
           FROM stems s JOIN tracks t ON t.id = s.track_id
           WHERE s.id = $1::uuid AND t.user_id = $2::uuid""",
        _uuid(stem_id, StemNotFound, "stem"),
        user_id,
    )
    if row is None:
        raise StemNotFound(f"there is no stem {stem_id}; the track may have been deleted")
    path = await asyncio.to_thread(data_file, data_dir, row["path"])
    label = row["stem"] if row["version"] == 1 else f"{row['stem']} v{row['version']}"
    artist = ", ".join(row["artists"]) or None
    filename = stem_filename(label, row["format"], artist=artist, title=row["title"])
    values = {f: row[f] for f in StemInfo.__struct_fields__ if f not in ("filename", "media_type")}
    info = StemInfo(**values, filename=filename, media_type=_MEDIA_TYPES[row["format"]])
    return info, path
