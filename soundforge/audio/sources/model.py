"""The values the import library takes and gives: sources, metadata, requests, results.

Everything here is a ``msgspec.Struct`` so it crosses the downloader port as msgpack
unchanged. A :data:`Source` is what the user gave (a tagged union: the ``type`` field says
which kind); :func:`~soundforge.audio.sources.resolve` turns one into a list of
:class:`TrackMetadata`, one per track, each carrying in ``source`` the single-track
:data:`Source` that fetches it; :func:`~soundforge.audio.sources.fetch` takes a
:class:`FetchRequest` and gives a :class:`FetchResult`.

    meta = resolve(classify("https://open.spotify.com/album/..."), settings)
    results = [fetch(FetchRequest.of(m), track_dir(m), settings, progress) for m in meta]
    msgspec.msgpack.encode(results[0])           # what crosses the port
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

__all__ = [
    "SPOTIFY_API_BASE",
    "SPOTIFY_TOKEN_URL",
    "FetchRequest",
    "FetchResult",
    "LocalPath",
    "MediaUrl",
    "Source",
    "SourceSettings",
    "SpotifyKind",
    "SpotifyLink",
    "TrackMetadata",
    "Upload",
]

SPOTIFY_API_BASE: Final = "https://api.spotify.com/v1/"
SPOTIFY_TOKEN_URL: Final = "https://accounts.spotify.com/api/token"

SpotifyKind = Literal["track", "album", "playlist"]


class SpotifyLink(msgspec.Struct, frozen=True, tag="spotify"):
    """A Spotify track, album or playlist; ``id`` is its 22-character base62 id."""

    kind: SpotifyKind
    id: str

    @property
    def url(self) -> str:
        return f"https://open.spotify.com/{self.kind}/{self.id}"


class MediaUrl(msgspec.Struct, frozen=True, tag="url"):
    """An http(s) URL for yt-dlp: a video or song page, a playlist, a direct audio file.

    ``item`` (1-based) picks one entry of a page that holds several and whose entries have
    no address of their own (an HTML page with several ``<audio>`` tags).
    """

    url: str
    item: int | None = None


class LocalPath(msgspec.Struct, frozen=True, tag="path"):
    """A file or a folder on the server's disk (absolute); a folder means its audio files."""

    path: str


class Upload(msgspec.Struct, frozen=True, tag="upload"):
    """A file the web layer saved at ``path``; ``filename`` is the name the user's file had."""

    path: str
    filename: str


Source = SpotifyLink | MediaUrl | LocalPath | Upload


class TrackMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """What is known about one track before (and after) its audio is fetched.

    ``source`` is the single-track source that fetches it. ``source_url`` is the page a
    person would open (the Spotify track, the video page); ``media_url`` is the page yt-dlp
    actually downloaded (for Spotify: the matched search result), set by ``fetch``.
    """

    source: Source
    title: str
    artists: tuple[str, ...] = ()
    album: str | None = None
    duration_ms: int | None = None
    track_number: int | None = None
    isrc: str | None = None
    artwork_url: str | None = None
    source_url: str | None = None
    spotify_id: str | None = None
    media_url: str | None = None


class FetchRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One track to fetch: its source, and what ``resolve`` said about it if it was called.

    With ``metadata`` a Spotify track is searched for without asking Spotify again (so it
    even works after the credentials were removed).
    """

    source: Source
    metadata: TrackMetadata | None = None

    @classmethod
    def of(cls, metadata: TrackMetadata) -> FetchRequest:
        """The request that fetches one item that ``resolve`` returned."""
        return cls(source=metadata.source, metadata=metadata)


class FetchResult(msgspec.Struct, frozen=True, kw_only=True):
    """A fetched track: the original file, its decoded WAV and what they hold.

    ``duration_ms``/``sample_rate``/``channels``/``format`` describe the original file;
    ``wav_path`` is always 32-bit float stereo at ``SourceSettings.sample_rate``.
    """

    original_path: str
    wav_path: str
    sha256: str
    size_bytes: int
    duration_ms: int
    sample_rate: int
    channels: int
    format: str
    metadata: TrackMetadata


class SourceSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the import library reaches the outside world, and its limits.

    ``search`` is where a Spotify track's audio is looked for: a yt-dlp search prefix
    (``ytsearch5:{query}``, ``scsearch5:{query}``) or an http(s) URL template whose
    ``{query}`` is replaced by the URL-quoted query and which yt-dlp reads as a playlist
    (tests point it at a local RSS feed).
    """

    spotify_client_id: str | None = None
    spotify_client_secret: str | None = None
    spotify_market: str | None = None
    api_base: str = SPOTIFY_API_BASE
    token_url: str = SPOTIFY_TOKEN_URL
    search: str = "ytsearch5:{query}"
    #: A search result is taken only if its length is this close to Spotify's (seconds).
    match_tolerance_s: float = 10.0
    #: Take the top search result when none is close enough, instead of failing.
    allow_unmatched: bool = False
    max_seconds: float | None = None
    max_bytes: int | None = None
    sample_rate: int = 44100
    http_timeout_s: float = 15.0
    retries: int = 1
    #: Most entries ``resolve`` lists from one yt-dlp playlist (a channel can hold thousands).
    max_playlist_items: int = 500
    #: JavaScript runtimes yt-dlp may use for YouTube (it needs one of them on PATH).
    js_runtimes: tuple[str, ...] = ("deno", "node")

    @property
    def has_spotify_credentials(self) -> bool:
        return bool(self.spotify_client_id and self.spotify_client_secret)

    def __repr__(self) -> str:
        # The secret must not reach a log line through a repr of the settings.
        secret = "'***'" if self.spotify_client_secret else "None"
        return (
            f"SourceSettings(spotify_client_id={self.spotify_client_id!r}, "
            f"spotify_client_secret={secret}, api_base={self.api_base!r}, "
            f"token_url={self.token_url!r}, search={self.search!r}, "
            f"max_seconds={self.max_seconds!r}, max_bytes={self.max_bytes!r})"
        )
