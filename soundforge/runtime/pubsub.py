"""PubSub: Phoenix.PubSub, topic fan-out on a duplicate registry, with a pluggable node bridge.

A :class:`PubSub` is a duplicate-keys :class:`~soundforge.runtime.registry.Registry` whose keys
are topics and whose entries are subscribers. Subscribing registers the *calling* process
(twice subscribed, twice delivered); subscribers are linked to the pubsub process and removed
when they die. Publishing runs *in the publisher*: the message goes to the adapter for other
nodes first, then to each local subscriber by plain send::

    await PubSub.start_link(name="events")

    # in a subscriber process
    subscribe("events", "track:42")
    msg = await receive(timeout=5.0)

    # in any process
    broadcast("events", "track:42", Progress(track_id=42, stage="separate", done=0.5))

**Ordering and delivery** (Phoenix's contract, kept exactly). Messages from one publisher
process reach each subscriber in publish order: locally because the publisher sends directly,
remotely because an adapter forwards each publisher's messages through one FIFO path and the
receiving node delivers them from one process. Nothing orders different publishers. Delivery
is at-most-once: what is in flight when a node or link dies is lost, and messages to dead
subscribers are dropped.

**Adapters.** Between nodes the design uses PostgreSQL ``LISTEN/NOTIFY`` (a later bridge);
any object satisfying :class:`Adapter` fits. The pubsub hands the adapter a ``deliver`` callback
in ``init`` (``bind``); the adapter calls ``deliver(topic, message)`` for each message arriving
from another node, from the one process that receives them, which keeps per-publisher order.
With no adapter the pubsub is local-only, and ``broadcast`` equals ``local_broadcast``.

**Where it differs from Phoenix.** One registry partition and no ``pool_size``; the adapter
protocol replaces PG2; no custom dispatchers (fastlane) and no ``direct_broadcast``.
``broadcast`` returns nothing and raises what the adapter raises (Phoenix's ``broadcast!``;
as in Phoenix, a failing adapter means no local delivery either). Cleanup of dead subscribers
is synchronous (see the registry module). The registry functions (``lookup``, ``count``,
``keys`` ...) work on a pubsub's name too.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, ClassVar, Protocol, runtime_checkable

from soundforge.runtime.gen_server import Init
from soundforge.runtime.process import Pid, Process
from soundforge.runtime.registry import (
    Keys,
    Registry,
    RegistryError,
    UnknownRegistry,
    _caller,
    _Options,
)
from soundforge.runtime.results import StartResult

__all__ = [
    "Adapter",
    "Deliver",
    "PubSub",
    "UnknownPubSub",
    "broadcast",
    "broadcast_from",
    "local_broadcast",
    "local_broadcast_from",
    "subscribe",
    "subscribers",
    "unsubscribe",
]

#: What an adapter calls to hand a message from another node to this node's subscribers.
Deliver = Callable[[str, Any], None]


@runtime_checkable
class Adapter(Protocol):
    """The bridge to the pubsubs of other nodes (Phoenix's ``Phoenix.PubSub.Adapter``).

    Contract:

    * ``broadcast(topic, message, exclude)`` is called in the publishing process for every
      ``broadcast``/``broadcast_from`` (never for the ``local_`` variants), *before* local
      delivery. It must not block or await: a bridge queues the message to its own process
      (one FIFO forwarder per node, so one publisher's messages keep their order). ``exclude``
      is ``broadcast_from``'s pid; it cannot be subscribed on another node, so remote nodes
      may ignore it. Raising makes the whole broadcast fail before any local delivery.
    * ``bind(deliver)`` is called by the pubsub's ``init`` (again after a restart, with a new
      callback that replaces the old one). For each message from another node the adapter
      calls ``deliver(topic, message)`` from the single process that receives them; it
      delivers to this node's subscribers in that process and never blocks. After the pubsub
      has exited, an old ``deliver`` is a harmless no-op.
    * Delivery is at-most-once; nothing is retried or acknowledged.
    """

    def bind(self, deliver: Deliver) -> None: ...

    def broadcast(self, topic: str, message: Any, exclude: Pid | None) -> None: ...


class UnknownPubSub(UnknownRegistry):
    """No pubsub is running under the given name."""


class PubSub(Registry):
    """The process owning a node's subscriptions for one pubsub name (Phoenix.PubSub)."""

    kind: ClassVar[str] = "pubsub"
    adapter: Adapter | None = None

    # Phoenix's shape, ``PubSub.start_link(name: ..., adapter: ...)``; the duplicate-keys
    # registry underneath is not configurable, hence the incompatible override.
    @classmethod
    async def start_link(  # type: ignore[override]
        cls, *, name: Hashable, adapter: Adapter | None = None
    ) -> StartResult:
        """Start a pubsub named ``name`` (a local name), linked to the caller."""
        return await cls._start_pubsub(name, adapter, link=True)

    @classmethod
    async def start(  # type: ignore[override]
        cls, *, name: Hashable, adapter: Adapter | None = None
    ) -> StartResult:
        """Start a pubsub not linked to the caller."""
        return await cls._start_pubsub(name, adapter, link=False)

    @classmethod
    async def _start_pubsub(
        cls, name: Hashable, adapter: Adapter | None, *, link: bool
    ) -> StartResult:
        if adapter is not None and not isinstance(adapter, Adapter):
            raise RegistryError(
                f"{adapter!r} is not a pubsub adapter: it needs bind(deliver) and "
                f"broadcast(topic, message, exclude)"
            )
        server = cls()
        server.adapter = adapter
        return await cls._start_registry(server, _Options(Keys.DUPLICATE, name, ()), link=link)

    @classmethod
    def _unknown(cls, registry: Hashable) -> Exception:
        return UnknownPubSub(registry, cls.kind)

    def init(self, options: _Options) -> Init[None]:
        result = super().init(options)
        if self.adapter is not None:
            self.adapter.bind(self._deliver_remote)
        return result

    def _deliver_remote(self, topic: str, message: Any) -> None:
        # Runs in the adapter's receiving process; a closed table has no entries, so a
        # callback kept after this pubsub exited delivers nothing.
        self.table.send_to(topic, message, None)

    def format_status(self, state: None) -> str:
        table = self.table
        adapter = type(self.adapter).__name__ if self.adapter is not None else "local only"
        return f"{table.size} subscriptions by {table.process_count()} processes, {adapter}"


def subscribe(pubsub: Hashable, topic: str, metadata: Any = None) -> None:
    """Subscribe the calling process to ``topic``; subscribing twice delivers twice."""
    proc = _caller("subscribe")
    PubSub._find(pubsub).table.register(proc, topic, metadata)


def unsubscribe(pubsub: Hashable, topic: str) -> None:
    """Drop every subscription of the caller to ``topic``; a no-op if it has none."""
    proc = _caller("unsubscribe")
    PubSub._find(pubsub).table.unregister(proc, topic)


def broadcast(pubsub: Hashable, topic: str, message: Any) -> None:
    """Send ``message`` to every subscriber of ``topic`` on every node, the caller included."""
    _publish(pubsub, topic, message, None, remote=True)


def broadcast_from(pubsub: Hashable, from_pid: Pid, topic: str, message: Any) -> None:
    """Like :func:`broadcast`, but ``from_pid`` (usually the caller) does not receive it."""
    _publish(pubsub, topic, message, from_pid, remote=True)


def local_broadcast(pubsub: Hashable, topic: str, message: Any) -> None:
    """Send ``message`` to the subscribers of ``topic`` on this node only."""
    _publish(pubsub, topic, message, None, remote=False)


def local_broadcast_from(pubsub: Hashable, from_pid: Pid, topic: str, message: Any) -> None:
    """Like :func:`local_broadcast`, skipping ``from_pid``."""
    _publish(pubsub, topic, message, from_pid, remote=False)


def subscribers(pubsub: Hashable, topic: str) -> list[Pid]:
    """The local subscribers of ``topic``, once per subscription (for introspection)."""
    return [pid for pid, _ in PubSub._find(pubsub).table.lookup(topic)]


def _publish(
    pubsub: Hashable, topic: str, message: Any, exclude: Pid | None, *, remote: bool
) -> None:
    server = PubSub._find(pubsub)
    if remote and server.adapter is not None:
        server.adapter.broadcast(topic, message, exclude)
    skip: Process | None = exclude._proc if exclude is not None else None
    server.table.send_to(topic, message, skip)
