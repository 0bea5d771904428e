"""PageCache: a page is sent again only at the version it was kept at, within its bytes."""

from __future__ import annotations

from soundforge.web.page_cache import PageCache


def test_a_page_is_found_only_at_its_own_version() -> None:
    cache = PageCache()
    cache.put("alice", 3, b"q", b"page at 3")
    assert cache.get("alice", 3, b"q") == b"page at 3"
    assert cache.get("alice", 4, b"q") is None
    assert cache.get("alice", 3, b"other filter") is None
    assert cache.get("bob", 3, b"q") is None
    assert (cache.hits, cache.misses) == (1, 3)


def test_a_newer_version_drops_the_users_older_pages_and_an_older_one_is_ignored() -> None:
    cache = PageCache()
    cache.put("alice", 1, b"a", b"1a")
    cache.put("alice", 1, b"b", b"1b")
    cache.put("bob", 1, b"a", b"bob")
    cache.put("alice", 2, b"a", b"2a")
    assert cache.get("alice", 1, b"b") is None
    assert cache.get("alice", 2, b"a") == b"2a"
    assert cache.get("bob", 1, b"a") == b"bob"
    cache.put("alice", 1, b"b", b"late")  # built from an older read: never kept
    assert cache.get("alice", 1, b"b") is None
    assert len(cache) == 2 and cache.size_bytes == len(b"2a") + len(b"bob")


def test_the_least_recently_used_pages_go_first_when_over_the_bytes() -> None:
    cache = PageCache(max_bytes=400)
    for user in ("a", "b", "c", "d"):
        cache.put(user, 1, b"q", bytes(100))
    assert cache.get("a", 1, b"q") is not None  # a is now the most recently used
    cache.put("e", 1, b"q", bytes(100))
    assert cache.get("b", 1, b"q") is None
    assert all(cache.get(u, 1, b"q") is not None for u in ("a", "c", "d", "e"))
    assert cache.size_bytes == 400
    cache.put("f", 1, b"q", bytes(101))  # a page over a quarter of the budget is not kept
    assert cache.get("f", 1, b"q") is None and cache.size_bytes == 400
