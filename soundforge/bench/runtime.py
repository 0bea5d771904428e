"""``soundforge bench runtime``: the actor runtime's costs, with references from the same run.

Prints one JSON object. Every figure is measured in this process, on the loop the server
uses (uvloop when installed), next to its references: a raw asyncio future ping-pong (the
floor any call on this loop pays) and pykka's ``ask`` (the thread-per-actor peer), so the
ratios mean something on a noisy machine.

Figures: ``call_p50_us``/``call_p99_us`` (GenServer call round trip with the default 5 s
timeout armed), ``cast_msgs_per_s`` (casts sent and handled by one server),
``spawn_us`` (spawn a process and run it to its exit; reference: ``asyncio_task_us``, a bare
task created and run), ``idle_actor_bytes`` (tracemalloc per
idle GenServer), ``restart_p50_us`` (kill a supervised child until its replacement's ``init``
has run), ``actors_100k_start_s``/``actors_100k_stop_s`` (100,000 GenServers started one by
one under one DynamicSupervisor, then the supervisor stopped).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import platform
import statistics
import sys
import threading
import time
import tracemalloc
from collections import deque
from typing import Any

from soundforge.runtime.application import GC_THRESHOLDS, tune_gc
from soundforge.runtime.dynamic_supervisor import DynamicSupervisor, count_children
from soundforge.runtime.dynamic_supervisor import start_child as start_dynamic_child
from soundforge.runtime.exit import KILL, SHUTDOWN
from soundforge.runtime.gen_server import GenServer, Init, NoReply, Reply, call, cast, stop
from soundforge.runtime.node import Node
from soundforge.runtime.process import From, Pid, exit, spawn
from soundforge.runtime.results import Ok, StartResult
from soundforge.runtime.supervisor import start_supervisor, which_children

__all__ = ["main", "run"]


class Echo(GenServer[int]):
    def init(self, arg: Any) -> Init[int]:
        return Init(0)

    def handle_call(self, request: Any, from_: From, state: int) -> Reply[int]:
        return Reply(request, state)

    def handle_cast(self, msg: Any, state: int) -> NoReply[int]:
        return NoReply(state + 1)


class Restartable(GenServer[None]):
    def init(self, started: deque[int]) -> Init[None]:
        started.append(time.perf_counter_ns())
        return Init(None)


def _pid(result: StartResult) -> Pid:
    assert isinstance(result, Ok), result
    return result.pid  # type: ignore[no-any-return]


def _percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1000


async def _future_pingpong(n: int) -> list[int]:
    """The floor: one task wakes another through a future and gets a future back."""
    loop = asyncio.get_running_loop()
    inbox: deque[tuple[asyncio.Future[int], int]] = deque()
    waiter: list[asyncio.Future[None] | None] = [None]

    async def server() -> None:
        while True:
            if not inbox:
                w = loop.create_future()
                waiter[0] = w
                await w
            reply_to, value = inbox.popleft()
            reply_to.set_result(value)

    task = loop.create_task(server())
    await asyncio.sleep(0)
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        fut: asyncio.Future[int] = loop.create_future()
        inbox.append((fut, i))
        w = waiter[0]
        if w is not None:
            waiter[0] = None
            w.set_result(None)
        await fut
        samples.append(time.perf_counter_ns() - start)
    task.cancel()
    return samples


async def _calls(pid: Pid, n: int) -> list[int]:
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        await call(pid, i)
        samples.append(time.perf_counter_ns() - start)
    return samples


async def _cast_rate(pid: Pid, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        cast(pid, 1)
    await call(pid, "sync", None)
    return n / (time.perf_counter() - start)


async def _spawn_cost(n: int) -> float:
    done = asyncio.get_running_loop().create_future()
    remaining = [n]

    async def body() -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            done.set_result(None)

    start = time.perf_counter_ns()
    for _ in range(n):
        spawn(body)
    await done
    return (time.perf_counter_ns() - start) / n / 1000


async def _task_cost(n: int) -> float:
    """The reference for spawn: a bare asyncio task created and run to its end."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    remaining = [n]

    async def body() -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            done.set_result(None)

    start = time.perf_counter_ns()
    tasks = [loop.create_task(body()) for _ in range(n)]  # held, as a node holds its tasks
    await done
    elapsed = time.perf_counter_ns() - start
    await asyncio.gather(*tasks)
    return elapsed / n / 1000


