"""The per-node cache of resolved credentials: bounded in time, forgotten on change."""

from __future__ import annotations

from soundforge.accounts import User
from soundforge.web.credentials import CredentialCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def user(user_id: str) -> User:
    return User(user_id, f"{user_id}@example.com", None, "user", "active")


def test_a_resolution_lasts_ttl_seconds() -> None:
    clock = Clock()
    cache = CredentialCache(ttl=10.0, clock=clock)
    cache.put("sf_a", user("u1"))
    clock.now = 10.0
    assert cache.get("sf_a") == user("u1")
    clock.now = 10.1
    assert cache.get("sf_a") is None
    assert cache.get("sf_unknown") is None


def test_forgetting_a_user_forgets_all_their_credentials() -> None:
    cache = CredentialCache()
    cache.put("sf_a", user("u1"))
    cache.put("cookie", user("u1"))
    cache.put("sf_b", user("u2"))
    cache.forget_user("u1")
    assert cache.get("sf_a") is None and cache.get("cookie") is None
    assert cache.get("sf_b") == user("u2")
    cache.forget_secret("sf_b")
    assert cache.get("sf_b") is None
