"""Ports: an actor that owns one child OS process and talks to it in frames.

Mirrors Erlang's port (``open_port({spawn_executable, ...}, [{packet, 4}, exit_status,
use_stdio])``) and keeps its message protocol. The owner receives :class:`PortData` for
each frame the program writes to its stdout. It receives :class:`PortExit` when the program
exits, with Erlang's ``exit_status``: the exit code, or 128 + the signal number, so
``sh -c 'kill -TERM $$'`` gives 143. :func:`command` writes a frame to the program's stdin.
:func:`close` ends the program. The wire format is in :mod:`soundforge.runtime.framing`.
The program's stderr is logged line by line to the logger ``soundforge.port.<name>``.

    match await Port.start_link(PortOptions([sys.executable, "-m", "my.worker"])):
        case Ok(port):
            command(port, {"op": "analyse", "path": path})
            match await receive():
                case PortData(data=reply): ...
                case PortExit(status=status): ...

**Where it differs from Erlang: the OS process's life (MuonTrap/erlexec semantics).**
Erlang only closes the pipes when a port's owner dies, so a program that does not exit on
stdin EOF is orphaned. Here:

* The program runs in its own session and process group (``start_new_session``). When the
  port actor dies for *any* reason (crash, normal stop, supervisor shutdown, even an
  untrappable kill where no ``terminate`` runs), the whole group gets SIGTERM. It gets
  SIGKILL after ``PortOptions.shutdown`` seconds if anything is left. A
  :meth:`Process.add_exit_hook` does this. The delayed SIGKILL is armed on the node's
  clock by an object that outlives the actor (``_port_program.py``). When the node stops,
  it waits for the groups up to their grace and SIGKILLs the rest.
* If the server itself is SIGKILLed, a per-node reaper process (``_reaper.py``) SIGKILLs
  every registered group.
* The port is a process (a GenServer of kind ``"port"``), not a VM object. It traps exits, so
  a supervisor's shutdown runs ``terminate``, which closes stdin, sends SIGTERM, waits up to
  the grace (then SIGKILL) and reports ``PortExit``. Its child spec's shutdown is therefore
  longer than the port's grace.
* After the program exits, the port stops: ``normal`` for status 0, or after :func:`close`.
  Any other status gives ``PortExited(status)``, an abnormal reason, so a ``transient`` child
  is restarted only on failure (``MuonTrap.Daemon``). Linked to a non-trapping caller,
  that abnormal exit takes the caller down, as with any ``start_link``. Use
  ``Port.start`` and a monitor to survive it.
* The owner defaults to the process that starts the port. A port started on someone
  else's behalf (under a supervisor) names its ``owner``, monitors it, and stops with
  ``{shutdown, owner_down}`` when the owner dies.
* With ``framing=False`` the port is line-oriented, like Erlang's ``{line, L}``. Each stdout
  line arrives as ``PortData(port, bytes)`` without its newline, and a line longer than
  :data:`LINE_LIMIT` arrives in pieces. :func:`command` writes bytes as they are.

**Telemetry** (``node.telemetry``; see ``docs/telemetry.md``). ``("runtime", "port",
"start")`` when the program is spawned, ``("runtime", "port", "exit")`` when it exits (emitted
by the OS side, so also after the actor was killed), and ``("runtime", "port", "rss")`` every
``PortOptions.rss_interval`` seconds (the first a second after the start): psutil's walk over
the program's descendants reads /proc, a millisecond or more per program, so it runs in a
worker thread, never on the loop; ``format_status`` shows the last sample.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import time
from collections.abc import Coroutine
from typing import Any, ClassVar, Final

import msgspec

from soundforge.runtime._port_program import (
    KILL_MARGIN,
    PortProtocol,
    Program,
    port_table,
    read_line,
    resident_memory,
)
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.clock import TimerHandle
from soundforge.runtime.errors import ActorError, NoProc, NotInProcess, ServerExited
from soundforge.runtime.exit import NORMAL, ExitReason, Shutdown
from soundforge.runtime.framing import MAX_FRAME_SIZE, encode_frame, iter_frames
from soundforge.runtime.gen_server import (
    GenServer,
    Init,
    NoReply,
    Reply,
    Server,
    Stop,
    call,
    cast,
    resolve,
    start_server,
)
from soundforge.runtime.process import (
    Down,
    Exit,
    From,
    Pid,
    Process,
    Ref,
    current_process,
    monitor,
    send,
    trap_exit,
)
from soundforge.runtime.results import StartResult
from soundforge.runtime.telemetry import Telemetry

__all__ = [
    "EXIT_DRAIN",
    "EXIT_EVENT",
    "LINE_LIMIT",
    "RSS_EVENT",
    "START_EVENT",
    "Port",
    "PortData",
    "PortExit",
    "PortExited",
    "PortOptions",
    "PortStartFailed",
    "close",
    "command",
    "os_pid",
]

log = logging.getLogger(__name__)

#: After the program exits, how long the port keeps reading its stdout and stderr when a
#: grandchild holds the pipes open (seconds); otherwise it reads them to their end.
EXIT_DRAIN: Final = 0.5
#: The longest stderr line (and, without framing, stdout line) delivered in one piece.
LINE_LIMIT: Final = 256 * 1024

#: Telemetry: the program was spawned (measurements ``count``, ``system_time``).
START_EVENT: Final = ("runtime", "port", "start")
#: Telemetry: the program exited (measurements ``duration``, and ``rss`` once sampled).
EXIT_EVENT: Final = ("runtime", "port", "exit")
#: Telemetry: a sample of the resident memory of the program and its descendants.
RSS_EVENT: Final = ("runtime", "port", "rss")
#: Seconds from a program's start to its first memory sample.
_FIRST_RSS_SAMPLE: Final = 1.0


class PortOptions(msgspec.Struct, frozen=True):
    """How to run a port program (Erlang's ``open_port`` options)."""

    #: The program and its arguments (no shell).
    argv: list[str]
    #: Names the port in logs (``soundforge.port.<name>``); default: the program's basename.
    name: str = ""
    #: Variables added to the inherited environment; a ``None`` value removes one.
    env: dict[str, str | None] | None = None
    cwd: str | None = None
    #: Seconds between SIGTERM and SIGKILL to the program's process group.
    shutdown: float = 5.0
    #: Length-prefixed msgpack frames (True) or raw lines out / raw bytes in (False).
    framing: bool = True
    #: Who gets PortData/PortExit; default: the process that starts the port.
    owner: Pid | None = None
    #: The largest frame either way, in bytes.
    max_frame: int = MAX_FRAME_SIZE
    #: Seconds between resident-memory samples (``format_status``'s ``rss`` and telemetry's
    #: ``RSS_EVENT``); None: never.
    rss_interval: float | None = 10.0

    def __post_init__(self) -> None:
        if not self.argv:
            raise ValueError("a port needs a program to run: PortOptions.argv is empty")
        if self.shutdown < 0:
            raise ValueError(f"PortOptions.shutdown must be >= 0 seconds, not {self.shutdown}")
        if self.rss_interval is not None and self.rss_interval <= 0:
            raise ValueError(
                f"PortOptions.rss_interval must be > 0 seconds (or None), not {self.rss_interval}"
            )

    @property
    def label(self) -> str:
        return self.name or os.path.basename(self.argv[0])


class PortData(msgspec.Struct, frozen=True):
    """``{Port, {data, Data}}``: one frame (or one line, without framing) from the program."""

    port: Pid
    data: Any


class PortExit(msgspec.Struct, frozen=True):
    """``{Port, {exit_status, Status}}``: the exit code, or 128 + signal number if killed."""

    port: Pid
    status: int


class PortExited(ActorError):
    """The exit reason of a port whose program exited with a non-zero status."""

    def __init__(self, name: str, status: int) -> None:
        how = f"status {status}"
        killer = _signal_name(status)
        if killer is not None:
            how += f" (killed by {killer})"
        super().__init__(f"port program {name!r} exited with {how}")
        self.name = name
        self.status = status

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortExited) and (other.name, other.status) == (
            self.name,
            self.status,
        )

    def __hash__(self) -> int:
        return hash((PortExited, self.name, self.status))


