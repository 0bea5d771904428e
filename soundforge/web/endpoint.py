"""The Endpoint: Phoenix's endpoint, the actor that serves the Quart app with Hypercorn.

It runs in the node's own event loop under the root supervisor. ``init`` binds the listening
socket itself, so a taken port fails the start with one sentence instead of a traceback
later, and port 0 picks a free port (tests, benchmarks); :func:`url` tells the bound
address. Hypercorn then serves in a task the actor owns: if that task ends unexpectedly the
actor stops with its reason and the supervisor restarts it.

Each HTTP request and each WebSocket connection runs as a process of its own (kind ``http``
or ``websocket``), like a Cowboy connection process: a handler can subscribe to PubSub,
receive, and call actors that monitor their callers (a port pool kills the program of a
request whose client went away, and only that one).

Once an hour it deletes expired browser sessions (they are refused anyway; this keeps the
table small). On shutdown the endpoint first tells WebSocket handlers to close (1001,
"going away") and then trips Hypercorn's shutdown, which waits up to ``graceful`` seconds for
requests in flight.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Any, Final

import msgspec
from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.protocol import ws_stream
from hypercorn.utils import wrap_app
from wsproto.extensions import PerMessageDeflate

from soundforge.accounts import prune_expired
from soundforge.accounts.events import ACCOUNTS_TOPIC, CredentialsChanged
from soundforge.actors import repo
from soundforge.errors import SoundForgeError
from soundforge.runtime import pubsub
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Stop, call
from soundforge.runtime.gen_server import Reply as CallReply
from soundforge.runtime.process import current_node, current_process, self_pid, send
from soundforge.web.app import create_app
from soundforge.web.context import WebContext, load_secret
from soundforge.web.live import STOP_TOPIC, Stopping

__all__ = ["DEFAULT_NAME", "Endpoint", "EndpointOptions", "PortInUse", "url"]

log = logging.getLogger(__name__)

DEFAULT_NAME: Final = "soundforge.endpoint"


class PortInUse(SoundForgeError):
    exit_code = 69  # EX_UNAVAILABLE


class EndpointOptions(msgspec.Struct, frozen=True):
    settings: Any  # soundforge.config.Settings
    repo: str
    pubsub: str
    host: str = "127.0.0.1"
    port: int = 4000
    #: Seconds Hypercorn waits for requests in flight on shutdown.
    graceful: float = 5.0
    name: str = DEFAULT_NAME


class _ServeEnded(msgspec.Struct, frozen=True):
    error: BaseException | None


class _Url(msgspec.Struct, frozen=True):
    pass


class _PruneSessions(msgspec.Struct, frozen=True):
    pass


#: How often expired sessions are deleted (they are refused anyway; this bounds the table).
PRUNE_EVERY: Final = 3600.0


class _State:
    def __init__(self, context: WebContext, serving: asyncio.Task[None], url: str) -> None:
        self.context = context
        self.serving = serving
        self.url = url
        self.shutdown = asyncio.Event()


class Endpoint(GenServer[_State]):
    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        options: EndpointOptions = arg

        async def start(options: EndpointOptions) -> Any:
            return await cls.start_link(options, name=options.name)

        spec = ChildSpec(id="Endpoint", start=start, args=(options,), shutdown=15.0)
        return spec.with_(**overrides) if overrides else spec

    async def init(self, options: EndpointOptions) -> Init[_State] | Stop[_State]:
        me = current_process()
        assert me is not None
        me.trap_exit = True  # so terminate runs on shutdown and closes the sockets
        secret = await asyncio.to_thread(load_secret, options.settings.data_dir)
        context = WebContext(options.settings, options.repo, options.pubsub, secret)
        app = create_app(context)
        config = _config(options)
        try:
            sockets = await _bind(config)
        except OSError as error:
            return Stop(
                PortInUse(
                    f"The web endpoint cannot listen on {options.host}:{options.port} "
                    f"({error.strerror}); start with --port N or set SOUNDFORGE_PORT."
                )
            )
        host, port = sockets.insecure_sockets[0].getsockname()[:2]
        url = f"http://{_url_host(host)}:{port}"
        state_box: list[_State] = []
        serving = asyncio.ensure_future(
            _serve(app, config, sockets, lambda: state_box[0].shutdown.wait(), current_node())
        )
        pid = self_pid()
        # However this process dies (even killed, when terminate does not run), the server
        # it owns stops with it: cancelling the task closes the listening socket.
        me.add_exit_hook(lambda _proc, _reason: _stop_serving(serving))
        # The same for its telemetry handlers: a restarted or second endpoint attaches its
        # own (ids named after this process), and none accumulate on the node.
        context.telemetry.attach(me.node, f"soundforge.web.endpoint {me.pid!r}")
        me.add_exit_hook(lambda _proc, _reason: context.telemetry.detach())
        serving.add_done_callback(
            lambda task: send(pid, _ServeEnded(None if task.cancelled() else task.exception()))
        )
        state = _State(context, serving, url)
        state_box.append(state)
        pubsub.subscribe(options.pubsub, ACCOUNTS_TOPIC)  # other nodes' credential changes
        me.node.clock.call_later(PRUNE_EVERY, send, pid, _PruneSessions())
        log.info("SoundForge is serving %s", url)
        return Init(state)

    def handle_call(self, request: Any, from_: Any, state: _State) -> Any:
        if isinstance(request, _Url):
            return CallReply(state.url, state)
        raise ValueError(f"unknown request {request!r}")

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State] | Stop[_State]:
        if isinstance(msg, _ServeEnded) and not state.shutdown.is_set():
            reason = msg.error or RuntimeError("the web server stopped by itself")
            return Stop(reason, state)
        if isinstance(msg, CredentialsChanged):
            state.context.credentials.forget_user(msg.user_id)
        if isinstance(msg, _PruneSessions):
            await _prune_sessions(state.context.repo)
            me = current_process()
            assert me is not None
            me.node.clock.call_later(PRUNE_EVERY, send, me.pid, _PruneSessions())
        return NoReply(state)

    async def terminate(self, reason: Any, state: _State) -> None:
        state.context.stopping.set()
        # Every WebSocket process closes its socket (1001) when it hears this.
        pubsub.local_broadcast(state.context.pubsub, STOP_TOPIC, Stopping())
        await asyncio.sleep(0.05)  # let them send their close frames
        state.shutdown.set()
        try:
            await asyncio.wait_for(asyncio.shield(state.serving), 10.0)
        except (TimeoutError, Exception):
            log.warning("the web server did not stop cleanly", exc_info=True)
            state.serving.cancel()

    def format_status(self, state: _State) -> dict[str, Any]:
        metrics = state.context.metrics
        return {
            "url": state.url,
            "websocket_clients": metrics.websocket_clients,
            "requests": sum(metrics.requests.values()),
        }


async def _prune_sessions(repo_name: str) -> None:
    try:
        async with repo.connection(repo_name) as conn:
            pruned = await prune_expired(conn)
    except repo.DatabaseUnavailable as error:
        log.warning("expired sessions were not pruned: %s", error)
        return
    if pruned:
        log.info("deleted %d expired session(s)", pruned)


def url(name: str = DEFAULT_NAME, timeout: float = 5.0) -> Any:
    """The endpoint's base URL, e.g. ``http://127.0.0.1:4000`` (awaitable)."""
    return call(name, _Url(), timeout)


