"""Importing audio: Spotify links, anything yt-dlp reads, local files and uploads.

The downloader port calls three functions: :func:`classify` (text → :data:`Source`, no
network), :func:`resolve` (source → one :class:`TrackMetadata` per track) and
:func:`fetch` (one track → ``<track_dir>/source.<ext>`` + ``<track_dir>/audio.wav`` and a
:class:`FetchResult`). Errors are :mod:`soundforge.audio.errors` classes (plus the two
here) with one sentence each; ``docs/import.md`` lists them.

    settings = SourceSettings(spotify_client_id=..., spotify_client_secret=...)
    for meta in resolve(classify(text), settings):
        result = fetch(FetchRequest.of(meta), track_dir, settings, progress)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from soundforge.audio.sources.classify import classify
from soundforge.audio.sources.errors import SourceTooLarge, SpotifyNotConfigured
from soundforge.audio.sources.model import (
    SPOTIFY_API_BASE,
    SPOTIFY_TOKEN_URL,
    FetchRequest,
    FetchResult,
    LocalPath,
    MediaUrl,
    Source,
    SourceSettings,
    SpotifyKind,
    SpotifyLink,
    TrackMetadata,
    Upload,
)

__all__ = [
    "SPOTIFY_API_BASE",
    "SPOTIFY_TOKEN_URL",
    "FetchRequest",
    "FetchResult",
    "Importer",
    "LocalPath",
    "MediaUrl",
    "Source",
    "SourceSettings",
    "SourceTooLarge",
    "SpotifyKind",
    "SpotifyLink",
    "SpotifyNotConfigured",
    "TrackMetadata",
    "Upload",
    "classify",
    "fetch",
    "resolve",
]


if TYPE_CHECKING:
    from soundforge.audio.sources.importer import Importer, fetch, resolve

_LAZY = frozenset({"Importer", "fetch", "resolve"})


def __getattr__(name: str) -> Any:
    # The server needs only classify and the Structs; importing yt-dlp and spotipy (and their
    # start-up cost) is left to the downloader program, which uses the importer.
    if name in _LAZY:
        from soundforge.audio.sources import importer

        return getattr(importer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
