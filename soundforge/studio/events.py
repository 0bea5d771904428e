"""What mixer sessions broadcast: a whole snapshot, and each applied change.

Both go out on the session's topic (``mixers.topic(user_id, key)``, followed by the browser
tabs showing it) and on ``STUDIO_TOPIC`` (followed by the OSC server and the MIDI devices,
which feed values back to surfaces). They are local to the node: mixer sessions live on the
node that serves the studio, like Phoenix channels' state lives in their node's processes.

On the WebSocket they are JSON objects with ``"type": "mixer.snapshot" | "mixer.changed"``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

__all__ = ["STUDIO_TOPIC", "Focus", "MixerChanged", "MixerEvent", "MixerSnapshot"]

#: The local topic every change of every mixer session on this node is broadcast on.
STUDIO_TOPIC: Final = "studio:mixers"


class MixerSnapshot(msgspec.Struct, frozen=True, tag="mixer.snapshot", tag_field="type"):
    """A session's whole state: sent to a tab when it subscribes, and by the API."""

    user_id: str
    key: str
    version: int
    values: dict[str, Any]
    info: dict[str, Any]


class MixerChanged(msgspec.Struct, frozen=True, tag="mixer.changed", tag_field="type"):
    """The values one control request changed (after clamping; unchanged ones left out).

    ``origin`` names the source (``ws:<tab>``, ``osc:<ip>:<port>``, ``midi:<device>``,
    ``api``) so that it does not apply or send its own change back. ``info`` is set when the
    session's read-only description changed (a deck loaded a track).
    """

    user_id: str
    key: str
    version: int
    values: dict[str, Any]
    origin: str
    info: dict[str, Any] | None = None


class Focus(msgspec.Struct, frozen=True):
    """The session the control surfaces act on: the track a browser tab opened last."""

    user_id: str
    key: str


MixerEvent = MixerSnapshot | MixerChanged
