"""PubSub: subscriptions, the four broadcasts, ordering, cleanup, and a two-node adapter."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from soundforge.runtime.errors import NotInProcess
from soundforge.runtime.exit import KILL, KILLED
from soundforge.runtime.node import Node
from soundforge.runtime.process import (
    Down,
    Exit,
    Pid,
    exit,
    is_alive,
    monitor,
    receive,
    self_pid,
    send,
    spawn,
    trap_exit,
)
from soundforge.runtime.pubsub import (
    Deliver,
    PubSub,
    UnknownPubSub,
    broadcast,
    broadcast_from,
    local_broadcast,
    local_broadcast_from,
    subscribe,
    subscribers,
    unsubscribe,
)
from soundforge.runtime.registry import Keys, Registry, RegistryError, count
from soundforge.runtime.results import Ok
from tests.helpers import eventually, settle

QUIET = 0.05  # how long "nothing else arrives" is watched for


class Got(msgspec.Struct, frozen=True):
    """What a test subscriber reports: who received which message."""

    subscriber: Pid
    message: Any


class Forward(msgspec.Struct, frozen=True):
    """One message crossing the test bridge."""

    topic: str
    message: Any


class LoopbackAdapter:
    """Two pubsubs "on two nodes": each side's broadcasts go to the other side's forwarder.

    The forwarder is one process per side that receives ``Forward`` messages in order and
    hands them to the bound ``deliver`` - the shape a PostgreSQL bridge has.
    """

    def __init__(self) -> None:
        self.deliver: Deliver | None = None
        self.peer: LoopbackAdapter | None = None
        self.forwarder: Pid | None = None
        self.sent: list[tuple[str, Any, Pid | None]] = []

    def bind(self, deliver: Deliver) -> None:
        self.deliver = deliver

    def broadcast(self, topic: str, message: Any, exclude: Pid | None) -> None:
        self.sent.append((topic, message, exclude))
        peer = self.peer
        if peer is not None and peer.forwarder is not None:
            send(peer.forwarder, Forward(topic, message))  # queue it; never block

    async def forward(self) -> None:
        while True:
            msg = await receive()
            if self.deliver is not None:
                self.deliver(msg.topic, msg.message)

    @staticmethod
    def pair() -> tuple[LoopbackAdapter, LoopbackAdapter]:
        a, b = LoopbackAdapter(), LoopbackAdapter()
        a.peer, b.peer = b, a
        a.forwarder = spawn(a.forward)
        b.forwarder = spawn(b.forward)
        return a, b


async def start_pubsub(name: str = "ps", adapter: Any = None) -> Pid:
    result = await PubSub.start_link(name=name, adapter=adapter)
    assert isinstance(result, Ok), result
    pid: Pid = result.pid
    return pid


async def subscriber(pubsub: str, topics: list[str], report: Pid) -> None:
    """Subscribe to ``topics``, say so, then report every message received."""
    for topic in topics:
        subscribe(pubsub, topic)
    send(report, ("ready", self_pid()))
    while True:
        send(report, Got(self_pid(), await receive()))


async def spawn_subscriber(pubsub: str, topics: list[str]) -> Pid:
    me = self_pid()
    pid = spawn(subscriber, pubsub, topics, me)
    await receive(lambda m: m == ("ready", pid), timeout=1.0)
    return pid


async def collect(n: int, within: float = 2.0) -> list[Got]:
    """Receive exactly ``n`` reports, then check that no further report arrives."""
    got = [await receive(lambda m: isinstance(m, Got), timeout=within) for _ in range(n)]
    with pytest.raises(TimeoutError):
        extra = await receive(lambda m: isinstance(m, Got), timeout=QUIET)
        pytest.fail(f"unexpected extra delivery {extra!r}")
    return got


# -- subscriptions ------------------------------------------------------------------------------


async def test_subscribe_and_unsubscribe(shell: Pid) -> None:
    ps = await start_pubsub()
    subscribe("ps", "track:1")
    assert subscribers("ps", "track:1") == [shell]
    broadcast("ps", "track:1", "hello")
    assert await receive(timeout=1.0) == "hello"
    unsubscribe("ps", "track:1")
    unsubscribe("ps", "track:1")  # not subscribed: a no-op
    unsubscribe("ps", "never")
    assert subscribers("ps", "track:1") == []
    broadcast("ps", "track:1", "lost")
    with pytest.raises(TimeoutError):
        await receive(timeout=QUIET)
    assert is_alive(ps)


async def test_subscribing_twice_delivers_twice_and_unsubscribe_drops_both(shell: Pid) -> None:
    await start_pubsub()
    subscribe("ps", "t")
    subscribe("ps", "t")
    assert subscribers("ps", "t") == [shell, shell]
    broadcast("ps", "t", "m")
    assert [await receive(timeout=1.0) for _ in range(2)] == ["m", "m"]
    unsubscribe("ps", "t")
    broadcast("ps", "t", "m")
    with pytest.raises(TimeoutError):
        await receive(timeout=QUIET)


async def test_subscribe_needs_a_process_and_a_pubsub(node: Node) -> None:
    await PubSub.start(name="ps")
    with pytest.raises(NotInProcess):
        subscribe("ps", "t")
    await Registry.start(keys=Keys.DUPLICATE, name="plain_registry")
    for name in ("nope", "plain_registry"):
        with pytest.raises(UnknownPubSub, match="no pubsub is running"):
            broadcast(name, "t", "m")


async def test_pubsub_name_taken_and_bad_adapter(shell: Pid) -> None:
    await start_pubsub()
    assert not isinstance(await PubSub.start_link(name="ps"), Ok)
    with pytest.raises(RegistryError, match="not a pubsub adapter"):
        await PubSub.start_link(name="other", adapter=object())  # type: ignore[arg-type]


async def test_child_spec_starts_a_pubsub_bound_to_its_adapter(shell: Pid) -> None:
    adapter = LoopbackAdapter()
    spec = PubSub.child_spec({"name": "ps", "adapter": adapter})
    assert spec.id == "ps"
    assert isinstance(await spec.start(*spec.args), Ok)
    assert adapter.deliver is not None
    subscribe("ps", "t")
    adapter.deliver("t", "from another node")
    assert await receive(timeout=1.0) == "from another node"


# -- broadcast ------------------------------------------------------------------------------------


BROADCASTS = [
    # (how to publish, does the adapter see it, does the publisher itself receive it)
    pytest.param(lambda me: broadcast("ps", "a", "msg"), True, True, id="broadcast"),
    pytest.param(lambda me: broadcast_from("ps", me, "a", "msg"), True, False, id="from"),
    pytest.param(lambda me: local_broadcast("ps", "a", "msg"), False, True, id="local"),
    pytest.param(
        lambda me: local_broadcast_from("ps", me, "a", "msg"), False, False, id="local_from"
    ),
]


@pytest.mark.parametrize(("publish", "remote", "to_self"), BROADCASTS)
async def test_broadcast_reaches_the_topic_only(
    shell: Pid, publish: Any, remote: bool, to_self: bool
) -> None:
    adapter = LoopbackAdapter()
    await start_pubsub(adapter=adapter)
    on_a = [await spawn_subscriber("ps", ["a"]) for _ in range(3)]
    both = await spawn_subscriber("ps", ["a", "b"])
    on_b = await spawn_subscriber("ps", ["b"])
    subscribe("ps", "a")  # the publisher itself
    publish(shell)
    got = await collect(4)
    assert sorted(g.subscriber.id for g in got) == sorted(p.id for p in [*on_a, both])
    assert all(g.message == "msg" for g in got)
    assert on_b not in {g.subscriber for g in got}
    if to_self:
        assert await receive(lambda m: m == "msg", timeout=1.0) == "msg"
    else:
        with pytest.raises(TimeoutError):
            await receive(lambda m: m == "msg", timeout=QUIET)
    assert adapter.sent == ([("a", "msg", None if to_self else shell)] if remote else [])


@pytest.mark.parametrize("publishers", [1, 3])
async def test_per_publisher_order_holds(shell: Pid, publishers: int) -> None:
    await start_pubsub()
    subs = [await spawn_subscriber("ps", ["seq"]) for _ in range(2)]
    per_publisher = 500

    async def publisher(tag: int) -> None:
        for i in range(per_publisher):
            broadcast("ps", "seq", (tag, i))

    for tag in range(publishers):
        spawn(publisher, tag)
    got = await collect(len(subs) * publishers * per_publisher)
    for sub in subs:
        for tag in range(publishers):
            seen = [g.message[1] for g in got if g.subscriber is sub and g.message[0] == tag]
            assert seen == list(range(per_publisher)), f"publisher {tag} reordered at {sub!r}"


@pytest.mark.parametrize("how", ["kill", "crash", "normal"])
async def test_dead_subscribers_are_removed(shell: Pid, how: str) -> None:
    ps = await start_pubsub()
    keep = await spawn_subscriber("ps", ["t"])

    async def short_lived() -> None:
        subscribe("ps", "t")
        subscribe("ps", "other")
        send(shell, "subscribed")
        await receive()
        if how == "crash":
            raise RuntimeError("subscriber crashed")

    gone = spawn(short_lived)
    await receive(lambda m: m == "subscribed", timeout=1.0)
    ref = monitor(gone)
    if how == "kill":
        exit(gone, KILL)
    else:
        send(gone, "go")
    await receive(lambda m: isinstance(m, Down) and m.ref is ref, timeout=1.0)
    await eventually(lambda: subscribers("ps", "t") == [keep], what="dead subscriber removed")
    assert subscribers("ps", "other") == []
    assert count("ps") == 1
    broadcast("ps", "t", "still works")
    assert [g.subscriber for g in await collect(1)] == [keep]
    await settle()
    assert is_alive(ps), "a subscriber's crash must not take the pubsub down"


async def test_pubsub_death_takes_linked_subscribers_with_it(shell: Pid) -> None:
    trap_exit(True)
    adapter = LoopbackAdapter()
    ps = await start_pubsub(adapter=adapter)
    sub = await spawn_subscriber("ps", ["t"])
    ref = monitor(sub)
    exit(ps, KILL)
    down = await receive(lambda m: isinstance(m, Down) and m.ref is ref, timeout=1.0)
    assert down.reason is KILLED
    assert await receive(lambda m: isinstance(m, Exit), timeout=1.0) == Exit(ps, KILLED)
    assert adapter.deliver is not None
    adapter.deliver("t", "late")  # the bound callback outlives the pubsub harmlessly
    with pytest.raises(UnknownPubSub):
        broadcast("ps", "t", "m")


# -- the adapter: two nodes ----------------------------------------------------------------------


async def test_remote_broadcasts_reach_the_other_node(shell: Pid) -> None:
    left, right = LoopbackAdapter.pair()
    await start_pubsub("left", left)
    await start_pubsub("right", right)
    here = await spawn_subscriber("left", ["t"])
    there = [await spawn_subscriber("right", ["t"]) for _ in range(2)]
    elsewhere = await spawn_subscriber("right", ["other"])

    broadcast("left", "t", "both nodes")
    got = await collect(3)
    assert sorted(g.subscriber.id for g in got) == sorted(p.id for p in [here, *there])
    assert elsewhere not in {g.subscriber for g in got}

    local_broadcast("left", "t", "left only")
    assert [g.subscriber for g in await collect(1)] == [here]

    broadcast_from("right", there[0], "t", "from right")
    got = await collect(2)  # remote nodes ignore the exclusion: the pid is not theirs
    assert sorted(g.subscriber.id for g in got) == sorted([here.id, there[1].id])
    assert right.sent[-1] == ("t", "from right", there[0])


async def test_remote_per_publisher_order(shell: Pid) -> None:
    left, right = LoopbackAdapter.pair()
    await start_pubsub("left", left)
    await start_pubsub("right", right)
    sub = await spawn_subscriber("right", ["seq"])
    n = 1_000

    async def publisher() -> None:
        for i in range(n):
            broadcast("left", "seq", i)

    spawn(publisher)
    got = await collect(n)
    assert [g.message for g in got if g.subscriber is sub] == list(range(n))


async def test_a_failing_adapter_fails_the_broadcast_before_local_delivery(shell: Pid) -> None:
    class BridgeDown(Exception):
        pass

    class Failing(LoopbackAdapter):
        def broadcast(self, topic: str, message: Any, exclude: Pid | None) -> None:
            raise BridgeDown("bridge is down")

    await start_pubsub(adapter=Failing())
    subscribe("ps", "t")
    with pytest.raises(BridgeDown):
        broadcast("ps", "t", "m")
    with pytest.raises(TimeoutError):
        await receive(timeout=QUIET)
    local_broadcast("ps", "t", "local still works")
    assert await receive(timeout=1.0) == "local still works"


async def test_fan_out_to_many_subscribers(shell: Pid) -> None:
    await start_pubsub()
    subs = [await spawn_subscriber("ps", ["wide"]) for _ in range(2_000)]
    broadcast("ps", "wide", "m")
    got = await collect(len(subs))
    assert {g.subscriber.id for g in got} == {p.id for p in subs}
    for pid in subs[::2]:
        exit(pid, KILL)
    assert len(subscribers("ps", "wide")) == len(subs) // 2
