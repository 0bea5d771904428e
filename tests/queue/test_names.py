"""A killed queue supervisor is restarted under the same names (``soundforge/queue/_names.py``).

Found by ``soundforge chaos``: the killed supervisor's children trap exits and were still in
``terminate`` under their registered names when the parent restarted it, so every immediate
restart failed with ``AlreadyStarted`` and the escalation reached the root.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from soundforge.queue import JobState, QueueConfig, Queues, insert
from soundforge.queue._names import clear_leftovers
from soundforge.runtime import supervisor
from soundforge.runtime.exit import KILL, SHUTDOWN
from soundforge.runtime.gen_server import GenServer, Init, stop
from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid, exit, is_alive, trap_exit, whereis
from soundforge.runtime.results import Error, Ok
from tests.queue.conftest import FAST, wait_for, wait_until
from tests.queue.workers import ALL, Slow


def _names(node: Node) -> dict[Any, Pid]:
    return {name: proc.pid for name, proc in node.names.items() if name[0] == "queues"}


_QUEUE_NAMES = {("queues", "foreman", "default"), ("queues", "producer", "default")}


@pytest.mark.parametrize(
    ("target", "renewed"),
    [
        (("Queues",), None),  # every name of the tree
        (("Queues", ("queue", "default")), _QUEUE_NAMES),
    ],
    ids=["Queues", "QueueSupervisor"],
)
async def test_a_killed_queue_supervisor_comes_back_under_its_names(
    node: Node, shell: Pid, pool: Any, target: tuple[Any, ...], renewed: set[Any] | None
) -> None:
    config = QueueConfig(node_name="n", workers=ALL, queues={"default": 2}, **FAST)
    sup = await supervisor.start_supervisor([Queues.child_spec(config, pool).with_(id="Queues")])
    assert isinstance(sup, Ok)
    try:
        # A job running while the kill lands: the old producer drains it in its terminate.
        job = await insert(pool, Slow, {"seconds": 0.5})
        await wait_for(pool, job.id, JobState.EXECUTING)
        before = _names(node)
        victim = sup.pid
        for child_id in target:
            [info] = [c for c in await supervisor.which_children(victim) if c.id == child_id]
            victim = info.pid
        exit(victim, KILL)

        expected = before.keys() if renewed is None else renewed

        async def back() -> bool:
            now = _names(node)
            return now.keys() == before.keys() and all(now[n] is not before[n] for n in expected)

        await wait_until(back, what="the killed part runs again under its names")
        assert all(_names(node)[n] is before[n] for n in before.keys() - expected)
        assert is_alive(sup.pid)  # the parent never exceeded its restart intensity
        await wait_for(pool, job.id, JobState.COMPLETED)  # handed back or finished, then run
    finally:
        await stop(sup.pid, SHUTDOWN)


class _Stubborn(GenServer[float]):
    """Traps exits and takes ``seconds`` to terminate, holding its name meanwhile."""

    def init(self, seconds: float) -> Init[float]:
        trap_exit(True)
        return Init(seconds)

    async def terminate(self, reason: Any, seconds: float) -> None:
        await asyncio.sleep(seconds)


@pytest.mark.parametrize(("seconds", "killed"), [(0.1, False), (30.0, True)])
async def test_leftovers_are_waited_for_then_killed(
    node: Node, shell: Pid, seconds: float, killed: bool
) -> None:
    inner = await supervisor.start_supervisor(
        [_Stubborn.child_spec(seconds, start=lambda s: _Stubborn.start_link(s, name="held"))]
    )
    assert isinstance(inner, Ok)
    old = whereis("held")
    assert old is not None
    exit(inner.pid, KILL)  # the child gets its parent's EXIT and terminates slowly
    assert whereis("held") is old
    started = asyncio.get_running_loop().time()
    await clear_leftovers(["held", "unused"], wait=0.5)
    took = asyncio.get_running_loop().time() - started
    assert whereis("held") is None and not is_alive(old)
    assert (took >= 0.5) is killed and took < 2.0


async def test_a_holder_with_live_ancestors_is_left_alone(node: Node, shell: Pid) -> None:
    result = await _Stubborn.start_link(0.0, name="held")
    assert isinstance(result, Ok)
    await clear_leftovers(["held"], wait=0.1)  # a second tree by mistake: not ours to kill
    assert whereis("held") is result.pid
    again = await _Stubborn.start_link(0.0, name="held")
    assert isinstance(again, Error)
    await stop(result.pid)
