"""Spotify metadata through spotipy (client-credentials flow): tracks, albums, playlists.

Spotify gives only metadata; the audio is searched for elsewhere (``_search``). The client
never sleeps or retries by itself: spotipy's own ``requests`` session would retry 429s and
5xx with ``urllib3.Retry`` (sleeping for ``Retry-After``, and turning an exhausted 429 into
an error without its headers), so it gets a plain session instead. Failures become one
sentence each: 404 → SourceNotFound, 429 → RateLimited with ``retry_after``, 5xx and
network errors → SourceUnavailable; the job queue decides about trying again.

    catalog = SpotifyCatalog(settings)
    tracks = catalog.tracks(SpotifyLink(kind="album", id="1DFixLWuPkv3KT3TnV35m3"))
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
import spotipy  # type: ignore[import-untyped]  # spotipy ships no type hints
from spotipy.cache_handler import MemoryCacheHandler  # type: ignore[import-untyped]
from spotipy.oauth2 import (  # type: ignore[import-untyped]
    SpotifyClientCredentials,
    SpotifyOauthError,
)

from soundforge.audio.errors import (
    AudioError,
    RateLimited,
    SourceNotFound,
    SourceUnavailable,
    UnsupportedSource,
)
from soundforge.audio.sources.errors import SpotifyNotConfigured
from soundforge.audio.sources.model import SourceSettings, SpotifyLink, TrackMetadata

__all__ = ["SpotifyCatalog", "no_credentials_message"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Json = dict[str, Any]

_ENV_ID = "SOUNDFORGE_SPOTIFY_CLIENT_ID"
_ENV_SECRET = "SOUNDFORGE_SPOTIFY_CLIENT_SECRET"


def no_credentials_message() -> str:
    return (
        "Spotify links need Spotify API credentials: create an app at "
        "https://developer.spotify.com/dashboard and set "
        f"{_ENV_ID} and {_ENV_SECRET}; YouTube links, other URLs and files work without them"
    )


class SpotifyCatalog:
    """Reads track, album and playlist metadata; keeps one access token while it lives.

    Not thread-safe: use one per thread (the downloader port runs one fetch at a time).
    """

    def __init__(self, settings: SourceSettings) -> None:
        if not settings.has_spotify_credentials:
            raise SpotifyNotConfigured(no_credentials_message())
        self._settings = settings
        session = requests.Session()  # no urllib3 Retry: our queue does the retrying
        auth = SpotifyClientCredentials(
            client_id=settings.spotify_client_id,
            client_secret=settings.spotify_client_secret,
            requests_session=session,
            requests_timeout=settings.http_timeout_s,
            cache_handler=MemoryCacheHandler(),
        )
        auth.OAUTH_TOKEN_URL = settings.token_url  # an instance attribute; the class keeps its
        self._client = spotipy.Spotify(
            auth_manager=auth,
            requests_session=session,
            requests_timeout=settings.http_timeout_s,
            retries=0,
            status_retries=0,
            backoff_factor=0,
        )
        self._client.prefix = settings.api_base.rstrip("/") + "/"

    def tracks(self, link: SpotifyLink) -> list[TrackMetadata]:
        """Every track the link names (one for a track), in Spotify's order."""
        what = f"Spotify {link.kind} {link.id}"
        if link.kind == "track":
            return [_track(self._call(what, lambda: self._client.track(link.id, self._market)))]
        if link.kind == "album":
            return self._album(link.id, what)
        return self._playlist(link.id, what)

    @property
    def _market(self) -> str | None:
        return self._settings.spotify_market

    def _album(self, album_id: str, what: str) -> list[TrackMetadata]:
        album: Json = self._call(what, lambda: self._client.album(album_id, self._market))
        found = []
        for item in self._pages(what, album.get("tracks") or {}):
            if item and item.get("id") and not item.get("is_local"):
                found.append(_track(item, album=album))
        return found[: self._settings.max_playlist_items]

    def _playlist(self, playlist_id: str, what: str) -> list[TrackMetadata]:
        first: Json = self._call(
            what,
            lambda: self._client.playlist_items(
                playlist_id, market=self._market, additional_types=("track",)
            ),
        )
        found = []
        skipped = 0
        limit = self._settings.max_playlist_items
        for item in self._pages(what, first):
            # Spotify's 2026 API calls the entry "item"; older answers call it "track".
            track = (item or {}).get("item") or (item or {}).get("track")
            if track is not None and _playable(track):
                found.append(_track(track))
            else:
                skipped += 1
            if len(found) >= limit:
                log.warning("%s: importing only its first %d tracks", what, limit)
                break
        if skipped:
            log.info("%s: skipped %d local, unavailable or non-track entries", what, skipped)
        return found

    def _pages(self, what: str, page: Json) -> Iterator[Json]:
        while page:
            yield from page.get("items") or []
            if not page.get("next"):
                return
            page = self._call(what, functools.partial(self._client.next, page))

    def _call(self, what: str, request: Callable[[], T]) -> T:
        try:
            result = request()
        except spotipy.SpotifyException as error:
            raise _api_error(what, error) from error
        except SpotifyOauthError as error:
            raise _token_error(error) from error
        except requests.RequestException as error:
            raise SourceUnavailable(
                f"could not reach Spotify ({type(error).__name__}); try again later"
            ) from error
        if result is None:
            raise SourceUnavailable(f"Spotify sent an unreadable answer for {what}")
        return result


