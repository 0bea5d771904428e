"""The OSC server's options, counters and state (shared by its ingest and feedback halves)."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from soundforge.runtime.clock import Clock
from soundforge.studio import mixers
from soundforge.studio.events import Focus
from soundforge.studio.osc._clients import Client

__all__ = ["Counters", "OscOptions", "ServerState"]

log = logging.getLogger("soundforge.studio.osc")

#: Seconds between two log lines for the same reason (malformed packets, unknown addresses).
LOG_EVERY: Final = 60.0
#: Changes whose echo is remembered (their origin's paths are not sent back to it).
ECHO_MEMORY: Final = 512


class OscOptions(msgspec.Struct, frozen=True):
    """Where the OSC server listens and what it follows."""

    host: str = "127.0.0.1"
    #: The UDP port; 0 picks a free one (tests, benchmarks).
    port: int = 8000
    #: The node's PubSub (``supervisors.root.NAMES.pubsub``).
    pubsub: str = "soundforge.pubsub"
    #: The registered name of the server.
    name: str = "soundforge.osc"
    #: Seconds between two attempts to bind a port that was taken.
    retry_every: float = 30.0
    #: The most feedback clients at once (the oldest is dropped for a new one).
    max_clients: int = 16

    @classmethod
    def from_settings(cls, settings: Any, pubsub: str) -> OscOptions:
        """``settings.osc_host``/``osc_port`` of :class:`soundforge.config.Settings`."""
        return cls(host=settings.osc_host, port=settings.osc_port, pubsub=pubsub)


class Counters(msgspec.Struct):
    """What the server has seen since it started."""

    #: UDP datagrams received.
    datagrams: int = 0
    #: OSC messages in them (a bundle counts its messages).
    messages: int = 0
    #: Messages applied to a mixer (several of them may share one call).
    applied: int = 0
    #: Mixer calls made for them.
    calls: int = 0
    #: Datagrams that were not valid OSC, ignored.
    malformed: int = 0
    last_malformed: str | None = None
    #: Messages to an address SoundForge does not have.
    unknown: int = 0
    #: Messages whose value the control or the mixer refused.
    rejected: int = 0
    last_rejected: str | None = None
    #: Messages that arrived while no session was focused (no tab had opened a track).
    unfocused: int = 0
    #: Datagrams dropped unread because more than the queue's limit were waiting.
    overflow: int = 0
    #: Feedback datagrams sent.
    feedback: int = 0
    #: Clients dropped after repeated send errors.
    dropped_clients: int = 0


@dataclass
class ServerState:
    options: OscOptions
    pending: deque[tuple[bytes, tuple[str, int]]]
    clock: Clock
    transport: asyncio.DatagramTransport | None = None
    protocol: Any = None
    port: int | None = None
    error: str | None = None
    counters: Counters = field(default_factory=Counters)
    clients: dict[tuple[str, int], Client] = field(default_factory=dict)
    #: Session info by (user id, key), for ``controls.control_for``.
    infos: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: The focus the surfaces were last told about.
    focus: Focus | None = None
    #: (user id, key, version) of an OSC change → (its origin, the paths it set).
    echo: OrderedDict[tuple[str, str, int], tuple[str, frozenset[str]]] = field(
        default_factory=OrderedDict
    )
    #: Reason → when it was last logged.
    logged: dict[str, float] = field(default_factory=dict)

    def note(self, reason: str, detail: str) -> None:
        """Log ``detail`` unless ``reason`` was logged in the last minute."""
        now = self.clock.time()
        last = self.logged.get(reason)
        if last is not None and now - last < LOG_EVERY:
            return
        if len(self.logged) > 256:
            self.logged.clear()
        self.logged[reason] = now
        log.warning("OSC: %s (further ones for a minute are only counted)", detail)

    def remember_echo(self, key: tuple[str, str, int], origin: str, paths: frozenset[str]) -> None:
        self.echo[key] = (origin, paths)
        while len(self.echo) > ECHO_MEMORY:
            self.echo.popitem(last=False)

    async def info(self, user_id: str, key: str) -> dict[str, Any]:
        """The session's info (read once from its snapshot, then kept current by events)."""
        found = self.infos.get((user_id, key))
        if found is None:
            found = (await mixers.snapshot(user_id, key)).info
            self.infos[(user_id, key)] = found
        return found

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        for client in self.clients.values():
            client.close()
        self.clients.clear()
