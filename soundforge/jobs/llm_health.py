"""``ProviderHealthCheck``: the periodic job that checks every AI provider's health.

Run by cron (every five minutes: ``CronEntry("*/5 * * * *", ProviderHealthCheck)``) on the
node that holds the cron leadership. It reads every enabled provider row, re-seals API keys
still sealed with an older server key (``soundforge.llm.reseal``, after a key rotation),
releases the connection, checks the providers and the environment's a few at a time
(``soundforge.llm.check_all``: a model lookup, no tokens spent), then writes each row's
health in one short transaction. The ModelRegistry hears every outcome as it comes.

The job is unique for four minutes, so a slow round never overlaps the next; it runs on
the ``download`` queue, whose slots wait on the network already.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from soundforge.actors import repo
from soundforge.llm import all_enabled_targets, check_all, llm_context, reseal
from soundforge.llm.providers import record_health
from soundforge.queue import JobRecord, Unique, Worker

__all__ = ["ProviderHealthCheck"]

log = logging.getLogger(__name__)


class ProviderHealthCheck(Worker):
    queue: ClassVar[str] = "download"
    max_attempts: ClassVar[int] = 1
    timeout: ClassVar[float | None] = 120.0
    unique: ClassVar[Unique | None] = Unique(period=240.0)

    async def perform(self, job: JobRecord) -> Any:
        context = llm_context()
        async with repo.transaction(context.options.repo) as conn:
            resealed = await reseal(conn, context.keyring)
            targets = await all_enabled_targets(conn)
        results = await check_all(context, targets)
        rows = {t.provider.id for t in targets}
        async with repo.transaction(context.options.repo) as conn:
            for result in results:
                if result.provider_id in rows:
                    await record_health(conn, result.provider_id, result.status, result.error)
        failing = [r for r in results if r.status != "healthy"]
        for result in failing:
            log.info("AI provider %s is %s: %s", result.name, result.status, result.error)
        return {"checked": len(results), "failing": len(failing), "resealed": resealed}
