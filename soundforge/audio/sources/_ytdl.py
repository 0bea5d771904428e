"""yt-dlp as a library: describe a URL, search, and download the best audio of one item.

Used for every http(s) source and for the audio of Spotify tracks (found by a search).
yt-dlp runs quietly (its messages go to this module's logger at debug/info level),
without post-processing (we decode with ffmpeg ourselves), with a socket timeout and few
retries (the job queue retries whole jobs). Its multi-line errors become one sentence in
the right :mod:`soundforge.audio.errors` class: HTTP 404/410 → SourceNotFound, refused
connections, timeouts and 5xx → SourceUnavailable, 429 → RateLimited, pages with no media
→ UnsupportedSource.

Downloading is two steps on one ``YoutubeDL``: ``extract_info(download=False)`` first, so
a playlist, a live stream or a too-long video is refused before any byte is fetched, then
``process_ie_result(info, download=True)``. The progress hook reports real fractions and
stops the download as soon as it is known to be bigger than ``max_bytes``.
"""

from __future__ import annotations

import errno
import functools
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar

import yt_dlp  # type: ignore[import-untyped]  # yt-dlp ships no type hints
from yt_dlp.networking.exceptions import (  # type: ignore[import-untyped]
    HTTPError,
    TransportError,
)
from yt_dlp.utils import (  # type: ignore[import-untyped]
    DownloadError,
    GeoRestrictedError,
    UnsupportedError,
    unsmuggle_url,
)

from soundforge.audio.errors import (
    AudioError,
    AudioTooLong,
    DiskFull,
    RateLimited,
    SourceNotFound,
    SourceUnavailable,
    UnsupportedSource,
)
from soundforge.audio.progress import Progress
from soundforge.audio.sources._match import Candidate
from soundforge.audio.sources._units import clock, megabytes
from soundforge.audio.sources.errors import SourceTooLarge
from soundforge.audio.sources.model import MediaUrl, SourceSettings, TrackMetadata

