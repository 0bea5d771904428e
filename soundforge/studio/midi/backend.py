"""The MIDI system underneath: ALSA or JACK through python-rtmidi, or neither.

:func:`select_backend` tries ALSA's sequencer first (what a desktop Linux has), then a
running JACK server (what a studio machine, or a container without ``/dev/snd``, has), and
returns a :class:`MidiBackend` for the first that works, or :class:`Unavailable` with the
one sentence the studio shows when there is neither. It never starts a JACK server.

A backend lists the ports of *other* programs (ours are named ``SoundForge…`` and left
out), opens an input with a callback, an output, or a virtual output other programs can
read (the clock). rtmidi calls the input callback on its own thread (JACK's process
thread); :meth:`MidiBackend.open_input` hands each message to the event loop with
``loop.call_soon_threadsafe`` and from there to the owning actor's mailbox, so no actor
code ever runs off the loop. Creating and closing rtmidi clients takes tens of
milliseconds under JACK, so callers run :meth:`open_input`, :meth:`open_output` and
:meth:`Port.close` in a worker thread.

Device names are the port names the system reports, with ALSA's trailing client:port
numbers removed (``"nanoKONTROL2:nanoKONTROL2 _ CTRL 20:0"`` → ``"nanoKONTROL2:nanoKONTROL2
_ CTRL"``), since those change when a device is plugged into another socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
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

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, data: list[int]) -> None:
        """Send one message (outputs only); a closed port drops it."""
        if not self._closed:
            self._midi.send_message(data)

    def silence(self) -> None:
        """Stop delivering input at once (cheap; safe on the loop)."""
        if hasattr(self._midi, "cancel_callback"):
            # No callback set means nothing to stop.
            with contextlib.suppress(rtmidi.RtMidiError):
                self._midi.cancel_callback()

    def close(self) -> None:
        """Close the port and its client (blocking, tens of ms under JACK: use a thread)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.silence()
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

        Clock messages are kept (clock in); sysex and active sensing are dropped. Each
        message is handed to ``loop`` with ``call_soon_threadsafe(deliver, Received(...))``.
        Raises ``LookupError`` when the device is gone.
        """
        midi = rtmidi.MidiIn(self.api, name=self.client_name)
        port = _open(midi, device, "in")

        def on_message(event: tuple[list[int], float], _data: Any) -> None:
            data, delta = event
            # A closed loop means the server is stopping and nobody listens any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(deliver, Received(tuple(data), delta))

        midi.ignore_types(sysex=True, timing=False, active_sense=True)
        midi.set_callback(on_message)
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
