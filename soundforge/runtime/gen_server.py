"""GenServer: OTP's generic server behaviour on a runtime process.

Subclass :class:`GenServer`, implement the callbacks you need (plain or ``async def``; the
choice is read once per class), and start it linked to the caller::

    class Counter(GenServer[int]):
        def init(self, start: int) -> Init[int]:
            return Init(start)

        def handle_call(self, request: str, from_: From, count: int) -> Reply[int]:
            return Reply(count, count)

        def handle_cast(self, amount: int, count: int) -> NoReply[int]:
            return NoReply(count + amount)

    match await Counter.start_link(0):
        case Ok(pid):
            cast(pid, 5)
            assert await call(pid, "get") == 5

Callbacks return typed results: :class:`Init` (or :data:`IGNORE`, :class:`Stop`,
:class:`Error`) from ``init``; :class:`Reply`, :class:`NoReply` or :class:`Stop` from the
handlers. The optional ``action`` of ``Init``/``Reply``/``NoReply`` is an idle timeout in
seconds (``handle_info(TIMEOUT, state)`` follows if no message arrives) or
``Continue(arg)`` (``handle_continue`` runs before the next message).

Differences from Erlang: a sync ``init`` runs inside ``start_link``'s call, as the new
process (same observable order, one event-loop hop cheaper); an ``async`` one runs in the
new process's task. There is no hibernation (nothing to compact in Python).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Awaitable, Coroutine, Hashable
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar, runtime_checkable

import msgspec

from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.errors import CallingSelf, CallTimeout, NoProc, ServerExited
from soundforge.runtime.exit import KILLED, NORMAL, ExitReason, ProcessExit, format_reason
from soundforge.runtime.process import (
    Exit,
    From,
    Pid,
    Process,
    _current,
    current_node,
    exit_future,
)
from soundforge.runtime.results import IGNORE, AlreadyStarted, Error, Ignore, Ok, StartResult

__all__ = [
    "TIMEOUT",
    "Continue",
    "GenServer",
    "Init",
    "NoReply",
    "Reply",
    "Stop",
    "ViaName",
    "call",
    "cast",
    "get_state",
    "reply",
    "resolve",
    "stop",
    "whereis",
]

log = logging.getLogger(__name__)

S = TypeVar("S")

#: How many messages a server handles in a row before yielding to other processes.
FAIRNESS_BUDGET: Final = 64


class Continue(msgspec.Struct, frozen=True):
    """Run ``handle_continue(arg, state)`` before the next message (``{continue, Arg}``)."""

    arg: Any


Action = float | int | Continue | None


class Init(msgspec.Struct, Generic[S]):
    """``{ok, State}`` (with an optional timeout or ``Continue``) from ``init``."""

    state: S
    action: Any = None


class Reply(msgspec.Struct, Generic[S]):
    """``{reply, Reply, State}``: answer the call now."""

    reply: Any
    state: S
    action: Any = None


class NoReply(msgspec.Struct, Generic[S]):
    """``{noreply, State}``: no answer now (a call's ``From`` may be answered later)."""

    state: S
    action: Any = None


class Stop(msgspec.Struct, Generic[S]):
    """``{stop, Reason, State}`` or, with ``reply``, ``{stop, Reason, Reply, State}``."""

    reason: Any
    state: Any = None
    reply: Any = msgspec.UNSET


class _Timeout(msgspec.Struct, frozen=True):
    generation: int


class _Cast(msgspec.Struct, frozen=True):
    msg: Any


class _System(msgspec.Struct, frozen=True):
    request: str
    arg: Any
    fut: Any


class _TimeoutAtom:
    __slots__ = ()

    def __repr__(self) -> str:
        return "timeout"


#: The message ``handle_info`` receives when an idle timeout expires.
TIMEOUT: Final = _TimeoutAtom()


class BadReturn(Exception):
    """A callback returned something that is not one of its allowed results."""


@runtime_checkable
class ViaName(Protocol):
    """A name kept by another registry (Erlang's ``{via, Module, Name}``)."""

    def register(self, proc: Process) -> Pid | None:
        """Claim the name for ``proc``; return the owner's pid if it is taken."""
        ...

    def whereis(self) -> Process | None: ...


Server = Pid | ViaName | Hashable

_CALLBACKS: Final = (
    "init",
    "handle_call",
    "handle_cast",
    "handle_info",
    "handle_continue",
    "terminate",
)


class GenServer(Generic[S]):
    """The generic server behaviour. Override the callbacks; keep state in ``state``."""

    #: What the introspection tree calls this kind of process.
    kind: ClassVar[str] = "gen_server"
    _async: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._async = frozenset(
            name for name in _CALLBACKS if inspect.iscoroutinefunction(getattr(cls, name))
        )

    # -- callbacks (override) ---------------------------------------------------------

    def init(self, arg: Any) -> Any:
        return Init(arg)

    def handle_call(self, request: Any, from_: From, state: S) -> Any:
        raise BadReturn(f"{type(self).__name__} got a call {request!r} but has no handle_call")

    def handle_cast(self, msg: Any, state: S) -> Any:
        raise BadReturn(f"{type(self).__name__} got a cast {msg!r} but has no handle_cast")

    def handle_info(self, msg: Any, state: S) -> Any:
        log.warning("%s %r received an unexpected message: %r", type(self).__name__, _pid(), msg)
        return NoReply(state)

    def handle_continue(self, arg: Any, state: S) -> Any:
        raise BadReturn(f"{type(self).__name__} returned Continue but has no handle_continue")

    def terminate(self, reason: ExitReason, state: S) -> Any:
        return None

    def format_status(self, state: S) -> Any:
        """What introspection shows of this server (default: a short repr of the state)."""
        text = repr(state)
        return text if len(text) <= 200 else text[:197] + "..."

    # -- starting ---------------------------------------------------------------------

    @classmethod
    def start_link(
        cls, arg: Any = None, *, name: Server | None = None
    ) -> Coroutine[Any, Any, StartResult]:
        """Start linked to the caller; ``await`` it for ``Ok(pid)``, ``Error(reason)`` or
        ``IGNORE``. (A plain method returning the coroutine: one frame less per start.)"""
        return start_server(cls(), arg, name=name, link=True)

    @classmethod
    def start(
        cls, arg: Any = None, *, name: Server | None = None
    ) -> Coroutine[Any, Any, StartResult]:
        """Start without a link to the caller."""
        return start_server(cls(), arg, name=name, link=False)

    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        """A child spec starting ``cls.start_link(arg)``, id ``cls`` unless overridden."""
        spec = ChildSpec(id=cls, start=cls.start_link, args=(arg,))
        return spec.with_(**overrides) if overrides else spec


# -- start ------------------------------------------------------------------------------


async def start_server(
    server: GenServer[Any], arg: Any, *, name: Server | None, link: bool
) -> StartResult:
    """Start ``server`` as a new process: claim the name, link, run ``init``."""
    caller = _current.get()
    node = caller.node if caller is not None else current_node()
    proc = node.new_process(server.kind, caller if link else None)
    proc.behaviour = server
    if name is not None:
        try:
            owner = _claim_name(proc, name)
        except Exception:  # a via registry refused the name: undo the spawn, then re-raise
            _discard_unstarted(proc)
            raise
        if owner is not None:
            _discard_unstarted(proc)
            return Error(AlreadyStarted(owner))
    if link and caller is not None:
        caller.add_link(proc)
    if "init" in server._async:
        ack: asyncio.Future[StartResult] = node.loop.create_future()
        node.start_task(proc, _async_init_then_serve, (proc, server, arg, ack))
        return await ack
    token = _current.set(proc)
    try:
        result = server.init(arg)
    except ProcessExit as exit_:
        result = Stop(exit_.reason)
    except Exception as error:  # init crashed: that is the start's error and the exit reason
        result = Stop(error)
    finally:
        _current.reset(token)
    match result:
        case Init(state, action):
            proc.state = state
            node.start_coroutine(proc, _serve(proc, server, state, action))
            return Ok(proc.pid)
        case _:
            outcome, reason = _init_failure(result)
            proc.die(reason)
            return outcome


async def _async_init_then_serve(
    proc: Process, server: GenServer[Any], arg: Any, ack: asyncio.Future[StartResult]
) -> None:
    try:
        try:
            result = await server.init(arg)
        except ProcessExit as exit_:
            result = Stop(exit_.reason)
        except Exception as error:  # init crashed: that is the start's error and the exit reason
            result = Stop(error)
        if type(result) is Init:
            proc.state = result.state
            ack.set_result(Ok(proc.pid))
            await _serve(proc, server, result.state, result.action)
            return
        outcome, reason = _init_failure(result)
        ack.set_result(outcome)
        raise ProcessExit(reason)
    finally:
        if not ack.done():
            ack.set_result(Error(proc.reason if proc.reason is not None else NORMAL))


def _init_failure(result: Any) -> tuple[StartResult, ExitReason]:
    if result is IGNORE or isinstance(result, Ignore):
        return IGNORE, NORMAL
    if isinstance(result, Stop):
        return Error(result.reason), result.reason
    if isinstance(result, Error):
        return result, NORMAL
    error = BadReturn(f"init returned {result!r}; expected Init, IGNORE, Stop or Error")
    return Error(error), error


def _claim_name(proc: Process, name: Server) -> Pid | None:
    if isinstance(name, ViaName):
        return name.register(proc)
    owner = proc.node.names.get(name)
    if owner is not None:
        return owner.pid
    proc.node.register_name(name, proc)
    return None


def _discard_unstarted(proc: Process) -> None:
    # The process never ran: remove it without signals, as if it had never been spawned.
    proc.alive = False
    proc.reason = NORMAL
    proc.pid._proc = None
    proc.node.processes.pop(proc.pid.id, None)


# -- the server loop ---------------------------------------------------------------------


async def _serve(proc: Process, server: GenServer[Any], state: Any, action: Any) -> None:
    """The server process: its receive loop, ``terminate``, and the exit that follows.

    It is the process's task itself (not run under :func:`run_process`), so it maps its own
    outcome to an exit reason; one coroutine per server instead of two.
    """
    _current.set(proc)
    mailbox = proc.mailbox
    clock = proc.node.clock
    create_future = proc.node.loop.create_future
    asyncs = server._async
    handle_call = server.handle_call
    handle_cast = server.handle_cast
    handle_info = server.handle_info
    call_async = "handle_call" in asyncs
    cast_async = "handle_cast" in asyncs
    info_async = "handle_info" in asyncs
    parent = proc.parent
    parent_pid = parent.pid if parent is not None else None
    timer = None
    generation = 0
    budget = FAIRNESS_BUDGET
    result: Any = None
    msg: Any = None
    try:
        try:
            while True:
                while action is not None:
                    if type(action) is Continue:
                        result = server.handle_continue(action.arg, state)
                        if "handle_continue" in asyncs:
                            result = await result
                        state, action = _next(proc, result, None)
                    elif type(action) in (float, int):
                        generation += 1
                        if action != math.inf:
                            timer = clock.call_later(action, proc.deliver, _Timeout(generation))
                        action = None
                    else:
                        raise BadReturn(
                            f"unknown action {action!r}; expected a timeout or Continue"
                        )
                if not mailbox:
                    budget = FAIRNESS_BUDGET
                    waiter = proc._waiter = create_future()
                    await waiter
                elif budget == 0:
                    budget = FAIRNESS_BUDGET
                    await asyncio.sleep(0)
                budget -= 1
                msg = mailbox.popleft()
                if timer is not None:
                    timer.cancel()
                    timer = None
                proc.handled += 1
                kind = type(msg)
                if kind is From:
                    proc.current_call = msg
                    result = handle_call(msg.request, msg, state)
                    if call_async:
                        result = await result
                    if type(result) is Reply:
                        fut = msg.fut
                        if not fut.done():
                            fut.set_result(result.reply)
                        state = result.state
                        action = result.action
                    else:
                        state, action = _next(proc, result, msg)
                    proc.current_call = None
                elif kind is _Cast:
                    result = handle_cast(msg.msg, state)
                    if cast_async:
                        result = await result
                    if type(result) is NoReply:
                        state = result.state
                        action = result.action
                    else:
                        state, action = _next(proc, result, None)
                elif kind is Exit and msg.pid is parent_pid and parent_pid is not None:
                    raise _Stopping(msg.reason, state, msgspec.UNSET, None)
                elif kind is _Timeout:
                    if msg.generation != generation:
                        continue
                    result = handle_info(TIMEOUT, state)
                    if info_async:
                        result = await result
                    state, action = _next(proc, result, None)
                elif kind is _System:
                    state, action = _system(proc, msg, state)
                else:
                    result = handle_info(msg, state)
                    if info_async:
                        result = await result
                    state, action = _next(proc, result, None)
                proc.state = state
        except _Stopping as stopping:
            reason = await _terminate(
                server, stopping.reason, stopping.state, stopping.reply, stopping.from_
            )
        except ProcessExit as exit_:
            reason = await _terminate(server, exit_.reason, state, msgspec.UNSET, None)
        except Exception as error:  # a crashing callback: terminate runs, the error is the reason
            reason = await _terminate(server, error, state, msgspec.UNSET, None)
    except asyncio.CancelledError:
        # Killed (already dead: finish unwinding), or cancelled from outside: that is a kill.
        if proc.alive:
            proc.exit_self(KILLED)
            raise
        return
    except BaseException:
        # The one boundary that sees KeyboardInterrupt/SystemExit: record the death, re-raise.
        proc.exit_self(KILLED)
        raise
    proc.exit_self(reason)


class _Stopping(Exception):
    def __init__(self, reason: Any, state: Any, reply: Any, from_: From | None) -> None:
        self.reason = reason
        self.state = state
        self.reply = reply
        self.from_ = from_


def _next(proc: Process, result: Any, from_: From | None) -> tuple[Any, Any]:
    kind = type(result)
    if kind is NoReply:
        if from_ is not None and not from_.fut.done():
            if proc.pending_calls is None:
                proc.pending_calls = set()
            proc.pending_calls.add(from_)
        return result.state, result.action
    if kind is Reply and from_ is not None:
        from_.reply(result.reply)
        return result.state, result.action
    if kind is Stop:
        raise _Stopping(result.reason, result.state, result.reply, from_)
    raise BadReturn(f"a callback returned {result!r}; expected Reply, NoReply or Stop")


def _system(proc: Process, msg: _System, state: Any) -> tuple[Any, Any]:
    fut = msg.fut
    if msg.request == "get_state":
        if not fut.done():
            fut.set_result(state)
        return state, None
    if msg.request == "stop":
        raise _Stopping(msg.arg, state, msgspec.UNSET, None)
    raise BadReturn(f"unknown system request {msg.request!r}")


async def _terminate(
    server: GenServer[Any], reason: ExitReason, state: Any, reply_value: Any, from_: From | None
) -> ExitReason:
    """Run ``terminate``; returns the exit reason (a terminate that raises changes it)."""
    try:
        result = server.terminate(reason, state)
        if "terminate" in server._async:
            await result
    except ProcessExit as exit_:
        reason = exit_.reason
    except Exception as error:  # terminate crashed: its error becomes the exit reason
        log.debug("terminate of %r raised %s", _pid(), format_reason(error))
        reason = error
    finally:
        if from_ is not None and reply_value is not msgspec.UNSET:
            from_.reply(reply_value)
    return reason


def _pid() -> Pid | None:
    proc = _current.get()
    return proc.pid if proc is not None else None


# -- client API --------------------------------------------------------------------------


def resolve(server: Server) -> Process | None:
    """The live process behind a pid, a local name or a via-name, or None."""
    if type(server) is Pid:
        return server._proc
    if type(server) is str:  # the common case, before the costly Protocol isinstance
        return current_node().names.get(server)
    if isinstance(server, ViaName):
        return server.whereis()
    return current_node().names.get(server)


def whereis(server: Server) -> Pid | None:
    proc = resolve(server)
    return proc.pid if proc is not None else None


def call(server: Server, request: Any, timeout: float | None = 5.0) -> Awaitable[Any]:
    """Send ``request`` and wait for the reply (default 5 s; ``None`` waits forever).

    Raises :class:`NoProc` (no such process), :class:`CallingSelf`, :class:`CallTimeout`
    (a late reply is then dropped, never delivered) or :class:`ServerExited`. Use it as
    ``await call(...)``: it returns the reply's future itself rather than a coroutine, which
    saves a coroutine per call on the hottest path of the runtime.
    """
    proc = server._proc if type(server) is Pid else resolve(server)
    if proc is None:
        raise NoProc(server, request)
    caller = _current.get()
    if proc is caller:
        raise CallingSelf(server, request)
    node = proc.node
    fut = node.loop.create_future()
    from_ = From(request, fut, caller.pid if caller is not None else None, proc)
    proc.mailbox.append(from_)
    waiter = proc._waiter
    if waiter is not None:
        proc._waiter = None
        if not waiter.done():
            waiter.set_result(None)
    if timeout is not None:
        node.deadlines.add(from_, timeout)
    return fut


def cast(server: Server, msg: Any) -> None:
    """Send ``msg`` to ``handle_cast``; always returns, even for a dead server."""
    proc = server._proc if type(server) is Pid else resolve(server)
    if proc is not None:
        proc.mailbox.append(_Cast(msg))
        waiter = proc._waiter
        if waiter is not None:
            proc._waiter = None
            if not waiter.done():
                waiter.set_result(None)


def reply(from_: From, value: Any) -> None:
    """Answer a call whose ``handle_call`` returned ``NoReply`` (a deferred reply)."""
    from_.reply(value)


async def get_state(server: Server, timeout: float | None = 5.0) -> Any:
    """The server's current state, read between two messages (``sys:get_state``)."""
    return await _system_call(server, "get_state", None, timeout)


async def stop(server: Server, reason: ExitReason = NORMAL, timeout: float | None = None) -> None:
    """Stop the server with ``reason`` (``terminate`` runs) and wait until it has exited."""
    proc = resolve(server)
    if proc is None:
        raise NoProc(server, "stop")
    gone = exit_future(proc)
    proc.deliver(_System("stop", reason, None))
    try:
        exited = await asyncio.wait_for(gone, timeout)
    except TimeoutError:
        raise CallTimeout(server, "stop", timeout or 0.0) from None
    if exited != reason:
        raise ServerExited(server, "stop", exited)


async def _system_call(server: Server, request: str, arg: Any, timeout: float | None) -> Any:
    proc = resolve(server)
    if proc is None:
        raise NoProc(server, request)
    if proc is _current.get():
        raise CallingSelf(server, request)
    fut: asyncio.Future[Any] = proc.node.loop.create_future()
    from_ = From(request, fut, None, proc)
    proc.deliver(_System(request, arg, fut))
    if proc.pending_calls is None:
        proc.pending_calls = set()
    proc.pending_calls.add(from_)
    try:
        return await asyncio.wait_for(fut, timeout)
    except TimeoutError:
        raise CallTimeout(server, request, timeout or 0.0) from None
    finally:
        if proc.pending_calls:
            proc.pending_calls.discard(from_)
