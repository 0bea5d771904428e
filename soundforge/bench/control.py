"""``soundforge bench control``: OSC and MIDI into the studio's mixer sessions, measured.

Prints one JSON object. The bench starts the real tree (Repo on a throwaway embedded
PostgreSQL or ``--dsn``, PubSub, the Studio with its OSC server and MIDI devices, the
Endpoint on a free port; no queues or audio programs) with one user owning one track with
four stems, and a JACK server of its own (``jackd -d dummy``) for MIDI's virtual ports when
the machine has ``jackd``:

* ``osc_ws_p50_ms``/``osc_ws_p99_ms``/``osc_ws_max_ms``: an OSC message over UDP on loopback
  → the ``mixer.changed`` it causes, received by a WebSocket client on ``/ws`` (one message
  at a time; ``soundforge/bench/control_osc.py``). Target: p99 ≤ 20 ms.
* ``ws_control_p50_ms``/``ws_control_p99_ms``: the reference in the same run — the same
  change sent by a second WebSocket client as a ``control`` op, received by the first; what
  the mixer and the socket cost without OSC.
* ``sustained_*``: ``--rate`` OSC messages a second (1,000) for ``--seconds`` to one fader;
  ``sustained_last_value_ok`` says the session ends on the last value sent, and
  ``sustained_calls`` how many mixer calls the messages were coalesced into.
* ``midi_cc_p50_ms``/``midi_cc_p99_ms``: a CC sent through a virtual JACK port → the session's
  state change (``soundforge/bench/control_midi.py``). Target: p99 ≤ 10 ms. Without a MIDI
  system, ``midi`` says why and these are absent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from soundforge.accounts import create_token, create_user
from soundforge.actors import repo
from soundforge.audio.media import write_audio
from soundforge.audio.separation.options import StemFile
from soundforge.bench._tree import running_tree
from soundforge.bench.control_midi import MidiBenchError, measure_midi_cc
from soundforge.bench.control_osc import measure_osc_sustained, measure_osc_to_ws
from soundforge.bench.web_load import _Socket
from soundforge.config import Settings
from soundforge.music import tracks
from soundforge.studio import mixers, osc
from soundforge.supervisors.root import NAMES

__all__ = ["main", "run"]

STEMS = ("vocals", "drums", "bass", "other")


@contextlib.contextmanager
def _jack() -> Iterator[str | None]:
    """A private JACK server for the run (None, with the reason logged, when there is none)."""
    binary = shutil.which("jackd")
    if binary is None:
        yield None
        return
    name = f"sfbench{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1"}
    args = [binary, "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "128"]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ.update({"JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1"})
    try:
        time.sleep(1.0)  # jackd's dummy driver is up in ~0.3 s here
        yield name if process.poll() is None else None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


async def _seed(data_dir: Path) -> tuple[str, str, str]:
    """A user with an API token and a track with four (short, real) stems."""
    async with repo.transaction(NAMES.repo) as conn:
        user = await create_user(conn, f"bench-{uuid.uuid4().hex[:6]}@example.com", "x" * 16)
        _, token = await create_token(conn, user.id, "bench")
        track_id = await tracks.create_track(
            conn, tracks.NewTrack(user_id=user.id, source_kind="upload", title="Bench")
        )
        written = []
        for stem in STEMS:
            relative = Path("tracks") / track_id / "stems" / "bench" / f"{stem}.wav"
            path = data_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_audio(path, np.zeros((2, 4410), dtype=np.float32), 44100)
            written.append(
                StemFile(
                    name=stem,
                    path=str(relative),
                    filename=path.name,
                    format="wav",
                    sample_rate=44100,
                    channels=2,
                    bit_depth=16,
                    duration_ms=100,
                    size_bytes=path.stat().st_size,
                )
            )
        await tracks.record_stems(conn, track_id, "default", "bench", written, {})
    return user.id, token, track_id


async def _ws_control(
    base_url: str, token: str, user_id: str, track_id: str, messages: int
) -> dict[str, Any]:
    """The reference: a ``control`` op from one socket → ``mixer.changed`` on another."""
    topic = mixers.topic(user_id, f"track:{track_id}")
    url = base_url.replace("http://", "ws://") + f"/ws?token={token}"
    sender, follower = await _Socket.open(url), await _Socket.open(url)
    latencies: list[float] = []
    try:
        for ws in (sender, follower):
            ws.send(json.dumps({"op": "subscribe", "topic": topic}))
            while json.loads(await asyncio.wait_for(ws.recv(), 10)).get("type") != "mixer.snapshot":
                pass
        for i in range(messages):
            value = round(0.2 + 0.6 * ((i * 37) % 100) / 100 + (i % 2) * 1e-3, 6)
            op = {"op": "control", "topic": topic, "values": {"stem.vocals.volume": value}}
            sent = time.perf_counter()
            sender.send(json.dumps({**op, "origin": "ws:bench"}))
            while True:
                event = json.loads(await asyncio.wait_for(follower.recv(), 2))
                if event.get("values", {}).get("stem.vocals.volume") == value:
                    break
            latencies.append((time.perf_counter() - sent) * 1000)
            await asyncio.sleep(0.01)
    finally:
        sender.close()
        follower.close()
    ordered = sorted(latencies)
    return {
        "ws_control_p50_ms": round(statistics.median(ordered), 3),
        "ws_control_p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
    }


async def _measure(data_dir: Path, args: argparse.Namespace, jack: str | None) -> dict[str, Any]:
    from soundforge.web import url

    user_id, token, track_id = await _seed(data_dir)
    base = await url()
    port = await osc.port()
    if port is None:
        raise RuntimeError(f"the OSC server is not listening: {(await osc.status()).error}")
    figures: dict[str, Any] = {}
    figures.update(
        await measure_osc_to_ws(base, token, user_id, track_id, port, messages=args.messages)
    )
    figures.update(await _ws_control(base, token, user_id, track_id, args.messages))
    if figures["osc_ws_p50_ms"] and figures["ws_control_p50_ms"]:
        figures["osc_over_ws_control_p50"] = round(
            figures["osc_ws_p50_ms"] / figures["ws_control_p50_ms"], 2
        )
    figures.update(
        await measure_osc_sustained(user_id, track_id, port, rate=args.rate, seconds=args.seconds)
    )
    if jack is None:
        figures["midi"] = "unavailable: jackd is not installed (apt-get install jackd2)"
        return figures
    try:
        midi = await measure_midi_cc(user_id, f"track:{track_id}", count=args.midi_messages)
    except MidiBenchError as error:
        figures["midi"] = f"unavailable: {error}"
        return figures
    figures["midi"] = midi.backend
    figures.update({f"midi_cc_{k}": v for k, v in msgspec.structs.asdict(midi).items()})
    del figures["midi_cc_backend"]
    return figures


async def _run(dsn: str | None, args: argparse.Namespace, jack: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="soundforge-bench-control-") as tmp:
        os.chmod(tmp, 0o755)  # the embedded cluster may run as an unprivileged user
        settings = Settings(
            data_dir=Path(tmp),
            database_url=dsn,
            port=0,
            osc_port=0,
            midi=jack is not None,
            node_name="bench-control",
        )
        async with running_tree(settings, queues={}, ports={}, web=True):
            figures = await _measure(Path(tmp), args, jack)
    figures["database"] = "dsn" if dsn else "embedded"
    figures["cpus"] = os.cpu_count()
    return figures


def run(dsn: str | None, args: argparse.Namespace) -> dict[str, Any]:
    with _jack() as jack:
        try:
            import uvloop

            return uvloop.run(_run(dsn, args, jack))
        except ImportError:
            return asyncio.run(_run(dsn, args, jack))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soundforge bench control", description=__doc__)
    parser.add_argument("--dsn", help="PostgreSQL URL (default: a throwaway embedded cluster)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    parser.add_argument("--messages", type=int, default=500, help="OSC and WS round trips")
    parser.add_argument("--midi-messages", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=1000, help="sustained OSC messages/s")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.messages, args.midi_messages, args.seconds = 50, 100, 1.0
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(run(args.dsn, args)))
    return 0
