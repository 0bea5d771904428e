"""The foreman: attempts as linked tasks, answers to the producer, kills and deaths.

The test plays the producer (``reply_to`` is the test's shell process); no database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from soundforge.queue.foreman import Died, Done, Foreman, Kill, Run
from soundforge.queue.job import JobRecord, JobState
from soundforge.runtime.exit import SHUTDOWN
from soundforge.runtime.gen_server import cast, get_state, stop
from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid, receive
from soundforge.runtime.results import Ok
from tests.queue.workers import Noop, Slow


def _jobs(*ids: int) -> list[JobRecord]:
    now = datetime.now(UTC)
    return [
        JobRecord(i, JobState.EXECUTING, "q", "w", {}, {}, 0, 1, 20, [], now, now, now) for i in ids
    ]


async def _start(node: Node) -> Pid:
    result = await Foreman.start_link(None)
    assert isinstance(result, Ok)
    pid: Pid = result.pid
    return pid


async def _running(foreman: Pid) -> Any:
    return Foreman().format_status(await get_state(foreman))


async def test_answered_attempts_send_no_exit_signal_and_are_forgotten(
    node: Node, shell: Pid
) -> None:
    foreman = await _start(node)
    cast(foreman, Run(_jobs(1, 2, 3), [Noop] * 3, shell, "n"))
    answered = {(await receive(lambda m: type(m) is Done, 2.0)).outcome.job_id for _ in range(3)}
    assert answered == {1, 2, 3}
    assert await _running(foreman) == {"running": 0}
    # The foreman handled the Run and the get_state call: no Exit message per attempt.
    proc = foreman._proc
    assert proc is not None and proc.handled == 2
    # The next batch drops the ended tasks from its table.
    cast(foreman, Run(_jobs(4), [Noop], shell, "n"))
    assert (await receive(lambda m: type(m) is Done, 2.0)).outcome.job_id == 4
    state = await get_state(foreman)
    assert set(state.by_job) == {4}
    await stop(foreman)


async def test_a_killed_attempt_is_reported_and_a_finished_one_is_left_alone(
    node: Node, shell: Pid
) -> None:
    foreman = await _start(node)
    cast(foreman, Run(_jobs(1, 2), [Slow, Noop], shell, "n"))
    assert (await receive(lambda m: type(m) is Done, 2.0)).outcome.job_id == 2
    assert await _running(foreman) == {"running": 1}
    cast(foreman, Kill(2))  # ended already: nothing to kill, nothing to report
    cast(foreman, Kill(1))
    died = await receive(lambda m: type(m) is Died, 2.0)
    assert (died.job_id, died.reason) == (1, SHUTDOWN)
    assert await _running(foreman) == {"running": 0}
    with pytest.raises(TimeoutError):
        await receive(lambda m: type(m) is Died, 0.1)
    await stop(foreman)


async def test_stopping_the_foreman_ends_the_attempts_still_running(node: Node, shell: Pid) -> None:
    foreman = await _start(node)
    cast(foreman, Run(_jobs(1, 2), [Slow, Noop], shell, "n"))
    await receive(lambda m: type(m) is Done, 2.0)
    [task] = [p for p in node.processes.values() if p.kind == "task"]
    await stop(foreman)
    assert not task.alive
