"""A local HTTP media server that yt-dlp's generic extractor reads, for offline tests.

yt-dlp needs no special site: its *generic* extractor takes a direct audio file (by its
``Content-Type``), an HTML page with ``<audio>``/``<video>`` tags, and an RSS feed, whose
``<item>``s become a playlist with titles and ``<itunes:duration>``s. That last one stands
in for a search engine: :meth:`MediaServer.add_search` serves a feed of results at
``/search`` and :meth:`MediaServer.search_template` is the ``SourceSettings.search`` value
that points the import library at it (the query the library sent is recorded in
:attr:`MediaServer.queries`).

    with MediaServer() as media:
        url = media.add("/song.wav", wav_bytes, "audio/wav")
        media.add_search([SearchResult("Song (Live)", "/song.wav", 301),
                          SearchResult("Song", "/song.wav", 212)])
        settings = SourceSettings(search=media.search_template())

:func:`dead_url` gives a URL on a port where nothing listens.
"""

from __future__ import annotations

import html
import socket
import urllib.parse
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

from tests.fakes._http import LocalServer

__all__ = ["MediaServer", "Route", "SearchResult", "dead_url"]


class Route(NamedTuple):
    body: bytes
    content_type: str
    status: int = 200
    headers: dict[str, str] | None = None


class SearchResult(NamedTuple):
    """One search hit: its title, the server path of its media, and the length it claims."""

    title: str
    path: str
    duration_s: float | None


def dead_url(path: str = "/song.mp3") -> str:
    """An http URL on 127.0.0.1 where nothing listens (the connection is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


class MediaServer:
    """Serves registered routes; anything else is a 404. A context manager."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.queries: list[str] = []
        self._http = LocalServer(_handler(self))

    def __enter__(self) -> MediaServer:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.stop()

    @property
    def base(self) -> str:
        return self._http.base

    def url(self, path: str) -> str:
        return self.base + path

    def add(
        self,
        path: str,
        body: bytes,
        content_type: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve ``body`` at ``path`` (with ``status`` and extra ``headers``); returns its URL."""
        self.routes[path] = Route(body, content_type, status, headers)
        return self.url(path)

    def add_file(self, path: str, file: Path, content_type: str) -> str:
        return self.add(path, file.read_bytes(), content_type)

    def add_page(self, path: str, title: str, media_paths: list[str]) -> str:
        """An HTML page with one ``<audio>`` tag per media path."""
        tags = "".join(f'<audio src="{html.escape(p)}"></audio>' for p in media_paths)
        page = f"<html><head><title>{html.escape(title)}</title></head><body>{tags}</body></html>"
        return self.add(path, page.encode(), "text/html; charset=utf-8")

    def add_search(self, results: list[SearchResult], path: str = "/search") -> str:
        """Answer searches at ``path`` with an RSS feed of ``results`` (in rank order)."""
        items = []
        for result in results:
            length = (
                f"<itunes:duration>{round(result.duration_s)}</itunes:duration>"
                if result.duration_s is not None
                else ""
            )
            items.append(
                f"<item><title>{escape(result.title)}</title>"
                f'<enclosure url="{escape(self.url(result.path))}" type="audio/wav" length="0"/>'
                f"{length}</item>"
            )
        feed = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
            f"<channel><title>Search results</title>{''.join(items)}</channel></rss>"
        )
        return self.add(path, feed.encode(), "application/rss+xml")

    def search_template(self, path: str = "/search") -> str:
        """The ``SourceSettings.search`` value that searches this server."""
        return self.url(path) + "?q={query}"


def _handler(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            parts = urllib.parse.urlsplit(self.path)
            server.requests.append(f"{self.command} {self.path}")
            query = urllib.parse.parse_qs(parts.query).get("q")
            if query:
                server.queries.append(query[0])
            route = server.routes.get(parts.path)
            if route is None:
                route = Route(b"not found", "text/plain", 404)
            data = route.body
            start, end = 0, len(data)
            status = route.status
            wanted = self.headers.get("Range", "")
            if status == 200 and wanted.startswith("bytes="):
                first, _, last = wanted.removeprefix("bytes=").partition("-")
                start = int(first or 0)
                end = min(int(last) + 1, len(data)) if last else len(data)
                status = 206
            self.send_response(status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(end - start))
            for key, value in (route.headers or {}).items():
                self.send_header(key, value)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            self.end_headers()
            if body:
                self.wfile.write(data[start:end])

    return Handler
