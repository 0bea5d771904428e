"""The public surface: exported names, and values that cross the port as msgpack."""

from __future__ import annotations

import msgspec

import soundforge.audio.sources as sources
from soundforge.audio.sources import (
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


def test_exports() -> None:
    assert sorted(sources.__all__) == [
        "FetchRequest",
        "FetchResult",
        "Importer",
        "LocalPath",
        "MediaUrl",
        "SPOTIFY_API_BASE",
        "SPOTIFY_TOKEN_URL",
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
    for name in sources.__all__:
        assert hasattr(sources, name)


def test_sources_round_trip_as_a_tagged_union() -> None:
    values: list[Source] = [
        SpotifyLink(kind="album", id="1DFixLWuPkv3KT3TnV35m3"),
        MediaUrl(url="https://example.com/page", item=2),
        LocalPath(path="/srv/a.wav"),
        Upload(path="/tmp/upload-1", filename="My Song.mp3"),
    ]
    data = msgspec.msgpack.encode(values)
    assert msgspec.msgpack.decode(data, type=list[Source]) == values


def test_request_and_result_round_trip() -> None:
    meta = TrackMetadata(
        source=SpotifyLink(kind="track", id="4uLU6hMCjMI75M1A2tKUQC"),
        title="Song",
        artists=("A", "B"),
        duration_ms=183_000,
        spotify_id="4uLU6hMCjMI75M1A2tKUQC",
    )
    request = FetchRequest.of(meta)
    assert request.source == meta.source
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(request), type=FetchRequest) == request
    result = FetchResult(
        original_path="/t/source.mp3",
        wav_path="/t/audio.wav",
        sha256="0" * 64,
        size_bytes=10,
        duration_ms=183_000,
        sample_rate=44100,
        channels=2,
        format="mp3",
        metadata=meta,
    )
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(result), type=FetchResult) == result


def test_settings_repr_hides_the_secret() -> None:
    settings = SourceSettings(spotify_client_id="id", spotify_client_secret="hunter2")
    assert "hunter2" not in repr(settings)
    assert settings.has_spotify_credentials
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(settings), type=SourceSettings)
    assert decoded.spotify_client_secret == "hunter2"
