"""Tell what kind of source a pasted text is, without touching the network.

:func:`classify` recognises Spotify links and URIs (track, album, playlist), any other
http(s) URL (handed to yt-dlp later, which decides whether it can read it), and, only when
the caller allows it, paths on the server's disk. Everything else is an
:class:`~soundforge.audio.errors.UnsupportedSource` whose message says what *is* accepted.

Uploads are not classified from text: the web layer builds an
:class:`~soundforge.audio.sources.model.Upload` itself.

    classify("https://open.spotify.com/intl-de/track/4uLU6hMCjMI75M1A2tKUQC?si=x")
    # SpotifyLink(kind='track', id='4uLU6hMCjMI75M1A2tKUQC')
    classify("spotify:album:1DFixLWuPkv3KT3TnV35m3")   # SpotifyLink(kind='album', ...)
    classify("https://youtu.be/dQw4w9WgXcQ")             # MediaUrl(url=..., item=None)
    classify("/srv/music/song.flac", allow_paths=True)  # LocalPath(path='/srv/music/song.flac')
"""

from __future__ import annotations

import os
import re
import urllib.parse
from typing import Final, cast

from soundforge.audio.errors import SourceNotFound, UnsupportedSource
from soundforge.audio.sources.model import (
    LocalPath,
    MediaUrl,
    Source,
    SpotifyKind,
    SpotifyLink,
)

__all__ = ["classify"]

_ID: Final = re.compile(r"[0-9A-Za-z]{22}")
_KINDS: Final = ("track", "album", "playlist")
_OTHER_KINDS: Final = ("artist", "show", "episode", "audiobook", "user", "genre", "search")
_SPOTIFY_HOSTS: Final = frozenset({"open.spotify.com", "play.spotify.com"})
_SHORT_HOSTS: Final = frozenset({"spotify.link", "spoti.fi", "spotify.app.link"})
#: Hosts people paste without ``https://``; anything else needs its scheme.
_BARE_HOSTS: Final = re.compile(
    r"^(?:www\.|m\.|music\.)?(?:open\.spotify\.com|youtube\.com|youtu\.be|soundcloud\.com)/",
    re.IGNORECASE,
)
_LOCALE: Final = re.compile(r"^intl-[a-z]{2}(?:[-_][a-z]{2,4})?$", re.IGNORECASE)
_ACCEPTED: Final = (
    "paste a Spotify track, album or playlist link, or an http(s) link to a video, song or "
    "audio file, or upload the file"
)


def classify(text: str, *, allow_paths: bool = False) -> Source:
    """The source ``text`` names; raises UnsupportedSource with one sentence if none.

    ``allow_paths`` lets absolute paths (``/…``, ``~/…``, ``./…``, ``file://…``) through as
    :class:`LocalPath`; only trusted callers (the CLI) should pass it, since a path reads
    any file the server can. A path that does not exist raises SourceNotFound.
    """
    text = text.strip().strip("<>").strip()
    if not text:
        raise UnsupportedSource(f"the link is empty; {_ACCEPTED}")
    if text.lower().startswith("spotify:"):
        return _spotify_uri(text)
    if _BARE_HOSTS.match(text):
        text = "https://" + text
    if _looks_like_path(text):
        return _local_path(text, allow_paths)
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        host = (parts.hostname or "").lower()
        if not host:
            raise UnsupportedSource(f"{_short(text)} is not a complete web address; {_ACCEPTED}")
        if host in _SPOTIFY_HOSTS:
            return _spotify_url(text, parts.path)
        if host in _SHORT_HOSTS:
            raise UnsupportedSource(
                f"{_short(text)} is a Spotify short link; open it in a browser and paste the "
                "open.spotify.com address it leads to"
            )
        return MediaUrl(url=text)
    if scheme and parts.netloc:
        raise UnsupportedSource(f"{scheme}:// links are not supported; {_ACCEPTED}")
    raise UnsupportedSource(f"{_short(text)!r} is not a link SoundForge can import; {_ACCEPTED}")


def _spotify_uri(text: str) -> SpotifyLink:
    # spotify:track:<id>, and the old spotify:user:<name>:playlist:<id>
    fields = text.split(":")
    if len(fields) == 5 and fields[1].lower() == "user" and fields[3].lower() == "playlist":
        fields = ["spotify", "playlist", fields[4]]
    if len(fields) != 3:
        raise UnsupportedSource(f"{_short(text)} is not a Spotify URI SoundForge understands")
    return _spotify(fields[1].lower(), fields[2], text)


def _spotify_url(text: str, path: str) -> SpotifyLink:
    segments = [s for s in path.split("/") if s]
    if segments and _LOCALE.match(segments[0]):
        segments = segments[1:]
    if segments and segments[0].lower() == "embed":
        segments = segments[1:]
    if len(segments) >= 4 and segments[0].lower() == "user" and segments[2] == "playlist":
        segments = segments[2:]
    if len(segments) < 2:
        raise UnsupportedSource(
            f"{_short(text)} does not point at a Spotify track, album or playlist"
        )
    return _spotify(segments[0].lower(), segments[1], text)


def _spotify(kind: str, spotify_id: str, text: str) -> SpotifyLink:
    if kind in _OTHER_KINDS:
        raise UnsupportedSource(
            f"Spotify {kind} links are not supported; paste a track, album or playlist link"
        )
    if kind not in _KINDS:
        raise UnsupportedSource(
            f"{_short(text)} does not point at a Spotify track, album or playlist"
        )
    if not _ID.fullmatch(spotify_id):
        raise UnsupportedSource(
            f"{_short(text)} does not hold a valid Spotify {kind} id (22 letters and digits)"
        )
    return SpotifyLink(kind=cast(SpotifyKind, kind), id=spotify_id)


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "~", "./", "../")) or text.lower().startswith("file:")


def _local_path(text: str, allow_paths: bool) -> LocalPath:
    if not allow_paths:
        raise UnsupportedSource(
            "paths on the server's disk can only be imported from the command line; "
            "upload the file instead"
        )
    if text.lower().startswith("file:"):
        parts = urllib.parse.urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise UnsupportedSource(f"{_short(text)} names a file on another machine")
        text = urllib.parse.unquote(parts.path)
    path = os.path.abspath(os.path.expanduser(text))
    if not os.path.exists(path):
        raise SourceNotFound(f"there is no file or folder at {path}")
    return LocalPath(path=path)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
