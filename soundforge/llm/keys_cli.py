"""``soundforge keys status|rotate``: the server keys that seal stored LLM API keys.

``status`` lists the keyring (``keys.py``) — the current key, the older ones and where each
comes from — and how many stored provider keys each one seals, so an operator knows when an
old key can go. ``rotate`` appends a new current key to ``<data>/keys/llm.key`` and re-seals
every stored API key with it at once, in one transaction; the old lines stay (delete them
once ``status`` shows nothing sealed with them).

``rotate`` works while the server runs: the command uses the server's database, and the
server reads the key file again when it changes (``keys.ServerKeys``), so it opens what
was re-sealed and seals with the new key from then on. With
``SOUNDFORGE_SECRET_KEY`` set the file is not the current key: rotate by setting a new
variable (the old value into ``SOUNDFORGE_OLD_SECRET_KEYS``) and restarting; the health job
re-seals. Several nodes on one database (``SOUNDFORGE_DATABASE_URL``) need the same keys:
use the variables there, or stop every node before ``rotate`` and copy the file to each.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final

from soundforge.config import Settings
from soundforge.llm.errors import LlmError
from soundforge.llm.keys import KEY_FILE, OLD_KEYS_VAR, SECRET_KEY_VAR, Keyring, rotate
from soundforge.llm.providers import reseal

__all__ = ["KeysRefused", "run_keys_rotate", "run_keys_status"]

_COUNTS: Final = """SELECT api_key_key_id, count(*) FROM llm_providers
                    WHERE api_key_key_id IS NOT NULL GROUP BY 1"""


class KeysRefused(LlmError):
    """``rotate`` cannot run here now; the sentence says why and what to do."""

    exit_code = 2


def run_keys_status(
    settings: Settings, in_tree: Callable[[Callable[[], Awaitable[int]]], int]
) -> int:
    keyring = Keyring.load(settings.data_dir, os.environ)

    async def work() -> int:
        counts = await _sealed_counts()
        source = (
            SECRET_KEY_VAR if os.environ.get(SECRET_KEY_VAR) else str(settings.data_dir / KEY_FILE)
        )
        print(f"current key {keyring.current_id} (from {source})")
        for key in sorted(keyring.ids - {keyring.current_id}):
            used = counts.get(key, 0)
            note = "still seals stored keys" if used else "seals nothing: it can be removed"
            print(f"older key   {key}: {note}")
        for key, used in sorted(counts.items()):
            where = "" if key in keyring.ids else " (this server does not have that key!)"
            print(f"{used} stored API key(s) sealed with {key}{where}")
        if not counts:
            print("no stored API keys")
        return 0

    return in_tree(work)


def run_keys_rotate(
    settings: Settings,
    in_tree: Callable[[Callable[[], Awaitable[int]]], int],
    *,
    nodes_stopped: bool = False,
) -> int:
    if os.environ.get(SECRET_KEY_VAR):
        raise KeysRefused(
            f"{SECRET_KEY_VAR} is set, so it is the current key, not the key file: rotate by "
            f"setting a new {SECRET_KEY_VAR} (the old value into {OLD_KEYS_VAR}) and restarting."
        )
    if not settings.embedded_database and not nodes_stopped:
        raise KeysRefused(
            "With SOUNDFORGE_DATABASE_URL other nodes may be running, and they would not open API "
            "keys sealed with a new key: stop every node, then run `soundforge keys rotate "
            "--nodes-stopped` and copy the key file to each node."
        )
    new_id = rotate(settings.data_dir)

    async def work() -> int:
        from soundforge.actors import repo
        from soundforge.supervisors.root import NAMES

        keyring = Keyring.load(settings.data_dir, os.environ)
        async with repo.transaction(NAMES.repo) as conn:
            resealed = await reseal(conn, keyring)
        print(f"new current key {new_id}; re-sealed {resealed} stored API key(s) with it")
        print(
            f"older keys stay in {settings.data_dir / KEY_FILE}; `soundforge keys status` shows "
            "when one seals nothing and can be removed",
            file=sys.stderr,
        )
        return 0

    return in_tree(work)


async def _sealed_counts() -> dict[str, int]:
    from soundforge.actors import repo
    from soundforge.supervisors.root import NAMES

    async with repo.connection(NAMES.repo) as conn:
        rows: list[Any] = await conn.fetch(_COUNTS)
    return {row[0]: int(row[1]) for row in rows}