class PortStartFailed(ActorError):
    """The port program could not be started; ``error`` is the operating system's reason."""

    def __init__(self, argv: list[str], error: Exception) -> None:
        super().__init__(
            f"could not start the port program {argv[0]!r}: {error}; check that it exists, "
            "is executable and that the working directory exists"
        )
        self.argv = argv
        self.error = error


# -- messages inside a port ---------------------------------------------------------------


class _Command(msgspec.Struct, frozen=True):
    payload: bytes


class _Close(msgspec.Struct, frozen=True):
    pass


class _OsPid(msgspec.Struct, frozen=True):
    pass


class _ProgramExited(msgspec.Struct, frozen=True):
    status: int


class _ReaderEnded(msgspec.Struct, frozen=True):
    stream: str
    error: BaseException | None


class _DrainOver(msgspec.Struct, frozen=True):
    pass


class _SampleRss(msgspec.Struct, frozen=True):
    pass


class _RssSampled(msgspec.Struct, frozen=True):
    rss: int | None


_CLOSE: Final = _Close()
_OS_PID: Final = _OsPid()
_DRAIN_OVER: Final = _DrainOver()
_SAMPLE_RSS: Final = _SampleRss()


# -- telemetry ----------------------------------------------------------------------------


class _ProgramTelemetry:
    """What telemetry says about one program: its start, its RSS samples and its exit.

    It exists before the :class:`Program` (whose constructor may already report the exit of
    a program that ended at once) and outlives the actor: the exit is reported by the OS
    side, however the actor ended.
    """

    __slots__ = ("label", "last_rss", "os_pid", "port", "started", "telemetry")

    def __init__(self, telemetry: Telemetry, port: Pid, label: str, os_pid: int) -> None:
        self.telemetry = telemetry
        self.port = port
        self.label = label
        self.os_pid = os_pid
        # How long an OS process ran is real time, whatever clock the node's timers use.
        self.started = time.monotonic()
        self.last_rss: int | None = None

    def metadata(self) -> dict[str, Any]:
        return {"port": self.port, "label": self.label, "os_pid": self.os_pid}

    def start(self, options: PortOptions) -> None:
        tele = self.telemetry
        if tele.wants(START_EVENT):
            meta = self.metadata()
            meta["owner"] = options.owner
            meta["argv"] = list(options.argv)
            tele.execute(START_EVENT, {"count": 1, "system_time": time.time()}, meta)

    def rss(self, rss: int) -> None:
        self.last_rss = rss
        tele = self.telemetry
        if tele.wants(RSS_EVENT):
            tele.execute(RSS_EVENT, {"rss": rss}, self.metadata())

    def exited(self, status: int) -> None:
        """The program exited (``Program``'s ``notify``): report it, then tell the port."""
        tele = self.telemetry
        if tele.wants(EXIT_EVENT):
            measurements: dict[str, float] = {"duration": time.monotonic() - self.started}
            if self.last_rss is not None:
                measurements["rss"] = self.last_rss
            meta = self.metadata()
            meta["status"] = status
            meta["signal"] = _signal_name(status)
            tele.execute(EXIT_EVENT, measurements, meta)
        send(self.port, _ProgramExited(status))


