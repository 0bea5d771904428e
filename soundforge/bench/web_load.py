"""The load generator of ``soundforge bench web``: a separate process on loopback.

Driven by the bench over stdin/stdout, one JSON object per line:

* ``{"op": "connect", "clients": N, "topic": T}`` → opens N WebSockets, subscribes each to
  T, answers ``{"connected": N}`` once every subscription is confirmed;
* ``{"op": "collect", "events": K}`` → waits for K events on every socket and answers
  ``{"latencies_ms": [...]}``: for each delivery, receive time minus the send time the
  server wrote in the event's label (``time.monotonic()`` is one clock for every process of
  a Linux machine);
* ``{"op": "http", "path": P, "rate": R, "seconds": S, "connections": C}`` → GETs P at an
  open-loop rate of R per second over C keep-alive connections, answering
  ``{"latencies_ms": [...], "errors": n, "achieved_rate": r}``. Latency counts from the
  *scheduled* send time, so a server that falls behind is charged for the queueing
  (no coordinated omission);
* ``{"op": "close"}`` → closes the sockets and exits.

The HTTP client is a minimal HTTP/1.1 keep-alive client on asyncio streams, so that the
load generator spends as little of the machine's two cores as possible.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import resource
import sys
import time
from typing import Any
from urllib.parse import urlsplit

__all__ = ["main"]


def _raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class _Socket:
    """A minimal WebSocket client (RFC 6455) on asyncio streams: text frames, no extensions.

    The load generator is one Python process reading 1,000 sockets; a full client library's
    per-message cost (its frame machinery, queues, iterators) would be measured as latency
    of the server. This reads each frame with two ``readexactly`` calls and finds the label
    without parsing the JSON.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, url: str) -> _Socket:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"the server refused the WebSocket: {head[:80]!r}")
        return cls(reader, writer)

    def send(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        length = len(payload)
        header = (
            bytes([0x81, 0x80 | length])
            if length < 126
            else (bytes([0x81, 0x80 | 126]) + length.to_bytes(2, "big"))
        )
        self.writer.write(header + mask + masked)

    async def recv(self) -> bytes:
        """The next text frame's payload; raises EOFError when the server closes."""
        while True:
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            payload = await self.reader.readexactly(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise EOFError("the server closed the WebSocket")
            if opcode == 0x1:
                return payload

    def close(self) -> None:
        self.writer.close()


_LABEL = b'"label":"'


class Load:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.sockets: list[_Socket] = []
        self.latencies: list[float] = []
        self.received: list[int] = []
        self.readers: list[asyncio.Task[None]] = []

    async def connect(self, clients: int, topic: str) -> int:
        ws_url = self.url.replace("http://", "ws://") + f"/ws?token={self.token}"

        async def one() -> _Socket:
            ws = await _Socket.open(ws_url)
            ws.send(json.dumps({"op": "subscribe", "topic": topic}))
            reply = json.loads(await ws.recv())
            if reply.get("type") != "subscribed":
                raise RuntimeError(f"subscription refused: {reply}")
            return ws

        for start in range(0, clients, 100):  # in waves: the listen backlog is finite
            batch = min(100, clients - start)
            self.sockets += await asyncio.gather(*(one() for _ in range(batch)))
        self.received = [0] * len(self.sockets)
        self.readers = [asyncio.create_task(self._read(i, ws)) for i, ws in enumerate(self.sockets)]
        return len(self.sockets)

    async def _read(self, index: int, ws: _Socket) -> None:
        with contextlib.suppress(EOFError, asyncio.IncompleteReadError, ConnectionError):
            while True:
                payload = await ws.recv()
                now = time.monotonic()
                at = payload.find(_LABEL)
                if at >= 0 and b'"type":"track.progress"' in payload:
                    label = payload[at + len(_LABEL) : payload.index(b'"', at + len(_LABEL))]
                    self.latencies.append((now - float(label)) * 1000.0)
                    self.received[index] += 1

    async def collect(self, events: int, timeout: float = 60.0) -> list[float]:
        deadline = time.monotonic() + timeout
        # Polled: the readers are plain loops, and a 10 ms poll costs nothing measured here.
        while min(self.received, default=events) < events and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return self.latencies

    async def http(
        self, path: str, rate: float, seconds: float, connections: int
    ) -> dict[str, Any]:
        parts = urlsplit(self.url)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {self.token}\r\nAccept: application/json\r\n\r\n"
        ).encode()
        total = int(rate * seconds)
        start = time.monotonic() + 0.2
        schedule = asyncio.Queue[float]()
        for i in range(total):
            schedule.put_nowait(start + i / rate)
        latencies: list[float] = []
        errors = 0

        async def worker() -> None:
            nonlocal errors
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            try:
                while not schedule.empty():
                    due = schedule.get_nowait()
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    writer.write(request)
                    status = await _read_response(reader)
                    latencies.append((time.monotonic() - due) * 1000.0)
                    if status != 200:
                        errors += 1
            finally:
                writer.close()

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - max(began, start)
        return {"latencies_ms": latencies, "errors": errors, "achieved_rate": total / elapsed}

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        for ws in self.sockets:
            ws.close()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status


async def _serve(url: str, token: str) -> None:
    load = Load(url, token)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def answer(value: Any) -> None:
        sys.stdout.write(json.dumps(value) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        command = json.loads(line)
        op = command["op"]
        if op == "connect":
            answer({"connected": await load.connect(command["clients"], command["topic"])})
        elif op == "collect":
            answer({"latencies_ms": await load.collect(command["events"])})
        elif op == "http":
            answer(
                await load.http(
                    command["path"], command["rate"], command["seconds"], command["connections"]
                )
            )
        elif op == "close":
            await load.close()
            answer({"closed": True})
            return


def main() -> int:
    _raise_fd_limit()
    url, token = sys.argv[1], sys.argv[2]
    asyncio.run(_serve(url, token))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
