"""GenServer: init outcomes, call/cast/info, deferred replies, continue, timeouts, terminate."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from soundforge.runtime.clock import ManualClock
from soundforge.runtime.errors import CallingSelf, CallTimeout, NoProc, ServerExited
from soundforge.runtime.exit import KILL, KILLED, NORMAL, SHUTDOWN, ProcessExit, Shutdown
from soundforge.runtime.gen_server import (
    TIMEOUT,
    Continue,
    GenServer,
    Init,
    NoReply,
    Reply,
    Stop,
    call,
    cast,
    get_state,
    reply,
    stop,
    whereis,
)
from soundforge.runtime.process import (
    Down,
    Exit,
    From,
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
from soundforge.runtime.results import IGNORE, AlreadyStarted, Error, Ok
from tests.helpers import settle


class Boom(Exception):
    pass


class Log:
    """What a server did, in order (shared with the test through the init argument)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []


class Stack(GenServer[list[Any]]):
    """A stack server in the style of the Elixir GenServer docs, with hooks for tests."""

    def init(self, arg: tuple[Log, list[Any]]) -> Any:
        self.log, items = arg
        return Init(list(items))

    def handle_call(self, request: Any, from_: From, items: list[Any]) -> Any:
        match request:
            case "pop":
                return Reply(items[0], items[1:])
            case "items":
                return Reply(list(items), items)
            case ("sleep", seconds):
                return self._sleep_then_reply(from_, seconds, items)
            case "defer":
                return NoReply([*items, from_])
            case "release":
                deferred = [i for i in items if isinstance(i, From)]
                for f in deferred:
                    reply(f, "released")
                return Reply(len(deferred), [i for i in items if not isinstance(i, From)])
            case ("stop", reason):
                return Stop(reason, items, reply="stopping")
            case "raise":
                raise Boom("handle_call raised")
            case "bad":
                return ("reply", 1, items)
        return Reply(None, items)

    def _sleep_then_reply(self, from_: From, seconds: float, items: list[Any]) -> Any:
        async def later() -> None:
            await asyncio.sleep(seconds)
            reply(from_, "late")

        spawn(later)
        return NoReply(items)

    def handle_cast(self, msg: Any, items: list[Any]) -> Any:
        match msg:
            case ("push", item):
                return NoReply([item, *items])
            case ("stop", reason):
                return Stop(reason, items)
        return NoReply(items)

    def handle_info(self, msg: Any, items: list[Any]) -> Any:
        self.log.events.append(("info", msg))
        return NoReply(items)

    def terminate(self, reason: Any, items: list[Any]) -> None:
        self.log.events.append(("terminate", reason))


async def start_stack(items: list[Any] | None = None, **kw: Any) -> tuple[Pid, Log]:
    log = Log()
    result = await Stack.start_link((log, items or []), **kw)
    assert isinstance(result, Ok)
    return result.pid, log


async def test_call_cast_and_state(shell: Pid) -> None:
    pid, _ = await start_stack(["a"])
    cast(pid, ("push", "b"))
    assert await call(pid, "pop") == "b"
    assert await get_state(pid) == ["a"]


