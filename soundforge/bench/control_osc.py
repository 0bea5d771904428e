"""The OSC half of ``soundforge bench control``: latency to the browser, and a sustained flood.

Both run against a live server tree (the bench starts it: Repo, PubSub, the Studio with its
OSC server, the Endpoint) and send real UDP to its OSC port on loopback.

* :func:`measure_osc_to_ws`: one WebSocket client on ``/ws`` subscribes to a track's mixer
  session (which focuses it), then ``messages`` OSC messages are sent one at a time, each
  waiting for its ``mixer.changed`` on the socket; p50/p99/max of send → receive in ms
  (issue 7's target: p99 ≤ 20 ms).
* :func:`measure_osc_sustained`: ``rate`` messages a second to one fader for ``seconds``,
  then how long until the session holds the last value sent, and whether it does ("without
  loss of the last value"), with how many mixer calls the messages were coalesced into.

The socket is ``web_load``'s minimal RFC 6455 client, so that a client library's overhead is
not measured as the server's latency.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from typing import Any

from soundforge.bench.web_load import _Socket
from soundforge.studio import Focus, mixers
from soundforge.studio.osc import OscStatus, address_for, status

__all__ = ["measure_osc_sustained", "measure_osc_to_ws"]


def _osc_float(address: str, value: float) -> bytes:
    """An OSC message with one float (built here: the bench measures the server, not us)."""
    raw = address.encode() + b"\x00"
    raw += b"\x00" * (-len(raw) % 4)
    return raw + b",f\x00\x00" + struct.pack(">f", value)


def _as_float32(value: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", value))[0])


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def measure_osc_to_ws(
    base_url: str,
    token: str,
    user_id: str,
    track_id: str,
    osc_port: int,
    *,
    osc_host: str = "127.0.0.1",
    messages: int = 200,
    interval: float = 0.01,
    path: str = "master.volume",
) -> dict[str, Any]:
    """OSC message → ``mixer.changed`` on a real WebSocket: latency in ms.

    ``base_url`` is the endpoint's (``http://127.0.0.1:4000``); ``token`` an API token of
    ``user_id``, who owns ``track_id``. Returns ``osc_ws_p50_ms``, ``osc_ws_p99_ms``,
    ``osc_ws_max_ms``, ``osc_ws_messages`` and ``osc_ws_lost`` (no event within 2 s).
    """
    topic = mixers.topic(user_id, f"track:{track_id}")
    url = base_url.replace("http://", "ws://") + f"/ws?token={token}"
    ws = await _Socket.open(url)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setblocking(False)
    latencies: list[float] = []
    lost = 0
    try:
        ws.send(json.dumps({"op": "subscribe", "topic": topic}))
        while json.loads(await asyncio.wait_for(ws.recv(), 10.0)).get("type") != "mixer.snapshot":
            pass
        deadline = time.monotonic() + 5.0
        while mixers.focused() != Focus(user_id, f"track:{track_id}"):
            if time.monotonic() > deadline:
                raise RuntimeError("the bench's track session never got the focus")
            await asyncio.sleep(0.01)
        address = address_for(path)
        for i in range(messages):
            value = _as_float32(0.25 + 0.5 * ((i * 37) % 100) / 100 + (i % 2) * 1e-3)
            sent = time.perf_counter()
            udp.sendto(_osc_float(address, value), (osc_host, osc_port))
            try:
                await asyncio.wait_for(_changed(ws, path, value), 2.0)
            except TimeoutError:
                lost += 1
                continue
            latencies.append((time.perf_counter() - sent) * 1000)
            await asyncio.sleep(interval)
    finally:
        udp.close()
        ws.close()
    return {
        "osc_ws_messages": messages,
        "osc_ws_lost": lost,
        "osc_ws_p50_ms": _percentile(latencies, 0.5),
        "osc_ws_p99_ms": _percentile(latencies, 0.99),
        "osc_ws_max_ms": round(max(latencies), 3) if latencies else None,
    }


async def _changed(ws: _Socket, path: str, value: float) -> None:
    while True:
        event = json.loads(await ws.recv())
        if event.get("type") != "mixer.changed":
            continue
        got = event.get("values", {}).get(path)
        if isinstance(got, int | float) and abs(got - value) < 1e-6:
            return


async def measure_osc_sustained(
    user_id: str,
    track_id: str,
    osc_port: int,
    *,
    osc_host: str = "127.0.0.1",
    rate: int = 1000,
    seconds: float = 5.0,
    path: str = "master.volume",
    settle_timeout: float = 5.0,
) -> dict[str, Any]:
    """``rate`` OSC messages a second to ``path`` for ``seconds``; is the last value applied?

    The track session must be the focused one (a tab subscribed to it, as
    :func:`measure_osc_to_ws` does). Returns ``sustained_sent``, ``sustained_rate`` (as
    achieved), ``sustained_applied`` and ``sustained_calls`` (the server's counters: messages
    applied, and the mixer calls they took), ``sustained_settle_ms`` (last send → the
    session holds the last value) and ``sustained_last_value_ok``.
    """
    key = f"track:{track_id}"
    address = address_for(path)
    total = max(1, int(rate * seconds))
    before: OscStatus = await status()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setblocking(False)
    started = time.perf_counter()
    last = 0.0
    try:
        for i in range(total):
            # Open loop: message i goes at its scheduled time, however late the loop is.
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0.001:
                await asyncio.sleep(delay)
            last = _as_float32(((i * 7919) % 1000) / 1000)
            try:
                udp.sendto(_osc_float(address, last), (osc_host, osc_port))
            except BlockingIOError:
                await asyncio.sleep(0)  # the kernel's buffer is full: count it as sent late
                udp.sendto(_osc_float(address, last), (osc_host, osc_port))
        finished = time.perf_counter()
    finally:
        udp.close()
    ok = False
    while time.perf_counter() - finished < settle_timeout:
        value = (await mixers.snapshot(user_id, key)).values.get(path)
        if isinstance(value, int | float) and abs(value - last) < 1e-6:
            ok = True
            break
        await asyncio.sleep(0.005)
    settled = time.perf_counter()
    after: OscStatus = await status()
    return {
        "sustained_sent": total,
        "sustained_rate": round(total / max(finished - started, 1e-9), 1),
        "sustained_applied": after.counters.applied - before.counters.applied,
        "sustained_calls": after.counters.calls - before.counters.calls,
        "sustained_settle_ms": round((settled - finished) * 1000, 3) if ok else None,
        "sustained_last_value_ok": ok,
        "sustained_malformed": after.counters.malformed - before.counters.malformed,
        "sustained_overflow": after.counters.overflow - before.counters.overflow,
    }
