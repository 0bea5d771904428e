"""Files from disk as HTTP responses: single byte ranges, validators, streaming in chunks.

Quart's ``send_file(conditional=True)`` was checked and is not used: a suffix range
(``bytes=-500``, which audio players send to read a file's tail) seeks to a negative
offset and declares a wrong length, a 416 carries no ``Content-Range: bytes */size``, a
multi-range request is refused instead of served whole, and a 200 does not say
``Accept-Ranges``. This module implements the part of RFC 9110 the stem player needs:

* ``Range: bytes=a-b`` / ``a-`` / ``-n`` (one range) → 206 with ``Content-Range``; a range
  that starts past the end → 416 with ``Content-Range: bytes */size``; a malformed or
  multi-range header is ignored (a full 200, which RFC 9110 allows);
* ``If-Range`` (an ETag or the Last-Modified date) keeps the range only for this version;
* ``If-None-Match`` (weak comparison, ``*``), else ``If-Modified-Since`` → 304;
* the body is read in 256 KiB chunks in a worker thread, so a 200 MB stem never sits in
  memory and the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Final

from quart import Response, request

from soundforge.errors import SoundForgeError

__all__ = ["RangeNotSatisfiable", "file_response", "parse_range"]

CHUNK: Final = 256 * 1024
_SPEC: Final = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class RangeNotSatisfiable(SoundForgeError):
    status = 416

    def __init__(self, size: int) -> None:
        super().__init__(f"The requested range is outside the file, which has {size} bytes.")
        self.size = size


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` a ``Range`` header asks for; None to send the whole file.

    Raises RangeNotSatisfiable when the one range asked for lies past the end.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _SPEC.match(spec)
    if match is None or not (match.group(1) or match.group(2)):
        return None
    first, last = match.groups()
    if not first:  # a suffix: the last n bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - length), size
    start = int(first)
    end = size if not last else int(last) + 1
    if last and end <= start:
        return None  # "5-2" is not a valid range: ignored
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, min(end, size)


def _etags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def _date(header: str | None) -> datetime | None:
    if not header:
        return None
    try:
        value = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _not_modified(etag: str, modified: datetime) -> bool:
    none_match = request.headers.get("If-None-Match")
    if none_match is not None:
        tags = _etags(none_match)
        return "*" in tags or etag in tags
    since = _date(request.headers.get("If-Modified-Since"))
    return since is not None and modified <= since


def _range_applies(etag: str, modified: str) -> bool:
    if_range = request.headers.get("If-Range")
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return if_range == etag  # strong comparison: a weak tag never matches
    return if_range == modified


async def _chunks(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    file = await asyncio.to_thread(open, path, "rb")
    try:
        await asyncio.to_thread(file.seek, start)
        remaining = end - start
        while remaining > 0:
            data = await asyncio.to_thread(file.read, min(CHUNK, remaining))
            if not data:
                break  # truncated since it was stat'ed: the client sees a short body
            remaining -= len(data)
            yield data
    finally:
        file.close()


async def file_response(
    path: Path,
    stat: os.stat_result,
    *,
    media_type: str,
    etag: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """``path`` (stat'ed as ``stat``) as a 200, 206 or 304, or RangeNotSatisfiable."""
    size = stat.st_size
    modified_at = datetime.fromtimestamp(int(stat.st_mtime), UTC)
    modified = format_datetime(modified_at, usegmt=True)
    common = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": modified,
        "Cache-Control": "private, no-cache",
        **(headers or {}),
    }
    if _not_modified(etag, modified_at):
        not_modified = Response(b"", status=304, headers=common)
        del not_modified.content_length
        return not_modified
    span = None
    if _range_applies(etag, modified):
        span = parse_range(request.headers.get("Range"), size)
    start, end = span or (0, size)
    status = 200
    if span is not None:
        status = 206
        common["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    body = _chunks(path, start, end) if request.method != "HEAD" else None
    response = Response(body, status=status, content_type=media_type, headers=common)
    response.content_length = end - start
    return response
