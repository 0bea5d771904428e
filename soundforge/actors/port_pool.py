"""A pool of warm audio ports: one program kind (downloader, separator, analyzer), N processes.

Mirrors ``poolboy`` on top of Erlang ports. The pool is a GenServer that starts each port
program under the ``PortSupervisor`` (a DynamicSupervisor, so the tree shows every port with
its OS pid), as the port's *owner*: frames come to the pool, which hands each request to an
idle, warm program and routes that request's progress and reply back to the caller. Programs
stay up between jobs, so torch, the demucs models and librosa's compiled code are loaded
once.

    result = await port_pool.run("soundforge.ports.analyzer", "analyze", args, progress=show)

* At most ``size`` programs run; more requests wait in FIFO order. A program starts on
  demand and announces itself with ``Ready`` once warm; only then does it get work.
* **The caller owns the work.** The pool monitors the caller of each running request. If the
  caller dies (the queue cancelled its job or it timed out and its task was killed) or
  abandons the request (its ``await`` was cancelled), the pool kills that program with its
  whole process group at once; a fresh one starts when there is demand again. A half-done
  separation never keeps burning CPU for nobody.
* A program that crashes or is killed mid-request gives its caller a
  :class:`~soundforge.audio.errors.PortFailed`
  (``retryable``); the pool itself stays up. Expected failures (a corrupt file, a dead URL)
  arrive as :class:`~soundforge.audio.protocol.Failed` replies, and :func:`run` raises them
  as the matching :class:`~soundforge.audio.errors.AudioError`.

Differences from poolboy: no overflow workers (a port is heavy; ``size`` is the limit) and
checkout is implicit in :func:`run` (one request = one checkout), which is what lets the pool
kill the program when the caller goes away.
"""

from __future__ import annotations

import collections
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from soundforge.audio import errors as audio_errors
from soundforge.audio.protocol import Done, Failed, Progress, Ready, Reply, Request
from soundforge.runtime import dynamic_supervisor
from soundforge.runtime.child_spec import ChildSpec, Restart
from soundforge.runtime.exit import KILL
from soundforge.runtime.gen_server import (
    GenServer,
    Init,
    NoReply,
    Server,
    call,
    cast,
)
from soundforge.runtime.gen_server import (
    Reply as CallReply,
)
from soundforge.runtime.port import Port, PortData, PortExit, PortExited, PortOptions, command
from soundforge.runtime.process import Down, From, Pid, Ref, demonitor, exit, monitor, self_pid
from soundforge.runtime.results import Ok

__all__ = [
    "PROGRAMS",
    "PoolOptions",
    "PoolStatus",
    "PortPool",
    "as_error",
    "pool_name",
    "pool_specs",
    "run",
    "status",
]

log = logging.getLogger(__name__)

#: The audio programs, by the name their pool and module use.
PROGRAMS: Final = ("downloader", "separator", "analyzer")

ProgressFn = Callable[[float, str], None]


class PoolOptions(msgspec.Struct, frozen=True):
    """One pool: which program, how many at once, and where its ports are supervised."""

    #: ``downloader``, ``separator`` or ``analyzer`` (``python -m soundforge.audio.<program>``).
    program: str
    size: int = 1
    #: The DynamicSupervisor the ports are started under.
    supervisor: str = "soundforge.ports"
    #: Variables added to the programs' environment.
    env: dict[str, str | None] = msgspec.field(default_factory=dict)
    #: Seconds between SIGTERM and SIGKILL when a program is stopped.
    shutdown: float = 3.0
    #: The program's argv; default ``[python, -m, soundforge.audio.<program>]``.
    argv: list[str] | None = None

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"a port pool needs a size of at least 1, not {self.size}")

    @property
    def command(self) -> list[str]:
        return self.argv or [sys.executable, "-m", f"soundforge.audio.{self.program}"]


class PoolStatus(msgspec.Struct, frozen=True):
    """What ``status(pool)`` answers: programs by state and requests waiting."""

    program: str
    size: int
    starting: int
    idle: int
    busy: int
    waiting: int
    os_pids: list[int]


class _Run(msgspec.Struct, frozen=True):
    op: str
    args: Any
    progress: Any  # ProgressFn | None: called in the pool's process; must be quick


class _Abandon(msgspec.Struct, frozen=True):
    caller: Pid


class _Status(msgspec.Struct, frozen=True):
    pass


