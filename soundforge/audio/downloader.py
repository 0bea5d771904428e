"""The downloader port program: ``python -m soundforge.audio.downloader``.

Operations (see ``soundforge.audio.sources``):

* ``resolve`` ``{"source": Source, "settings": SourceSettings}`` → ``[TrackMetadata]``: what
  a link, folder or upload holds (Spotify albums and playlists expand to their tracks).
* ``fetch`` ``{"request": FetchRequest, "track_dir": str, "settings": SourceSettings}`` →
  ``FetchResult``: the original file kept as ``source.<ext>``, decoded to ``audio.wav``.

One :class:`~soundforge.audio.sources.Importer` is kept per settings value, so a Spotify
access token is reused across jobs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import msgspec

from soundforge.audio.port_program import serve
from soundforge.audio.progress import Progress
from soundforge.audio.sources import (
    FetchRequest,
    FetchResult,
    Importer,
    Source,
    SourceSettings,
    TrackMetadata,
)

__all__ = ["main"]


class _ResolveArgs(msgspec.Struct, frozen=True):
    source: Source
    settings: SourceSettings = msgspec.field(default_factory=SourceSettings)


class _FetchArgs(msgspec.Struct, frozen=True):
    request: FetchRequest
    track_dir: str
    settings: SourceSettings = msgspec.field(default_factory=SourceSettings)


class _Importers:
    """Importers by settings (their tokens outlive one job)."""

    def __init__(self) -> None:
        self._by_settings: dict[bytes, Importer] = {}

    def get(self, settings: SourceSettings) -> Importer:
        key = msgspec.msgpack.encode(settings)
        if key not in self._by_settings:
            self._by_settings[key] = Importer(settings)
        return self._by_settings[key]


def main() -> None:
    # spotipy logs every HTTP error (a 404 for a mistyped link) at ERROR; the job's own
    # sentence says what matters.
    logging.getLogger("spotipy.client").setLevel(logging.CRITICAL)
    importers = _Importers()

    def resolve(args: Any, progress: Progress) -> list[TrackMetadata]:
        request = msgspec.convert(args, _ResolveArgs)
        return importers.get(request.settings).resolve(request.source)

    def fetch(args: Any, progress: Progress) -> FetchResult:
        request = msgspec.convert(args, _FetchArgs)
        importer = importers.get(request.settings)
        return importer.fetch(request.request, Path(request.track_dir), progress)

    serve("downloader", {"resolve": resolve, "fetch": fetch})


if __name__ == "__main__":
    main()