async def test_unknown_info_messages_are_logged_not_fatal(
    node: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Plain(GenServer[int]):
        def init(self, arg: None) -> Init[int]:
            return Init(0)

        def handle_call(self, request: Any, from_: From, state: int) -> Reply[int]:
            return Reply(state, state)

    pid = (await Plain.start_link()).pid
    with caplog.at_level(logging.WARNING):
        send(pid, "surprise")
        assert await call(pid, "ping") == 0
    assert "unexpected message" in caplog.text and "surprise" in caplog.text


# -- init outcomes ---------------------------------------------------------------------


class Starter(GenServer[Any]):
    def init(self, arg: Any) -> Any:
        if isinstance(arg, BaseException):
            raise arg
        return arg


class AsyncStarter(GenServer[Any]):
    async def init(self, arg: Any) -> Any:
        await asyncio.sleep(0)
        if isinstance(arg, BaseException):
            raise arg
        return arg


@pytest.mark.parametrize("server", [Starter, AsyncStarter], ids=["sync-init", "async-init"])
@pytest.mark.parametrize(
    ("init_result", "expected", "exit_reason"),
    [
        pytest.param(Init("s"), Ok, None, id="ok"),
        pytest.param(IGNORE, IGNORE, NORMAL, id="ignore"),
        pytest.param(Stop("bad_config"), Error("bad_config"), "bad_config", id="stop"),
        pytest.param(Error("nope"), Error("nope"), NORMAL, id="error"),
    ],
)
async def test_init_outcomes(
    shell: Pid, server: type[GenServer[Any]], init_result: Any, expected: Any, exit_reason: Any
) -> None:
    trap_exit(True)
    result = await server.start_link(init_result)
    if expected is Ok:
        assert isinstance(result, Ok) and is_alive(result.pid)
        return
    assert result == expected
    exit_msg = await receive(timeout=1)
    assert isinstance(exit_msg, Exit) and exit_msg.reason == exit_reason


@pytest.mark.parametrize("server", [Starter, AsyncStarter], ids=["sync-init", "async-init"])
async def test_init_raising_is_an_error_and_kills_a_non_trapping_linked_caller(
    node: Any, server: type[GenServer[Any]]
) -> None:
    outcome: list[Any] = []

    async def caller() -> None:
        outcome.append(await server.start_link(Boom("init failed")))
        await receive(timeout=5)

    pid = spawn(caller)
    parent = node.attach()
    ref = monitor(pid)
    down = await receive(timeout=1)
    assert down.ref is ref and isinstance(down.reason, Boom)
    # Whether the caller still saw Error(...) before dying is a race in Erlang too.
    assert all(isinstance(o, Error) and isinstance(o.reason, Boom) for o in outcome)
    node.detach(parent)


async def test_init_bad_return_is_an_error(shell: Pid) -> None:
    trap_exit(True)
    result = await Starter.start_link(("ok", 1))
    assert isinstance(result, Error)
    assert "expected Init" in str(result.reason)


# -- calls ---------------------------------------------------------------------------------


async def test_call_dead_or_unknown_raises_noproc(shell: Pid) -> None:
    pid, _ = await start_stack()
    await stop(pid)
    with pytest.raises(NoProc, match="no process is alive"):
        await call(pid, "pop")
    with pytest.raises(NoProc):
        await call("nobody", "pop")


async def test_call_self_raises(node: Any) -> None:
    class Selfish(GenServer[None]):
        def init(self, arg: None) -> Init[None]:
            return Init(None)

        async def handle_call(self, request: Any, from_: From, state: None) -> Any:
            try:
                await call(self_pid(), "again")
            except CallingSelf as error:
                return Reply(str(error), state)
            return Reply("no error", state)

    pid = (await Selfish.start_link()).pid
    assert "called itself" in await call(pid, "go")


async def test_call_timeout_raises_and_late_reply_never_arrives(shell: Pid) -> None:
    pid, _ = await start_stack()
    with pytest.raises(CallTimeout, match="did not reply"):
        await call(pid, ("sleep", 0.05), timeout=0.01)
    await asyncio.sleep(0.1)  # the server replies now, to nobody
    proc = shell._proc
    assert proc is not None and not proc.mailbox, "no late reply in the caller's mailbox"
    assert await call(pid, "items") == [], "the server is healthy"


async def test_call_timeout_default_is_five_seconds(manual_shell: Pid, clock: ManualClock) -> None:
    pid, _ = await start_stack()
    task = asyncio.ensure_future(call(pid, "defer"))
    await clock.advance(4.9)
    assert not task.done()
    await clock.advance(0.2)
    with pytest.raises(CallTimeout, match="within 5 s"):
        await task


async def test_deferred_reply_from_another_message(shell: Pid) -> None:
    pid, _ = await start_stack()
    waiting = [asyncio.ensure_future(call(pid, "defer")) for _ in range(3)]
    await settle()
    assert not any(w.done() for w in waiting)
    assert await call(pid, "release") == 3
    assert [await w for w in waiting] == ["released"] * 3


async def test_server_exit_during_call_raises_with_its_reason(shell: Pid) -> None:
    trap_exit(True)
    pid, _ = await start_stack()
    pending = asyncio.ensure_future(call(pid, "defer"))
    await settle()
    with pytest.raises(ServerExited) as raised:
        await call(pid, "raise")
    assert isinstance(raised.value.reason, Boom)
    with pytest.raises(ServerExited):
        await pending


async def test_stop_with_reply(shell: Pid) -> None:
    trap_exit(True)
    pid, log = await start_stack()
    assert await call(pid, ("stop", Shutdown("done"))) == "stopping"
    assert await receive(timeout=1) == Exit(pid, Shutdown("done"))
    assert log.events == [("terminate", Shutdown("done"))]


# -- terminate -----------------------------------------------------------------------------


async def test_terminate_runs_on_stop_and_on_raise_not_on_kill(shell: Pid) -> None:
    trap_exit(True)
    pid, log = await start_stack()
    await stop(pid, SHUTDOWN)
    assert log.events == [("terminate", SHUTDOWN)]

    pid, log = await start_stack()
    with pytest.raises(ServerExited):
        await call(pid, "raise")
    assert log.events and isinstance(log.events[0][1], Boom)

    pid, log = await start_stack()
    exit(pid, KILL)
    assert await receive(match=lambda m: isinstance(m, Exit) and m.pid is pid, timeout=1) == Exit(
        pid, KILLED
    )
    assert log.events == []


async def test_terminate_runs_when_trapping_server_is_shut_down_by_parent(node: Any) -> None:
    class Trapping(Stack):
        def init(self, arg: Any) -> Any:
            trap_exit(True)
            return super().init(arg)

    parent = node.attach()
    trap_exit(True)
    log = Log()
    pid = (await Trapping.start_link((log, []))).pid
    exit(pid, SHUTDOWN)
    assert await receive(timeout=1) == Exit(pid, SHUTDOWN)
    assert log.events == [("terminate", SHUTDOWN)], "the parent's EXIT is not a handle_info"

    # a non-trapping server killed by the same signal does not run terminate
    pid, log = await start_stack()
    exit(pid, SHUTDOWN)
    assert await receive(timeout=1) == Exit(pid, SHUTDOWN)
    assert log.events == []
    node.detach(parent)


async def test_trapping_server_gets_exit_from_non_parent_as_info(shell: Pid) -> None:
    class Trapping(Stack):
        def init(self, arg: Any) -> Any:
            trap_exit(True)
            return super().init(arg)

    log = Log()
    pid = (await Trapping.start((log, []))).pid
    exit(pid, "from a stranger")
    await call(pid, "items")
    assert log.events == [("info", Exit(self_pid(), "from a stranger"))]


async def test_terminate_can_choose_the_exit_reason(shell: Pid) -> None:
    class Chooser(Stack):
        def terminate(self, reason: Any, items: list[Any]) -> None:
            raise Shutdown("oops")

    trap_exit(True)
    pid = (await Chooser.start_link((Log(), []))).pid
    cast(pid, ("stop", NORMAL))
    assert await receive(timeout=1) == Exit(pid, Shutdown("oops"))


async def test_bad_callback_return_crashes_with_clear_reason(shell: Pid) -> None:
    trap_exit(True)
    pid, _ = await start_stack()
    with pytest.raises(ServerExited, match="expected Reply, NoReply or Stop"):
        await call(pid, "bad")


# -- continue and timeouts -----------------------------------------------------------------


class Sequencer(GenServer[list[str]]):
    def init(self, arg: None) -> Init[list[str]]:
        return Init(["init"], Continue("first"))

    def handle_continue(self, arg: str, seen: list[str]) -> Any:
        seen = [*seen, f"continue:{arg}"]
        if arg == "first":
            return NoReply(seen, Continue("second"))
        return NoReply(seen)

    def handle_cast(self, msg: str, seen: list[str]) -> NoReply[list[str]]:
        return NoReply([*seen, f"cast:{msg}"])

    def handle_call(self, request: Any, from_: From, seen: list[str]) -> Any:
        if request == "idle":
            return Reply("ok", seen, 0.5)
        return Reply(seen, seen)

    def handle_info(self, msg: Any, seen: list[str]) -> NoReply[list[str]]:
        return NoReply([*seen, f"info:{msg!r}"])


async def test_handle_continue_runs_before_queued_messages(shell: Pid) -> None:
    pid = (await Sequencer.start_link()).pid
    cast(pid, "queued-early")  # already in the mailbox before the continue steps run
    assert await call(pid, "seen") == [
        "init",
        "continue:first",
        "continue:second",
        "cast:queued-early",
    ]


async def test_idle_timeout_fires_only_without_messages(
    manual_shell: Pid, clock: ManualClock
) -> None:
    pid = (await Sequencer.start_link()).pid
    await call(pid, "idle")
    await clock.advance(0.4)
    cast(pid, "activity")  # cancels the pending timeout
    await clock.advance(0.4)
    assert "info:timeout" not in await call(pid, "seen")
    await call(pid, "idle")
    await clock.advance(0.6)
    seen = await call(pid, "seen")
    assert seen[-1] == f"info:{TIMEOUT!r}"


# -- names ---------------------------------------------------------------------------------


async def test_names_unique_and_released_on_death(shell: Pid) -> None:
    trap_exit(True)
    pid, _ = await start_stack(name="stack")
    assert whereis("stack") is pid
    assert await Stack.start_link((Log(), []), name="stack") == Error(AlreadyStarted(pid))
    assert await call("stack", "items") == []
    exit(pid, "boom")
    await receive(timeout=1)
    assert whereis("stack") is None
    again, _ = await start_stack(name="stack")
    assert whereis("stack") is again


async def test_failed_init_does_not_keep_the_name(shell: Pid) -> None:
    trap_exit(True)
    assert isinstance(await Starter.start_link(Stop("no"), name="named"), Error)
    assert whereis("named") is None


async def test_stop_unknown_raises_noproc(shell: Pid) -> None:
    with pytest.raises(NoProc):
        await stop("ghost")


async def test_process_exit_raised_in_callback_is_the_reason(shell: Pid) -> None:
    class Quitter(Stack):
        def handle_cast(self, msg: Any, items: list[Any]) -> Any:
            raise ProcessExit(Shutdown("quit"))

    trap_exit(True)
    log = Log()
    pid = (await Quitter.start_link((log, []))).pid
    ref = monitor(pid)
    cast(pid, "x")
    assert await receive(match=lambda m: isinstance(m, Down), timeout=1) == Down(
        ref, pid, Shutdown("quit")
    )
    assert log.events == [("terminate", Shutdown("quit"))]
