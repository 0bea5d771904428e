"""OscServer: the OSC surfaces' UDP endpoint (a GenServer registered ``"soundforge.osc"``).

It owns one asyncio datagram endpoint on ``settings.osc_host:osc_port`` (port 0 picks a
free one: :func:`port`). The protocol only queues each datagram and wakes the server; the
server then reads *everything* queued in one pass (``_ingest``), so under a flood of
messages it makes few mixer calls and always applies each path's last value
(``_batches``). Malformed datagrams, unknown addresses and values the mixer refuses are
counted (:func:`status`), logged at most once a minute per reason, and ignored.

Feedback (``_feedback``): the server follows ``STUDIO_TOPIC`` and sends every change of the
focused sessions to the surfaces registered with ``/sf/register``, except the values a
surface itself just set.

**A taken port** is not a crash: ``init`` succeeds with the server *unavailable*, says why in
one sentence (status, ``format_status``, one warning) and tries to bind again every
``retry_every`` seconds. Crashing instead would restart it in a tight loop against a port
some other program holds and exhaust the supervisors' restart intensity, taking the studio
(and, escalating, the node) down for a configuration problem. A socket that fails later is
a crash (``Stop``), restarted by the Studio supervisor.

    Studio
    └── OscServer.child_spec(OscOptions(host="0.0.0.0", port=8000, pubsub="soundforge.pubsub"))
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, ClassVar, Final

import msgspec

from soundforge.runtime import pubsub
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Reply, Stop, call
from soundforge.runtime.process import Pid, current_process, send
from soundforge.runtime.results import StartResult
from soundforge.studio.events import STUDIO_TOPIC, MixerChanged, MixerSnapshot
from soundforge.studio.osc import _feedback, _ingest
from soundforge.studio.osc._clients import ClientInfo
from soundforge.studio.osc._state import Counters, OscOptions, ServerState

__all__ = ["DEFAULT_NAME", "OscServer", "OscStatus", "port", "status"]

log = logging.getLogger(__name__)

DEFAULT_NAME: Final = "soundforge.osc"
#: How often the server looks whether the focus moved (it lives in the registry, unsent).
FOCUS_POLL: Final = 0.5
#: Datagrams queued before the oldest are dropped (a flood the server cannot keep up with).
MAX_PENDING: Final = 65_536


class OscStatus(msgspec.Struct, frozen=True):
    """What ``GET /api/v1/studio/osc`` shows."""

    host: str
    #: The bound UDP port, or None while the server cannot listen.
    port: int | None
    listening: bool
    #: Why it is not listening (one sentence), or None.
    error: str | None
    clients: list[ClientInfo]
    counters: Counters
    #: The focused session, ``"<user id> <key>"``, or None.
    focused: str | None


class _Port(msgspec.Struct, frozen=True):
    pass


class _Status(msgspec.Struct, frozen=True):
    pass


class _Drain(msgspec.Struct, frozen=True):
    pass


class _Retry(msgspec.Struct, frozen=True):
    pass


class _Poll(msgspec.Struct, frozen=True):
    pass


class _SocketLost(msgspec.Struct, frozen=True):
    error: str


class _Protocol(asyncio.DatagramProtocol):
    """Queues datagrams for the server and wakes it once per batch (not once per datagram)."""

    def __init__(self, pid: Pid, pending: deque[tuple[bytes, tuple[str, int]]]) -> None:
        self.pid = pid
        self.pending = pending
        self.woken = False
        #: Datagrams pushed out of the full queue (the oldest go; the newest values stay).
        self.dropped = 0

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(self.pending) == self.pending.maxlen:
            self.dropped += 1
        self.pending.append((data, (str(addr[0]), int(addr[1]))))
        if not self.woken:
            self.woken = True
            send(self.pid, _Drain())

    def error_received(self, exc: Exception) -> None:
        # An ICMP error for something sent from the listening socket (a /sf/sync answer to
        # an address that went away): nothing to retry, the surface asks again.
        log.debug("OSC socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            send(self.pid, _SocketLost(str(exc)))


class OscServer(GenServer[ServerState]):
    """The OSC endpoint: messages to mixer changes, mixer changes to feedback."""

    kind: ClassVar[str] = "gen_server"

    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        """``OscServer.child_spec(OscOptions(...))``: a permanent worker registered as
        ``options.name`` (default ``"soundforge.osc"``)."""
        options: OscOptions = arg if isinstance(arg, OscOptions) else OscOptions()
        spec = ChildSpec(id="OscServer", start=_start, args=(options,), shutdown=5.0)
        return spec.with_(**overrides) if overrides else spec

    async def init(self, options: OscOptions) -> Init[ServerState]:
        me = current_process()
        assert me is not None
        state = ServerState(options, deque(maxlen=MAX_PENDING), me.node.clock)
        # However this process dies, its sockets close with it (a restart can bind again).
        me.add_exit_hook(lambda _proc, _reason: state.close())
        pubsub.subscribe(options.pubsub, STUDIO_TOPIC)
        await self._bind(state)
        me.node.clock.call_later(FOCUS_POLL, me.deliver, _Poll())
        return Init(state)

    async def handle_call(self, request: Any, from_: Any, state: ServerState) -> Reply[ServerState]:
        if isinstance(request, _Port):
            return Reply(state.port, state)
        if isinstance(request, _Status):
            return Reply(_status(state), state)
        raise ValueError(f"unknown OSC server request {request!r}")

    async def handle_info(self, msg: Any, state: ServerState) -> NoReply[ServerState] | Stop[Any]:
        if isinstance(msg, _Drain):
            if state.protocol is not None:
                state.protocol.woken = False
            await _ingest.drain(state)
        elif isinstance(msg, _ingest.Due):
            await _ingest.run_due(state, msg)
        elif isinstance(msg, MixerChanged):
            await _feedback.on_changed(state, msg)
        elif isinstance(msg, MixerSnapshot):
            await _feedback.on_snapshot(state, msg)
        elif isinstance(msg, _feedback.ClientFailed):
            _feedback.on_client_failed(state, msg)
        elif isinstance(msg, _Poll):
            await _feedback.check_focus(state)
            me = current_process()
            assert me is not None
            me.node.clock.call_later(FOCUS_POLL, me.deliver, _Poll())
        elif isinstance(msg, _Retry):
            await self._bind(state)
        elif isinstance(msg, _SocketLost):
            return Stop(OSError(f"the OSC socket failed: {msg.error}"), state)
        return NoReply(state)

    def terminate(self, reason: Any, state: ServerState) -> None:
        state.close()

    def format_status(self, state: ServerState) -> Any:
        counters = state.counters
        return {
            "port": state.port,
            "listening": state.transport is not None,
            "error": state.error,
            "clients": len(state.clients),
            "messages": counters.messages,
            "applied": counters.applied,
            "malformed": counters.malformed,
            "unknown": counters.unknown,
        }

    async def _bind(self, state: ServerState) -> None:
        options = state.options
        me = current_process()
        assert me is not None
        loop = asyncio.get_running_loop()
        protocol = _Protocol(me.pid, state.pending)
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: protocol, local_addr=(options.host, options.port)
            )
        except OSError as error:
            first = state.error is None
            state.error = (
                f"OSC cannot listen on {options.host}:{options.port} "
                f"({error.strerror or error}); set SOUNDFORGE_OSC_PORT to a free port "
                f"(it tries again every {options.retry_every:g} s)."
            )
            if first:
                log.warning("%s", state.error)
            me.node.clock.call_later(options.retry_every, me.deliver, _Retry())
            return
        state.transport = transport
        state.protocol = protocol
        state.port = int(transport.get_extra_info("sockname")[1])
        if state.error is not None:
            log.info("OSC listens on %s:%d now", options.host, state.port)
        else:
            log.info("OSC listens on %s:%d", options.host, state.port)
        state.error = None


def _status(state: ServerState) -> OscStatus:
    focus = _feedback.focused()
    return OscStatus(
        host=state.options.host,
        port=state.port,
        listening=state.transport is not None,
        error=state.error,
        clients=[client.info() for client in state.clients.values()],
        counters=msgspec.structs.replace(state.counters),
        focused=f"{focus.user_id} {focus.key}" if focus is not None else None,
    )


async def _start(options: OscOptions) -> StartResult:
    return await OscServer.start_link(options, name=options.name)


def port(name: str = DEFAULT_NAME, timeout: float = 5.0) -> Any:
    """The bound UDP port, or None while the server cannot listen (awaitable)."""
    return call(name, _Port(), timeout)


def status(name: str = DEFAULT_NAME, timeout: float = 5.0) -> Any:
    """The server's :class:`OscStatus` (awaitable)."""
    return call(name, _Status(), timeout)
