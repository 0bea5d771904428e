"""Exporting stems for people: readable file names and one zip of every stem.

Stems are stored as ``<stem>.<ext>`` in a track's folder; a user downloading them wants
``Artist - Title (vocals).wav``. :func:`stem_filename` builds that name with characters no
common filesystem accepts (``/ \\ : * ? " < > |``, control characters, a trailing dot or
space, Windows' reserved device names) removed or replaced, and a length that fits every
filesystem; :func:`export_zip` writes all stems into one zip under those names, atomically.

    stem_filename("vocals", "wav", artist="AC/DC", title="T.N.T.")   # 'AC-DC - T.N.T (vocals).wav'
    export_zip(result.stems, "/tmp/stems.zip", artist="AC/DC", title="T.N.T.")
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from soundforge.audio.errors import DiskFull
from soundforge.audio.separation.options import StemFile

__all__ = ["export_zip", "safe_filename", "stem_filename"]

_FORBIDDEN: Final = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_SPACES: Final = re.compile(r"\s+")
_RESERVED: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
#: Bytes a name may take (most filesystems allow 255; leave room for the zip tools' suffixes).
_MAX_BYTES: Final = 200


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = text.replace("/", "-").replace("\\", "-").replace(":", " -")
    text = _FORBIDDEN.sub("", text)
    return _SPACES.sub(" ", text).strip().rstrip(". ")


def safe_filename(text: str, fallback: str = "Untitled") -> str:
    """``text`` as a whole file name: characters filesystems refuse replaced (``/``→``-``)
    or dropped, no trailing dot or space, Windows' device names (``CON``...) prefixed."""
    text = _clean(text)
    if text.split(".", 1)[0].upper() in _RESERVED:
        text = f"_{text}"
    return text or fallback


def _truncate(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore").rstrip(". ")


def stem_filename(
    stem: str, ext: str, *, artist: str | None = None, title: str | None = None
) -> str:
    """``"Artist - Title (stem).ext"``; without an artist ``"Title (stem).ext"``."""
    # The " (stem).ext" suffix keeps the whole name clear of Windows' device names.
    label = f" ({_clean(stem) or 'stem'}).{_clean(ext) or 'wav'}"
    base = _clean(title or "") or "Untitled"
    if artist and _clean(artist):
        base = f"{_clean(artist)} - {base}"
    return _truncate(base, _MAX_BYTES - len(label.encode("utf-8"))) + label


def export_zip(
    stems: Sequence[StemFile],
    zip_path: str | os.PathLike[str],
    *,
    artist: str | None = None,
    title: str | None = None,
) -> Path:
    """Write every stem into ``zip_path`` under its readable name; returns the path.

    Audio is stored, not deflated (WAV/FLAC/MP3 barely shrink and deflate would cost
    minutes on long files); ZIP64 is used when needed. The zip is written to a hidden
    partial name and renamed, so a failure leaves nothing behind.
    """
    target = Path(zip_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    used: set[str] = set()
    try:
        with zipfile.ZipFile(
            partial, "w", compression=zipfile.ZIP_STORED, allowZip64=True
        ) as archive:
            for stem in stems:
                name = stem_filename(stem.name, stem.format, artist=artist, title=title)
                while name in used:  # two stems with one name would overwrite on unzip
                    name = f"{Path(name).stem}_.{stem.format}"
                used.add(name)
                archive.write(stem.path, arcname=name)
        os.replace(partial, target)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(
                f"the disk holding {target.parent} is full; free some space and retry"
            ) from error
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return target
