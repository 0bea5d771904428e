"""Real virtual MIDI for the tests: a JACK server on its dummy backend, and virtual devices.

``jackd`` starts one private JACK server for the session (its own server name, so it never
meets another JACK on the machine) with the dummy audio driver and a short period (128
frames at 48 kHz: MIDI is delivered every 2.7 ms), and points every rtmidi client of the
test process at it through ``JACK_DEFAULT_SERVER``. It skips the tests, saying why, only
where the ``jackd`` binary is missing (``apt-get install jackd2``).

``midi_server`` is the module's shared server (``api_server``) with MidiDevices running,
polling every 0.2 s: the one the Studio runs, or one the fixture starts on the server's
node while the Studio does not have it yet.

:class:`VirtualDevice` is a controller as another program: a virtual output port we read
from, and a virtual input port that receives our feedback.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
import rtmidi

from tests.postgres import PgCluster
from tests.web.api.conftest import server_on_fresh_database
from tests.web.conftest import WebServer


@pytest.fixture(scope="session")
def jackd() -> Iterator[str]:
    binary = shutil.which("jackd")
    if binary is None:
        pytest.skip("jackd is not installed (apt-get install jackd2): no virtual MIDI ports")
    name = f"sftest{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [binary, "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "128"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        os.environ["JACK_DEFAULT_SERVER"] = name
        os.environ["JACK_NO_START_SERVER"] = "1"
        try:
            _wait_for_jack(process, log)
            yield name
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_for_jack(process: subprocess.Popen[bytes], log: Any) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="probe")
        except rtmidi.SystemError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise AssertionError(f"jackd did not start: {log.read().decode()[-800:]}") from None
            time.sleep(0.1)
            continue
        probe.delete()
        return


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def midi_server(jackd: str, pg_cluster: PgCluster) -> AsyncIterator[WebServer]:
    """A server with MIDI on (``SOUNDFORGE_MIDI=1``), on the session's JACK server."""
    async with server_on_fresh_database(pg_cluster, midi=True) as server:
        server.studio.node.attach()
        yield server


class VirtualDevice:
    """A controller: ``name:name`` sends to us; ``name-01:name`` (when ``feedback``) gets
    what we send back."""

    def __init__(self, name: str, feedback: bool = False) -> None:
        self.name = name
        self.device_name = f"{name}:{name}"
        self._out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
        self._out.open_virtual_port(name)
        self.received: list[list[int]] = []
        self._got = threading.Condition()
        self._in = None
        if feedback:
            self._in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=name)
            self._in.open_virtual_port(name)
            self._in.set_callback(self._on_message)
            # As Port.keep_callback does: python-rtmidi frees this tuple on close_port while
            # JACK's thread may be about to call it.
            self._callback_refs = gc.get_referents(self._in)

    @classmethod
    async def open(cls, name: str, feedback: bool = False) -> VirtualDevice:
        return await asyncio.to_thread(cls, name, feedback)

    def _on_message(self, event: tuple[list[int], float], _data: object) -> None:
        with self._got:
            self.received.append(list(event[0]))
            self._got.notify_all()

    def send(self, *data: int) -> None:
        self._out.send_message(list(data))

    def cc(self, number: int, value: int, channel: int = 0) -> None:
        self.send(0xB0 | channel, number, value)

    def note(self, number: int, velocity: int = 127, channel: int = 0) -> None:
        self.send(0x90 | channel, number, velocity)

    async def close(self) -> None:
        def close() -> None:
            for midi in (self._out, self._in):
                if midi is not None:
                    midi.close_port()
                    midi.delete()

        await asyncio.to_thread(close)


@pytest_asyncio.fixture(loop_scope="module")
async def device(midi_server: WebServer) -> AsyncIterator[VirtualDevice]:
    opened = await VirtualDevice.open(f"Knobs{uuid.uuid4().hex[:6]}", feedback=True)
    yield opened
    await opened.close()