def _signal_name(status: int) -> str | None:
    """``SIGKILL`` for status 137, None for a plain exit code."""
    if status <= 128:
        return None
    try:
        return signal.Signals(status - 128).name
    except ValueError:
        return None  # 128 + n that is no signal is a plain exit code


def _sampled(port: Pid, future: asyncio.Future[int | None]) -> None:
    """A resident-memory sample finished in its worker thread: hand it to the port."""
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        # psutil's own errors are handled in resident_memory; anything else is a bug worth
        # a line, but never worth the port.
        log.warning("port %r: could not read the program's memory: %r", port, error)
        return
    send(port, _RssSampled(future.result()))


# -- the actor ----------------------------------------------------------------------------


class _PortState:
    """The port actor's state (mutable: its reader tasks count the frames they deliver)."""

    __slots__ = (
        "closers",
        "closing",
        "drain_timer",
        "dropped",
        "frames_in",
        "frames_out",
        "options",
        "owner",
        "owner_ref",
        "port",
        "program",
        "readers",
        "reported",
        "rss_timer",
        "streams_open",
        "telemetry",
    )

    def __init__(
        self,
        options: PortOptions,
        port: Pid,
        owner: Pid,
        program: Program,
        telemetry: _ProgramTelemetry,
    ) -> None:
        self.options = options
        self.port = port
        self.owner = owner
        self.owner_ref: Ref | None = None
        self.program = program
        self.readers: list[asyncio.Task[None]] = []
        self.frames_in = 0
        self.frames_out = 0
        self.dropped = 0
        self.closing = False
        self.closers: list[From] = []
        self.streams_open = 2  # stdout and stderr, until their readers reach the end
        self.reported = False
        self.drain_timer: TimerHandle | None = None
        self.telemetry = telemetry
        self.rss_timer: TimerHandle | None = None


