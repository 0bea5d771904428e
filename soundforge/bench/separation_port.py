"""The separation benchmark's port leg: htdemucs through the real separator port program.

:func:`bench_htdemucs_through_port` runs leg (a) of ``soundforge bench separation`` with a
``separate`` function that sends each job to a warm ``python -m soundforge.audio.separator``
program, supervised by the same pool the server uses, from an event loop in a background
thread. The time reported for a port job is the **round trip seen by the caller** (request
frame out → ``Done`` frame in: file reading, inference and writing in the program, plus
the framing and the pool), not the program's own figure; the reference is still
``demucs.apply.apply_model`` called directly in this process, in the same run. Keys are
prefixed ``port_``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import msgspec

from soundforge.actors import port_pool
from soundforge.audio.separation import SeparationOptions, SeparationResult
from soundforge.config import Settings
from soundforge.runtime.application import Application
from soundforge.supervisors.audio_tools import AudioTools, AudioToolsOptions

__all__ = ["bench_htdemucs_through_port"]


class _PortSeparator:
    """A separator port, its pool and an event loop in a thread; a synchronous ``separate``."""

    def __init__(self, data_dir: Path) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        settings = Settings(data_dir=data_dir)
        spec = AudioTools.child_spec(AudioToolsOptions(settings, {"separator": 1}))
        self._app = Application(spec, handle_signals=False)
        self._running = self._submit_task(self._app.run())
        self._wait(self._app.started.wait())

    def _submit_task(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _wait(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self._submit_task(coro).result()

    def separate(self, wav: Path, out: Path, options: SeparationOptions) -> SeparationResult:
        async def job() -> tuple[dict[str, Any], float]:
            shell = self._app.node.attach()
            try:
                started = time.perf_counter()
                reply = await port_pool.run(
                    port_pool.pool_name("separator"),
                    "separate",
                    {"input": str(wav), "output": str(out), "options": options},
                )
                return reply, time.perf_counter() - started
            finally:
                self._app.node.detach(shell)

        reply, wall = self._wait(job())
        result = msgspec.convert(reply, SeparationResult)
        timing = msgspec.structs.replace(result.timing, separate_s=round(wall, 3))
        return msgspec.structs.replace(result, timing=timing)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._app.request_stop, "bench done")
        self._running.result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def bench_htdemucs_through_port(
    bench: Callable[..., dict[str, Any]], *, workdir: Path, seconds: float, repeats: int, tiny: bool
) -> dict[str, Any]:
    """Leg (a) with every job sent to a warm separator port; figures prefixed ``port_``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="soundforge-bench-port-") as data:
        port = _PortSeparator(Path(data))
        try:
            figures = bench(
                port.separate, workdir=workdir, seconds=seconds, repeats=repeats, tiny=tiny
            )
        finally:
            port.close()
    # CPU figures are left out: the work runs in another process.
    keep = ("direct_s", "api_s", "overhead", "max_abs_diff", "load_second_s", "second_job")
    return {
        f"port_{key.replace('_api_', '_port_')}": value
        for key, value in figures.items()
        if any(part in key for part in keep) and "cpu" not in key
    }
