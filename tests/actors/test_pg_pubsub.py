"""The PostgreSQL pubsub bridge on a real server: two pubsubs stand for two nodes.

One runtime node runs pubsub "a" and pubsub "b", each with its own adapter, bridge, node id
and PostgreSQL session, on one fresh database. That is exactly what two machines sharing a
database look like from PostgreSQL's side.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import msgspec
import pytest

from soundforge.actors import pg_pubsub
from soundforge.actors._pubsub_wire import (
    MAX_NOTIFY_BYTES,
    Codec,
    Envelope,
    Rejected,
    inline_notice,
    parse_notice,
)
from soundforge.actors.pg_pubsub import (
    DEFAULT_CHANNEL,
    PgPubSubAdapter,
    PgPubSubBridge,
    PgPubSubError,
    UnregisteredMessage,
    status,
    wait_connected,
)
from soundforge.runtime.introspect import describe
from soundforge.runtime.process import Pid, exit, receive, self_pid, send, spawn
from soundforge.runtime.pubsub import (
    PubSub,
    broadcast,
    broadcast_from,
    local_broadcast,
    subscribe,
)
from soundforge.runtime.results import AlreadyStarted, Error, Ok
from soundforge.runtime.supervisor import start_supervisor
from tests.helpers import eventually
from tests.postgres import PgCluster

MIGRATION = Path(__file__).parents[2] / "db" / "migrations" / "0003_pubsub.sql"
QUIET = 0.1  # how long "nothing else arrives" is watched for
FAST: dict[str, Any] = {"backoff": (0.02, 0.2), "timeout": 2.0}
LOGGER = "soundforge.actors.pg_pubsub"


class Note(msgspec.Struct, frozen=True, tag=True):
    n: int
    text: str = ""


class Unlisted(msgspec.Struct, frozen=True):
    n: int


class Got(msgspec.Struct, frozen=True):
    subscriber: Pid
    message: Any


class Gate:
    """A DSN callable that refuses to connect while closed: a node cut off from PostgreSQL."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.open = True

    def __call__(self) -> str:
        if not self.open:
            raise ConnectionRefusedError("the test closed the gate")
        return self.dsn


