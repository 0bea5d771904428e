"""Workers, their defaults and registry, jobs as values, and the configuration's checks."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from soundforge.queue import (
    CronEntry,
    InvalidCron,
    InvalidQueueConfig,
    JobRecord,
    QueueConfig,
    Unique,
    UnknownWorker,
    Worker,
    Workers,
    default_backoff,
    new_job,
)
from soundforge.queue.job import unique_key
from tests.queue.workers import Noop, Scripted


class Typed(Worker):
    queue = "analysis"
    priority = 3
    max_attempts = 4

    class Args(msgspec.Struct):
        track_id: int

    args_type = Args

    async def perform(self, job: JobRecord) -> Any:
        return self.load_args(job)


@pytest.mark.parametrize("attempt", [1, 2, 5, 10, 19])
def test_default_backoff_is_obans(attempt: int) -> None:
    base = 15 + 2**attempt
    samples = [default_backoff(attempt) for _ in range(200)]
    assert all(base <= s <= base * 1.1 for s in samples)
    assert min(samples) < max(samples) or base < 10  # jitter is there


def test_backoff_scales_onto_twenty_steps_for_many_attempts() -> None:
    assert 15 + 2**10 <= default_backoff(50, max_attempts=100) <= (15 + 2**10) * 1.1


def test_worker_defaults_and_names() -> None:
    assert Typed.name == f"{__name__}.Typed"
    assert Noop.name == "test.Noop"
    assert (Worker.queue, Worker.max_attempts, Worker.timeout, Worker.priority) == (
        "default",
        20,
        None,
        0,
    )
    assert 17 <= Noop().backoff(1) <= 18.7  # the default backoff, inherited


def test_new_job_takes_the_workers_options_and_typed_args() -> None:
    job = new_job(Typed, Typed.Args(7))
    assert (job.worker, job.queue, job.priority, job.max_attempts) == (Typed.name, "analysis", 3, 4)
    assert job.args == {"track_id": 7}
    named = new_job("some.Worker", {"a": 1})
    assert (named.queue, named.priority, named.max_attempts) == ("default", 0, 20)


async def test_load_args_gives_the_typed_payload() -> None:
    job = JobRecord(
        1, "executing", "analysis", Typed.name, {"track_id": 9}, {}, 0, 1, 4, [], None, None
    )  # type: ignore[arg-type]
    assert await Typed().perform(job) == Typed.Args(9)


def test_unique_keys_cover_the_chosen_args_in_any_order() -> None:
    a = unique_key("w", "q", {"x": 1, "y": 2, "z": 3}, ("y", "x"))
    assert a == unique_key("w", "q", {"y": 2, "x": 1, "z": 4}, ("x", "y"))
    assert a != unique_key("w", "other", {"x": 1, "y": 2}, ("x", "y"))
    job = new_job(Noop, {"x": 1}, unique=Unique(period=None))
    assert job.unique_key == unique_key(Noop.name, "default", {"x": 1}, None)
    assert job.unique_period is None


def test_workers_registry() -> None:
    workers = Workers([Noop, Scripted])
    assert workers.resolve("test.Noop") is Noop
    assert set(workers) == {"test.Noop", "test.Scripted"}
    with pytest.raises(UnknownWorker, match=r"add its class to QueueConfig\.workers"):
        workers.resolve("nope")

    class Clash(Worker):
        name = "test.Noop"

    with pytest.raises(ValueError, match="two workers are named"):
        Workers([Noop, Clash])


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"queues": {"q": 0}}, InvalidQueueConfig, "positive integer"),
        ({"poll_interval": 0}, InvalidQueueConfig, "poll_interval must be a positive"),
        ({"heartbeat_interval": 90.0}, InvalidQueueConfig, "below rescue_after"),
        ({"crontab": [CronEntry("61 * * * *", Noop)]}, InvalidCron, "outside 0-59"),
    ],
)
def test_bad_configuration_is_refused(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        QueueConfig(**options)


def test_default_configuration_is_the_products() -> None:
    config = QueueConfig()
    assert dict(config.queues) == {"download": 3, "processing": 2, "analysis": 2}
    assert config.heartbeat_every == config.rescue_after / 4
