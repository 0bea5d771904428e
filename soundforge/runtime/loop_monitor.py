"""The loop-lag monitor: one warning, with the culprit's stack, for each stall of the event loop.

Erlang's schedulers preempt, so no process can hold one for long; what comes closest to this
module is ``erlang:system_monitor(Pid, [{long_schedule, Ms}])``, which reports a process
that ran longer than ``Ms`` without yielding. Here nothing is preempted (docs/runtime.md,
difference 1): one callback that blocks — a ``time.sleep``, a CPU-bound loop, a blocking
library call — stops every actor, socket and timer of the node. The :class:`LoopMonitor`
actor finds such stalls and names the code that caused them::

    await LoopMonitor.start_link(LoopMonitorOptions(threshold=0.1))
    # WARNING soundforge.runtime.loop_monitor: the event loop was blocked for 0.287 s
    # (threshold 0.100 s); what was running on it:
    #   File "…/app.py", line 12, in handler
    #     time.sleep(0.3)

How it works, and what it costs while the loop is healthy:

* On the loop, a *heartbeat* runs every ``interval`` seconds (25 ms by default) and records
  when it ran. When a beat runs late by ``threshold`` or more, the loop was blocked for that
  long (to within one interval): the beat hands a :class:`Stall` to the actor, which logs
  one warning and emits ``("runtime", "loop", "stall")``.
* A daemon *watchdog thread* sleeps until the next beat would be half a threshold late,
  then reads the time of the last beat. If the loop has not beaten since, it takes the stack
  of the loop's thread (``sys._current_frames()``) once for that beat. This must happen
  while the stall lasts: afterwards the culprit is gone from the stack.

The heartbeat uses the loop's real time, not ``node.clock``: a stall is real time even on a
manual clock. The thread stops however the actor ends (an exit hook, so also when killed),
and as a daemon never keeps the interpreter alive. Idle, the beats and the thread's
wake-ups cost well under 1 % of one core (docs/telemetry.md has the measurement).

**Limit.** A blocking call that holds the GIL (some C extensions) keeps the watchdog from
running too: the stall is still reported, with its length, but without a stack.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, ClassVar, Final

import msgspec

from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.gen_server import (
    GenServer,
    Init,
    NoReply,
    Reply,
    Server,
    call,
    start_server,
)
from soundforge.runtime.process import From, current_process, send
from soundforge.runtime.results import StartResult

__all__ = [
    "DEFAULT_NAME",
    "STALL_EVENT",
    "LoopMonitor",
    "LoopMonitorOptions",
    "LoopStats",
    "Stall",
    "stats",
]

log = logging.getLogger(__name__)

DEFAULT_NAME: Final = "soundforge.loop_monitor"
#: Telemetry: the loop was blocked (measurements ``duration``; metadata ``threshold``,
#: ``stack``, ``monitor``).
STALL_EVENT: Final = ("runtime", "loop", "stall")
#: How long a stopping monitor waits for its thread (it wakes at once; this only bounds it).
_JOIN_TIMEOUT: Final = 1.0
#: Where asyncio's ``Handle._run`` lives: the frames above it are the loop's, not the culprit's.
_HANDLE_FILE: Final = asyncio.events.__file__


class LoopMonitorOptions(msgspec.Struct, frozen=True):
    """How sensitive the monitor is."""

    #: A beat this late (seconds) is a stall: it is logged and counted.
    threshold: float = 0.1
    #: Seconds between heartbeats: a stall's duration is known to within one interval, and
    #: each beat costs a turn of the loop. Default: a quarter of the threshold, at most 25 ms.
    interval: float | None = None
    name: str | None = DEFAULT_NAME

    def __post_init__(self) -> None:
        if self.threshold <= 0:
            raise ValueError(f"LoopMonitorOptions.threshold must be > 0 s, not {self.threshold}")
        if self.interval is not None and not 0 < self.interval <= self.threshold:
            raise ValueError(
                f"LoopMonitorOptions.interval must be > 0 and at most the threshold "
                f"({self.threshold} s), not {self.interval}"
            )

    @property
    def beat_interval(self) -> float:
        return self.interval if self.interval is not None else min(0.025, self.threshold / 4)


class Stall(msgspec.Struct, frozen=True):
    """One stall: how long the loop was blocked, when it ended, and what was running."""

    duration: float
    at: float
    #: The loop thread's stack taken during the stall, or None if the watchdog could not.
    stack: str | None


class LoopStats(msgspec.Struct, frozen=True):
    """What :func:`stats` answers (and ``format_status`` shows)."""

    threshold: float
    interval: float
    stalls: int
    max_stall: float
    last: Stall | None


class _Heartbeat:
    """The heartbeat on the loop and the watchdog thread watching it.

    They share ``last`` (``(beat number, monotonic time)``) and ``captured`` (``(beat
    number, stack)``), each replaced as a whole tuple, so neither side sees half an update.
    """

    def __init__(
        self, interval: float, threshold: float, report: Callable[[Stall], None], label: str
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.interval = interval
        self.threshold = threshold
        self.report = report
        self.loop_thread = threading.get_ident()
        self.last: tuple[int, float] = (0, time.monotonic())
        self.captured: tuple[int, str] | None = None
        self.stopping = threading.Event()
        self.handle = self.loop.call_later(interval, self._beat)
        self.thread = threading.Thread(
            target=self._watch, name=f"soundforge loop watchdog {label}", daemon=True
        )
        self.thread.start()

    # -- on the loop ------------------------------------------------------------------

    def _beat(self) -> None:
        now = time.monotonic()
        seq, previous = self.last
        late = now - previous - self.interval
        self.last = (seq + 1, now)
        self.handle = self.loop.call_later(self.interval, self._beat)
        if late >= self.threshold:
            captured = self.captured
            stack = captured[1] if captured is not None and captured[0] == seq else None
            self.report(Stall(late, time.time(), stack))

    def stop(self) -> None:
        """Stop beating and watching (idempotent); returns once the thread is gone."""
        self.handle.cancel()
        self.stopping.set()
        if self.thread is not threading.current_thread():
            self.thread.join(_JOIN_TIMEOUT)

    # -- in the watchdog thread -------------------------------------------------------

    def _watch(self) -> None:
        # The stack is taken once the next beat is half a threshold late. While the loop is
        # healthy the thread sleeps until that moment for the latest beat, so it wakes a
        # few times per threshold, not once per beat.
        capture_after = self.interval + self.threshold / 2
        wait = capture_after
        while not self.stopping.wait(wait):
            seq, beat = self.last
            since = time.monotonic() - beat
            if since < capture_after:
                wait = capture_after - since
                continue
            wait = self.interval  # stalled: look again soon, in case the loop moves on
            captured = self.captured
            if captured is not None and captured[0] == seq:
                continue  # this stall's stack is taken already
            frame = sys._current_frames().get(self.loop_thread)
            if frame is None:
                continue
            stack = _format_stack(frame)
            del frame  # a frame keeps its locals alive
            if self.last[0] == seq:  # still the same stall: the stack is its culprit's
                self.captured = (seq, stack)


def _format_stack(frame: FrameType) -> str:
    """The stack from the callback the loop was running (asyncio's own frames cut off)."""
    summaries = traceback.extract_stack(frame)
    for index in range(len(summaries) - 1, -1, -1):
        entry = summaries[index]
        if entry.name == "_run" and entry.filename == _HANDLE_FILE:
            del summaries[: index + 1]
            break
    return "".join(traceback.format_list(summaries))


class _State:
    __slots__ = ("heartbeat", "last", "max_stall", "stalls", "threshold")

    def __init__(self, heartbeat: _Heartbeat, threshold: float) -> None:
        self.heartbeat = heartbeat
        self.threshold = threshold
        self.stalls = 0
        self.max_stall = 0.0
        self.last: Stall | None = None


class _Stats(msgspec.Struct, frozen=True):
    pass


class LoopMonitor(GenServer[_State]):
    """Watches its node's event loop; see the module's documentation."""

    kind: ClassVar[str] = "loop_monitor"

    @classmethod
    def start_link(
        cls, arg: Any = None, *, name: Server | None = None
    ) -> Coroutine[Any, Any, StartResult]:
        """Start linked; ``arg`` is a :class:`LoopMonitorOptions` (default: 100 ms), whose
        ``name`` registers the monitor unless ``name`` is given here."""
        options = _options(arg)
        return start_server(cls(), options, name=name or options.name, link=True)

    @classmethod
    def start(
        cls, arg: Any = None, *, name: Server | None = None
    ) -> Coroutine[Any, Any, StartResult]:
        options = _options(arg)
        return start_server(cls(), options, name=name or options.name, link=False)

    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        """``LoopMonitor.child_spec()`` or ``child_spec(LoopMonitorOptions(threshold=0.2))``."""
        spec = ChildSpec(id="LoopMonitor", start=cls.start_link, args=(arg,), shutdown=1.0)
        return spec.with_(**overrides) if overrides else spec

    def init(self, options: LoopMonitorOptions) -> Init[_State]:
        me = current_process()
        assert me is not None
        pid = me.pid
        heartbeat = _Heartbeat(
            options.beat_interval, options.threshold, lambda stall: send(pid, stall), repr(pid)
        )
        # However the monitor ends, even killed (no terminate then), its thread ends with it.
        me.add_exit_hook(lambda _process, _reason: heartbeat.stop())
        return Init(_State(heartbeat, options.threshold))

    def handle_call(self, request: Any, from_: From, state: _State) -> Any:
        if type(request) is _Stats:
            return Reply(_stats(state), state)
        return super().handle_call(request, from_, state)

    def handle_info(self, msg: Any, state: _State) -> Any:
        if type(msg) is Stall:
            _record(msg, state)
            return NoReply(state)
        return super().handle_info(msg, state)

    def format_status(self, state: _State) -> Any:
        return msgspec.structs.asdict(_stats(state))


def _options(arg: Any) -> LoopMonitorOptions:
    options = arg if arg is not None else LoopMonitorOptions()
    if not isinstance(options, LoopMonitorOptions):
        raise TypeError(f"LoopMonitor takes LoopMonitorOptions, not {arg!r}")
    return options


def _record(stall: Stall, state: _State) -> None:
    """Log the stall once, count it and tell telemetry."""
    state.stalls += 1
    state.max_stall = max(state.max_stall, stall.duration)
    state.last = stall
    if stall.stack is None:
        log.warning(
            "the event loop was blocked for %.3f s (threshold %.3f s); its stack could not "
            "be taken (a call holding the GIL, or a stall just over the threshold)",
            stall.duration,
            state.threshold,
        )
    else:
        log.warning(
            "the event loop was blocked for %.3f s (threshold %.3f s); what was running on it:\n%s",
            stall.duration,
            state.threshold,
            stall.stack.rstrip("\n"),
        )
    me = current_process()
    assert me is not None
    tele = me.node.telemetry
    if tele.wants(STALL_EVENT):
        tele.execute(
            STALL_EVENT,
            {"duration": stall.duration},
            {"threshold": state.threshold, "stack": stall.stack, "monitor": me.pid},
        )


def _stats(state: _State) -> LoopStats:
    heartbeat = state.heartbeat
    return LoopStats(
        heartbeat.threshold, heartbeat.interval, state.stalls, state.max_stall, state.last
    )


async def stats(server: Server = DEFAULT_NAME, timeout: float = 5.0) -> LoopStats:
    """How many stalls the monitor saw, the longest, and the last one."""
    result: LoopStats = await call(server, _Stats(), timeout)
    return result
