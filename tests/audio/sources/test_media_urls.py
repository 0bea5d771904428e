"""yt-dlp sources against the local media server: direct files, pages, search, failures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from soundforge.audio.errors import (
    AudioTooLong,
    NoMatch,
    RateLimited,
    SourceNotFound,
    SourceUnavailable,
    UnreadableAudio,
    UnsupportedSource,
)
from soundforge.audio.media import probe
from soundforge.audio.sources import (
    FetchRequest,
    MediaUrl,
    SourceSettings,
    SourceTooLarge,
    SpotifyLink,
    TrackMetadata,
    fetch,
    resolve,
)
from tests.fakes.audio import tone_bytes
from tests.fakes.media_server import MediaServer, SearchResult, dead_url

pytestmark = pytest.mark.timeout(30)


def fetch_url(url: str, track_dir: Path, settings: SourceSettings, **kw: object) -> object:
    return fetch(FetchRequest(source=MediaUrl(url=url)), track_dir, settings, **kw)  # type: ignore[arg-type]


def only_results(track_dir: Path) -> list[str]:
    return sorted(p.name for p in track_dir.iterdir())


def test_direct_audio_file(media: MediaServer, settings: SourceSettings, tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    request = FetchRequest(source=MediaUrl(url=media.url("/three.wav")))
    result = fetch(request, tmp_path, settings, lambda f, s: seen.append((f, s)))
    served = media.routes["/three.wav"].body
    assert Path(result.original_path) == tmp_path / "source.wav"
    assert Path(result.original_path).read_bytes() == served
    assert result.sha256 == hashlib.sha256(served).hexdigest()
    assert result.size_bytes == len(served)
    assert (result.duration_ms, result.sample_rate, result.channels) == (3000, 8000, 1)
    wav = probe(result.wav_path)
    assert (wav.sample_rate, wav.channels, wav.duration_ms) == (44100, 2, 3000)
    assert result.metadata.media_url == media.url("/three.wav")
    assert result.metadata.duration_ms == 3000  # filled in from the file
    assert only_results(tmp_path) == ["audio.wav", "source.wav"]
    # Real download fractions, in order, ending at 1.
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    downloading = [f for f, s in seen if s == "downloading"]
    assert len(downloading) >= 3 and 0.0 < downloading[0] < downloading[-1]


def test_page_with_one_audio_tag(
    media: MediaServer, settings: SourceSettings, tmp_path: Path
) -> None:
    url = media.add_page("/page-one.html", "A Page", ["/two.wav"])
    result = fetch_url(url, tmp_path, settings)
    assert probe(result.original_path).duration_ms == 2000  # type: ignore[attr-defined]
    assert result.metadata.media_url == url  # type: ignore[attr-defined]


def test_page_with_two_items_resolves_into_both(
    media: MediaServer, settings: SourceSettings, tmp_path: Path
) -> None:
    url = media.add_page("/page-two.html", "Two Songs", ["/two.wav", "/three.wav"])
    found = resolve(MediaUrl(url=url), settings)
    assert [m.source for m in found] == [MediaUrl(url=url, item=1), MediaUrl(url=url, item=2)]
    result = fetch(FetchRequest.of(found[1]), tmp_path, settings)
    assert result.duration_ms == 3000
    assert result.metadata.title == found[1].title
    # Without an item the page is refused rather than half-imported.
    with pytest.raises(UnsupportedSource, match="playlist of 2 items"):
        fetch_url(url, tmp_path / "other", settings)


def test_resolve_a_single_url_reads_no_media(media: MediaServer, settings: SourceSettings) -> None:
    before = len(media.requests)
    [meta] = resolve(MediaUrl(url=media.url("/two.wav")), settings)
    assert meta.source == MediaUrl(url=media.url("/two.wav"))
    assert meta.title == "two" and meta.source_url == media.url("/two.wav")
    assert len(media.requests) - before == 1


def spotify_meta(title: str, duration_ms: int) -> TrackMetadata:
    tid = "4uLU6hMCjMI75M1A2tKUQC"
    return TrackMetadata(
        source=SpotifyLink(kind="track", id=tid),
        title=title,
        artists=("The Band",),
        duration_ms=duration_ms,
        spotify_id=tid,
    )


def test_search_takes_the_duration_match_over_a_better_ranked_result(
    media: MediaServer, tmp_path: Path
) -> None:
    media.add_search(
        [
            SearchResult("Song (Live, 7 minutes)", "/two.wav", 420),
            SearchResult("Song (Official Audio)", "/three.wav", 212),
            SearchResult("Song (Extended)", "/two.wav", 260),
        ],
        path="/search-match",
    )
    settings = SourceSettings(search=media.search_template("/search-match"))
    result = fetch(FetchRequest.of(spotify_meta("Song", 210_000)), tmp_path, settings)
    assert result.metadata.media_url == media.url("/three.wav")
    assert result.duration_ms == 3000  # the file behind the second result
    assert media.queries[-1] == "Song The Band"
    assert result.metadata.spotify_id == "4uLU6hMCjMI75M1A2tKUQC"


def test_search_without_a_match_is_no_match_and_downloads_nothing(
    media: MediaServer, tmp_path: Path
) -> None:
    media.add_search(
        [SearchResult("Song (Live)", "/two.wav", 420), SearchResult("Other", "/two.wav", 90)],
        path="/search-none",
    )
    settings = SourceSettings(search=media.search_template("/search-none"))
    before = len(media.requests)
    with pytest.raises(NoMatch, match=r'results for "Song The Band" is within 10 s'):
        fetch(FetchRequest.of(spotify_meta("Song", 210_000)), tmp_path, settings)
    assert len(media.requests) - before == 1  # only the search itself
    assert only_results(tmp_path) == []


def test_allow_unmatched_takes_the_top_result(media: MediaServer, tmp_path: Path) -> None:
    media.add_search([SearchResult("Song (Live)", "/two.wav", 420)], path="/search-top")
    settings = SourceSettings(search=media.search_template("/search-top"), allow_unmatched=True)
    result = fetch(FetchRequest.of(spotify_meta("Song", 210_000)), tmp_path, settings)
    assert result.metadata.media_url == media.url("/two.wav")


def test_refused_connection_is_unavailable(settings: SourceSettings, tmp_path: Path) -> None:
    url = dead_url()
    with pytest.raises(SourceUnavailable) as caught:
        fetch_url(url, tmp_path, settings)
    assert str(caught.value) == "could not reach 127.0.0.1: the connection was refused"
    assert caught.value.retryable
    assert only_results(tmp_path) == []


def test_http_404_is_not_found(
    media: MediaServer, settings: SourceSettings, tmp_path: Path
) -> None:
    url = media.url("/gone.mp3")
    with pytest.raises(SourceNotFound) as caught:
        fetch_url(url, tmp_path, settings)
    assert str(caught.value) == f"{url} does not exist (the server answered HTTP 404)"


def test_http_503_is_unavailable(media: MediaServer, settings: SourceSettings) -> None:
    url = media.add("/busy.mp3", b"busy", "text/plain", status=503)
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        resolve(MediaUrl(url=url), settings)


def test_http_429_is_rate_limited_with_retry_after(
    media: MediaServer, settings: SourceSettings
) -> None:
    url = media.add("/slow.mp3", b"slow", "text/plain", status=429, headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as caught:
        resolve(MediaUrl(url=url), settings)
    assert caught.value.retry_after == 30.0


def test_page_without_media_is_unsupported(
    media: MediaServer, settings: SourceSettings, tmp_path: Path
) -> None:
    url = media.add("/blog.html", b"<html><title>Blog</title><p>words</p></html>", "text/html")
    with pytest.raises(UnsupportedSource) as caught:
        fetch_url(url, tmp_path, settings)
    assert str(caught.value) == f"{url} has no audio or video that yt-dlp can download"


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/notes.mp3", b"this is not audio at all " * 40, "audio/mpeg"),
        ("/blob.bin", bytes(range(256)) * 8, "application/octet-stream"),
    ],
)
def test_non_audio_download_is_unreadable_and_leaves_nothing(
    media: MediaServer,
    settings: SourceSettings,
    tmp_path: Path,
    path: str,
    body: bytes,
    content_type: str,
) -> None:
    (tmp_path / "source.mp3").write_bytes(b"an earlier result")
    url = media.add(path, body, content_type)
    with pytest.raises(UnreadableAudio) as caught:
        fetch_url(url, tmp_path, settings)
    assert str(caught.value).startswith(f"the download from {url} ")
    assert only_results(tmp_path) == ["source.mp3"]  # the earlier result is untouched
    assert (tmp_path / "source.mp3").read_bytes() == b"an earlier result"


def test_size_limit_stops_the_download(
    media: MediaServer, settings: SourceSettings, tmp_path: Path
) -> None:
    url = media.add("/big.wav", tone_bytes(4.0), "audio/wav")  # 64 kB
    small = SourceSettings(search=settings.search, max_bytes=20_000)
    with pytest.raises(SourceTooLarge, match="download limit"):
        fetch_url(url, tmp_path, small)
    assert only_results(tmp_path) == []


def test_duration_limit(media: MediaServer, tmp_path: Path) -> None:
    url = media.url("/three.wav")
    with pytest.raises(AudioTooLong) as caught:
        fetch_url(url, tmp_path, SourceSettings(max_seconds=1.0))
    assert str(caught.value) == (
        f"the download from {url} is 0:03 long; the limit is 0:01 "
        "(set SOUNDFORGE_MAX_AUDIO_MINUTES to allow longer audio)"
    )
    assert only_results(tmp_path) == []


def test_a_spotify_track_longer_than_the_limit_is_refused_before_searching(
    media: MediaServer, tmp_path: Path
) -> None:
    settings = SourceSettings(search=media.search_template("/never"), max_seconds=60)
    before = len(media.requests)
    with pytest.raises(AudioTooLong, match="3:30 long; the limit is 1:00"):
        fetch(FetchRequest.of(spotify_meta("Song", 210_000)), tmp_path, settings)
    assert len(media.requests) == before


class Cancelled(Exception):
    pass


def test_an_exception_from_progress_cancels_cleanly(
    media: MediaServer, settings: SourceSettings, tmp_path: Path
) -> None:
    def progress(fraction: float, stage: str) -> None:
        if stage == "downloading":
            raise Cancelled

    with pytest.raises(Cancelled):
        fetch_url(media.url("/three.wav"), tmp_path, settings, progress=progress)
    assert only_results(tmp_path) == []


def test_a_feed_resolves_into_its_episodes(media: MediaServer, settings: SourceSettings) -> None:
    url = media.add_search(
        [SearchResult("Episode 1", "/two.wav", 61), SearchResult("Episode 2", "/three.wav", None)],
        path="/podcast.rss",
    )
    found = resolve(MediaUrl(url=url), settings)
    assert [(m.title, m.duration_ms) for m in found] == [("Episode 1", 61_000), ("Episode 2", None)]
    assert [m.source for m in found] == [
        MediaUrl(url=media.url("/two.wav")),
        MediaUrl(url=media.url("/three.wav")),
    ]