def _stop_serving(serving: asyncio.Task[None]) -> None:
    serving.cancel()


async def _bind(config: Config, attempts: int = 20) -> Sockets:
    """Bind the listening sockets, waiting up to 2 s for a predecessor to let the port go.

    A restarted endpoint binds the port its crashed predecessor held; that one's server
    closes its socket a few loop iterations after its task was cancelled.
    """
    for attempt in range(attempts):
        try:
            return config.create_sockets()
        except OSError as error:
            if error.errno != errno.EADDRINUSE or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.1)
    raise AssertionError("unreachable")


class _DeclinedDeflate(PerMessageDeflate):
    """permessage-deflate, declined whatever the client offers (see :func:`_config`)."""

    def accept(self, offer: str) -> None:
        return None


def _config(options: EndpointOptions) -> Config:
    # Hypercorn 0.18 accepts permessage-deflate from every client that offers it (browsers
    # all do) and has no setting for it. Our frames are events of a few hundred bytes:
    # deflating them saves little, yet each connection then holds zlib state (measured: 140
    # KiB of RSS per idle client against 40 without) and deflating is a fifth of the CPU of
    # sending one event to 1,000 sockets. So the handshake declines it (idempotent; it only
    # concerns Hypercorn's WebSocket handshake in this process).
    ws_stream.PerMessageDeflate = _DeclinedDeflate  # type: ignore[attr-defined]
    config = Config()
    config.bind = [f"{_bind_host(options.host)}:{options.port}"]
    config.graceful_timeout = options.graceful
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    # No protocol pings: Hypercorn 0.18's ping task outlives its closed connection and holds
    # the shutdown for the whole grace period. The page's live.js reconnects whenever a proxy
    # drops an idle socket.
    config.websocket_ping_interval = None
    config.include_server_header = False
    return config


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _serve(app: Any, config: Config, sockets: Sockets, trigger: Any, node: Any) -> None:
    await worker_serve(
        wrap_app(_Connections(app, node), config.wsgi_max_body_size, "asgi"),
        config,
        sockets=sockets,
        shutdown_trigger=trigger,
    )


class _Connections:
    """ASGI middleware: each request or WebSocket runs as a process of the node."""

    def __init__(self, app: Any, node: Any) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: Any, receive: Any, send_: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send_)
            return
        proc = self.node.attach(scope["type"])
        try:
            await self.app(scope, receive, send_)
        finally:
            self.node.detach(proc)
