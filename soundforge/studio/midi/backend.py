"""The MIDI system underneath: ALSA or JACK through python-rtmidi, or neither.

:func:`select_backend` tries ALSA's sequencer first (what a desktop Linux has), then a
running JACK server (what a studio machine, or a container without ``/dev/snd``, has), and
returns a :class:`MidiBackend` for the first that works, or :class:`Unavailable` with the
one sentence the studio shows when there is neither. It never starts a JACK server.

A backend lists the ports of *other* programs (ours are named ``SoundForge…`` and left
out), opens an input, an output, or a virtual output other programs can read (the clock).
An input is read by a thread of its own that polls RtMidi's queue (every millisecond while
messages come, every 5 ms after a second without any; RtMidi stamps each message's delta
time when it arrives, so clock-in timing does not depend on the polling) and hands each
message to the event loop with ``loop.call_soon_threadsafe``, from where it reaches the
owning actor's mailbox, so no actor code ever runs off the loop.

Not rtmidi's input callback: RtMidi would call it on JACK's process thread, which must take
the GIL to run it. python-rtmidi holds the GIL while it closes a port, and closing waits for
that very thread: a controller sending while its port closed hung the whole process (and
freeing the callback under a waiting call crashed it). A polling reader never needs the GIL
on RtMidi's thread.

Creating and closing rtmidi clients takes tens of milliseconds under JACK, so callers run
:meth:`open_input`, :meth:`open_output` and :meth:`Port.close` in a worker thread.

Device names are the port names the system reports, with ALSA's trailing client:port
numbers removed (``"nanoKONTROL2:nanoKONTROL2 _ CTRL 20:0"`` → ``"nanoKONTROL2:nanoKONTROL2
_ CTRL"``), since those change when a device is plugged into another socket.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
import rtmidi  # type: ignore[import-untyped]  # python-rtmidi ships no type hints

__all__ = [
    "CLIENT_NAME",
    "MidiBackend",
    "Port",
    "Received",
    "Unavailable",
    "device_name",
    "select_backend",
]

log = logging.getLogger(__name__)

#: The client name our rtmidi clients use; ports of clients named so are ours.
CLIENT_NAME: Final = "SoundForge"
#: An input's reader polls this often while messages come, and this often after a quiet
#: second (latency at most one poll; RtMidi's own queue holds what arrives in between).
_ACTIVE_POLL: Final = 0.001
_IDLE_POLL: Final = 0.005
_QUIET_AFTER: Final = 1.0
_QUEUE: Final = 4096

_APIS: Final = (("ALSA", rtmidi.API_LINUX_ALSA), ("JACK", rtmidi.API_UNIX_JACK))
_ALSA_NUMBERS: Final = re.compile(r"\s+\d+:\d+$")


class Received(msgspec.Struct, frozen=True):
    """A message as rtmidi delivered it: its bytes and the seconds since the previous one
    from the same port (JACK and ALSA timestamp them, so clock ticks keep their timing)."""

    data: tuple[int, ...]
    delta: float


class Unavailable(msgspec.Struct, frozen=True):
    """No MIDI system works here; ``reason`` is the sentence the studio shows."""

    reason: str


def device_name(port_name: str) -> str:
    """The stable name of a port: its reported name without ALSA's client:port numbers."""
    return _ALSA_NUMBERS.sub("", port_name).strip()


def _is_ours(name: str) -> bool:
    client = name.split(":", 1)[0]
    return client == CLIENT_NAME or client.startswith((CLIENT_NAME + "-", CLIENT_NAME + " "))


