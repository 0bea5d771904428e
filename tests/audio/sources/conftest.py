"""Fixtures for the import library: the fake services and a few small audio files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from soundforge.audio.sources import SourceSettings
from tests.fakes.audio import tone, tone_bytes
from tests.fakes.media_server import MediaServer
from tests.fakes.spotify import FakeSpotify


@pytest.fixture(scope="session")
def media() -> Iterator[MediaServer]:
    """One media server for the session, with two tones at ``/two.wav`` and ``/three.wav``."""
    with MediaServer() as server:
        server.add("/two.wav", tone_bytes(2.0), "audio/wav")
        server.add("/three.wav", tone_bytes(3.0), "audio/x-wav")
        yield server


@pytest.fixture
def spotify() -> Iterator[FakeSpotify]:
    with FakeSpotify() as fake:
        yield fake


@pytest.fixture
def settings() -> SourceSettings:
    """Settings that never reach the internet: no Spotify keys, no search engine."""
    return SourceSettings(search="http://127.0.0.1:9/none?q={query}", http_timeout_s=5.0)


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Short test files: wav, flac, mp3, m4a (AAC, tagged), made once."""
    folder = tmp_path_factory.mktemp("samples")
    tags = {"title": "Tagged Song", "artist": "Tag Band; Guest", "album": "Tag Album"}
    return {
        "wav": tone(folder / "Some Band - Some Song.wav", 2.0),
        "flac": tone(folder / "tone.flac", 1.0),
        "mp3": tone(folder / "tone.mp3", 2.0),
        "m4a": tone(folder / "tagged.m4a", 2.0, tags=tags),
        "long": tone(folder / "long.wav", 6.0),
    }