class Port(GenServer[_PortState]):
    """A GenServer owning one port program. Start it with ``Port.start_link(PortOptions(...))``."""

    kind: ClassVar[str] = "port"

    def __init__(self, options: PortOptions | None = None) -> None:
        self.options = options

    # -- starting ---------------------------------------------------------------------

    @classmethod
    async def start_link(cls, arg: Any = None, *, name: Server | None = None) -> StartResult:
        """Start the port linked to the caller; ``arg`` is a :class:`PortOptions`."""
        options = _with_owner(arg)
        return await start_server(cls(options), options, name=name, link=True)

    @classmethod
    async def start(cls, arg: Any = None, *, name: Server | None = None) -> StartResult:
        """Start the port without a link (monitor it to learn how it ended)."""
        options = _with_owner(arg)
        return await start_server(cls(options), options, name=name, link=False)

    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        """A child spec whose shutdown outlasts the port's own SIGTERM→SIGKILL grace.

        Pass ``owner=`` in the options: the default owner would be the supervisor.
        """
        if not isinstance(arg, PortOptions):
            raise TypeError(f"Port.child_spec needs PortOptions, not {arg!r}")
        spec = ChildSpec(
            id=arg.label,
            start=cls.start_link,
            args=(arg,),
            shutdown=arg.shutdown + EXIT_DRAIN + KILL_MARGIN,
        )
        return spec.with_(**overrides) if overrides else spec

    # -- callbacks --------------------------------------------------------------------

    async def init(self, options: PortOptions) -> Any:
        me = current_process()
        assert me is not None and options.owner is not None
        trap_exit(True)
        table = port_table(me.node)
        loop = me.node.loop
        try:
            await table.reaper.ensure_started()
            transport, protocol = await loop.subprocess_exec(
                lambda: PortProtocol(LINE_LIMIT, loop),
                *options.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                cwd=options.cwd,
                env=_environment(options.env),
            )
        except (OSError, ValueError) as error:
            return Stop(PortStartFailed(options.argv, error))
        # No await from here on: the program is adopted and hooked before anything can
        # interrupt this process, so its death always reaches the program.
        report = _ProgramTelemetry(me.node.telemetry, me.pid, options.label, transport.get_pid())
        report.start(options)  # before Program, which may already report the exit
        program = Program(table, transport, protocol, options.shutdown, report.exited)
        table.adopt(program)
        state = _PortState(options, me.pid, options.owner, program, report)
        me.add_exit_hook(functools.partial(_on_port_death, state))
        _arm_rss_timer(state, first=True)
        logger = logging.getLogger(f"soundforge.port.{options.label}")
        stdout = _pump_frames(state, options.max_frame) if options.framing else _pump_lines(state)
        state.readers.append(_reader_task(loop, me.pid, "stdout", stdout, options.label))
        stderr = _pump_stderr(program.stderr, logger)
        state.readers.append(_reader_task(loop, me.pid, "stderr", stderr, options.label))
        parent = me.parent
        if parent is None or parent.pid is not options.owner:
            state.owner_ref = monitor(options.owner)
        return Init(state)

    def handle_call(self, request: Any, from_: From, state: _PortState) -> Any:
        if type(request) is _OsPid:
            return Reply(state.program.pid, state)
        if type(request) is _Close:
            state.closing = True
            state.closers.append(from_)
            state.program.terminate()
            return NoReply(state)
        return super().handle_call(request, from_, state)

    def handle_cast(self, msg: Any, state: _PortState) -> Any:
        if type(msg) is _Command:
            if state.program.write(msg.payload):
                state.frames_out += 1
            else:
                state.dropped += 1
                level = logging.WARNING if state.dropped == 1 else logging.DEBUG
                log.log(
                    level,
                    "port %r (%s): a command was dropped: the program's stdin is closed "
                    "(it exited or closed it); %d dropped so far",
                    state.port,
                    state.options.label,
                    state.dropped,
                )
            return NoReply(state)
        return super().handle_cast(msg, state)

    def handle_info(self, msg: Any, state: _PortState) -> Any:
        kind = type(msg)
        if kind is _ProgramExited:
            if not state.streams_open:
                return self._finish(state)
            state.drain_timer = state.program.table.clock.call_later(
                EXIT_DRAIN, send, state.port, _DRAIN_OVER
            )
            return NoReply(state)
        if kind is _ReaderEnded:
            if msg.error is not None:
                return Stop(msg.error, state)  # e.g. a malformed frame: the port has crashed
            state.streams_open -= 1
            if not state.streams_open and state.program.status is not None:
                return self._finish(state)
            return NoReply(state)
        if kind is _DrainOver:
            return self._finish(state)
        if kind is _SampleRss:
            # Always sampled (format_status shows the last one), never on the loop: psutil's
            # walk over the program's descendants reads /proc, milliseconds per program.
            program = state.program
            if program.status is None:
                loop = program.table.loop
                sample = loop.run_in_executor(None, resident_memory, program.pid)
                sample.add_done_callback(functools.partial(_sampled, state.port))
                _arm_rss_timer(state)
            return NoReply(state)
        if kind is _RssSampled:
            # A sample taken as the program exited is stale: its exit was reported already.
            if msg.rss is not None and state.program.status is None:
                state.telemetry.rss(msg.rss)
            return NoReply(state)
        if kind is Down and msg.ref is state.owner_ref:
            return Stop(Shutdown("owner_down"), state)
        if kind is Exit:
            # A linked process other than the parent: die with it, as a non-trapping process
            # would, but through terminate so the program is stopped gracefully.
            return NoReply(state) if msg.reason is NORMAL else Stop(msg.reason, state)
        return super().handle_info(msg, state)

    async def terminate(self, reason: ExitReason, state: _PortState) -> None:
        """Stop the program gracefully (bounded by its grace), report its exit, stop reading."""
        program = state.program
        if not state.reported:
            if program.status is None:
                program.terminate()
                await asyncio.wait([program.exited], timeout=program.grace + KILL_MARGIN)
            reading = [task for task in state.readers if not task.done()]
            if program.status is not None and reading:
                await asyncio.wait(reading, timeout=EXIT_DRAIN)
            _report_exit(state)
        for task in state.readers:
            task.cancel()

    def format_status(self, state: _PortState) -> Any:
        program = state.program
        return {
            "name": state.options.label,
            "os_pid": program.pid,
            "argv": list(state.options.argv),
            "owner": state.owner,
            "framing": state.options.framing,
            "frames_in": state.frames_in,
            "frames_out": state.frames_out,
            "dropped": state.dropped,
            "exit_status": program.status,
            "closing": state.closing,
            # The last sample (every rss_interval; the first one second after the start).
            "rss": state.telemetry.last_rss if program.status is None else None,
        }

    def _finish(self, state: _PortState) -> Any:
        """The program exited and its output is read: report, then stop."""
        _report_exit(state)
        status = state.program.status
        if status == 0 or state.closing:
            return Stop(NORMAL, state)
        assert status is not None
        return Stop(PortExited(state.options.label, status), state)


