"""Spotify metadata through spotipy, against the fake Spotify (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from soundforge.audio.errors import (
    RateLimited,
    SourceNotFound,
    SourceUnavailable,
    UnsupportedSource,
)
from soundforge.audio.sources import (
    FetchRequest,
    Importer,
    SourceSettings,
    SpotifyLink,
    SpotifyNotConfigured,
    fetch,
    resolve,
)
from tests.fakes.media_server import MediaServer, SearchResult, dead_url
from tests.fakes.spotify import FakeSpotify, spotify_id

pytestmark = pytest.mark.timeout(30)


def track(n: int) -> str:
    return spotify_id(n, "t")


def add_tracks(spotify: FakeSpotify, count: int) -> list[str]:
    ids = [track(n) for n in range(1, count + 1)]
    for n, tid in enumerate(ids, start=1):
        spotify.add_track(tid, f"Song {n}", ["Band", "Guest"], 180_000 + n, track_number=n)
    return ids


def test_track(spotify: FakeSpotify) -> None:
    tid = track(1)
    spotify.add_track(tid, "Song", ["Band", "Guest"], 183_000, album="Record", isrc="GBAAA0000001")
    [meta] = resolve(SpotifyLink(kind="track", id=tid), spotify.settings())
    assert meta.source == SpotifyLink(kind="track", id=tid)
    assert (meta.title, meta.artists, meta.album) == ("Song", ("Band", "Guest"), "Record")
    assert (meta.duration_ms, meta.isrc, meta.spotify_id) == (183_000, "GBAAA0000001", tid)
    assert meta.artwork_url == f"https://img.example/{tid}.jpg"
    assert meta.source_url == f"https://open.spotify.com/track/{tid}"
    assert spotify.tokens_issued == 1


def test_album_reads_every_page(spotify: FakeSpotify) -> None:
    ids = add_tracks(spotify, 5)  # page_size 2: the album object plus two /tracks pages
    album = spotify_id(1, "a")
    spotify.add_album(album, "The Album", ids)
    found = resolve(SpotifyLink(kind="album", id=album), spotify.settings())
    assert [m.spotify_id for m in found] == ids
    assert {m.album for m in found} == {"The Album"}
    assert found[0].artwork_url == f"https://img.example/{album}.jpg"
    assert [m.track_number for m in found] == [1, 2, 3, 4, 5]
    assert sum("/tracks?offset=" in r for r in spotify.requests) == 2


def test_playlist_pages_and_skips_local_and_unavailable_items(spotify: FakeSpotify) -> None:
    ids = add_tracks(spotify, 4)
    playlist = spotify_id(1, "p")
    local = {"id": None, "type": "track", "name": "My Demo", "is_local": True}
    episode = {"id": spotify_id(9, "e"), "type": "episode", "name": "A Podcast"}
    spotify.add_playlist(playlist, [ids[0], local, ids[1], None, episode, ids[2], ids[3]])
    importer = Importer(spotify.settings())
    found = importer.resolve(SpotifyLink(kind="playlist", id=playlist))
    assert [m.spotify_id for m in found] == ids
    assert sum("/items" in r for r in spotify.requests) == 4  # 7 entries, 2 a page
    # The importer keeps its token between calls.
    importer.resolve(SpotifyLink(kind="playlist", id=playlist))
    assert spotify.tokens_issued == 1


def test_unknown_id_is_not_found(spotify: FakeSpotify) -> None:
    with pytest.raises(SourceNotFound, match=r"Spotify playlist .* does not exist"):
        resolve(SpotifyLink(kind="playlist", id=spotify_id(7, "p")), spotify.settings())


def test_rate_limit_is_reported_at_once_with_retry_after(spotify: FakeSpotify) -> None:
    tid = track(1)
    spotify.add_track(tid, "Song", ["Band"], 1000)
    spotify.rate_limited[tid] = 42
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        resolve(SpotifyLink(kind="track", id=tid), spotify.settings())
    assert caught.value.retry_after == 42.0
    assert caught.value.retryable
    assert time.monotonic() - started < 5  # spotipy did not sleep 42 s
    assert sum(r.startswith("GET /v1/tracks/") for r in spotify.requests) == 1  # no retries


def test_server_error_is_unavailable_without_retries(spotify: FakeSpotify) -> None:
    tid = track(1)
    spotify.add_track(tid, "Song", ["Band"], 1000)
    spotify.failing.add(tid)
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        resolve(SpotifyLink(kind="track", id=tid), spotify.settings())
    assert sum(r.startswith("GET /v1/tracks/") for r in spotify.requests) == 1


def test_forbidden_playlist_explains_the_2026_restriction(spotify: FakeSpotify) -> None:
    playlist = spotify_id(1, "p")
    spotify.add_playlist(playlist, [])
    spotify.forbidden.add(playlist)
    with pytest.raises(UnsupportedSource, match="may only list playlists their owner owns"):
        resolve(SpotifyLink(kind="playlist", id=playlist), spotify.settings())


def test_max_playlist_items_caps_a_huge_playlist(spotify: FakeSpotify) -> None:
    ids = add_tracks(spotify, 7)
    playlist = spotify_id(1, "p")
    spotify.add_playlist(playlist, list(ids))
    found = resolve(
        SpotifyLink(kind="playlist", id=playlist), spotify.settings(max_playlist_items=3)
    )
    assert [m.spotify_id for m in found] == ids[:3]
    assert sum("/items" in r for r in spotify.requests) == 2  # stopped paging early


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [(429, RateLimited, 7.0), (500, SourceUnavailable, None), (503, SourceUnavailable, None)],
)
def test_token_endpoint_failures(
    spotify: FakeSpotify, status: int, error: type[Exception], retry_after: float | None
) -> None:
    spotify.token_status = status
    with pytest.raises(error) as caught:
        resolve(SpotifyLink(kind="track", id=track(1)), spotify.settings())
    assert getattr(caught.value, "retry_after", None) == retry_after
    assert sum(r.startswith("POST /api/token") for r in spotify.requests) == 1


def test_unreachable_spotify_is_unavailable() -> None:
    settings = SourceSettings(
        spotify_client_id="a", spotify_client_secret="b", token_url=dead_url("/api/token")
    )
    with pytest.raises(SourceUnavailable, match="could not reach Spotify"):
        resolve(SpotifyLink(kind="track", id=track(1)), settings)


def test_wrong_credentials(spotify: FakeSpotify) -> None:
    settings = spotify.settings(spotify_client_secret="wrong")
    with pytest.raises(SpotifyNotConfigured, match="rejected the client id and secret"):
        resolve(SpotifyLink(kind="track", id=track(1)), settings)


def test_no_credentials_names_the_variables_and_other_sources(settings: SourceSettings) -> None:
    with pytest.raises(SpotifyNotConfigured) as caught:
        resolve(SpotifyLink(kind="track", id=track(1)), settings)
    message = str(caught.value)
    assert "SOUNDFORGE_SPOTIFY_CLIENT_ID" in message
    assert "SOUNDFORGE_SPOTIFY_CLIENT_SECRET" in message
    assert "YouTube links, other URLs and files work without them" in message
    assert isinstance(caught.value, UnsupportedSource) and not caught.value.retryable


def test_albums_are_fetched_track_by_track(
    spotify: FakeSpotify, settings: SourceSettings, tmp_path: Path
) -> None:
    request = FetchRequest(source=SpotifyLink(kind="album", id=spotify_id(1, "a")))
    with pytest.raises(UnsupportedSource, match="resolve it"):
        fetch(request, tmp_path / "t", settings)


def test_a_resolved_track_is_fetched_without_asking_spotify_again(
    spotify: FakeSpotify, media: MediaServer, tmp_path: Path
) -> None:
    tid = track(1)
    spotify.add_track(tid, "Song", ["Band"], 3_000)
    [meta] = resolve(SpotifyLink(kind="track", id=tid), spotify.settings())
    media.add_search([SearchResult("Song", "/three.wav", 3)], path="/search-spotify")
    # No credentials any more: the search needs only the metadata resolve gave.
    settings = SourceSettings(search=media.search_template("/search-spotify"))
    result = fetch(FetchRequest.of(meta), tmp_path / "t", settings)
    assert result.metadata.spotify_id == tid
    assert result.metadata.media_url == media.url("/three.wav")
    assert media.queries[-1] == "Song Band"
