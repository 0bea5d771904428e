"""Importing: from what a user typed or uploaded to track rows with their download jobs.

``import_source`` classifies the input, asks a downloader port what it holds (Spotify
albums and playlists expand to their tracks, a folder to its audio files), skips what the
user already has (same Spotify id, or for files the same content hash) and creates each new
track together with its download job in one transaction, announcing it on ``tracks:<user>``
(``TrackCreated``) once that has committed. The audio itself arrives later, through the
pipeline (``soundforge.jobs.pipeline``).

    outcome = await import_source(context, user.id, "https://open.spotify.com/album/...")
    outcome.created      # new track ids, each with a queued download
    outcome.duplicates   # what the user already had
"""

from __future__ import annotations

import asyncio
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from soundforge.actors import port_pool, repo
from soundforge.audio.media import sha256_file
from soundforge.audio.sources.classify import classify
from soundforge.audio.sources.model import FetchRequest, Source, TrackMetadata
from soundforge.config import Settings
from soundforge.jobs.context import PipelineContext
from soundforge.music import tracks
from soundforge.music.events import DuplicateFound, TrackCreated, user_topic
from soundforge.queue.engine import insert
from soundforge.runtime import pubsub

__all__ = ["Duplicate", "ImportOutcome", "import_source", "source_settings"]

_YOUTUBE_HOSTS: Final = ("youtube.com", "youtu.be")


class Duplicate(msgspec.Struct, frozen=True):
    title: str
    existing_id: str
    reason: str  # spotify_id or content


class ImportOutcome(msgspec.Struct, frozen=True):
    source: str
    created: list[str]
    duplicates: list[Duplicate]


def source_settings(settings: Settings) -> dict[str, Any]:
    """The import library's ``SourceSettings`` (as a map) for a node's settings."""
    values = {
        "spotify_client_id": settings.spotify_client_id,
        "spotify_client_secret": settings.spotify_client_secret,
        "api_base": settings.spotify_api_url,
        "token_url": settings.spotify_token_url,
        "search": settings.media_search,
        "max_seconds": settings.max_audio_minutes * 60.0,
    }
    return {key: value for key, value in values.items() if value is not None}


async def import_source(
    context: PipelineContext, user_id: str, text: str | Source, *, allow_paths: bool = False
) -> ImportOutcome:
    """Queue every track ``text`` names for ``user_id``; raises the input's AudioError.

    ``text`` is what a user typed (a URL; a path only with ``allow_paths``), or a source
    already built, such as the web layer's ``Upload(path, filename)`` for a received file.
    """
    from soundforge.jobs.pipeline import Download  # the pipeline imports this module

    source = classify(text, allow_paths=allow_paths) if isinstance(text, str) else text
    found = await port_pool.run(
        port_pool.pool_name("downloader"),
        "resolve",
        {"source": source, "settings": source_settings(context.settings)},
    )
    items = msgspec.convert(found, list[TrackMetadata])
    created: list[str] = []
    duplicates: list[Duplicate] = []
    for item in items:
        content_hash = await _file_hash(item.source)
        new_track = _new_track(user_id, item, content_hash)
        async with repo.transaction(context.repo) as conn:
            existing = await tracks.find_duplicate(
                conn, user_id, spotify_id=item.spotify_id, content_hash=content_hash
            )
            if existing is not None:
                duplicates.append(Duplicate(item.title, *existing))
                event = DuplicateFound(user_id, existing[0], existing[1])
                pubsub.broadcast(context.pubsub, user_topic(user_id), event)
                continue
            track_id = await tracks.create_track(conn, new_track)
            request = msgspec.to_builtins(FetchRequest.of(item))
            await insert(conn, Download, {"track_id": track_id, "request": request})
        # After the commit, so that a page reacting to it finds the row.
        created.append(track_id)
        announced = TrackCreated(track_id, user_id, new_track.title, new_track.source_kind)
        pubsub.broadcast(context.pubsub, user_topic(user_id), announced)
    shown = text if isinstance(text, str) else getattr(text, "filename", str(text))
    return ImportOutcome(shown, created, duplicates)


async def _file_hash(source: Source) -> str | None:
    path = getattr(source, "path", None)
    if path is None:
        return None
    return await asyncio.to_thread(sha256_file, path)


def _new_track(user_id: str, item: TrackMetadata, content_hash: str | None) -> tracks.NewTrack:
    source = item.source
    kind, url, name = _origin(source, item)
    return tracks.NewTrack(
        user_id=user_id,
        source_kind=kind,
        title=(item.title or "Untitled")[:500],  # as stored, so TrackCreated shows it
        source_url=url,
        source_name=name,
        spotify_id=item.spotify_id,
        isrc=item.isrc,
        content_hash=content_hash,
        artists=list(item.artists),
        album=item.album,
        artwork_url=item.artwork_url if (item.artwork_url or "").startswith("http") else None,
        duration_ms=item.duration_ms,
    )


def _origin(source: Source, item: TrackMetadata) -> tuple[str, str | None, str | None]:
    """``(source_kind, source_url, source_name)`` of the track row."""
    tag = type(source).__struct_config__.tag
    if tag == "spotify":
        return "spotify", item.source_url or getattr(source, "url", None), None
    if tag == "url":
        url = item.source_url or source.url  # type: ignore[union-attr]
        host = (urlsplit(url).hostname or "").removeprefix("www.").removeprefix("music.")
        return ("youtube" if host in _YOUTUBE_HOSTS else "url"), url, None
    path = str(getattr(source, "filename", None) or getattr(source, "path", ""))
    name = path.rsplit("/", 1)[-1][:255] or None
    return ("upload" if tag == "upload" else "local"), None, name