__all__ = ["describe", "download", "metadata_from_info", "plain_url", "search"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Info = dict[str, Any]

_GONE: Final = re.compile(
    r"video unavailable|private video|has been removed|no longer available|"
    r"does not exist|account .* terminated|not available",
    re.IGNORECASE,
)


class _Logger:
    """yt-dlp's messages, routed to logging: its errors are re-raised by us as sentences."""

    def debug(self, message: str) -> None:
        log.debug("%s", message.removeprefix("[debug] "))

    def info(self, message: str) -> None:
        log.debug("%s", message)

    def warning(self, message: str) -> None:
        log.info("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)


def _options(settings: SourceSettings, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "quiet": True,
        "noprogress": True,
        "no_color": True,
        "logger": _Logger(),
        "noplaylist": True,
        "extract_flat": "in_playlist",
        "socket_timeout": settings.http_timeout_s,
        "retries": settings.retries,
        "fragment_retries": settings.retries,
        "extractor_retries": settings.retries,
        "file_access_retries": 1,
        "js_runtimes": {name: {} for name in settings.js_runtimes},
        "postprocessors": [],
    }
    options.update({k: v for k, v in extra.items() if v is not None})
    return options


def describe(source: MediaUrl, settings: SourceSettings) -> list[TrackMetadata]:
    """What ``source`` holds, one entry per item, without downloading any media."""
    with yt_dlp.YoutubeDL(_options(settings, playlistend=settings.max_playlist_items)) as ydl:
        info = _guarded(source.url, lambda: ydl.extract_info(source.url, download=False))
    if info.get("_type") != "playlist":
        return [metadata_from_info(info, source)]
    found = []
    for index, entry in enumerate(_entries(info), start=1):
        position = entry.get("playlist_index") or index
        if source.item is not None and position != source.item:
            continue
        if entry.get("_type") in ("url", "url_transparent") and entry.get("url"):
            item = MediaUrl(url=plain_url(str(entry["url"])))
        else:  # a whole media entry of a page: reachable only as "item n of that page"
            item = MediaUrl(url=source.url, item=position)
        found.append(metadata_from_info(entry, item))
    if not found:
        raise SourceNotFound(f"{source.url} holds no audio or video to import")
    return found


def search(query: str, settings: SourceSettings) -> list[Candidate]:
    """The results of searching ``settings.search`` for ``query``, best first."""
    template = settings.search
    quoted = urllib.parse.quote_plus(query) if template.startswith("http") else query
    target = template.replace("{query}", quoted)
    with yt_dlp.YoutubeDL(_options(settings)) as ydl:
        info = _guarded(f'the search for "{query}"', lambda: ydl.extract_info(target, False))
    entries = list(_entries(info)) if info.get("_type") == "playlist" else [info]
    found = []
    for rank, entry in enumerate(entries, start=1):
        url = entry.get("url") or entry.get("webpage_url")
        if url:
            duration = entry.get("duration")
            found.append(
                Candidate(rank, str(entry.get("title") or ""), str(url), _seconds(duration))
            )
    log.debug("search %r: %s", query, [(c.title, c.duration_s) for c in found])
    return found


def download(
    source: MediaUrl, folder: Path, settings: SourceSettings, progress: Progress
) -> tuple[Path, Info]:
    """Download the best audio of ``source`` into ``folder``; the file and yt-dlp's info."""
    hook = _Hook(source.url, settings.max_bytes, progress)
    options = _options(
        settings,
        format="bestaudio/best",
        outtmpl=str(folder / "%(title).80B.%(ext)s"),
        progress_hooks=[hook],
        playlist_items=str(source.item) if source.item else None,
    )
    with yt_dlp.YoutubeDL(options) as ydl:
        info = _guarded(source.url, lambda: ydl.extract_info(source.url, download=False))
        info = _single(ydl, info, source)
        _check_limits(info, source.url, settings)
        done = _guarded(source.url, lambda: ydl.process_ie_result(info, download=True))
    files = [
        Path(d["filepath"]) for d in done.get("requested_downloads") or [] if d.get("filepath")
    ]
    if not files or not files[0].is_file():
        raise SourceUnavailable(f"yt-dlp reported no file for {source.url}")
    return files[0], done


def _single(ydl: Any, info: Info, source: MediaUrl) -> Info:
    """The one media entry ``info`` stands for (following one url-only playlist entry)."""
    for _ in range(3):  # a playlist entry may be a link to a page, which is read next
        if info.get("_type") == "playlist":
            entries = list(_entries(info))
            if not entries:
                raise SourceNotFound(f"{source.url} holds no audio or video to import")
            if len(entries) > 1:
                raise UnsupportedSource(
                    f"{source.url} is a playlist of {len(entries)} items; "
                    "resolve it into its items and fetch them one by one"
                )
            info = entries[0]
        if info.get("_type") not in ("url", "url_transparent"):
            return info
        url = str(info["url"])
        info = _guarded(url, functools.partial(ydl.extract_info, url, download=False))
    raise UnsupportedSource(f"{source.url} leads through too many links to reach its media")


def _check_limits(info: Info, url: str, settings: SourceSettings) -> None:
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
        raise UnsupportedSource(f"{url} is a live stream; only finished recordings can be imported")
    duration = _seconds(info.get("duration"))
    if settings.max_seconds is not None and duration and duration > settings.max_seconds:
        raise AudioTooLong(
            f"{url} is {clock(duration)} long; the limit is {clock(settings.max_seconds)}"
        )
    size = info.get("filesize") or info.get("filesize_approx")
    if settings.max_bytes is not None and size and size > settings.max_bytes:
        raise SourceTooLarge(_too_large(url, settings.max_bytes))


class _Hook:
    """yt-dlp progress hook: real fractions, and the size limit enforced while downloading."""

    def __init__(self, url: str, max_bytes: int | None, progress: Progress) -> None:
        self._url, self._max, self._progress = url, max_bytes, progress

    def __call__(self, status: Info) -> None:
        if status.get("status") == "finished":
            self._progress(1.0, "downloading")
            return
        if status.get("status") != "downloading":
            return
        done = status.get("downloaded_bytes") or 0
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        if self._max is not None and max(done, total or 0) > self._max:
            raise SourceTooLarge(_too_large(self._url, self._max))
        if total:
            self._progress(min(done / total, 1.0), "downloading")


def _too_large(url: str, limit: int) -> str:
    return f"{url} is bigger than the {megabytes(limit)} download limit"


def metadata_from_info(info: Info, source: MediaUrl) -> TrackMetadata:
    """Track metadata from a yt-dlp info dict (a full one or a flat playlist entry)."""
    artists = info.get("artists") or info.get("creators")
    if not artists:
        one = info.get("artist") or info.get("uploader") or info.get("channel")
        artists = [one] if one else []
    page = info.get("webpage_url") or (source.url if source.item else info.get("url"))
    duration = _seconds(info.get("duration"))
    return TrackMetadata(
        source=source,
        title=str(info.get("track") or info.get("title") or "Unknown title"),
        artists=tuple(str(a) for a in artists),
        album=info.get("album"),
        duration_ms=round(duration * 1000) if duration else None,
        track_number=info.get("track_number"),
        artwork_url=info.get("thumbnail"),
        source_url=plain_url(str(page)) if page else source.url,
    )


def plain_url(url: str) -> str:
    """``url`` without the data yt-dlp smuggles into fragments."""
    return str(unsmuggle_url(url)[0])


def _entries(info: Info) -> Iterator[Info]:
    return (entry for entry in info.get("entries") or [] if entry)


def _seconds(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _guarded(what: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except DownloadError as error:
        raise _translate(what, error) from error


def _translate(what: str, error: DownloadError) -> AudioError:
    chain = list(_causes(error))
    for cause in chain:
        if isinstance(cause, UnsupportedError):
            return UnsupportedSource(f"{what} has no audio or video that yt-dlp can download")
        if isinstance(cause, GeoRestrictedError):
            return SourceNotFound(f"{what} is not available in this server's country")
        if isinstance(cause, HTTPError):
            return _http_error(what, cause)
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return DiskFull("the disk is full; free some space and retry")
    for cause in chain:
        if isinstance(cause, TransportError):
            named = re.search(r"host='([^']+)'", str(cause))
            host = named.group(1) if named else _host(what)
            return SourceUnavailable(f"could not reach {host}: {_reason(cause)}")
    text = _one_line(str(error))
    if _GONE.search(text):
        return SourceNotFound(f"{what} is not available: {text}")
    return SourceUnavailable(f"yt-dlp could not read {what}: {text}")


def _http_error(what: str, error: HTTPError) -> AudioError:
    status = error.status
    if status in (404, 410):
        return SourceNotFound(f"{what} does not exist (the server answered HTTP {status})")
    if status == 429:
        header = error.response.headers.get("Retry-After") if error.response else None
        retry_after = _seconds(header)
        return RateLimited(
            f"{_host(what)} is rate-limiting this server; it will be retried", retry_after
        )
    if status in (401, 403):
        return SourceUnavailable(
            f"{_host(what)} refused access (HTTP {status}); the media may be private, "
            "region-locked, or the site may be blocking automated downloads"
        )
    return SourceUnavailable(f"{_host(what)} failed with HTTP {status}; try again later")


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        yield current
        exc_info = getattr(current, "exc_info", None)
        inner = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
        stack.extend([current.__context__, current.__cause__, getattr(current, "cause", None)])
        stack.append(inner if isinstance(inner, BaseException) else None)


def _host(what: str) -> str:
    return urllib.parse.urlsplit(what).hostname or what


def _reason(error: BaseException) -> str:
    text = str(error).lower()
    if "refused" in text:
        return "the connection was refused"
    if "timed out" in text or "timeout" in text:
        return "it did not answer in time"
    if "name or service not known" in text or "getaddrinfo" in text or "resolve" in text:
        return "its name does not resolve"
    return _one_line(str(error))


def _one_line(text: str) -> str:
    text = text.strip().splitlines()[0] if text.strip() else "unknown error"
    text = re.sub(r"^(?:ERROR: )?(?:\[[^\]]+\] )?(?:[^\s:]+: )?", "", text)
    for cut in (" (caused by", "; please report this issue", "; please report"):
        text = text.split(cut)[0]
    return text[:200].rstrip(". ")
