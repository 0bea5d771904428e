"""PgPubSubBridge: PubSub between nodes over PostgreSQL ``LISTEN/NOTIFY``.

This is the counterpart of Phoenix.PubSub's PG2 adapter, with PostgreSQL standing in for
Erlang distribution. The two parts work as a pair:

* :class:`PgPubSubAdapter` is handed to ``PubSub.start_link(name=..., adapter=...)``. It holds
  the node's bridge configuration. On every ``broadcast``/``broadcast_from`` it encodes the
  message in the publisher and casts it to the bridge; it never blocks.
* :class:`PgPubSubBridge` is a GenServer, PG2's per-node "forwarder". It owns its own asyncpg
  connection, since ``LISTEN`` needs a session and cannot use a pool. It ``LISTEN`` s on one
  channel, ``NOTIFY`` s the queued broadcasts in order, and hands each message from another
  node to the pubsub's ``deliver`` in the order it arrived.

Example::

    adapter = PgPubSubAdapter(database_url, types=[Progress, TrackReady])
    children = [
        PubSub.child_spec({"name": "soundforge.pubsub", "adapter": adapter}),
        PgPubSubBridge.child_spec(adapter),
    ]

**Ordering and delivery** follow Phoenix. One bridge process sends each node's broadcasts in
the order they were cast, in one transaction per batch. PostgreSQL delivers notifications in
commit order, and one bridge per node delivers what arrives in that order. So messages from
one publisher reach every remote subscriber in publish order. Delivery is at-most-once;
nothing is acknowledged or retried. These broadcasts are lost:

* what other nodes send while this node is disconnected;
* a batch whose send failed midway: it may or may not have gone out, so it is dropped, never
  resent;
* the oldest queued broadcasts, once ``max_buffer`` of them wait for a reconnect. They are
  counted, and a warning is logged;
* broadcasts made while no bridge process runs (between a crash and its restart). Local
  delivery is not affected.

**Allowed messages.** A message is a ``msgspec.Struct`` whose type is on the bridge's
allow-list (``types=[...]``, the same on every node), or a plain JSON value. Anything else is
refused *at publish time* with :class:`UnregisteredMessage`, and the broadcast then fails
before local delivery too. A receiving node whose allow-list lacks the type logs a warning
and drops the message (it is counted in ``rejected``). Nothing is ever unpickled.

**Large messages.** PostgreSQL limits a NOTIFY payload to 7999 bytes. A larger envelope is
inserted into the UNLOGGED table ``pubsub_payloads`` (``db/migrations/0003_pubsub.sql``), and
only its id is notified; receivers fetch the row by id. Every bridge deletes rows older than
``reference_ttl`` (default one minute) every ``prune_interval``. A receiver that lags longer
than that loses the message.

**Reconnects.** When the connection drops, for example because PostgreSQL restarted, the
bridge reconnects with capped exponential backoff, jittered, and ``LISTEN`` s again. It then
sends what was queued meanwhile. ``format_status`` and :func:`status` show ``connected``,
the buffer and the counters; :func:`wait_connected` waits for the connection.

**Where it differs from Phoenix.** PG2 sends each message once to each remote node.
PostgreSQL delivers each NOTIFY to every node listening, the sender included, so a node
recognises its own broadcasts by their node id and skips them. There is no ``pool_size``:
one bridge per node keeps per-publisher order. Messages must be registered Structs or plain
JSON, since there are no arbitrary terms. Also, the bridge blocks while it connects, sends
or fetches. All of these are bounded by ``timeout``, and meanwhile casts wait in its mailbox,
unbounded for at most that long.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final

import msgspec

from soundforge.actors._pubsub_session import (
    CONNECT,
    Broadcast,
    Connect,
    Flush,
    Lost,
    Notified,
    Prune,
    Session,
)
from soundforge.actors._pubsub_wire import Codec, PgPubSubError, UnregisteredMessage
from soundforge.runtime.errors import NoProc
from soundforge.runtime.gen_server import Continue, GenServer, Init, NoReply, Reply, call, cast
from soundforge.runtime.process import From, Pid, current_process
from soundforge.runtime.pubsub import Deliver
from soundforge.runtime.results import AlreadyStarted, Error

__all__ = [
    "DEFAULT_CHANNEL",
    "BridgeStatus",
    "PgPubSubAdapter",
    "PgPubSubBridge",
    "PgPubSubError",
    "UnregisteredMessage",
    "status",
    "wait_connected",
]

DEFAULT_CHANNEL: Final = "soundforge_pubsub"

_CHANNEL_RE: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PgPubSubAdapter:
    """A node's pubsub adapter and the configuration of its bridge.

    ``database`` is a DSN, or a zero-argument callable returning one. The callable is called
    at each connect, so it can follow an embedded cluster's socket; raising ``OSError`` from
    it counts as a failed connect. ``types`` is the allow-list of ``msgspec.Struct`` types
    that may cross nodes; use the same list on every node. ``node_id`` must be unique among
    the nodes sharing the database (default: host, OS pid and a random suffix). Times are in
    seconds. ``backoff`` is the (first, longest) reconnect delay, and ``timeout`` bounds each
    connect, send, fetch and prune.

    One adapter serves one PubSub and one running bridge.
    """

    __slots__ = (
        "_bridge",
        "_codec",
        "_database",
        "_deliver",
        "_seq",
        "_unsent",
        "backoff",
        "channel",
        "max_buffer",
        "node_id",
        "prune_interval",
        "reference_ttl",
        "timeout",
    )

    def __init__(
        self,
        database: str | Callable[[], str],
        *,
        types: Sequence[type[msgspec.Struct]] = (),
        channel: str = DEFAULT_CHANNEL,
        node_id: str | None = None,
        max_buffer: int = 10_000,
        backoff: tuple[float, float] = (0.1, 5.0),
        timeout: float = 5.0,
        prune_interval: float = 15.0,
        reference_ttl: float = 60.0,
    ) -> None:
        if not _CHANNEL_RE.fullmatch(channel):
            raise PgPubSubError(
                f"{channel!r} is not a usable pubsub channel; use lowercase letters, digits "
                f"and underscores (at most 63), starting with a letter or underscore"
            )
        if max_buffer < 1:
            raise PgPubSubError(f"max_buffer must be at least 1, not {max_buffer}")
        if not 0 < backoff[0] <= backoff[1]:
            raise PgPubSubError("backoff must be (first, longest) with 0 < first <= longest")
        if min(timeout, prune_interval, reference_ttl) <= 0:
            raise PgPubSubError("timeout, prune_interval and reference_ttl must be positive")
        self._database = database
        self._codec = Codec(types)
        self.channel = channel
        self.node_id = node_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.max_buffer = max_buffer
        self.backoff = backoff
        self.timeout = timeout
        self.prune_interval = prune_interval
        self.reference_ttl = reference_ttl
        self._deliver: Deliver | None = None
        self._bridge: Pid | None = None
        self._seq = 0
        self._unsent = 0

    def __repr__(self) -> str:
        return f"<PgPubSubAdapter {self.node_id} on {self.channel}>"

    @property
    def bridge(self) -> Pid | None:
        """The running bridge's pid, or None while no bridge runs."""
        pid = self._bridge
        return pid if pid is not None and pid._proc is not None else None

    def dsn(self) -> str:
        """The DSN to connect to now."""
        database = self._database
        return database if isinstance(database, str) else database()

    # -- the pubsub Adapter protocol -----------------------------------------------------

    def bind(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def broadcast(self, topic: str, message: Any, exclude: Pid | None) -> None:
        self._seq += 1
        sender = repr(exclude) if exclude is not None else None
        envelope = self._codec.encode(self.node_id, self._seq, sender, topic, message)
        bridge = self.bridge
        if bridge is None:
            self._unsent += 1  # at-most-once: no bridge, no remote delivery; local goes on
            return
        cast(bridge, Broadcast(self._seq, envelope))


class BridgeStatus(msgspec.Struct, frozen=True):
    """A bridge's state as data (for the admin console, tests and ``format_status``).

    The counters are those of the running bridge process. ``sent`` and ``received`` count
    broadcasts, ``sent_by_reference`` those that went through ``pubsub_payloads``.
    ``dropped`` counts broadcasts of this node that were not sent: evicted from a full
    buffer, in doubt when a send failed, or made while no bridge ran (that last part is
    counted for the node's lifetime). ``rejected`` counts notifications received but not
    delivered: unreadable, of a type not registered here, or whose payload was gone.
    """

    node_id: str
    channel: str
    connected: bool
    buffered: int
    max_buffer: int
    sent: int
    sent_by_reference: int
    received: int
    dropped: int
    rejected: int
    reconnects: int


async def status(bridge: PgPubSubAdapter | Pid | Hashable, timeout: float = 5.0) -> BridgeStatus:
    """The bridge's :class:`BridgeStatus` (by its adapter, pid or name)."""
    result: BridgeStatus = await call(_server(bridge), _STATUS, timeout)
    return result


async def wait_connected(bridge: PgPubSubAdapter | Pid | Hashable, timeout: float = 5.0) -> None:
    """Return once the bridge listens; raises ``CallTimeout`` after ``timeout`` seconds."""
    await call(_server(bridge), _AWAIT_CONNECTED, timeout)


def _server(bridge: PgPubSubAdapter | Pid | Hashable) -> Pid | Hashable:
    if isinstance(bridge, PgPubSubAdapter):
        pid = bridge.bridge
        if pid is None:
            raise NoProc(bridge, "status")
        return pid
    return bridge


class _Request(msgspec.Struct, frozen=True):
    what: str


_STATUS: Final = _Request("status")
_AWAIT_CONNECTED: Final = _Request("await_connected")


class PgPubSubBridge(GenServer[Session]):
    """The forwarder: one per node, started with its :class:`PgPubSubAdapter`.

    ``start_link(adapter)`` returns at once and connects in the background (see the module
    docstring). A second bridge for an adapter whose bridge runs gets
    ``Error(AlreadyStarted(pid))``.
    """

    def init(self, adapter: PgPubSubAdapter) -> Init[Session] | Error:
        if not isinstance(adapter, PgPubSubAdapter):
            raise PgPubSubError(f"PgPubSubBridge needs a PgPubSubAdapter, not {adapter!r}")
        running = adapter.bridge
        if running is not None:
            return Error(AlreadyStarted(running))
        proc = current_process()
        assert proc is not None  # init runs as the new process
        session = Session(adapter, proc.pid, proc.node.clock)
        adapter._bridge = proc.pid
        proc.add_exit_hook(session.release)
        return Init(session, Continue(CONNECT))

    async def handle_continue(self, arg: Any, session: Session) -> NoReply[Session]:
        await session.connect()
        return NoReply(session)

    def handle_cast(self, msg: Broadcast, session: Session) -> NoReply[Session]:
        session.enqueue(msg)
        return NoReply(session)

    def handle_call(self, request: _Request, from_: From, session: Session) -> Any:
        if request == _STATUS:
            return Reply(_status(session), session)
        if request == _AWAIT_CONNECTED:
            if session.conn is not None:
                return Reply(None, session)
            session.waiters.append(from_)  # answered by connect()
            return NoReply(session)
        return super().handle_call(request, from_, session)

    async def handle_info(self, msg: Any, session: Session) -> Any:
        kind = type(msg)
        if kind is Notified:
            await session.receive(msg.text)
        elif kind is Flush:
            await session.flush()
        elif kind is Lost:
            session.lost(msg.conn)
        elif kind is Connect:
            session.retry = None
            await session.connect()
        elif kind is Prune:
            await session.prune()
        else:
            return super().handle_info(msg, session)
        return NoReply(session)

    def format_status(self, session: Session) -> str:
        s = _status(session)
        return (
            f"{'connected' if s.connected else 'disconnected'} on {s.channel} as {s.node_id}, "
            f"buffer {s.buffered}/{s.max_buffer}, sent {s.sent} "
            f"({s.sent_by_reference} by reference), received {s.received}, "
            f"dropped {s.dropped}, rejected {s.rejected}, reconnects {s.reconnects}"
        )


def _status(session: Session) -> BridgeStatus:
    adapter = session.adapter
    return BridgeStatus(
        node_id=adapter.node_id,
        channel=adapter.channel,
        connected=session.conn is not None,
        buffered=len(session.buffer),
        max_buffer=adapter.max_buffer,
        sent=session.sent,
        sent_by_reference=session.sent_by_reference,
        received=session.received,
        dropped=session.dropped + adapter._unsent,
        rejected=session.rejected,
        reconnects=session.reconnects,
    )
