"""The public surface of soundforge.queue is pinned: changing it is a deliberate act."""

from __future__ import annotations

import importlib
import pkgutil
import re

import soundforge.queue as queue

EXPECTED = sorted(
    """
    ALL_STATES DEFAULT_QUEUES INCOMPLETE_STATES MIGRATIONS SUCCESSFUL_STATES AttemptError
    Cancel CronEntry Error InvalidCron InvalidJob InvalidQueueConfig JobRecord JobState
    JobTimeout NewJob QueueConfig QueueInfo Queues Snooze Unique UnknownWorker Worker Workers
    cancel_job check_queue complete_job default_backoff get_job insert insert_all insert_job
    is_cron_leader list_jobs live_counts new_job notify pause_local pause_queue resume_local
    resume_queue retry_job scale_local scale_queue
    """.split()
)


def test_exported_names_are_pinned() -> None:
    assert sorted(queue.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(queue, name) is not None, name


def test_every_module_says_what_it_is_and_exports() -> None:
    for info in pkgutil.iter_modules(queue.__path__):
        module = importlib.import_module(f"soundforge.queue.{info.name}")
        assert module.__doc__ and len(module.__doc__) > 200, f"{info.name} needs a docstring"
        for symbol in module.__all__:
            assert hasattr(module, symbol), f"{info.name}.{symbol}"


def test_the_migrations_are_every_one_that_changes_the_queues_tables() -> None:
    """A database that holds only the queue gets what the whole product's gets."""
    tables, *changes = queue.MIGRATIONS
    assert tables.name == "0002_jobs.sql"
    own = re.findall(r"CREATE INDEX (\w+) ON jobs", tables.read_text())
    touches = re.compile(rf"ALTER TABLE jobs\b|\b(?:{'|'.join(own)})\b")
    found = [
        path.name
        for path in sorted(tables.parent.glob("*.sql"))
        if path != tables and touches.search(re.sub(r"--.*", "", path.read_text()))
    ]
    assert found == [path.name for path in changes]
