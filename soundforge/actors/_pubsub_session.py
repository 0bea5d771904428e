"""The PostgreSQL session of a :class:`~soundforge.actors.pg_pubsub.PgPubSubBridge`.

A :class:`Session` is the bridge's state, and it does the bridge's work on the bridge's own
asyncpg connection. That work is connecting with backoff and ``LISTEN``; sending queued
broadcasts in batches, large ones through ``pubsub_payloads``; turning notifications into
deliveries and fetching references; and pruning old references. Every method runs in the
bridge process. asyncpg's callbacks and the timers only send messages to the bridge, so
all of this happens in mailbox order.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import msgspec

from soundforge.actors._pubsub_wire import (
    Envelope,
    Rejected,
    inline_notice,
    parse_envelope,
    parse_notice,
    reference_notice,
)
from soundforge.runtime.clock import Clock, TimerHandle
from soundforge.runtime.process import From, Pid, Process, send

if TYPE_CHECKING:
    from soundforge.actors.pg_pubsub import PgPubSubAdapter

__all__ = ["CONNECT", "Broadcast", "Connect", "Flush", "Lost", "Notified", "Prune", "Session"]

log = logging.getLogger("soundforge.actors.pg_pubsub")

# One NOTIFY statement (one transaction) carries at most this many broadcasts or bytes.
_BATCH: Final = 500
_BATCH_BYTES: Final = 1 << 20

_NOTIFY: Final = "SELECT pg_notify($1, notice) FROM unnest($2::text[]) AS notice"
_INSERT: Final = "INSERT INTO pubsub_payloads (payload) VALUES ($1) RETURNING id"
_FETCH: Final = "SELECT payload FROM pubsub_payloads WHERE id = $1"
_PRUNE: Final = "DELETE FROM pubsub_payloads WHERE inserted_at < now() - make_interval(secs => $1)"

# What a database operation may fail with: the server (an error, a shutdown, a restart),
# the network, a hung query, or a connection asyncpg already knows to be closed.
_DB_ERRORS: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Broadcast(msgspec.Struct, frozen=True):
    """A cast from the adapter: one encoded broadcast to send."""

    seq: int
    envelope: bytes


class Notified(msgspec.Struct, frozen=True):
    """A notification arrived on the channel."""

    text: str


class Lost(msgspec.Struct, frozen=True):
    """asyncpg saw ``conn`` close."""

    conn: Any


class Connect(msgspec.Struct, frozen=True):
    """Time to (re)connect."""


class Flush(msgspec.Struct, frozen=True):
    """Send the next batch of the buffer."""


class Prune(msgspec.Struct, frozen=True):
    """Time to delete old references."""


CONNECT: Final = Connect()
_FLUSH: Final = Flush()
_PRUNE_NOW: Final = Prune()


class Session:
    """The bridge's state: its connection, its buffer, its counters."""

    def __init__(self, adapter: PgPubSubAdapter, pid: Pid, clock: Clock) -> None:
        self.adapter = adapter
        self.pid = pid
        self.clock = clock
        self.conn: Any = None  # the asyncpg connection while connected and listening
        self.buffer: deque[Broadcast] = deque()
        self.flushing = False  # a Flush is in the mailbox
        self.attempts = 0  # failed connects since the last success
        self.ever_connected = False
        self.retry: TimerHandle | None = None
        self.prune_timer: TimerHandle | None = None
        self.waiters: list[From] = []
        self.sent = 0
        self.sent_by_reference = 0
        self.received = 0
        self.dropped = 0
        self.rejected = 0
        self.reconnects = 0
        self.evicted = 0  # dropped from the full buffer since the last warning summary

    # -- the connection ------------------------------------------------------------------

    async def connect(self) -> None:
        adapter = self.adapter
        if self.conn is not None:
            return
        try:
            conn = await asyncpg.connect(
                adapter.dsn(),
                timeout=adapter.timeout,
                server_settings={"application_name": f"soundforge pubsub {adapter.node_id}"[:63]},
            )
        except _DB_ERRORS as error:
            self._retry_later(error)
            return
        listening = False
        try:
            conn.add_termination_listener(partial(_on_lost, self.pid))
            async with asyncio.timeout(adapter.timeout):
                await conn.add_listener(adapter.channel, partial(_on_notify, self.pid))
            listening = True
        except _DB_ERRORS as error:
            self._retry_later(error)
            return
        finally:
            if not listening:  # failed, or the bridge was killed meanwhile: no session leaks
                conn.terminate()
        self.conn = conn
        if self.ever_connected:
            self.reconnects += 1
            log.info("pubsub bridge %s reconnected to PostgreSQL", adapter.node_id)
        self.ever_connected = True
        self.attempts = 0
        if self.evicted:
            log.warning(
                "pubsub bridge %s dropped %d broadcasts while PostgreSQL was away",
                adapter.node_id,
                self.evicted,
            )
            self.evicted = 0
        waiters, self.waiters = self.waiters, []
        for from_ in waiters:
            from_.reply(None)
        if self.prune_timer is None:
            self.prune_timer = self.clock.call_later(
                adapter.prune_interval, send, self.pid, _PRUNE_NOW
            )
        self._schedule_flush()

    def lost(self, conn: Any) -> None:
        if conn is self.conn:
            self._disconnected("the connection closed")

    def release(self, proc: Process, reason: Any) -> None:
        """The bridge's exit hook, so it also runs on a kill: close the session, stop timers."""
        adapter = self.adapter
        if adapter._bridge is self.pid:
            adapter._bridge = None
        for timer in (self.retry, self.prune_timer):
            if timer is not None:
                timer.cancel()
        conn, self.conn = self.conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    def _retry_later(self, error: BaseException) -> None:
        adapter = self.adapter
        first, longest = adapter.backoff
        delay = min(longest, first * 2**self.attempts) * random.uniform(1.0, 1.25)
        self.attempts += 1
        log.log(
            logging.WARNING if self.attempts == 1 else logging.DEBUG,
            "pubsub bridge %s cannot reach PostgreSQL (%s: %s); retrying in %.2f s, "
            "buffering up to %d broadcasts",
            adapter.node_id,
            type(error).__name__,
            error,
            delay,
            adapter.max_buffer,
        )
        self.retry = self.clock.call_later(delay, send, self.pid, CONNECT)

    def _disconnected(self, why: str) -> None:
        conn, self.conn = self.conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
        if self.retry is not None:
            return
        log.warning(
            "pubsub bridge %s lost PostgreSQL (%s); reconnecting", self.adapter.node_id, why
        )
        self.retry = self.clock.call_later(self.adapter.backoff[0], send, self.pid, CONNECT)

    def _failed(self, conn: Any, error: BaseException, doing: str) -> None:
        """A database operation failed: reconnect if the session is gone or hung, else log."""
        if conn.is_closed() or isinstance(error, (OSError, TimeoutError, asyncpg.InterfaceError)):
            if conn is self.conn:
                self._disconnected(f"{doing}: {type(error).__name__}: {error}")
        else:
            log.error(
                "pubsub bridge %s: PostgreSQL refused %s: %s (are the migrations applied?)",
                self.adapter.node_id,
                doing,
                error,
            )

    # -- sending -------------------------------------------------------------------------

    def enqueue(self, item: Broadcast) -> None:
        buffer = self.buffer
        buffer.append(item)
        if len(buffer) > self.adapter.max_buffer:
            buffer.popleft()
            self.dropped += 1
            if self.evicted == 0:
                log.warning(
                    "pubsub bridge %s: %d broadcasts wait for PostgreSQL; dropping the oldest "
                    "(delivery between nodes is at-most-once)",
                    self.adapter.node_id,
                    self.adapter.max_buffer,
                )
            self.evicted += 1
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self.conn is not None and self.buffer and not self.flushing:
            self.flushing = True
            send(self.pid, _FLUSH)  # behind the casts already queued, so order holds

    async def flush(self) -> None:
        self.flushing = False
        conn = self.conn
        buffer = self.buffer
        if conn is None or not buffer:
            return
        adapter = self.adapter
        batch: list[Broadcast] = []
        size = 0
        while buffer and len(batch) < _BATCH and size < _BATCH_BYTES:
            item = buffer.popleft()
            batch.append(item)
            size += len(item.envelope)
        notices: list[str] = []
        by_reference = refused = 0
        try:
            for item in batch:
                text = inline_notice(item.envelope)
                if text is None:
                    text = await self._store(conn, item)
                    if text is None:
                        refused += 1
                        continue
                    by_reference += 1
                notices.append(text)
            if notices:
                await conn.execute(_NOTIFY, adapter.channel, notices, timeout=adapter.timeout)
        except _DB_ERRORS as error:
            # In doubt: it may have gone out. At-most-once means never sending it twice.
            self.dropped += len(batch) - refused
            self._failed(conn, error, f"a batch of {len(batch)} broadcasts (dropped)")
            return
        self.sent += len(notices)
        self.sent_by_reference += by_reference
        self._schedule_flush()

    async def _store(self, conn: Any, item: Broadcast) -> str | None:
        """Insert a large envelope into ``pubsub_payloads``; the notice pointing at it, or
        None when PostgreSQL refuses the row (that broadcast is dropped, the session kept)."""
        adapter = self.adapter
        try:
            row_id = await conn.fetchval(_INSERT, item.envelope, timeout=adapter.timeout)
        except asyncpg.PostgresError as error:
            if conn.is_closed():
                raise
            self.dropped += 1
            self._failed(conn, error, f"a {len(item.envelope)}-byte broadcast (dropped)")
            return None
        return reference_notice(adapter.node_id, item.seq, row_id)

    # -- receiving -----------------------------------------------------------------------

    async def receive(self, text: str) -> None:
        adapter = self.adapter
        try:
            notice = parse_notice(text)
            if notice.node == adapter.node_id:
                return  # our own broadcast: the pubsub delivered it locally already
            if isinstance(notice, Envelope):
                envelope = notice
            else:
                envelope = parse_envelope(await self._fetch(notice.id, notice.node))
            message = adapter._codec.decode(envelope)
        except Rejected as why:
            self.rejected += 1
            log.warning("pubsub bridge %s dropped a notification: %s", adapter.node_id, why)
            return
        self.received += 1
        deliver = adapter._deliver
        if deliver is not None:
            deliver(envelope.topic, message)

    async def _fetch(self, row_id: int, origin: str) -> bytes:
        conn = self.conn
        if conn is None:
            raise Rejected(f"payload {row_id} from node {origin} arrived as the session dropped")
        try:
            data: bytes | None = await conn.fetchval(_FETCH, row_id, timeout=self.adapter.timeout)
        except _DB_ERRORS as error:
            self._failed(conn, error, f"fetching payload {row_id}")
            raise Rejected(f"payload {row_id} from node {origin} could not be fetched") from None
        if data is None:
            raise Rejected(
                f"payload {row_id} from node {origin} is gone (pruned after "
                f"{self.adapter.reference_ttl:g} s, or lost when PostgreSQL crashed)"
            )
        return data

    # -- pruning -------------------------------------------------------------------------

    async def prune(self) -> None:
        adapter = self.adapter
        self.prune_timer = self.clock.call_later(adapter.prune_interval, send, self.pid, _PRUNE_NOW)
        conn = self.conn
        if conn is None:
            return
        try:
            await conn.execute(_PRUNE, adapter.reference_ttl, timeout=adapter.timeout)
        except _DB_ERRORS as error:
            self._failed(conn, error, "pruning pubsub_payloads")


def _on_notify(pid: Pid, conn: Any, server_pid: int, channel: str, payload: str) -> None:
    send(pid, Notified(payload))  # asyncpg's callback: hand it to the bridge, in order


def _on_lost(pid: Pid, conn: Any) -> None:
    send(pid, Lost(conn))