def _arm_rss_timer(state: _PortState, first: bool = False) -> None:
    interval = state.options.rss_interval
    if interval is not None:
        clock = state.program.table.clock
        delay = min(interval, _FIRST_RSS_SAMPLE) if first else interval
        state.rss_timer = clock.call_later(delay, send, state.port, _SAMPLE_RSS)


def _report_exit(state: _PortState) -> None:
    """Tell the owner (once) how the program ended, and answer every pending close."""
    status = state.program.status
    if state.reported:
        return
    state.reported = True
    if state.drain_timer is not None:
        state.drain_timer.cancel()
        state.drain_timer = None
    if status is not None:
        send(state.owner, PortExit(state.port, status))
    for from_ in state.closers:
        from_.reply(status)
    state.closers.clear()


def _on_port_death(state: _PortState, process: Process, reason: ExitReason) -> None:
    """The exit hook: runs however the port died, even killed, when no terminate runs."""
    for task in state.readers:
        task.cancel()
    if state.drain_timer is not None:
        state.drain_timer.cancel()
    if state.rss_timer is not None:
        state.rss_timer.cancel()
    state.program.terminate()
    state.program.release()


# -- reader tasks, owned by the port actor ------------------------------------------------


def _reader_task(
    loop: asyncio.AbstractEventLoop,
    port: Pid,
    stream: str,
    body: Coroutine[Any, Any, None],
    label: str,
) -> asyncio.Task[None]:
    """Run ``body`` as a task of the port; its end (or failure) reaches the port as a message."""
    task = loop.create_task(body, name=f"port {label} {stream}")
    task.add_done_callback(functools.partial(_reader_done, port, stream))
    return task


