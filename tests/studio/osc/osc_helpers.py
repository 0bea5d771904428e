"""Real UDP for the OSC tests: a receiving socket that records messages, and the focus."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from soundforge.runtime.gen_server import stop, whereis
from soundforge.runtime.results import Ok
from soundforge.studio import Focus, mixers
from soundforge.studio.osc import DEFAULT_NAME, OscOptions, OscServer, port
from tests.helpers import eventually
from tests.web.api.helpers import fresh_user, seed_track
from tests.web.conftest import WebServer


class Receiver(asyncio.DatagramProtocol):
    """A UDP socket on 127.0.0.1 that records every OSC message it gets (and can send)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[Any]]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        for timed in OscPacket(data).messages:
            self.messages.append((timed.message.address, list(timed.message.params)))
        self.arrived.set()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, osc_port: int, address: str, *args: Any) -> None:
        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        assert self.transport is not None
        self.transport.sendto(builder.build().dgram, ("127.0.0.1", osc_port))

    def clear(self) -> None:
        self.messages.clear()

    def values(self, address: str) -> list[list[Any]]:
        return [args for a, args in self.messages if a == address]

    async def wait_for(self, address: str, timeout: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while not self.values(address):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {address} within {timeout} s: {self.messages[-5:]}")
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except TimeoutError:
                continue
        return self.values(address)[-1]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(Receiver, local_addr=("127.0.0.1", 0))
    try:
        yield protocol
    finally:
        protocol.close()


@asynccontextmanager
async def osc_server(name: str = DEFAULT_NAME, **options: Any) -> AsyncIterator[str]:
    """The tree's OSC server when the studio runs one, else one started for the test."""
    if name == DEFAULT_NAME and whereis(DEFAULT_NAME) is not None:
        yield DEFAULT_NAME
        return
    started = await OscServer.start(OscOptions(port=0, name=name, **options), name=name)
    assert isinstance(started, Ok), started
    try:
        yield name
    finally:
        await stop(name)


async def focused_track(
    server: WebServer, stems: tuple[str, ...] = ("vocals", "drums")
) -> tuple[str, str]:
    """A fresh user's track, focused as if a tab had opened it: (user id, session key)."""
    user = await fresh_user(server)
    seeded = await seed_track(server, user.id, stems=stems)
    key = f"track:{seeded.track_id}"
    await mixers.snapshot(user.id, key)
    await mixers.focus(user.id, key)
    await eventually(lambda: mixers.focused() == Focus(user.id, key), 5.0)
    return user.id, key


async def value_becomes(
    user_id: str, key: str, path: str, expected: Any, timeout: float = 5.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        value = (await mixers.snapshot(user_id, key)).values.get(path)
        if _same(value, expected):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} is {value!r}, not {expected!r}, after {timeout} s")
        await asyncio.sleep(0.01)


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, float) and isinstance(value, float):
        return abs(value - expected) < 1e-6
    return bool(value == expected)


async def bound_port(name: str) -> int:
    found = await port(name)
    assert isinstance(found, int)
    return found
