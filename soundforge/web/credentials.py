"""Recently resolved credentials (API tokens, session cookies) → their user, for seconds.

Resolving the caller is a database round trip on every request; a small per-node cache of
the last resolutions removes it from the hot path. It holds only successful resolutions,
for ``ttl`` seconds (10). Whatever changes what a credential may do forgets the user's
entries at once on this node and publishes ``CredentialsChanged`` for the others
(:func:`credentials_changed`): suspension, reactivation, a role or password change, a
revoked token, a sign-out. So a suspended user is refused on the very next request, and
the TTL only bounds what a change made behind the server's back (plain SQL) may take.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from soundforge.accounts import User
from soundforge.accounts.events import ACCOUNTS_TOPIC, CredentialsChanged
from soundforge.runtime import pubsub

__all__ = ["CredentialCache", "credentials_changed"]

_MAX_ENTRIES: Final = 10_000


class CredentialCache:
    def __init__(self, ttl: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        #: secret → (user, resolved at)
        self._entries: OrderedDict[str, tuple[User, float]] = OrderedDict()

    def get(self, secret: str) -> User | None:
        entry = self._entries.get(secret)
        if entry is None:
            return None
        user, at = entry
        if self._clock() - at > self.ttl:
            del self._entries[secret]
            return None
        return user

    def put(self, secret: str, user: User) -> None:
        self._entries[secret] = (user, self._clock())
        self._entries.move_to_end(secret)
        while len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)

    def forget_secret(self, secret: str) -> None:
        self._entries.pop(secret, None)

    def forget_user(self, user_id: str) -> None:
        for secret in [s for s, (user, _) in self._entries.items() if user.id == user_id]:
            del self._entries[secret]


def credentials_changed(cache: CredentialCache, pubsub_name: str, user_id: str, what: str) -> None:
    """Forget ``user_id``'s credentials here, and tell the other nodes and open sockets."""
    cache.forget_user(user_id)
    pubsub.broadcast(pubsub_name, ACCOUNTS_TOPIC, CredentialsChanged(user_id, what))