def _reader_done(port: Pid, stream: str, task: asyncio.Task[None]) -> None:
    error = None if task.cancelled() else task.exception()
    send(port, _ReaderEnded(stream, error))


async def _pump_frames(state: _PortState, max_size: int) -> None:
    owner, port = state.owner, state.port
    async for value in iter_frames(state.program.stdout, max_size=max_size):
        state.frames_in += 1
        send(owner, PortData(port, value))


async def _pump_lines(state: _PortState) -> None:
    owner, port, reader = state.owner, state.port, state.program.stdout
    while line := await read_line(reader):
        state.frames_in += 1
        send(owner, PortData(port, line[:-1] if line.endswith(b"\n") else line))


async def _pump_stderr(reader: asyncio.StreamReader, logger: logging.Logger) -> None:
    while line := await read_line(reader):
        logger.info("%s", line.decode("utf-8", "replace").rstrip("\r\n"))


# -- helpers ------------------------------------------------------------------------------


def _with_owner(arg: Any) -> PortOptions:
    if not isinstance(arg, PortOptions):
        raise TypeError(f"a port is started with PortOptions, not {arg!r}")
    if arg.owner is not None:
        return arg
    caller = current_process()
    if caller is None:
        raise NotInProcess(
            "a port needs an owner: start it from inside a process or pass PortOptions(owner=...)"
        )
    return msgspec.structs.replace(arg, owner=caller.pid)


def _environment(env: dict[str, str | None] | None) -> dict[str, str] | None:
    if env is None:
        return None
    merged = dict(os.environ)
    for key, value in env.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _raw_bytes(data: Any) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"a port without framing takes bytes or str, not {type(data).__name__}")


# -- the client API -----------------------------------------------------------------------


def command(port: Server, data: Any) -> None:
    """Send ``data`` to the program (Erlang's ``port_command``); never blocks.

    ``data`` is encoded here, so a value msgpack cannot encode (or a frame over
    ``max_frame``) raises in the caller. If the program's stdin is closed, the command is
    dropped and the port logs it; the program's end reaches the owner as :class:`PortExit`.
    A dead port drops it silently, like any message to a dead process. Commands are
    buffered without a limit while the program is not reading: pace large streams by its
    replies.
    """
    proc = resolve(port)
    if proc is None:
        return
    behaviour = proc.behaviour
    if not isinstance(behaviour, Port) or behaviour.options is None:
        raise TypeError(f"{port!r} is not a port")
    options = behaviour.options
    if options.framing:
        payload = encode_frame(data, max_size=options.max_frame)
    else:
        payload = _raw_bytes(data)
    cast(proc.pid, _Command(payload))


async def close(port: Server, timeout: float | None = None) -> int | None:
    """Stop the program (close stdin, SIGTERM, SIGKILL after the grace) and the port.

    Returns the program's exit status, or ``None`` if the port was already gone. The port
    then stops with reason ``normal`` whatever the status, and the owner still gets
    :class:`PortExit`. SIGTERM follows the closing of stdin at once (MuonTrap's close): a
    program that should finish its work on EOF is told so by a command instead, and its
    owner waits for :class:`PortExit`. The port's own SIGKILL bounds the wait; a
    ``timeout`` bounds it more (:class:`CallTimeout`).
    """
    try:
        status: int | None = await call(port, _CLOSE, timeout=timeout)
    except (NoProc, ServerExited):
        return None
    return status


async def os_pid(port: Server) -> int:
    """The program's OS pid (also its process group id)."""
    pid: int = await call(port, _OS_PID)
    return pid
