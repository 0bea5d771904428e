"""Cron: the expression parser, and one leader across nodes that moves when the leader dies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from soundforge.queue import CronEntry, InvalidCron, JobState, is_cron_leader, list_jobs
from soundforge.queue.crontab import parse
from soundforge.runtime.exit import KILL
from soundforge.runtime.process import exit
from tests.queue.conftest import QNode, StartNode, wait_until
from tests.queue.workers import Noop


def at(day: int, hour: int, minute: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)  # 2026-03-02 is a Monday


@pytest.mark.parametrize(
    ("expr", "yes", "no"),
    [
        ("* * * * *", [at(2, 0, 0), at(7, 23, 59)], []),
        ("*/15 9-17 * * mon-fri", [at(2, 9, 30), at(6, 17, 45)], [at(2, 9, 31), at(7, 9, 30)]),
        ("0 0 1 jan *", [datetime(2027, 1, 1, tzinfo=UTC)], [at(1, 0, 0)]),
        ("5,10 1 * * *", [at(3, 1, 5), at(3, 1, 10)], [at(3, 1, 6), at(3, 2, 5)]),
        ("0 12 15 * 0", [at(15, 12, 0), at(8, 12, 0)], [at(9, 12, 0)]),  # day OR weekday
        ("0 0 * * 7", [at(8, 0, 0)], [at(9, 0, 0)]),  # 7 is Sunday
        ("10/20 * * * *", [at(2, 3, 10), at(2, 3, 30), at(2, 3, 50)], [at(2, 3, 0)]),
        ("@hourly", [at(2, 5, 0)], [at(2, 5, 1)]),
        ("@daily", [at(2, 0, 0)], [at(2, 1, 0)]),
        ("@weekly", [at(8, 0, 0)], [at(2, 0, 0)]),
        ("@monthly", [at(1, 0, 0)], [at(2, 0, 0)]),
    ],
)
def test_expressions_match_their_minutes(
    expr: str, yes: list[datetime], no: list[datetime]
) -> None:
    schedule = parse(expr)
    assert all(schedule.matches(t) for t in yes)
    assert not any(schedule.matches(t) for t in no)


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("* * * *", "4 fields"),
        ("60 * * * *", "outside 0-59 in the minute field"),
        ("* * * foo *", "'foo' is not a number in the month field"),
        ("*/0 * * * *", "bad step"),
        ("5-1 * * * *", "runs backwards"),
        ("@reboot", "unknown shorthand"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expr: str, problem: str) -> None:
    with pytest.raises(InvalidCron, match=problem):
        parse(expr)


async def _leader(qnode: QNode) -> bool:
    with qnode.inside():
        return await is_cron_leader()


async def test_one_leader_inserts_and_leadership_moves_when_it_dies(
    start_node: StartNode, pool: Any
) -> None:
    crontab = [CronEntry("* * * * *", Noop, {"from": "cron"})]
    a = await start_node("a", crontab=crontab)
    b = await start_node("b", crontab=crontab)

    async def one_leader() -> bool:
        return [await _leader(a), await _leader(b)].count(True) == 1

    await wait_until(one_leader, timeout=5, what="one cron leader")
    leader, other = (a, b) if await _leader(a) else (b, a)

    async def inserted() -> bool:
        return bool(await list_jobs(pool, worker="test.Noop"))

    await wait_until(inserted, timeout=5, what="the leader inserted this minute's job")
    with leader.inside():
        assert leader.sup is not None
        exit(leader.sup, KILL)  # the whole queue tree dies without running terminate

    async def moved() -> bool:
        return await _leader(other)

    await wait_until(moved, timeout=5, what="leadership moved to the other node")
    jobs = await list_jobs(pool, worker="test.Noop")
    minutes = [j.inserted_at.replace(second=0, microsecond=0) for j in jobs]
    assert len(minutes) == len(set(minutes))  # one job per minute, whoever leads
    assert all(j.meta == {"cron": True, "cron_expr": "* * * * *"} for j in jobs)
    assert all(j.args == {"from": "cron"} for j in jobs)
    assert all(
        j.state in (JobState.AVAILABLE, JobState.EXECUTING, JobState.COMPLETED) for j in jobs
    )
