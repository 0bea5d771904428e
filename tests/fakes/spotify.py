"""A fake Spotify: the accounts token endpoint and the Web API calls SoundForge makes.

Real HTTP on 127.0.0.1 (a stdlib ``ThreadingHTTPServer`` in a thread), so spotipy runs
unchanged: point ``SourceSettings.api_base``/``token_url`` at :attr:`FakeSpotify.api_base`
and :attr:`FakeSpotify.token_url` (or use :meth:`FakeSpotify.settings`).

* ``POST /api/token``: the client-credentials grant; checks the Basic auth against
  ``client_id``/``client_secret`` (400 ``invalid_client`` otherwise).
* ``GET /v1/tracks/{id}``, ``/v1/albums/{id}`` (first page of tracks embedded),
  ``/v1/albums/{id}/tracks``, ``/v1/playlists/{id}/items`` and its old name ``/tracks``;
  every list is paginated ``page_size`` at a time with absolute ``next`` URLs. A request
  without a token it issued gets 401.
* Behaviours by id: an unknown id → 404; ids in ``rate_limited`` → 429 with
  ``Retry-After``; ids in ``failing`` → 503; ids in ``forbidden`` → 403. ``token_status``
  makes the token endpoint fail. Every request is recorded in ``requests``.

    with FakeSpotify() as spotify:
        spotify.add_track("4uLU6hMCjMI75M1A2tKUQC", "Song", ["Artist"], 183_000)
        settings = spotify.settings(search=media.search_template())
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any

from soundforge.audio.sources import SourceSettings
from tests.fakes._http import LocalServer

__all__ = ["FakeSpotify", "spotify_id"]

Json = dict[str, Any]


def spotify_id(n: int, prefix: str = "t") -> str:
    """A valid-looking 22-character Spotify id, distinct for each ``(prefix, n)``."""
    return f"{prefix}{n:0>21}"[:22].ljust(22, "0")


class FakeSpotify:
    """The fake service; a context manager that starts and stops its server."""

    def __init__(
        self, client_id: str = "test-client", client_secret: str = "test-secret", page_size: int = 2
    ) -> None:
        self.client_id, self.client_secret, self.page_size = client_id, client_secret, page_size
        self.tracks: dict[str, Json] = {}
        self.albums: dict[str, Json] = {}
        self.playlists: dict[str, list[Json]] = {}
        self.rate_limited: dict[str, int] = {}
        self.failing: set[str] = set()
        self.forbidden: set[str] = set()
        #: When set, the token endpoint answers with this status (429 with Retry-After: 7).
        self.token_status: int | None = None
        self.requests: list[str] = []
        self.tokens_issued = 0
        self._tokens: set[str] = set()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._http = LocalServer(_handler(self))

    # -- life cycle ------------------------------------------------------------------------

    def __enter__(self) -> FakeSpotify:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.stop()

    @property
    def base(self) -> str:
        return self._http.base

    @property
    def api_base(self) -> str:
        return f"{self.base}/v1/"

    @property
    def token_url(self) -> str:
        return f"{self.base}/api/token"

    def settings(self, **overrides: Any) -> SourceSettings:
        """SourceSettings pointed at this fake, with its credentials."""
        values: dict[str, Any] = {
            "spotify_client_id": self.client_id,
            "spotify_client_secret": self.client_secret,
            "api_base": self.api_base,
            "token_url": self.token_url,
            "http_timeout_s": 5.0,
        }
        values.update(overrides)
        return SourceSettings(**values)

    # -- catalogue ---------------------------------------------------------------------------

    def add_track(
        self,
        track_id: str,
        title: str,
        artists: list[str],
        duration_ms: int,
        *,
        album: str = "An Album",
        isrc: str | None = None,
        track_number: int = 1,
    ) -> Json:
        track = {
            "id": track_id,
            "type": "track",
            "name": title,
            "artists": [{"name": a, "id": f"artist-{a}"} for a in artists],
            "duration_ms": duration_ms,
            "track_number": track_number,
            "is_local": False,
            "external_ids": {"isrc": isrc} if isrc else {},
            "external_urls": {"spotify": f"https://open.spotify.com/track/{track_id}"},
            "album": {
                "name": album,
                "images": [{"url": f"https://img.example/{track_id}.jpg", "width": 640}],
            },
        }
        self.tracks[track_id] = track
        return track

    def add_album(self, album_id: str, name: str, track_ids: list[str]) -> None:
        self.albums[album_id] = {
            "id": album_id,
            "name": name,
            "images": [{"url": f"https://img.example/{album_id}.jpg"}],
            "track_ids": track_ids,
        }

    def add_playlist(self, playlist_id: str, entries: list[str | Json | None]) -> None:
        """Entries: a track id, a raw item object (a local file, an episode) or None."""
        items: list[Json] = []
        for entry in entries:
            if isinstance(entry, str):
                items.append({"added_at": "2026-01-01T00:00:00Z", "item": self.tracks[entry]})
            else:
                items.append({"added_at": "2026-01-01T00:00:00Z", "item": entry})
        self.playlists[playlist_id] = items

    # -- serving -----------------------------------------------------------------------------

    def issue_token(self, authorization: str | None, form: dict[str, list[str]]) -> Json | None:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != f"Basic {expected}" or form.get("grant_type") != ["client_credentials"]:
            return None
        token = f"fake-token-{next(self._counter)}"
        with self._lock:
            self._tokens.add(token)
            self.tokens_issued += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def authorized(self, authorization: str | None) -> bool:
        return authorization is not None and authorization.removeprefix("Bearer ") in self._tokens

    def page(self, path: str, items: list[Any], query: dict[str, list[str]]) -> Json:
        offset = int(query.get("offset", ["0"])[0])
        limit = min(int(query.get("limit", [str(self.page_size)])[0]), self.page_size)
        end = offset + limit
        next_url = f"{self.base}{path}?offset={end}&limit={limit}" if end < len(items) else None
        return {
            "href": f"{self.base}{path}",
            "items": items[offset:end],
            "limit": limit,
            "offset": offset,
            "total": len(items),
            "next": next_url,
        }

    def album_tracks(self, album: Json) -> list[Json]:
        # Album track objects are "simplified": no album, no external_ids.
        simple = []
        for tid in album["track_ids"]:
            track = {
                k: v for k, v in self.tracks[tid].items() if k not in ("album", "external_ids")
            }
            simple.append(track)
        return simple


def _handler(fake: FakeSpotify) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # quiet: tests read fake.requests instead

        def _send(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
            self._send(status, {"error": {"status": status, "message": message}}, headers)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            fake.requests.append(f"POST {self.path}")
            if urllib.parse.urlsplit(self.path).path != "/api/token":
                self._error(404, "no such endpoint")
                return
            if fake.token_status is not None:
                retry = {"Retry-After": "7"} if fake.token_status == 429 else None
                self._send(fake.token_status, {"error": "server_error"}, retry)
                return
            token = fake.issue_token(self.headers.get("Authorization"), form)
            if token is None:
                body = {"error": "invalid_client", "error_description": "Invalid client"}
                self._send(400, body)
                return
            self._send(200, token)

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(parts.query)
            fake.requests.append(f"GET {self.path}")
            if not fake.authorized(self.headers.get("Authorization")):
                self._error(401, "No token provided")
                return
            segments = [s for s in parts.path.split("/") if s]
            if len(segments) < 3 or segments[0] != "v1":
                self._error(404, "Service not found")
                return
            kind, item_id, rest = segments[1], segments[2], segments[3:]
            if item_id in fake.rate_limited:
                headers = {"Retry-After": str(fake.rate_limited[item_id])}
                self._error(429, "API rate limit exceeded", headers)
                return
            if item_id in fake.failing:
                self._error(503, "Service unavailable")
                return
            if item_id in fake.forbidden:
                self._error(403, "Forbidden")
                return
            body = self._route(kind, item_id, rest, parts.path, query)
            if body is None:
                self._error(404, "Resource not found")
            else:
                self._send(200, body)

        def _route(
            self, kind: str, item_id: str, rest: list[str], path: str, query: dict[str, list[str]]
        ) -> Json | None:
            if kind == "tracks" and not rest and item_id in fake.tracks:
                return fake.tracks[item_id]
            if kind == "albums" and item_id in fake.albums:
                album = fake.albums[item_id]
                tracks = fake.album_tracks(album)
                if rest == ["tracks"]:
                    return fake.page(path.rstrip("/"), tracks, query)
                if not rest:
                    first = fake.page(f"/v1/albums/{item_id}/tracks", tracks, {})
                    return {k: v for k, v in album.items() if k != "track_ids"} | {"tracks": first}
            if (
                kind == "playlists"
                and item_id in fake.playlists
                and rest in (["items"], ["tracks"])
            ):
                return fake.page(path, fake.playlists[item_id], query)
            return None

    return Handler
