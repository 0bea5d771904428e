"""The Notifier: one LISTEN connection per node, fanning notifications out to the producers.

Mirrors ``Oban.Notifiers.Postgres``: a process holding a dedicated connection that LISTENs on
the queue's channel (:data:`~soundforge.queue.signals.CHANNEL`), decodes each payload and
sends it to the producer of the queue it names, found by its registered name
(``(tree name, "producer", queue)``). Inserts wake producers at once; pause, resume, scale
and pkill signals reach every node's producers the same way.

When the connection goes away (PostgreSQL restarted, network), the notifier reconnects with
a capped exponential backoff, and after each reconnect sends every producer
:class:`~soundforge.queue.signals.Reconnected` so they look for work they may have missed
(Oban switches its stager to local polling instead). A periodic ``SELECT 1`` notices a
connection that died silently. Emits ``("queue", "notifier", "switch")`` with
``{"connected": bool}`` on each change.

Differences from Oban: sending goes through ``engine.notify`` on any connection (a
notification is just ``pg_notify`` in the sender's transaction), not through this process;
one channel carries every kind of notification.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import msgspec

from soundforge.queue import signals
from soundforge.queue._db import TRANSIENT, Held, hold
from soundforge.queue.config import QueueContext
from soundforge.runtime.exit import ExitReason
from soundforge.runtime.gen_server import Continue, GenServer, Init, NoReply
from soundforge.runtime.process import Exit, Process, current_process, send

__all__ = ["Notifier"]

log = logging.getLogger(__name__)

SWITCH: Final = ("queue", "notifier", "switch")
#: Seconds between liveness checks of the LISTEN connection.
HEALTH_INTERVAL: Final = 5.0
_MAX_BACKOFF: Final = 2.0


class _Payload(msgspec.Struct, frozen=True):
    text: str


class _Lost(msgspec.Struct, frozen=True):
    generation: int


class _Connect(msgspec.Struct, frozen=True):
    pass


class _Health(msgspec.Struct, frozen=True):
    pass


class _State:
    __slots__ = ("ctx", "failures", "generation", "held", "listener", "proc", "was_connected")

    def __init__(self, ctx: QueueContext, proc: Process) -> None:
        self.ctx = ctx
        self.proc = proc
        self.held: Held | None = None
        self.listener: Callable[[Any, int, str, str], None] | None = None
        self.generation = 0
        self.failures = 0
        self.was_connected = False


class Notifier(GenServer[_State]):
    """The node's LISTEN connection (one per ``Queues`` tree)."""

    def init(self, ctx: QueueContext) -> Init[_State]:
        proc = current_process()
        assert proc is not None
        proc.trap_exit = True  # so terminate runs on shutdown and releases the connection
        proc.node.clock.call_later(HEALTH_INTERVAL, proc.deliver, _Health())
        return Init(_State(ctx, proc), Continue(_Connect()))

    async def handle_continue(self, arg: Any, state: _State) -> NoReply[_State]:
        await self._connect(state)
        return NoReply(state)

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State]:
        kind = type(msg)
        if kind is _Payload:
            self._route(msg.text, state)
        elif kind is _Lost:
            if msg.generation == state.generation and state.held is not None:
                log.warning("the queue notifier lost its connection; reconnecting")
                self._switch(state, False)
                state.held = None
                await self._connect(state)
        elif kind is _Connect:
            if state.held is None:
                await self._connect(state)
        elif kind is _Health:
            await self._check(state)
            state.proc.node.clock.call_later(HEALTH_INTERVAL, state.proc.deliver, _Health())
        elif kind is not Exit:  # exits of linked helpers: nothing to do, the parent's is handled
            log.debug("queue notifier ignored %r", msg)
        return NoReply(state)

    async def terminate(self, reason: ExitReason, state: _State) -> None:
        held = state.held
        if held is not None and state.listener is not None and not held.lost:
            try:
                await held.conn.remove_listener(signals.CHANNEL, state.listener)
            except TRANSIENT:
                held.kill()
        if held is not None:
            await held.release()

    def format_status(self, state: _State) -> Any:
        return {"node": state.ctx.node, "connected": state.held is not None}

    # -- connection -----------------------------------------------------------------------

    async def _connect(self, state: _State) -> None:
        proc = state.proc
        state.generation += 1
        generation = state.generation
        held: Held | None = None

        def on_notification(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            proc.deliver(_Payload(payload))

        try:
            held = await hold(proc, state.ctx.pool, lambda: proc.deliver(_Lost(generation)))
            await held.conn.add_listener(signals.CHANNEL, on_notification)
        except TRANSIENT as error:
            if held is not None:
                held.kill()
            state.failures += 1
            delay = min(_MAX_BACKOFF, 0.05 * 2 ** min(state.failures, 10))
            if state.failures == 1:
                log.warning("the queue notifier cannot connect (%s); retrying", error)
            proc.node.clock.call_later(delay, proc.deliver, _Connect())
            return
        state.held = held
        state.listener = on_notification
        reconnected = state.was_connected or state.failures > 0
        state.failures = 0
        state.was_connected = True
        self._switch(state, True)
        if reconnected:
            log.info("the queue notifier is connected again")
        # Work inserted while no one listened would wait for the next poll: look now.
        for queue in state.ctx.config.queues:
            send(state.ctx.name("producer", queue), signals.Reconnected())

    async def _check(self, state: _State) -> None:
        held = state.held
        if held is None:
            return
        try:
            await held.conn.execute("SELECT 1", timeout=HEALTH_INTERVAL)
        except TRANSIENT:
            held.kill()
            state.held = None
            log.warning("the queue notifier's connection stopped answering; reconnecting")
            self._switch(state, False)
            await self._connect(state)

    def _switch(self, state: _State, connected: bool) -> None:
        tele = state.proc.node.telemetry
        if tele.wants(SWITCH):
            tele.execute(SWITCH, {"count": 1}, {"connected": connected, "node": state.ctx.node})

    # -- fan-out --------------------------------------------------------------------------

    def _route(self, text: str, state: _State) -> None:
        try:
            note = signals.decode(text)
        except msgspec.MsgspecError as error:
            log.debug("queue notifier dropped a malformed payload %r: %s", text, error)
            return
        if state.ctx.config.queues.get(note.queue) is None:
            return  # not a queue this node runs
        send(state.ctx.name("producer", note.queue), note)
