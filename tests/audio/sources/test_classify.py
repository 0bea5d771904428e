"""classify(): every shape of link people paste, and what is refused (with one sentence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundforge.audio.errors import SourceNotFound, UnsupportedSource
from soundforge.audio.sources import LocalPath, MediaUrl, SpotifyLink, classify

ID = "4uLU6hMCjMI75M1A2tKUQC"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"https://open.spotify.com/track/{ID}", "track"),
        (f"https://open.spotify.com/track/{ID}?si=1a2b3c4d5e", "track"),
        (f"https://open.spotify.com/intl-de/track/{ID}?si=x", "track"),
        (f"https://open.spotify.com/intl-pt-br/album/{ID}", "album"),
        (f"http://open.spotify.com/album/{ID}/", "album"),
        (f"open.spotify.com/playlist/{ID}", "playlist"),
        (f"https://open.spotify.com/playlist/{ID}?si=abc&pt=def", "playlist"),
        (f"https://open.spotify.com/embed/track/{ID}", "track"),
        (f"https://open.spotify.com/user/someone/playlist/{ID}", "playlist"),
        (f"  <https://open.spotify.com/track/{ID}>  ", "track"),
        (f"spotify:track:{ID}", "track"),
        (f"spotify:album:{ID}", "album"),
        (f"spotify:playlist:{ID}", "playlist"),
        (f"spotify:user:someone:playlist:{ID}", "playlist"),
        (f"https://play.spotify.com/track/{ID}", "track"),
    ],
)
def test_spotify_links(text: str, kind: str) -> None:
    assert classify(text) == SpotifyLink(kind=kind, id=ID)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ?t=10",
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RD",
        "https://soundcloud.com/artist/track-name",
        "https://example.com/audio/song.mp3",
        "http://127.0.0.1:8000/page.html",
    ],
)
def test_other_http_urls_go_to_yt_dlp(text: str) -> None:
    assert classify(text) == MediaUrl(url=text)


def test_bare_known_hosts_get_https() -> None:
    assert classify("youtu.be/dQw4w9WgXcQ") == MediaUrl(url="https://youtu.be/dQw4w9WgXcQ")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("hello", "not a link SoundForge can import"),
        ("", "empty"),
        ("   ", "empty"),
        ("ftp://example.com/song.mp3", "ftp:// links are not supported"),
        ("rtmp://example.com/live", "rtmp:// links are not supported"),
        ("javascript:alert(1)", "not a link"),
        ("https://", "not a complete web address"),
        (f"https://open.spotify.com/artist/{ID}", "Spotify artist links are not supported"),
        (f"https://open.spotify.com/episode/{ID}", "Spotify episode links are not supported"),
        (f"spotify:show:{ID}", "Spotify show links are not supported"),
        ("https://open.spotify.com/track/tooShort", "valid Spotify track id"),
        (f"https://open.spotify.com/track/{ID}xx", "valid Spotify track id"),
        ("spotify:track", "not a Spotify URI"),
        ("https://open.spotify.com/", "does not point at"),
        ("https://spotify.link/AbCdEf", "short link"),
        ("/etc/passwd", "only be imported from the command line"),
        ("file:///etc/passwd", "only be imported from the command line"),
    ],
)
def test_refusals_are_one_sentence(text: str, says: str) -> None:
    with pytest.raises(UnsupportedSource) as caught:
        classify(text)
    message = str(caught.value)
    assert says in message
    assert "\n" not in message


def test_paths_when_allowed(tmp_path: Path) -> None:
    song = tmp_path / "a song.wav"
    song.write_bytes(b"x")
    assert classify(str(song), allow_paths=True) == LocalPath(path=str(song))
    assert classify(song.as_uri(), allow_paths=True) == LocalPath(path=str(song))
    assert classify(str(tmp_path), allow_paths=True) == LocalPath(path=str(tmp_path))


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match="no file or folder"):
        classify(str(tmp_path / "nope.mp3"), allow_paths=True)
