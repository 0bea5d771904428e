"""Account events on PubSub: what other parts must hear when someone's credentials change.

``CredentialsChanged`` is published on :data:`ACCOUNTS_TOPIC` when a user is suspended or
reactivated, changes role or password, or revokes a token: every node's endpoint forgets the
credentials it had resolved for that user (``soundforge.web.credentials``), and their open
WebSockets close, so the change takes effect at once everywhere.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = ["ACCOUNTS_TOPIC", "ACCOUNT_EVENT_TYPES", "CredentialsChanged"]

ACCOUNTS_TOPIC: Final = "accounts"


class CredentialsChanged(msgspec.Struct, frozen=True, tag="account.credentials"):
    user_id: str
    #: ``status``, ``role``, ``password`` or ``token``.
    what: str


#: The event types that cross nodes (``soundforge.supervisors.root.PUBSUB_TYPES``).
ACCOUNT_EVENT_TYPES: Final = (CredentialsChanged,)