class Port:
    """An open rtmidi port (input or output) that we own."""

    def __init__(self, midi: Any, name: str) -> None:
        self._midi = midi
        self.name = name
        self._lock = threading.Lock()
        self._closed = False
        #: Set by :meth:`silence`: the reader delivers nothing more and stops.
        self.silenced = False
        self._reader: threading.Thread | None = None

    def start_reading(
        self, loop: asyncio.AbstractEventLoop, deliver: Callable[[Received], None]
    ) -> None:
        """Poll the input in a thread of its own, each message to ``deliver`` on ``loop``."""
        self._reader = threading.Thread(
            target=self._read, args=(loop, deliver), name=f"midi-in {self.name}", daemon=True
        )
        self._reader.start()

    def _read(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[Received], None]) -> None:
        midi = self._midi
        quiet_since = time.monotonic()
        while not self.silenced:
            got = midi.get_message()
            if got is None:
                idle = time.monotonic() - quiet_since > _QUIET_AFTER
                time.sleep(_IDLE_POLL if idle else _ACTIVE_POLL)
                continue
            quiet_since = time.monotonic()
            data, delta = got
            try:
                loop.call_soon_threadsafe(deliver, Received(tuple(data), delta))
            except RuntimeError:  # the loop is closed: the server is stopping
                return

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, data: list[int]) -> None:
        """Send one message (outputs only); a closed port drops it."""
        if not self._closed:
            self._midi.send_message(data)

    def silence(self) -> None:
        """Stop delivering input at once (cheap; safe on the loop)."""
        self.silenced = True

    def close(self) -> None:
        """Close the port and its client (blocking, tens of ms under JACK: use a thread)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.silence()
            reader = self._reader
            if reader is not None and reader is not threading.current_thread():
                reader.join(1.0)  # it stops within one poll
            self._midi.close_port()
            self._midi.delete()

    def close_soon(self) -> None:
        """Stop input now and close in a thread of its own: for exit hooks, which run on
        the loop and must not block it (a killed actor cannot await a worker thread)."""
        if self._closed:
            return
        self.silence()
        threading.Thread(target=self._close_logged, name=f"midi-close {self.name}").start()

    def _close_logged(self) -> None:
        try:
            self.close()
        except Exception:  # a thread of its own: nothing else would ever hear of the failure
            log.exception("MIDI: closing the port %r failed", self.name)


class MidiBackend:
    """One MIDI API (ALSA or JACK) as the studio uses it."""

    def __init__(self, name: str, api: int, client_name: str = CLIENT_NAME) -> None:
        self.name = name
        self.api = api
        self.client_name = client_name
        # Long-lived clients for listing ports: listing is cheap, creating clients is not.
        self._probe_in = rtmidi.MidiIn(api, name=client_name)
        try:
            self._probe_out = rtmidi.MidiOut(api, name=client_name)
        except rtmidi.RtMidiError:
            self._probe_in.delete()
            raise

    @property
    def status(self) -> str:
        return f"MIDI controllers are served through {self.name}."

    def inputs(self) -> list[str]:
        """The device names of other programs' MIDI sources (controllers we can read)."""
        return _names(self._probe_in.get_ports())

    def outputs(self) -> list[str]:
        """The device names of other programs' MIDI destinations (for feedback)."""
        return _names(self._probe_out.get_ports())

    def open_input(
        self,
        device: str,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[Received], None],
    ) -> Port:
        """Open ``device`` for reading (blocking: call it in a worker thread).

        Clock messages are kept (clock in); sysex and active sensing are dropped. The port's
        reader thread hands each message to ``loop`` with
        ``call_soon_threadsafe(deliver, Received(...))``.
        Raises ``LookupError`` when the device is gone.
        """
        midi = rtmidi.MidiIn(self.api, name=self.client_name, queue_size_limit=_QUEUE)
        port = _open(midi, device, "in")
        midi.ignore_types(sysex=True, timing=False, active_sense=True)
        port.start_reading(loop, deliver)
        return port

    def open_output(self, device: str) -> Port:
        """Open ``device`` for writing (blocking). Raises ``LookupError`` when it is gone."""
        midi = rtmidi.MidiOut(self.api, name=self.client_name)
        return _open(midi, device, "feedback")

    def open_virtual_output(self, port_name: str) -> Port:
        """A port of ours other programs can read from, e.g. ``SoundForge Clock``."""
        midi = rtmidi.MidiOut(self.api, name=self.client_name)
        midi.open_virtual_port(port_name)
        return Port(midi, port_name)

    def close(self) -> None:
        """Close the listing clients (blocking)."""
        for midi in (self._probe_in, self._probe_out):
            midi.delete()


def _open(midi: Any, device: str, local_name: str) -> Port:
    for index, name in enumerate(midi.get_ports()):
        if device_name(name) == device and not _is_ours(name):
            midi.open_port(index, local_name)
            return Port(midi, device)
    midi.delete()
    raise LookupError(f"the MIDI device {device!r} is not connected")


def _names(ports: list[str]) -> list[str]:
    names: list[str] = []
    for port in ports:
        if not _is_ours(port):
            name = device_name(port)
            if name not in names:
                names.append(name)
    return names


def select_backend(client_name: str = CLIENT_NAME) -> MidiBackend | Unavailable:
    """The first MIDI API that works here (blocking: up to ~0.1 s, so use a thread)."""
    compiled = set(rtmidi.get_compiled_api())
    failures: list[str] = []
    for name, api in _APIS:
        if api not in compiled:
            failures.append(f"{name} is not built into python-rtmidi")
            continue
        try:
            return MidiBackend(name, api, client_name)
        except rtmidi.RtMidiError as error:
            log.debug("MIDI: %s does not work here: %s", name, error)
            failures.append(_why(name))
    return Unavailable(
        "MIDI controllers cannot be used on this machine: it has neither ALSA MIDI"
        " (no /dev/snd/seq) nor a running JACK server; everything else works."
        if len(failures) == 2
        else "MIDI controllers cannot be used: " + "; ".join(failures) + "."
    )


def _why(name: str) -> str:
    return "ALSA MIDI is missing (no /dev/snd/seq)" if name == "ALSA" else "no JACK server runs"
