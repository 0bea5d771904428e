"""The pruner deletes finished jobs past the retention period and keeps the rest."""

from __future__ import annotations

from typing import Any

from soundforge.queue import JobState, insert_all, list_jobs, new_job
from tests.queue.conftest import StartNode, wait_until
from tests.queue.workers import Noop


async def test_old_finished_jobs_are_pruned(start_node: StartNode, pool: Any) -> None:
    jobs = await insert_all(pool, [new_job(Noop, {"i": i}, schedule_in=3600) for i in range(6)])
    old = "now() - interval '2 hours'"
    await pool.execute(
        f"""UPDATE jobs SET
              state = (ARRAY['completed', 'cancelled', 'discarded', 'completed',
                             'scheduled', 'retryable'])[(args->>'i')::int + 1],
              completed_at = {old}, cancelled_at = {old}, discarded_at = {old}"""
    )
    await pool.execute("UPDATE jobs SET completed_at = now() WHERE args->>'i' = '3'")
    await start_node("a", prune_after=3600.0, prune_interval=0.05, prune_limit=2)

    async def pruned() -> bool:
        return len(await list_jobs(pool)) == 3

    await wait_until(pruned, timeout=5, what="three old finished jobs deleted")
    left = {j.args["i"]: j.state for j in await list_jobs(pool)}
    assert left == {3: JobState.COMPLETED, 4: JobState.SCHEDULED, 5: JobState.RETRYABLE}
    assert len(jobs) == 6