def _playable(track: Json | None) -> bool:
    if not track or not track.get("id") or track.get("is_local"):
        return False
    return track.get("type", "track") == "track" and track.get("is_playable", True) is not False


def _track(track: Json, album: Json | None = None) -> TrackMetadata:
    album = album or track.get("album") or {}
    images = album.get("images") or []
    spotify_id = str(track["id"])
    return TrackMetadata(
        source=SpotifyLink(kind="track", id=spotify_id),
        title=str(track.get("name") or "Unknown title"),
        artists=tuple(str(a["name"]) for a in track.get("artists") or [] if a.get("name")),
        album=album.get("name"),
        duration_ms=track.get("duration_ms"),
        track_number=track.get("track_number"),
        isrc=(track.get("external_ids") or {}).get("isrc"),
        artwork_url=images[0].get("url") if images else None,
        source_url=(track.get("external_urls") or {}).get("spotify")
        or f"https://open.spotify.com/track/{spotify_id}",
        spotify_id=spotify_id,
    )


def _api_error(what: str, error: spotipy.SpotifyException) -> AudioError:
    status = error.http_status
    if status == 404 or status == 400:
        hint = (
            " (private playlists and Spotify's own editorial playlists are not visible to apps)"
            if "playlist" in what
            else ""
        )
        return SourceNotFound(f"{what} does not exist; check the link{hint}")
    if status == 429:
        return RateLimited(
            f"Spotify is rate-limiting this server while reading {what}; it will be retried",
            _retry_after(error.headers),
        )
    if status == 401:
        return SpotifyNotConfigured(
            f"Spotify did not accept this server's access token; check {_ENV_ID} and {_ENV_SECRET}"
        )
    if status == 403:
        hint = (
            "; since February 2026 apps in Spotify's development mode may only list playlists "
            "their owner owns or collaborates on"
            if "playlist" in what
            else ""
        )
        return UnsupportedSource(f"Spotify refused to let this server read {what}{hint}")
    return SourceUnavailable(f"Spotify failed with HTTP {status} while reading {what}")


def _token_error(error: SpotifyOauthError) -> AudioError:
    # spotipy raises SpotifyOauthError inside its ``except HTTPError``: the status is there.
    cause = error.__context__
    response = cause.response if isinstance(cause, requests.HTTPError) else None
    status = response.status_code if response is not None else None
    if status == 429:
        return RateLimited(
            "Spotify's login service is rate-limiting this server; it will be retried",
            _retry_after(response.headers if response is not None else None),
        )
    if status is not None and status >= 500:
        return SourceUnavailable(f"Spotify's login service failed with HTTP {status}")
    return SpotifyNotConfigured(
        f"Spotify rejected the client id and secret ({error.error or 'no reason given'}); "
        f"check {_ENV_ID} and {_ENV_SECRET}"
    )


def _retry_after(headers: Any) -> float | None:
    value = (headers or {}).get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None
