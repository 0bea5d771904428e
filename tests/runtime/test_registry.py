"""Registry: unique and duplicate keys, via names, listeners, links, cleanup (S53-S55)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from soundforge.runtime.errors import InvalidSpec, NoProc, NotInProcess
from soundforge.runtime.exit import KILL, KILLED, NORMAL, SHUTDOWN, ProcessExit
from soundforge.runtime.gen_server import (
    GenServer,
    Init,
    NoReply,
    Reply,
    Stop,
    call,
    cast,
    stop,
    whereis,
)
from soundforge.runtime.node import Node
from soundforge.runtime.process import (
    Down,
    Exit,
    From,
    Pid,
    Process,
    exit,
    is_alive,
    monitor,
    receive,
    self_pid,
    send,
    spawn,
    trap_exit,
)
from soundforge.runtime.registry import (
    Keys,
    KeyTaken,
    Registry,
    RegistryError,
    RegistryRegister,
    RegistryUnregister,
    UnknownRegistry,
    Via,
    count,
    dispatch,
    keys,
    lookup,
    match,
    register,
    select,
    unregister,
    update_value,
    values,
)
from soundforge.runtime.results import IGNORE, AlreadyStarted, Error, Ok
from tests.helpers import eventually, settle


def proc_of(pid: Pid) -> Process:
    proc = pid._proc
    assert proc is not None, f"{pid!r} is not alive"
    return proc


def linked(a: Pid, b: Pid) -> bool:
    links = proc_of(a).links
    return links is not None and proc_of(b) in links


async def start_registry(keys_: Keys, name: str = "reg", **kwargs: Any) -> Pid:
    result = await Registry.start_link(keys=keys_, name=name, **kwargs)
    assert isinstance(result, Ok), result
    pid: Pid = result.pid
    return pid


async def holder(registry: str, entries: list[tuple[Any, Any]], report: Pid) -> None:
    """A process that registers ``entries``, reports each result, then obeys commands."""
    for key, value in entries:
        send(report, ("registered", self_pid(), key, register(registry, key, value)))
    while True:
        msg = await receive()
        match msg:
            case ("unregister", key):
                unregister(registry, key)
                send(report, ("unregistered", self_pid(), key))
            case ("register", key, value):
                send(report, ("registered", self_pid(), key, register(registry, key, value)))
            case ("crash", reason):
                raise ProcessExit(reason)
            case "stop":
                return


async def spawn_holder(registry: str, entries: list[tuple[Any, Any]]) -> Pid:
    me = self_pid()
    pid = spawn(holder, registry, entries, me)
    for _ in entries:
        msg = await receive(lambda m: m[0] == "registered" and m[1] is pid, timeout=1.0)
        assert isinstance(msg[3], Ok), msg
    return pid


# -- basics, both kinds ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Keys))
async def test_register_lookup_keys_values_count(shell: Pid, kind: Keys) -> None:
    reg = await start_registry(kind)
    assert register("reg", "hello", 1) == Ok(reg)
    assert register("reg", "world", 2) == Ok(reg)
    assert lookup("reg", "hello") == [(shell, 1)]
    assert lookup("reg", "nothing") == []
    assert keys("reg", shell) == ["hello", "world"]
    assert values("reg", "world", shell) == [2]
    assert count("reg") == 2
    unregister("reg", "hello")
    unregister("reg", "never-registered")  # always succeeds
    assert lookup("reg", "hello") == []
    assert count("reg") == 1


async def test_registry_functions_need_a_running_registry(shell: Pid) -> None:
    with pytest.raises(UnknownRegistry, match="no registry is running as 'nope'"):
        lookup("nope", "k")
    with pytest.raises(UnknownRegistry):
        register("nope", "k")


async def test_register_outside_a_process_raises(node: Node) -> None:
    await Registry.start(keys=Keys.UNIQUE, name="reg")
    with pytest.raises(NotInProcess, match="calling process"):
        register("reg", "k")
    assert lookup("reg", "k") == []


async def test_registry_name_taken_returns_already_started(shell: Pid) -> None:
    reg = await start_registry(Keys.UNIQUE)
    assert await Registry.start_link(keys=Keys.DUPLICATE, name="reg") == Error(AlreadyStarted(reg))


@pytest.mark.parametrize("bad", [None, Via("other", "k")])
async def test_registry_needs_a_local_name(shell: Pid, bad: Any) -> None:
    with pytest.raises(RegistryError, match="local name"):
        await Registry.start_link(keys=Keys.UNIQUE, name=bad)


async def test_child_spec_starts_the_registry_with_its_name_as_id(shell: Pid) -> None:
    spec = Registry.child_spec({"keys": Keys.DUPLICATE, "name": "reg"})
    assert spec.id == "reg"
    result = await spec.start(*spec.args)
    assert isinstance(result, Ok)
    assert whereis("reg") == result.pid
    with pytest.raises(InvalidSpec, match="mapping"):
        Registry.child_spec(None)


# -- S53: unique keys -------------------------------------------------------------------------


async def test_s53_unique_key_conflict_returns_owner_for_anyone(shell: Pid) -> None:
    await start_registry(Keys.UNIQUE)
    p = await spawn_holder("reg", [("hello", "p")])
    # the owner itself, again
    send(p, ("register", "hello", "again"))
    msg = await receive(lambda m: m[0] == "registered", timeout=1.0)
    assert msg[3] == Error(KeyTaken(p))
    # another process
    assert register("reg", "hello", "shell") == Error(KeyTaken(p))
    assert lookup("reg", "hello") == [(p, "p")]


@pytest.mark.parametrize("how", ["kill", "crash", "normal"])
async def test_s53_key_disappears_when_owner_dies(shell: Pid, how: str) -> None:
    reg = await start_registry(Keys.UNIQUE)
    p = await spawn_holder("reg", [("hello", "p"), ("other", "q")])
    ref = monitor(p)
    if how == "kill":
        exit(p, KILL)
    elif how == "crash":
        send(p, ("crash", "boom"))
    else:
        send(p, "stop")
    await receive(lambda m: isinstance(m, Down) and m.ref is ref, timeout=1.0)
    # Elixir only promises "eventually"; ours is already done when the Down arrives.
    await eventually(lambda: lookup("reg", "hello") == [], what="key released")
    assert count("reg") == 0
    assert keys("reg", p) == []
    assert register("reg", "hello", "mine") == Ok(reg)
    await settle()
    assert is_alive(reg), "a registrant's death must not take the registry down"


class Named(GenServer[Any]):
    """A server that answers ``whoami`` and can be told how its init goes."""

    def init(self, arg: Any) -> Any:
        if arg == "raise":
            raise RuntimeError("init failed")
        if arg == "stop":
            return Stop("bad_config")
        if arg == "ignore":
            return IGNORE
        if arg == "error":
            return Error("no_device")
        return Init(arg)

    def handle_call(self, request: Any, from_: From, state: Any) -> Any:
        return Reply((self_pid(), state), state)

    def handle_cast(self, msg: Any, state: Any) -> Any:
        send(msg, ("cast", state))
        return NoReply(state)


class AsyncNamed(Named):
    async def init(self, arg: Any) -> Any:
        return Named.init(self, arg)


@pytest.mark.parametrize("server", [Named, AsyncNamed], ids=["sync_init", "async_init"])
async def test_s53_via_start_registers_the_new_process(shell: Pid, server: type[Named]) -> None:
    await start_registry(Keys.UNIQUE, listeners=[shell])
    name = Via("reg", ("mixer", 1), "meta")
    started = await server.start_link("state", name=name)
    assert isinstance(started, Ok)
    pid = started.pid
    assert lookup("reg", ("mixer", 1)) == [(pid, "meta")]
    assert keys("reg", pid) == [("mixer", 1)]
    assert keys("reg", shell) == [], "the registration belongs to the server, not the caller"
    assert await receive(timeout=1.0) == RegistryRegister("reg", ("mixer", 1), pid, "meta")
    # call, cast and whereis through the via name
    assert await call(Via("reg", ("mixer", 1)), "whoami") == (pid, "state")
    cast(Via("reg", ("mixer", 1)), shell)
    assert await receive(timeout=1.0) == ("cast", "state")
    assert whereis(Via("reg", ("mixer", 1))) == pid
    # a taken key: the start returns the owner
    assert await server.start_link("other", name=name) == Error(AlreadyStarted(pid))
    # the name is released when the server dies
    await stop(name)
    assert lookup("reg", ("mixer", 1)) == []
    with pytest.raises(NoProc):
        await call(Via("reg", ("mixer", 1)), "whoami")
    again = await server.start_link("second", name=name)
    assert isinstance(again, Ok)
    assert await call(name, "whoami") == (again.pid, "second")


@pytest.mark.parametrize("server", [Named, AsyncNamed], ids=["sync_init", "async_init"])
@pytest.mark.parametrize("failure", ["raise", "stop", "ignore", "error"])
async def test_s53_a_failed_init_does_not_keep_the_via_name(
    shell: Pid, server: type[Named], failure: str
) -> None:
    trap_exit(True)  # the linked caller would otherwise die with an abnormal init reason
    await start_registry(Keys.UNIQUE)
    name = Via("reg", "dev")
    result = await server.start_link(failure, name=name)
    assert not isinstance(result, Ok)
    await eventually(lambda: lookup("reg", "dev") == [], what="name released after failed init")
    assert count("reg") == 0
    ok = await server.start_link("fine", name=name)
    assert isinstance(ok, Ok)
    assert lookup("reg", "dev") == [(ok.pid, None)]


async def test_via_needs_a_unique_registry(shell: Pid, node: Node) -> None:
    await start_registry(Keys.DUPLICATE, name="dup")
    before = set(node.processes)
    with pytest.raises(RegistryError, match="unique registry"):
        await Named.start_link("x", name=Via("dup", "k"))
    with pytest.raises(RegistryError, match="unique registry"):
        whereis(Via("dup", "k"))
    with pytest.raises(UnknownRegistry):
        await Named.start_link("x", name=Via("missing", "k"))
    assert set(node.processes) == before, "a refused via name must not leave a process behind"


async def test_via_send_reaches_the_owner(shell: Pid) -> None:
    await start_registry(Keys.UNIQUE)
    register("reg", "me")
    Via("reg", "me").send("hi")
    Via("reg", "nobody").send("lost")  # dropped, like send to a dead pid
    assert await receive(timeout=1.0) == "hi"


async def test_update_value_only_for_the_owner(shell: Pid) -> None:
    await start_registry(Keys.UNIQUE)
    register("reg", "counter", 1)
    assert update_value("reg", "counter", lambda v: v + 1) == (2, 1)
    assert lookup("reg", "counter") == [(shell, 2)]
    assert update_value("reg", "missing", lambda v: v) is None
    other = await spawn_holder("reg", [("theirs", 10)])
    assert update_value("reg", "theirs", lambda v: v + 1) is None
    assert lookup("reg", "theirs") == [(other, 10)]


async def test_update_value_is_refused_by_duplicate_registries(shell: Pid) -> None:
    await start_registry(Keys.DUPLICATE)
    register("reg", "k", 1)
    with pytest.raises(RegistryError, match="unique registry"):
        update_value("reg", "k", lambda v: v)


# -- S54: duplicate keys and dispatch ----------------------------------------------------------


async def test_s54_dispatch_reaches_exactly_the_registered_values(shell: Pid) -> None:
    await start_registry(Keys.DUPLICATE)
    assert isinstance(register("reg", "hello", "v1"), Ok)
    assert isinstance(register("reg", "hello", "v2"), Ok)
    assert isinstance(register("reg", "world", "v3"), Ok)
    seen: list[list[tuple[Pid, Any]]] = []
    dispatch("reg", "hello", seen.append)
    dispatch("reg", "world", seen.append)
    dispatch("reg", "nobody", seen.append)  # not called at all
    assert [sorted(v for _, v in entries) for entries in seen] == [["v1", "v2"], ["v3"]]
    assert all(pid is shell for entries in seen for pid, _ in entries)
    assert keys("reg", shell) == ["hello", "hello", "world"]
    assert values("reg", "hello", shell) == ["v1", "v2"]
    unregister("reg", "hello")
    assert lookup("reg", "hello") == []
    assert keys("reg", shell) == ["world"]
    assert count("reg") == 1


async def test_duplicate_key_shared_by_processes(shell: Pid) -> None:
    await start_registry(Keys.DUPLICATE)
    a = await spawn_holder("reg", [("topic", "a")])
    b = await spawn_holder("reg", [("topic", "b"), ("topic", "b2")])
    register("reg", "topic", "shell")
    assert sorted(v for _, v in lookup("reg", "topic")) == ["a", "b", "b2", "shell"]
    exit(b, KILL)
    assert sorted(lookup("reg", "topic"), key=lambda e: e[1]) == [(a, "a"), (shell, "shell")]
    assert count("reg") == 2


@pytest.mark.parametrize("kind", list(Keys))
async def test_match_and_select(shell: Pid, kind: Keys) -> None:
    await start_registry(kind)
    register("reg", "a", {"role": "dj"})
    register("reg", "b", {"role": "producer"})
    assert match("reg", "a", lambda v: v["role"] == "dj") == [(shell, {"role": "dj"})]
    assert match("reg", "a", lambda v: v["role"] == "producer") == []
    assert select("reg") == [("a", shell, {"role": "dj"}), ("b", shell, {"role": "producer"})]
    assert select("reg", lambda k, pid, v: v["role"] == "producer") == [
        ("b", shell, {"role": "producer"})
    ]


# -- S55: listeners and links ------------------------------------------------------------------


async def test_s55_listeners_get_explicit_events_only(shell: Pid) -> None:
    await start_registry(Keys.UNIQUE, listeners=["listener"])
    events: list[Any] = []

    async def listener() -> None:
        while True:
            events.append(await receive())

    spawn(listener, name="listener")
    p = await spawn_holder("reg", [("a", 1)])
    send(p, ("unregister", "a"))
    await receive(lambda m: m[0] == "unregistered", timeout=1.0)
    send(p, ("register", "b", 2))
    await receive(lambda m: m[0] == "registered", timeout=1.0)
    assert register("reg", "b", 3) == Error(KeyTaken(p))  # a refused registration: no event
    exit(p, KILL)  # a crash: no event; listeners must monitor
    await settle()
    assert events == [
        RegistryRegister("reg", "a", p, 1),
        RegistryUnregister("reg", "a", p),
        RegistryRegister("reg", "b", p, 2),
    ]


async def test_s55_registrant_is_linked_until_its_last_key_is_gone(shell: Pid) -> None:
    reg = await start_registry(Keys.DUPLICATE)
    p = spawn(holder, "reg", [], shell)
    assert not linked(p, reg)
    for key in ("a", "a", "b"):
        send(p, ("register", key, None))
        assert isinstance((await receive(timeout=1.0))[3], Ok)
        assert linked(p, reg)
    send(p, ("unregister", "a"))
    await receive(timeout=1.0)
    assert linked(p, reg), "still holds 'b'"
    send(p, ("unregister", "b"))
    await receive(timeout=1.0)
    assert not linked(p, reg), "unlinked after the last key"
    # unlinked for real: the registry's death no longer reaches it
    trap_exit(True)
    exit(reg, KILL)
    await receive(lambda m: isinstance(m, Exit) and m.pid is reg, timeout=1.0)
    assert is_alive(p)


async def test_a_process_linked_before_registering_stays_linked(shell: Pid) -> None:
    reg = await start_registry(Keys.UNIQUE)  # the shell started it: linked as its parent
    register("reg", "k")
    unregister("reg", "k")
    assert linked(shell, reg), "unregister must not cut the start_link link"


async def test_register_unregister_cycles_keep_one_exit_hook(shell: Pid) -> None:
    await start_registry(Keys.DUPLICATE)
    for _ in range(100):
        register("reg", "topic")
        unregister("reg", "topic")
    assert len(proc_of(shell).exit_hooks or []) == 1


@pytest.mark.parametrize(
    ("signal", "reason"),
    [(KILL, KILLED), (SHUTDOWN, SHUTDOWN), ("boom", "boom"), (NORMAL, NORMAL)],
    ids=["kill", "shutdown", "abnormal", "normal"],
)
async def test_registry_death_takes_its_table_and_linked_registrants(
    shell: Pid, signal: Any, reason: Any
) -> None:
    trap_exit(True)
    reg = await start_registry(Keys.UNIQUE)
    plain = await spawn_holder("reg", [("plain", None)])

    async def trapping_holder() -> None:
        trap_exit(True)
        register("reg", "trapping")
        send(shell, ("trapping", await receive(timeout=2.0)))

    spawn(trapping_holder)
    await eventually(lambda: count("reg") == 2)
    plain_ref = monitor(plain)
    # From the parent, any signal (even one the trapping registry would ignore) stops it.
    exit(reg, signal)
    assert await receive(lambda m: isinstance(m, Exit) and m.pid is reg, timeout=1.0) == Exit(
        reg, reason
    )
    with pytest.raises(UnknownRegistry):
        lookup("reg", "plain")
    assert await receive(lambda m: isinstance(m, tuple) and m[0] == "trapping", timeout=1.0) == (
        "trapping",
        Exit(reg, reason),
    )
    if reason is NORMAL:
        assert is_alive(plain), "a normal exit signal does not kill a linked process"
    else:
        down = await receive(lambda m: isinstance(m, Down) and m.ref is plain_ref, timeout=1.0)
        assert down.reason == reason
    # a new registry under the same name starts empty
    await start_registry(Keys.UNIQUE)
    assert count("reg") == 0


async def test_registry_ignores_exit_messages_from_others(shell: Pid) -> None:
    reg = await start_registry(Keys.UNIQUE)
    other = await spawn_holder("reg", [("k", None)])
    send(reg, Exit(other, "boom"))  # not from its parent: just a message
    await settle()
    assert is_alive(reg)


# -- scale ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Keys))
async def test_100k_registrations_and_cleanup(shell: Pid, kind: Keys) -> None:
    await start_registry(kind)
    processes, per_process = 1_000, 100

    async def registrant(i: int) -> None:
        for j in range(per_process):
            # unique: distinct keys; duplicate: 1,000 processes share each of 100 keys
            register("reg", (i, j) if kind is Keys.UNIQUE else j, i)
        await receive()

    started = time.perf_counter()
    pids = [spawn(registrant, i) for i in range(processes)]
    await eventually(lambda: count("reg") == processes * per_process, timeout=20.0)
    registered = time.perf_counter()
    some = pids[500]
    assert len(keys("reg", some)) == per_process
    if kind is Keys.DUPLICATE:
        assert len(lookup("reg", 7)) == processes
    for pid in pids[:500]:
        exit(pid, KILL)
    assert count("reg") == 500 * per_process  # cleanup is synchronous
    for pid in pids[500:]:
        exit(pid, KILL)
    cleaned = time.perf_counter()
    assert count("reg") == 0
    assert select("reg") == []
    # Generous bounds that still catch an O(n^2) cleanup (which takes minutes here).
    assert registered - started < 10.0
    assert cleaned - registered < 5.0


async def test_one_process_with_100k_keys(shell: Pid) -> None:
    await start_registry(Keys.UNIQUE)

    async def many() -> None:
        for j in range(100_000):
            register("reg", ("k", j), j)
        send(shell, "done")
        await receive()

    pid = spawn(many)
    assert await receive(timeout=20.0) == "done"
    assert lookup("reg", ("k", 99_999)) == [(pid, 99_999)]
    started = time.perf_counter()
    exit(pid, KILL)
    assert count("reg") == 0
    assert time.perf_counter() - started < 2.0
