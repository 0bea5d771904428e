"""A queue node in its own OS process, for tests that kill -9 a node.

    python -m tests.queue.node_script DSN NODE_NAME

Runs a Queues tree over the test workers (queue ``default``) until it is killed; prints
``ready`` once the tree is up.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from soundforge.queue import QueueConfig, Queues
from soundforge.runtime.node import Node
from soundforge.runtime.results import Ok
from tests.queue.conftest import FAST
from tests.queue.workers import ALL


async def main(dsn: str, name: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=0, max_size=4)
    async with Node(name=name) as node:
        node.attach()
        config = QueueConfig(queues={"default": 5}, workers=ALL, node_name=name, **FAST)
        result = await Queues.start_link(config, pool)
        assert isinstance(result, Ok), result
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