class _Slot:
    """One program: its port pid, monitor, and the request it serves (if any)."""

    __slots__ = ("caller_ref", "from_", "os_pid", "port", "progress", "ready", "ref", "request")

    def __init__(self, port: Pid, ref: Ref) -> None:
        self.port = port
        self.ref = ref
        self.ready = False
        self.os_pid = 0
        self.request: int | None = None
        self.from_: From | None = None
        self.caller_ref: Ref | None = None
        self.progress: ProgressFn | None = None


class _State:
    __slots__ = ("next_id", "options", "slots", "waiting")

    def __init__(self, options: PoolOptions) -> None:
        self.options = options
        self.slots: dict[Pid, _Slot] = {}
        self.waiting: collections.deque[tuple[From, _Run]] = collections.deque()
        self.next_id = 1


class PortPool(GenServer[_State]):
    """The pool's server; start it with :meth:`child_spec` ``(PoolOptions, name=...)``."""

    def init(self, options: PoolOptions) -> Init[_State]:
        return Init(_State(options))

    async def handle_call(self, request: Any, from_: From, state: _State) -> Any:
        if isinstance(request, _Status):
            return CallReply(_status(state), state)
        assert isinstance(request, _Run)
        state.waiting.append((from_, request))
        await _dispatch(state)
        return NoReply(state)

    def handle_cast(self, msg: Any, state: _State) -> NoReply[_State]:
        if isinstance(msg, _Abandon):
            for slot in list(state.slots.values()):
                if slot.from_ is not None and slot.from_.caller == msg.caller:
                    _kill(slot, "its caller abandoned the request")
            state.waiting = collections.deque(
                (f, r) for f, r in state.waiting if f.caller != msg.caller
            )
        return NoReply(state)

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State]:
        match msg:
            case PortData(port=port, data=data):
                slot = state.slots.get(port)
                if slot is not None:
                    _on_frame(slot, msgspec.convert(data, Reply), state)
                    await _dispatch(state)
            case Down(ref=ref, pid=pid, reason=reason) if pid in state.slots and (
                state.slots[pid].ref == ref
            ):
                _on_port_down(state.slots.pop(pid), reason, state.options.program)
                await _dispatch(state)
            case Down(pid=pid):
                for slot in list(state.slots.values()):
                    if slot.from_ is not None and slot.from_.caller == pid:
                        _kill(slot, "its caller is gone")
                state.waiting = collections.deque(
                    (f, r) for f, r in state.waiting if f.caller != pid
                )
            case PortExit():
                pass  # the Down of the port follows and says what matters
            case _:
                log.warning("port pool %s got an unexpected message %r", state.options.program, msg)
        return NoReply(state)

    def terminate(self, reason: Any, state: _State) -> None:
        for from_, _ in state.waiting:
            from_.reply(_port_failed(state.options.program, "the pool is shutting down"))
        for slot in state.slots.values():
            if slot.from_ is not None:
                slot.from_.reply(_port_failed(state.options.program, "the pool is shutting down"))

    def format_status(self, state: _State) -> dict[str, Any]:
        return msgspec.structs.asdict(_status(state))


def _status(state: _State) -> PoolStatus:
    slots = list(state.slots.values())
    return PoolStatus(
        program=state.options.program,
        size=state.options.size,
        starting=sum(not s.ready for s in slots),
        idle=sum(s.ready and s.request is None for s in slots),
        busy=sum(s.request is not None for s in slots),
        waiting=len(state.waiting),
        os_pids=[s.os_pid for s in slots if s.os_pid],
    )


async def _dispatch(state: _State) -> None:
    """Give waiting requests to idle programs; start programs while under ``size``."""
    while state.waiting:
        idle = next((s for s in state.slots.values() if s.ready and s.request is None), None)
        if idle is None:
            break
        from_, run = state.waiting.popleft()
        _assign(idle, from_, run, state)
    starting = sum(not s.ready for s in state.slots.values())
    while len(state.waiting) > starting and len(state.slots) < state.options.size:
        if not await _start_program(state):
            break
        starting += 1


def _assign(slot: _Slot, from_: From, run: _Run, state: _State) -> None:
    slot.request = state.next_id
    state.next_id += 1
    slot.from_ = from_
    slot.progress = run.progress
    slot.caller_ref = monitor(from_.caller) if from_.caller is not None else None
    command(slot.port, Request(slot.request, run.op, run.args))


