"""soundforge.queue: an Oban-shaped job queue on PostgreSQL, built from runtime actors.

Jobs are rows of ``jobs`` (``db/migrations/0002_jobs.sql``) with Oban's states; workers are
:class:`Worker` subclasses; each node runs a :class:`Queues` supervisor whose producers claim
jobs with ``FOR UPDATE SKIP LOCKED`` and run each attempt as a supervised task. See
``docs/queue.md`` for the design and every difference from Oban.

    class Download(Worker):
        queue = "download"

        async def perform(self, job: JobRecord) -> Any:
            ...

    await Queues.start_link(QueueConfig(workers=[Download]), pool)
    async with conn.transaction():
        await insert(conn, Download, {"track_id": 42})
"""

from soundforge.queue.config import DEFAULT_QUEUES, InvalidQueueConfig, QueueConfig
from soundforge.queue.crontab import CronEntry, InvalidCron
from soundforge.queue.engine import (
    MIGRATIONS,
    cancel_job,
    complete_job,
    get_job,
    insert,
    insert_all,
    insert_job,
    list_jobs,
    live_counts,
    notify,
    retry_job,
)
from soundforge.queue.job import (
    ALL_STATES,
    INCOMPLETE_STATES,
    SUCCESSFUL_STATES,
    AttemptError,
    InvalidJob,
    JobRecord,
    JobState,
    NewJob,
    Unique,
    new_job,
)
from soundforge.queue.producer import QueueInfo
from soundforge.queue.queues import (
    Queues,
    check_queue,
    is_cron_leader,
    pause_local,
    pause_queue,
    resume_local,
    resume_queue,
    scale_local,
    scale_queue,
)
from soundforge.queue.worker import (
    Cancel,
    Error,
    JobTimeout,
    Snooze,
    UnknownWorker,
    Worker,
    Workers,
    default_backoff,
)

__all__ = [
    "ALL_STATES",
    "DEFAULT_QUEUES",
    "INCOMPLETE_STATES",
    "MIGRATIONS",
    "SUCCESSFUL_STATES",
    "AttemptError",
    "Cancel",
    "CronEntry",
    "Error",
    "InvalidCron",
    "InvalidJob",
    "InvalidQueueConfig",
    "JobRecord",
    "JobState",
    "JobTimeout",
    "NewJob",
    "QueueConfig",
    "QueueInfo",
    "Queues",
    "Snooze",
    "Unique",
    "UnknownWorker",
    "Worker",
    "Workers",
    "cancel_job",
    "check_queue",
    "complete_job",
    "default_backoff",
    "get_job",
    "insert",
    "insert_all",
    "insert_job",
    "is_cron_leader",
    "list_jobs",
    "live_counts",
    "new_job",
    "notify",
    "pause_local",
    "pause_queue",
    "resume_local",
    "resume_queue",
    "retry_job",
    "scale_local",
    "scale_queue",
]