async def _idle_bytes(n: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    pids = [_pid(await Echo.start()) for _ in range(n)]
    await asyncio.sleep(0)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    for pid in pids:
        exit(pid, KILL)
    return (after - before) / n


async def _restart_latency(n: int) -> list[int]:
    started: deque[int] = deque()
    sup = await start_supervisor(
        [Restartable.child_spec(started)], max_restarts=n * 10, max_seconds=1
    )
    assert isinstance(sup, Ok)
    samples = []
    for _ in range(n):
        child = (await which_children(sup.pid))[0].pid
        started.clear()
        begin = time.perf_counter_ns()
        exit(child, KILL)
        while not started:  # noqa: ASYNC110 - the restart happens in the next loop steps
            await asyncio.sleep(0)
        samples.append(started[0] - begin)
    await stop(sup.pid, SHUTDOWN)
    return samples


async def _hundred_thousand(n: int) -> tuple[float, float]:
    sup = await DynamicSupervisor.start()
    assert isinstance(sup, Ok)
    spec = Echo.child_spec(None)
    start = time.perf_counter()
    for _ in range(n):
        await start_dynamic_child(sup.pid, spec)
    started = time.perf_counter() - start
    counts = await count_children(sup.pid)
    assert counts.active == n, counts
    start = time.perf_counter()
    await stop(sup.pid, SHUTDOWN, timeout=120)
    return started, time.perf_counter() - start


def _pykka_ask(n: int) -> list[int] | None:
    try:
        import pykka
    except ImportError:
        return None

    class PykkaEcho(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            return message

    ref = PykkaEcho.start()
    samples = []
    try:
        for i in range(n):
            start = time.perf_counter_ns()
            ref.ask(i)
            samples.append(time.perf_counter_ns() - start)
    finally:
        ref.stop()
    return samples


async def _call_and_reference(pid: Pid, rounds: int, per_round: int) -> tuple[list[int], list[int]]:
    """Calls and the raw ping-pong, measured in alternating rounds so both see the same load."""
    calls: list[int] = []
    raw: list[int] = []
    for _ in range(rounds):
        calls.extend(await _calls(pid, per_round))
        raw.extend(await _future_pingpong(per_round))
    return calls, raw


async def _measure(quick: bool) -> dict[str, Any]:
    scale = 10 if quick else 1
    result: dict[str, Any] = {}
    async with Node():
        echo = await Echo.start()
        assert isinstance(echo, Ok)
        await _calls(echo.pid, 5_000 // scale)  # warm-up
        calls, raw = await _call_and_reference(echo.pid, 10, 8_000 // scale)
        result["call_p50_us"] = round(_percentile(calls, 0.50), 2)
        result["call_p99_us"] = round(_percentile(calls, 0.99), 2)
        result["asyncio_future_pingpong_p50_us"] = round(_percentile(raw, 0.50), 2)
        result["cast_msgs_per_s"] = round(await _cast_rate(echo.pid, 500_000 // scale))
        spawns, tasks = [], []
        for _ in range(5):  # alternate, so both see the same load
            spawns.append(await _spawn_cost(10_000 // scale))
            tasks.append(await _task_cost(10_000 // scale))
        result["spawn_us"] = round(statistics.median(spawns), 2)
        result["asyncio_task_us"] = round(statistics.median(tasks), 2)
        result["idle_actor_bytes"] = round(await _idle_bytes(10_000 // scale))
        restarts = await _restart_latency(5_000 // scale)
        result["restart_p50_us"] = round(_percentile(restarts, 0.50), 2)
        result["restart_p99_us"] = round(_percentile(restarts, 0.99), 2)
        start_s, stop_s = await _hundred_thousand(100_000 // scale)
        result["actors_100k_start_s"] = round(start_s, 3)
        result["actors_100k_stop_s"] = round(stop_s, 3)
        result["actors_count"] = 100_000 // scale
    return result


def run(*, loop: str = "auto", quick: bool = False) -> dict[str, Any]:
    """Measure everything and return the JSON-ready figures."""
    loop_name = "asyncio"
    if loop in ("auto", "uvloop"):
        try:
            import uvloop

            loop_name = "uvloop"
        except ImportError:
            if loop == "uvloop":
                raise
    tune_gc()  # the server's GC settings (soundforge.runtime.application.GC_THRESHOLDS)
    runner = uvloop.run if loop_name == "uvloop" else asyncio.run
    figures: dict[str, Any] = runner(_measure(quick))
    pykka = _run_in_thread(lambda: _pykka_ask(20_000 // (10 if quick else 1)))
    figures["pykka_ask_p50_us"] = round(_percentile(pykka, 0.5), 2) if pykka else None
    figures["spawn_vs_task"] = round(figures["spawn_us"] / figures["asyncio_task_us"], 2)
    figures["call_vs_pingpong"] = round(
        figures["call_p50_us"] / figures["asyncio_future_pingpong_p50_us"], 2
    )
    if figures["pykka_ask_p50_us"]:
        figures["pykka_vs_call"] = round(figures["pykka_ask_p50_us"] / figures["call_p50_us"], 2)
    figures["loop"] = loop_name
    figures["gc_thresholds"] = list(GC_THRESHOLDS)
    figures["python"] = platform.python_version()
    figures["quick"] = quick
    return figures


def _run_in_thread(fn: Any) -> Any:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0] if out else None


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    # The restart benchmark crashes thousands of children on purpose; their reports would
    # only measure the terminal. Logging is disabled for the run and restored after.
    logging.disable(logging.CRITICAL)
    quick = "--quick" in args
    loop = "asyncio" if "--asyncio" in args else "auto"
    try:
        print(json.dumps(run(loop=loop, quick=quick)))
    finally:
        logging.disable(logging.NOTSET)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