async def _start_program(state: _State) -> bool:
    options = state.options
    port_options = PortOptions(
        options.command,
        name=options.program,
        env=dict(options.env),
        shutdown=options.shutdown,
        owner=self_pid(),
    )
    spec = Port.child_spec(port_options).with_(restart=Restart.TEMPORARY)
    started = await dynamic_supervisor.start_child(options.supervisor, spec)
    if not isinstance(started, Ok):
        failure = _port_failed(options.program, f"it could not be started ({started})")
        while state.waiting:
            state.waiting.popleft()[0].reply(failure)
        return False
    port: Pid = started.value
    state.slots[port] = _Slot(port, monitor(port))
    return True


def _on_frame(slot: _Slot, frame: Any, state: _State) -> None:
    match frame:
        case Ready(pid=os_pid, warm_up_s=seconds):
            slot.ready = True
            slot.os_pid = os_pid
            log.info("%s program %d is warm after %.2f s", state.options.program, os_pid, seconds)
        case Progress(id=rid, fraction=fraction, stage=stage) if rid == slot.request:
            if slot.progress is not None:
                try:
                    slot.progress(fraction, stage)
                except Exception:  # a broken progress callback must not take the pool down
                    log.exception("a progress callback of the %s pool failed", slot.port)
        case Done(id=rid) | Failed(id=rid) if rid == slot.request:
            if slot.from_ is not None:
                slot.from_.reply(frame)
            _release(slot)


def _release(slot: _Slot) -> None:
    if slot.caller_ref is not None:
        demonitor(slot.caller_ref, flush=True)
    slot.request = None
    slot.from_ = None
    slot.caller_ref = None
    slot.progress = None


def _kill(slot: _Slot, why: str) -> None:
    log.info("killing port program %d: %s", slot.os_pid, why)
    _release(slot)
    exit(slot.port, KILL)


def _on_port_down(slot: _Slot, reason: Any, program: str) -> None:
    if slot.from_ is not None:
        why = f"it stopped mid-request ({reason})"
        if isinstance(reason, PortExited) and reason.status == 128 + signal.SIGKILL:
            # The kernel's OOM killer sends SIGKILL; the pool's own kills never reach here
            # with a caller still waiting.
            why = "it was killed mid-request (SIGKILL); the machine may have run out of memory"
        slot.from_.reply(_port_failed(program, why))
    _release(slot)


def _port_failed(program: str, why: str) -> Failed:
    return Failed(0, "PortFailed", f"the {program} program failed: {why}", retryable=True)


def _child_spec(options: PoolOptions, name: str) -> ChildSpec:
    async def start(arg: PoolOptions) -> Any:
        return await PortPool.start_link(arg, name=name)

    return ChildSpec(id=name, start=start, args=(options,))


def status(pool: Server, timeout: float | None = 5.0) -> Any:
    """The pool's :class:`PoolStatus` (an awaitable)."""
    return call(pool, _Status(), timeout)


async def run(
    pool: Server,
    op: str,
    args: Any = None,
    *,
    progress: ProgressFn | None = None,
    timeout: float | None = None,
) -> Any:
    """Run ``op`` on a warm program of ``pool`` and return its result.

    Raises the :class:`~soundforge.audio.errors.AudioError` the program reported (a
    ``PortFailed`` when the program died). If this coroutine is cancelled, the program
    working on it is killed.
    """
    started = time.monotonic()
    try:
        reply = await call(pool, _Run(op, args, progress), timeout)
    except BaseException:
        # Cancelled or timed out: nobody will read the result, so stop the work now. This is
        # the documented boundary that re-raises whatever arrived.
        cast(pool, _Abandon(self_pid()))
        raise
    if isinstance(reply, Done):
        log.debug("%s on %s took %.2f s", op, pool, time.monotonic() - started)
        return reply.result
    raise as_error(reply)


def as_error(failed: Failed) -> Exception:
    """The exception a ``Failed`` reply stands for."""
    cls = getattr(audio_errors, failed.error, None)
    if cls is audio_errors.RateLimited:
        return audio_errors.RateLimited(failed.message, failed.retry_after)
    if (
        isinstance(cls, type)
        and issubclass(cls, audio_errors.AudioError)
        and cls.retryable == failed.retryable
    ):
        return cls(failed.message)
    return audio_errors.ReportedError(failed.message, retryable=failed.retryable)


def pool_name(program: str) -> str:
    """The registered name of ``program``'s pool."""
    return f"soundforge.ports.{program}"


def pool_specs(sizes: Mapping[str, int], env: Mapping[str, str | None]) -> list[ChildSpec]:
    """Child specs for the pools of the given programs (program → size)."""
    return [
        _child_spec(PoolOptions(program, size=size, env=dict(env)), pool_name(program))
        for program, size in sizes.items()
    ]
