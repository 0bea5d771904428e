"""The library list's pages as sent, kept while their owner's library stays the same.

``GET /api/v1/tracks`` is the product's hottest read: every dashboard and every API client
asks for it again and again, and its answer (50 tracks, each with its analysis and the
latest job of every pipeline stage) changes far less often than it is read. Building it
costs about 1.7 ms of PostgreSQL and 1.5 ms of Python; a kept page costs one index lookup.

A page is kept under ``(user, filter)`` together with the owner's *library version*
(``library_version``; ``0005_library_versions.sql``), read before the page is built. The
version moves in the same transaction as every change the list shows, on whichever node
or program makes it, so a page is sent again only while the version read for the request
is still the one it was built at: never older than the reader's own last write, and
with no event that must arrive for it to be right. (A page built just after a change
may be kept under the version from before it; the next read sees a newer version and
builds the page again. Never the other way round.)

Bounded by bytes, least recently used first out; a user's pages from an older version are
dropped when a newer one is kept. One instance per endpoint (``WebContext.pages``): the
request handlers run in the endpoint's event loop, so no lock is needed.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

__all__ = ["PageCache"]

_DEFAULT_MAX_BYTES: Final = 32 << 20


class PageCache:
    """Response bodies by (user, version, filter key), at most ``max_bytes`` in all."""

    __slots__ = ("_bytes", "_entries", "_versions", "hits", "max_bytes", "misses")

    def __init__(self, max_bytes: int = _DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, bytes], tuple[int, bytes]] = OrderedDict()
        self._versions: dict[str, int] = {}  # the newest version kept per user
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, user_id: str, version: int, key: bytes) -> bytes | None:
        """The body kept for ``key`` at exactly ``version``, or None."""
        entry = self._entries.get((user_id, key))
        if entry is None or entry[0] != version:
            self.misses += 1
            return None
        self._entries.move_to_end((user_id, key))
        self.hits += 1
        return entry[1]

    def put(self, user_id: str, version: int, key: bytes, body: bytes) -> None:
        """Keep ``body`` for ``key`` at ``version`` (ignored when a newer version is kept)."""
        newest = self._versions.get(user_id, -1)
        if version < newest or len(body) > self.max_bytes // 4:
            return
        if version > newest:
            self._forget_user(user_id)
            self._versions[user_id] = version
        old = self._entries.pop((user_id, key), None)
        if old is not None:
            self._bytes -= len(old[1])
        self._entries[(user_id, key)] = (version, body)
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            (owner, _), (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= len(evicted)
            if not any(user == owner for user, _ in self._entries):
                self._versions.pop(owner, None)

    def _forget_user(self, user_id: str) -> None:
        for entry_key in [k for k in self._entries if k[0] == user_id]:
            self._bytes -= len(self._entries.pop(entry_key)[1])
