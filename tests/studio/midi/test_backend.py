"""The rtmidi port wrapper on a real JACK server: input reaches the loop, a silenced port
delivers nothing more, and closing ports while a controller keeps sending neither hangs nor
crashes the process (with rtmidi's input callback it did both: see backend.py)."""

from __future__ import annotations

import asyncio
import sys

import pytest
import rtmidi  # type: ignore[import-untyped]  # python-rtmidi ships no type hints

from soundforge.studio.midi.backend import MidiBackend, Received
from tests.studio.midi.conftest import VirtualDevice

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]


@pytest.fixture
def backend(jackd: str) -> MidiBackend:
    made = MidiBackend("JACK", rtmidi.API_UNIX_JACK, client_name="SoundForge-backend-test")
    yield made
    made.close()


async def test_a_silenced_port_delivers_nothing_more(backend: MidiBackend) -> None:
    device = await VirtualDevice.open("sfbk1")
    loop = asyncio.get_running_loop()
    got: asyncio.Queue[Received] = asyncio.Queue()
    port = await asyncio.to_thread(backend.open_input, device.device_name, loop, got.put_nowait)
    try:
        device.cc(7, 100)
        assert (await asyncio.wait_for(got.get(), 5)).data == (0xB0, 7, 100)
        port.silence()
        device.cc(7, 50)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(got.get(), 0.3)
    finally:
        await asyncio.to_thread(port.close)
        await device.close()


_STREAM = """
import sys, time, rtmidi
out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=sys.argv[1])
out.open_virtual_port(sys.argv[1])
print("ready", flush=True)
value = 0
while True:
    out.send_message([0xB0, 1, value])
    value = (value + 1) % 128
    time.sleep(0.0002)
"""


async def test_closing_ports_under_a_stream_of_input_is_safe(backend: MidiBackend) -> None:
    # The controller is another process, as a real one is (a sender in this process would
    # hold the GIL while JACK waits for our input callback).
    name = "sfbk2"
    sender = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _STREAM, name, stdout=asyncio.subprocess.PIPE
    )
    loop = asyncio.get_running_loop()
    delivered = 0

    def deliver(_message: Received) -> None:
        nonlocal delivered
        delivered += 1

    try:
        assert sender.stdout is not None
        assert await asyncio.wait_for(sender.stdout.readline(), 10) == b"ready\n"
        for _ in range(25):
            port = await asyncio.to_thread(backend.open_input, f"{name}:{name}", loop, deliver)
            await asyncio.sleep(0.01)
            port.silence()  # on the loop, as the input actor does
            await asyncio.to_thread(port.close)
    finally:
        sender.kill()
        await sender.wait()
    assert delivered > 0
