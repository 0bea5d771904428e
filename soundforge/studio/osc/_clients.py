"""Feedback clients: the surfaces that asked (``/sf/register``) to be told every change.

Each client gets a UDP socket of its own, *connected* to its feedback address. A connected
socket is what makes the kernel report an ICMP "port unreachable" (a tablet whose app was
closed) back to us, as ``error_received``; an unconnected socket would stay silent and we
would send into the void forever. After :data:`MAX_FAILURES` such errors in a row a client
is dropped; any datagram from it resets the count (it is alive).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

import msgspec

__all__ = ["MAX_FAILURES", "Client", "ClientInfo", "open_client"]

log = logging.getLogger(__name__)

#: Send errors in a row after which a client is dropped.
MAX_FAILURES: Final = 3


class ClientInfo(msgspec.Struct, frozen=True):
    """A feedback client as the status API shows it."""

    host: str
    port: int
    source_port: int
    failures: int
    sent: int


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, on_error: Callable[[OSError], None]) -> None:
        self.on_error = on_error

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        pass  # surfaces answer on the server's port; nothing is expected here

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            self.on_error(exc)


class Client:
    """One registered surface: where its feedback goes and where its messages come from."""

    def __init__(
        self, host: str, port: int, source_port: int, transport: asyncio.DatagramTransport
    ) -> None:
        self.host = host
        self.port = port
        self.source_port = source_port
        self.transport = transport
        self.failures = 0
        self.sent = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.host, self.port)

    def is_origin(self, origin: str) -> bool:
        """Whether a change with ``origin`` came from this surface."""
        return origin in (f"osc:{self.host}:{self.source_port}", f"osc:{self.host}:{self.port}")

    def send(self, datagrams: list[bytes]) -> None:
        for dgram in datagrams:
            self.transport.sendto(dgram)
        self.sent += len(datagrams)

    def close(self) -> None:
        self.transport.close()

    def info(self) -> ClientInfo:
        return ClientInfo(self.host, self.port, self.source_port, self.failures, self.sent)


async def open_client(
    host: str, port: int, source_port: int, on_error: Callable[[OSError], None]
) -> Client:
    """A client with its connected socket; raises OSError if the address is unusable."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Protocol(on_error), remote_addr=(host, port)
    )
    return Client(host, port, source_port, transport)
