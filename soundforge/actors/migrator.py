"""Migrator: applies the pending schema migrations while the tree starts.

Ecto's ``Ecto.Migrator`` child of a Phoenix release: it sits in the supervision tree after the
Repo and before everything that queries the schema, runs the migrations in its ``init``
(under the migration runner's advisory lock, so nodes starting together are safe) and
returns ``IGNORE`` — there is nothing left for it to do, and the supervisor keeps its spec.
If the database does not become reachable within ``wait`` seconds, or a migration fails, the
start fails with that error in one sentence, and so does the tree's start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from soundforge.actors import repo
from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.gen_server import GenServer, Stop
from soundforge.runtime.process import current_process
from soundforge.runtime.results import IGNORE, Ignore
from soundforge.storage.migrations import migrate

__all__ = ["Migrator", "MigratorOptions"]

log = logging.getLogger(__name__)


class MigratorOptions(msgspec.Struct, frozen=True):
    repo: str = repo.DEFAULT_NAME
    wait: float = 30.0
    retry_every: float = 0.2


class Migrator(GenServer[None]):
    """Runs ``migrate`` once per start of the tree; see the module docstring."""

    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        spec = ChildSpec(id=cls, start=cls.start_link, args=(arg or MigratorOptions(),))
        return spec.with_(**overrides) if overrides else spec

    async def init(self, options: MigratorOptions) -> Ignore | Stop[None]:
        me = current_process()
        assert me is not None
        clock = me.node.clock
        deadline = clock.time() + options.wait
        while True:
            try:
                async with repo.connection(options.repo) as conn:
                    applied = await migrate(conn)
            except repo.DatabaseUnavailable as error:
                if clock.time() >= deadline:
                    return Stop(error)
                await asyncio.sleep(options.retry_every)
                continue
            if applied:
                log.info(
                    "applied %d migration(s): %s",
                    len(applied),
                    ", ".join(f"{m.version:04d}_{m.name}" for m in applied),
                )
            return IGNORE
