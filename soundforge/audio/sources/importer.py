"""The two operations of the downloader port: ``resolve`` a source, ``fetch`` one track.

``resolve`` is cheap (metadata only: Spotify's catalog, yt-dlp's page info, file tags) and
expands albums, playlists and folders into one :class:`TrackMetadata` per track, so the
caller can create its track rows, skip duplicates (``spotify_id``) and queue one fetch job
each. ``fetch`` does the slow part for one track: for Spotify a search for the audio and
the duration match (see ``_match``), then the download or copy, probe, hash and decode,
committed all-or-nothing into the track folder (see ``_store``).

:class:`Importer` keeps what is worth keeping between calls in a long-lived port program
(the Spotify access token); the module functions make a fresh one per call.

    importer = Importer(settings)
    for meta in importer.resolve(classify(text)):
        result = importer.fetch(FetchRequest.of(meta), root / new_id(), progress)

An exception raised by ``progress`` (a cancellation) aborts the fetch and propagates
unchanged; nothing is left in the track folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec

from soundforge.audio.errors import AudioTooLong, SourceNotFound, UnsupportedSource
from soundforge.audio.progress import NO_PROGRESS, Progress, scaled
from soundforge.audio.sources import _files, _store, _ytdl
from soundforge.audio.sources._match import choose
from soundforge.audio.sources._spotify import SpotifyCatalog
from soundforge.audio.sources._units import clock
from soundforge.audio.sources.model import (
    FetchRequest,
    FetchResult,
    LocalPath,
    MediaUrl,
    Source,
    SourceSettings,
    SpotifyLink,
    TrackMetadata,
    Upload,
)

__all__ = ["Importer", "fetch", "resolve"]

log = logging.getLogger(__name__)


def resolve(source: Source, settings: SourceSettings) -> list[TrackMetadata]:
    """The tracks ``source`` holds, in order, with what is known about each."""
    return Importer(settings).resolve(source)


def fetch(
    request: FetchRequest,
    track_dir: Path,
    settings: SourceSettings,
    progress: Progress = NO_PROGRESS,
) -> FetchResult:
    """Fetch one track into ``track_dir`` as ``source.<ext>`` and ``audio.wav``."""
    return Importer(settings).fetch(request, track_dir, progress)


class Importer:
    """``resolve`` and ``fetch`` with one settings value and one Spotify session."""

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        self._catalog: SpotifyCatalog | None = None

    @property
    def spotify(self) -> SpotifyCatalog:
        """The Spotify client, made on first use (raises SpotifyNotConfigured without keys)."""
        if self._catalog is None:
            self._catalog = SpotifyCatalog(self.settings)
        return self._catalog

    def resolve(self, source: Source) -> list[TrackMetadata]:
        if isinstance(source, SpotifyLink):
            return self.spotify.tracks(source)
        if isinstance(source, MediaUrl):
            return _ytdl.describe(source, self.settings)
        if isinstance(source, Upload):
            return [_files.file_metadata(Path(source.path), source.filename, source)]
        path = Path(source.path)
        if path.is_dir():
            files = _files.audio_files(path, self.settings.max_playlist_items)
            return [_files.file_metadata(f, f.name, LocalPath(path=str(f))) for f in files]
        if not path.exists():
            raise SourceNotFound(f"there is no file or folder at {path}")
        return [_files.file_metadata(path, path.name, source)]

    def fetch(
        self, request: FetchRequest, track_dir: Path, progress: Progress = NO_PROGRESS
    ) -> FetchResult:
        track_dir = Path(track_dir)
        source = request.source
        with _store.staging(track_dir) as stage:
            if isinstance(source, SpotifyLink):
                return self._spotify(source, request.metadata, stage, track_dir, progress)
            if isinstance(source, MediaUrl):
                staged, info = _ytdl.download(
                    source, stage, self.settings, scaled(progress, 0.0, 0.8)
                )
                metadata = request.metadata or _ytdl.metadata_from_info(info, source)
                media_url = _ytdl.plain_url(str(info.get("webpage_url") or source.url))
                metadata = msgspec.structs.replace(metadata, media_url=media_url)
                return self._finish(staged, metadata, track_dir, progress, origin=source.url)
            progress(0.0, "copying")
            if isinstance(source, Upload):
                staged = _files.take_copy(
                    Path(source.path), stage, source.filename,
                    link=True, max_bytes=self.settings.max_bytes,
                )  # fmt: skip
                metadata = request.metadata or _files.file_metadata(staged, source.filename, source)
            else:
                path = Path(source.path)
                staged = _files.take_copy(
                    path, stage, path.name, link=False, max_bytes=self.settings.max_bytes
                )
                metadata = request.metadata or _files.file_metadata(path, path.name, source)
            return self._finish(staged, metadata, track_dir, progress, start=0.1)

    def _spotify(
        self,
        link: SpotifyLink,
        metadata: TrackMetadata | None,
        stage: Path,
        track_dir: Path,
        progress: Progress,
    ) -> FetchResult:
        if link.kind != "track":
            raise UnsupportedSource(
                f"a Spotify {link.kind} holds many tracks; resolve it and fetch each track"
            )
        if metadata is None:
            progress(0.0, "looking up")
            metadata = self.spotify.tracks(link)[0]
        limit = self.settings.max_seconds
        if limit is not None and metadata.duration_ms and metadata.duration_ms > limit * 1000:
            raise AudioTooLong(
                f'"{metadata.title}" is {clock(metadata.duration_ms / 1000)} long; '
                f"the limit is {clock(limit)}"
            )
        query = " ".join([metadata.title, *metadata.artists])
        progress(0.02, "searching")
        chosen = choose(
            _ytdl.search(query, self.settings),
            target_ms=metadata.duration_ms,
            query=query,
            tolerance_s=self.settings.match_tolerance_s,
            allow_unmatched=self.settings.allow_unmatched,
        )
        log.info("%r matched %r (%s)", query, chosen.title, chosen.url)
        staged, _ = _ytdl.download(
            MediaUrl(url=chosen.url), stage, self.settings, scaled(progress, 0.05, 0.8)
        )
        media_url = _ytdl.plain_url(chosen.url)
        metadata = msgspec.structs.replace(metadata, media_url=media_url)
        return self._finish(staged, metadata, track_dir, progress, origin=media_url)

    def _finish(
        self,
        staged: Path,
        metadata: TrackMetadata,
        track_dir: Path,
        progress: Progress,
        *,
        origin: str | None = None,
        start: float = 0.8,
    ) -> FetchResult:
        return _store.finish(
            staged, metadata, track_dir, self.settings, scaled(progress, start, 1.0),
            origin=origin,
        )  # fmt: skip