@pytest.fixture
async def db(database_url: str) -> str:
    """A fresh database with the pubsub migration applied."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(MIGRATION.read_text())
    finally:
        await conn.close()
    return database_url


async def start_node(
    name: str, database: str | Callable[[], str], *, connect: bool = True, **options: Any
) -> PgPubSubAdapter:
    """Pubsub ``name`` with its bridge (node id ``name``), both linked to the test."""
    options = {"types": [Note], "node_id": name, **FAST, **options}
    adapter = PgPubSubAdapter(database, **options)
    assert isinstance(await PubSub.start_link(name=name, adapter=adapter), Ok)
    assert isinstance(await PgPubSubBridge.start_link(adapter), Ok)
    if connect:
        await wait_connected(adapter)
    return adapter


@pytest.fixture
async def nodes(db: str, shell: Pid) -> tuple[PgPubSubAdapter, PgPubSubAdapter]:
    return await start_node("a", db), await start_node("b", db)


async def subscriber(pubsub: str, topics: list[str], report: Pid) -> None:
    for topic in topics:
        subscribe(pubsub, topic)
    send(report, ("ready", self_pid()))
    while True:
        send(report, Got(self_pid(), await receive()))


async def spawn_subscriber(pubsub: str, *topics: str) -> Pid:
    me = self_pid()
    pid = spawn(subscriber, pubsub, list(topics), me)
    await receive(lambda m: m == ("ready", pid), timeout=1.0)
    return pid


async def collect(n: int, within: float = 5.0) -> list[Got]:
    """Exactly ``n`` reports, then none within ``QUIET``."""
    got = [await receive(lambda m: isinstance(m, Got), timeout=within) for _ in range(n)]
    with pytest.raises(TimeoutError):
        extra = await receive(lambda m: isinstance(m, Got), timeout=QUIET)
        pytest.fail(f"unexpected extra delivery {extra!r}")
    return got


def by_subscriber(got: list[Got]) -> dict[int, list[Any]]:
    seen: dict[int, list[Any]] = {}
    for g in got:
        seen.setdefault(g.subscriber.id, []).append(g.message)
    return seen


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what}")
        await asyncio.sleep(0.01)


async def fetchval(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


# -- delivery -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [Note(1, "hi"), {"n": 1, "tags": ["a", "b"], "ok": True, "none": None, "f": 1.5}],
    ids=["struct", "plain"],
)
async def test_broadcast_reaches_every_node_exactly_once(
    nodes: tuple[PgPubSubAdapter, PgPubSubAdapter], message: Any
) -> None:
    here = await spawn_subscriber("a", "t")
    there = [await spawn_subscriber("b", "t") for _ in range(2)]
    elsewhere = await spawn_subscriber("b", "other")

    broadcast("a", "t", message)
    got = await collect(3)  # no second copy on "a" from its own NOTIFY coming back
    assert by_subscriber(got) == {p.id: [message] for p in [here, *there]}
    assert elsewhere.id not in by_subscriber(got)
    assert all(type(g.message) is type(message) for g in got)

    broadcast("b", "t", message)  # and the other way round
    assert by_subscriber(await collect(3)) == {p.id: [message] for p in [here, *there]}
    a, b = nodes
    assert ((await status(a)).sent, (await status(a)).received) == (1, 1)
    assert ((await status(b)).sent, (await status(b)).received) == (1, 1)


async def test_local_broadcast_stays_local(nodes: tuple[PgPubSubAdapter, PgPubSubAdapter]) -> None:
    here = await spawn_subscriber("a", "t")
    there = await spawn_subscriber("b", "t")
    local_broadcast("a", "t", Note(1))
    broadcast("a", "t", Note(2))
    seen = by_subscriber(await collect(3))
    assert seen == {here.id: [Note(1), Note(2)], there.id: [Note(2)]}
    assert (await status(nodes[0])).sent == 1


async def test_broadcast_from_skips_the_sender_on_its_node_only(
    nodes: tuple[PgPubSubAdapter, PgPubSubAdapter], shell: Pid
) -> None:
    subscribe("a", "t")
    here = await spawn_subscriber("a", "t")
    there = await spawn_subscriber("b", "t")
    broadcast_from("a", shell, "t", Note(1))
    assert by_subscriber(await collect(2)) == {here.id: [Note(1)], there.id: [Note(1)]}
    with pytest.raises(TimeoutError):
        await receive(lambda m: isinstance(m, Note), timeout=QUIET)


async def test_one_publishers_order_holds_across_nodes(
    nodes: tuple[PgPubSubAdapter, PgPubSubAdapter],
) -> None:
    here = await spawn_subscriber("a", "seq")
    there = await spawn_subscriber("b", "seq")
    n = 1_000

    async def publisher() -> None:
        for i in range(n):
            broadcast("a", "seq", Note(i))

    spawn(publisher)
    seen = by_subscriber(await collect(2 * n))
    assert [m.n for m in seen[there.id]] == list(range(n))
    assert [m.n for m in seen[here.id]] == list(range(n))


# -- large payloads -----------------------------------------------------------------------------


async def test_a_large_payload_goes_by_reference_and_is_pruned(db: str, shell: Pid) -> None:
    a = await start_node("a", db, reference_ttl=0.5, prune_interval=0.1)
    b = await start_node("b", db)
    there = await spawn_subscriber("b", "t")
    big = Note(7, "x" * 50_000)
    broadcast("a", "t", big)
    [got] = await collect(1)
    assert got.subscriber == there
    assert got.message == big
    assert (await status(a)).sent_by_reference == 1
    assert (await status(b)).received == 1
    assert await fetchval(db, "SELECT count(*) FROM pubsub_payloads") == 1

    async def pruned() -> bool:
        return bool(await fetchval(db, "SELECT count(*) FROM pubsub_payloads") == 0)

    await until(pruned, timeout=5.0, what="the reference pruned after reference_ttl")


async def test_the_largest_inline_payload_fits_notify(db: str, shell: Pid) -> None:
    a = await start_node("a", db)
    await start_node("b", db)
    there = await spawn_subscriber("b", "t")
    codec = Codec([Note])

    def size(text_len: int) -> int:
        return len(codec.encode("a", 1, None, "t", Note(1, "y" * text_len)))

    largest = max(n for n in range(5_900, 6_000) if inline_notice(b"\0" * size(n)) is not None)
    notice = inline_notice(b"\0" * size(largest))
    assert notice is not None
    assert len(notice) <= MAX_NOTIFY_BYTES

    broadcast("a", "t", Note(1, "y" * largest))  # seq 1: the size computed above
    broadcast("a", "t", Note(2, "y" * (largest + 1)))
    got = await collect(2)
    assert [(g.subscriber, g.message.n, len(g.message.text)) for g in got] == [
        (there, 1, largest),
        (there, 2, largest + 1),
    ]
    assert (await status(a)).sent_by_reference == 1


# -- what may cross -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "says"),
    [
        (Unlisted(1), "Unlisted is not registered"),
        ((1, 2), "tuple"),
        ({1: "x"}, "str keys"),
        ({"a": [{1, 2}]}, "the message['a'][0] is a set"),
    ],
    ids=["struct", "tuple", "int-key", "nested-set"],
)
async def test_unsendable_messages_are_refused_at_publish_time(
    nodes: tuple[PgPubSubAdapter, PgPubSubAdapter], shell: Pid, message: Any, says: str
) -> None:
    subscribe("a", "t")
    with pytest.raises(UnregisteredMessage, match=re.escape(says)):
        broadcast("a", "t", message)
    with pytest.raises(TimeoutError):
        await receive(timeout=QUIET)  # a refused broadcast is not delivered locally either
    local_broadcast("a", "t", message)  # local delivery takes any value
    assert await receive(timeout=1.0) == message
    assert (await status(nodes[0])).sent == 0


async def test_a_node_drops_types_it_has_not_registered(
    db: str, shell: Pid, caplog: pytest.LogCaptureFixture
) -> None:
    a = await start_node("a", db)
    b = await start_node("b", db, types=[])
    there = await spawn_subscriber("b", "t")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        broadcast("a", "t", Note(1))
        broadcast("a", "t", {"plain": "json"})
        [got] = await collect(1)
    assert got == Got(there, {"plain": "json"})
    assert "Note on topic 't' from node a is not a registered type on this node" in caplog.text
    assert (await status(b)).rejected == 1
    assert (await status(a)).sent == 2


async def test_foreign_notifications_on_the_channel_are_logged_and_dropped(
    db: str, nodes: tuple[PgPubSubAdapter, PgPubSubAdapter], caplog: pytest.LogCaptureFixture
) -> None:
    there = await spawn_subscriber("b", "t")
    junk = ["hello", "M!!not base64!!", "MAAAA", "R" + "QUJD", "Mé"]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        await fetchval(
            db, "SELECT count(pg_notify($1, j)) FROM unnest($2::text[]) AS j", DEFAULT_CHANNEL, junk
        )
        broadcast("a", "t", Note(1))
        assert await collect(1) == [Got(there, Note(1))]
    assert (await status(nodes[1])).rejected == len(junk)
    assert caplog.text.count("dropped a notification") == 2 * len(junk)  # on both nodes


def test_the_wire_refuses_what_it_cannot_read() -> None:
    codec = Codec([Note])
    envelope = msgspec.msgpack.decode(codec.encode("x", 3, "<0.1.0>", "t", Note(1)), type=Envelope)
    assert (envelope.node, envelope.seq, envelope.sender, envelope.topic) == (
        "x",
        3,
        "<0.1.0>",
        "t",
    )
    assert codec.decode(envelope) == Note(1)
    forged = Envelope("x", 4, None, "t", "os.system", msgspec.Raw(b"\xa2ls"))
    with pytest.raises(Rejected, match=r"os\.system .* is not a registered type"):
        codec.decode(forged)
    wrong = Envelope("x", 5, None, "t", envelope.type, msgspec.Raw(b"\x01"))
    with pytest.raises(Rejected, match="does not decode as"):
        codec.decode(wrong)
    for text in ["", "X123", "M%%%", "R" + "A" * 7]:
        with pytest.raises(Rejected):
            parse_notice(text)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"channel": "Bad-Name"}, "not a usable pubsub channel"),
        ({"types": [Note, Note]}, "registered twice"),
        ({"types": [dict]}, "only register msgspec.Struct"),
        ({"max_buffer": 0}, "max_buffer"),
        ({"backoff": (1.0, 0.5)}, "backoff"),
        ({"timeout": 0}, "positive"),
    ],
)
def test_bad_configuration_is_refused(options: dict[str, Any], says: str) -> None:
    with pytest.raises(PgPubSubError, match=says):
        PgPubSubAdapter("postgresql://nowhere/db", **options)


# -- failures -----------------------------------------------------------------------------------


async def test_postgres_restart_reconnects_and_sends_what_was_buffered(
    db: str, pg_cluster: PgCluster, shell: Pid
) -> None:
    gate = Gate(db)  # holds "a" back after the restart until "b" listens again
    a = await start_node("a", gate)
    b = await start_node("b", db)
    here = await spawn_subscriber("a", "t")
    there = await spawn_subscriber("b", "t")
    broadcast("a", "t", Note(0))
    assert len(await collect(2)) == 2

    async def both_disconnected() -> bool:
        return not (await status(a)).connected and not (await status(b)).connected

    try:
        gate.open = False
        await asyncio.to_thread(pg_cluster.stop)
        await until(both_disconnected, what="both bridges saw PostgreSQL go")
        for i in range(1, 4):
            broadcast("a", "t", Note(i))  # queued in the bridge meanwhile
        assert (await status(a)).buffered == 3
        assert [g.message for g in await collect(3)] == [Note(1), Note(2), Note(3)]  # local
    finally:
        if pg_cluster.pg_ctl("status", check=False).returncode != 0:
            await asyncio.to_thread(pg_cluster.start)  # the cluster is shared: always restart
    await wait_connected(b, timeout=10.0)
    gate.open = True
    await wait_connected(a, timeout=10.0)
    seen = by_subscriber(await collect(3))
    assert seen == {there.id: [Note(1), Note(2), Note(3)]}

    broadcast("a", "t", Note(4))
    broadcast("b", "t", Note(5))  # another publisher: no order between the two
    seen = by_subscriber(await collect(4))
    assert {k: sorted(v, key=lambda m: m.n) for k, v in seen.items()} == {
        here.id: [Note(4), Note(5)],
        there.id: [Note(4), Note(5)],
    }
    after = await status(a)
    assert (after.reconnects, after.buffered, after.dropped, after.sent) == (1, 0, 0, 5)
    assert (await status(b)).reconnects == 1


async def test_a_full_buffer_drops_the_oldest_with_a_warning(
    db: str, shell: Pid, caplog: pytest.LogCaptureFixture
) -> None:
    await start_node("b", db)
    there = await spawn_subscriber("b", "t")
    gate = Gate(db)
    gate.open = False
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        a = await start_node("a", gate, connect=False, max_buffer=3)
        for i in range(5):
            broadcast("a", "t", Note(i))
        before = await status(a)
        gate.open = True
        await wait_connected(a)
        seen = by_subscriber(await collect(3))
    assert (before.connected, before.buffered, before.dropped) == (False, 3, 2)
    assert seen == {there.id: [Note(2), Note(3), Note(4)]}
    assert "cannot reach PostgreSQL" in caplog.text
    assert "dropping the oldest" in caplog.text
    assert "dropped 2 broadcasts while PostgreSQL was away" in caplog.text


async def test_without_the_migration_large_payloads_fail_clearly_and_small_ones_go_on(
    database_url: str, shell: Pid, caplog: pytest.LogCaptureFixture
) -> None:
    a = await start_node("a", database_url)
    await start_node("b", database_url)
    there = await spawn_subscriber("b", "t")
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        broadcast("a", "t", Note(1, "x" * 50_000))
        broadcast("a", "t", Note(2))
        assert await collect(1) == [Got(there, Note(2))]
    assert 'relation "pubsub_payloads" does not exist (are the migrations applied?)' in caplog.text
    after = await status(a)
    assert (after.connected, after.sent, after.dropped) == (True, 1, 1)


async def test_a_crashed_bridge_is_restarted_and_local_delivery_goes_on(
    db: str, shell: Pid
) -> None:
    await start_node("b", db)
    a = PgPubSubAdapter(db, types=[Note], node_id="a", **FAST)
    assert isinstance(await PubSub.start_link(name="a", adapter=a), Ok)
    assert isinstance(await start_supervisor([PgPubSubBridge.child_spec(a)]), Ok)
    await wait_connected(a)
    here = await spawn_subscriber("a", "t")
    there = await spawn_subscriber("b", "t")
    crashed = a.bridge
    assert crashed is not None

    exit(crashed, RuntimeError("bridge crashed"))
    assert a.bridge is None
    broadcast("a", "t", Note(1))  # before the supervisor restarts it: local only, counted
    assert by_subscriber(await collect(1)) == {here.id: [Note(1)]}

    await eventually(lambda: a.bridge not in (None, crashed), what="bridge restarted")
    await wait_connected(a)
    broadcast("a", "t", Note(2))
    assert by_subscriber(await collect(2)) == {here.id: [Note(2)], there.id: [Note(2)]}
    assert (await status(a)).dropped == 1

    async def one_session_per_node() -> bool:
        sessions = await fetchval(
            db,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            "soundforge pubsub a",
        )
        return bool(sessions == 1)

    await until(one_session_per_node, what="the crashed bridge's session closed")


async def test_one_bridge_per_adapter_and_its_status(
    nodes: tuple[PgPubSubAdapter, PgPubSubAdapter],
) -> None:
    a, _ = nodes
    running = a.bridge
    assert await PgPubSubBridge.start(a) == Error(AlreadyStarted(running))
    broadcast("a", "t", Note(1))
    await until(lambda: _sent(a), what="sent")
    assert running is not None
    info = describe(running)
    assert info is not None
    assert info.summary == (
        f"connected on {DEFAULT_CHANNEL} as a, buffer 0/10000, sent 1 (0 by reference), "
        f"received 0, dropped 0, rejected 0, reconnects 0"
    )


def test_the_public_names_are_pinned() -> None:
    assert sorted(pg_pubsub.__all__) == sorted(
        """
        DEFAULT_CHANNEL BridgeStatus PgPubSubAdapter PgPubSubBridge PgPubSubError
        UnregisteredMessage status wait_connected
        """.split()
    )
    assert all(hasattr(pg_pubsub, name) for name in pg_pubsub.__all__)


async def _sent(adapter: PgPubSubAdapter) -> bool:
    return (await status(adapter)).sent == 1
