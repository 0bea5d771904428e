"""``soundforge keys status|rotate`` as a user runs them: real subprocesses on a scratch data
directory with its embedded PostgreSQL; the test opens the cluster itself in between to
store a provider key and to check what rotation did to it. Then a rotation while the server
runs: its database up, and a running ModelRegistry that must use the new key at once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest

from soundforge.llm import LlmContext, stream_chat
from soundforge.llm.keys import KEY_FILE, Keyring
from soundforge.llm.providers import NewProvider, create_provider
from soundforge.storage.embedded_postgres import EmbeddedPostgres
from tests.embedded_pg import scratch_data_dir
from tests.fakes.anthropic_api import FakeAnthropic, Reply
from tests.llm.conftest import collect
from tests.llm.test_router import QUESTION, claude, text

CLI = [sys.executable, "-m", "soundforge", "keys"]
KEY = "sk-ant-rotate-me-x7Qa"
T = TypeVar("T")

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with scratch_data_dir() as path:
        yield path


def keys(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SOUNDFORGE_")}
    environ |= {"SOUNDFORGE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, env=environ, check=False
    )


async def with_database(data_dir: Path, body: Callable[[Any], Awaitable[T]]) -> T:
    pg = EmbeddedPostgres(data_dir)
    dsn = await pg.start()
    try:
        conn = await asyncpg.connect(dsn)
        try:
            return await body(conn)
        finally:
            await conn.close()
    finally:
        await pg.stop()


async def test_rotate_reseals_every_stored_key_and_status_says_what_can_go(
    data_dir: Path,
) -> None:
    first = keys(data_dir, "status")  # creates the key file; the tree migrates the database
    assert first.returncode == 0, first.stderr
    old = Keyring.load(data_dir, {})
    assert f"current key {old.current_id}" in first.stdout and "no stored API keys" in first.stdout

    async def store(conn: Any) -> str:
        new = NewProvider(name="Claude", kind="anthropic", model="claude-sonnet-4-6", api_key=KEY)
        return (await create_provider(conn, old, None, new)).id

    provider_id = await with_database(data_dir, store)

    rotated = keys(data_dir, "rotate")
    assert rotated.returncode == 0, rotated.stderr
    new = Keyring.load(data_dir, {})
    assert new.current_id != old.current_id and old.current_id in new.ids
    assert f"new current key {new.current_id}; re-sealed 1 stored API key(s)" in rotated.stdout
    assert len((data_dir / KEY_FILE).read_text().splitlines()) == 2

    async def sealed(conn: Any) -> tuple[str, str]:
        row = await conn.fetchrow(
            "SELECT api_key_ciphertext, api_key_nonce, api_key_key_id FROM llm_providers"
        )
        key_id = row["api_key_key_id"]
        ciphertext, nonce = bytes(row["api_key_ciphertext"]), bytes(row["api_key_nonce"])
        return key_id, new.open(provider_id, ciphertext, nonce, key_id)

    assert await with_database(data_dir, sealed) == (new.current_id, KEY)

    status = keys(data_dir, "status")
    assert status.returncode == 0, status.stderr
    assert f"older key   {old.current_id}: seals nothing: it can be removed" in status.stdout
    assert f"1 stored API key(s) sealed with {new.current_id}" in status.stdout


async def test_rotate_runs_on_the_running_servers_database(data_dir: Path) -> None:
    prepared = keys(data_dir, "status")
    assert prepared.returncode == 0, prepared.stderr
    old = Keyring.load(data_dir, {})

    async def rotate_meanwhile(conn: Any) -> tuple[subprocess.CompletedProcess[str], str]:
        new = NewProvider(name="Claude", kind="anthropic", model="claude-sonnet-4-6", api_key=KEY)
        await create_provider(conn, old, None, new)
        rotated = keys(data_dir, "rotate")  # the cluster is up, as under a running server
        key_id: str = await conn.fetchval("SELECT api_key_key_id FROM llm_providers")
        return rotated, key_id

    rotated, sealed_with = await with_database(data_dir, rotate_meanwhile)
    assert rotated.returncode == 0, rotated.stderr
    new_id = Keyring.load(data_dir, {}).current_id
    assert f"new current key {new_id}; re-sealed 1 stored API key(s)" in rotated.stdout
    assert sealed_with == new_id != old.current_id


async def test_a_running_server_uses_a_key_rotated_meanwhile_at_once(
    llm: LlmContext,
    conn: Any,
    user_id: str,
    anthropic_fake: FakeAnthropic,
    migrated_url: str,
) -> None:
    """The server's registry sealed a provider's key; ``keys rotate`` re-seals it with a new
    server key. The next turn opens it, and the next key stored is sealed with the new one."""
    before = llm.keyring.current_id
    await create_provider(conn, llm.keyring, user_id, claude(anthropic_fake))
    rotated = keys(
        llm.options.data_dir,
        "rotate",
        "--nodes-stopped",
        SOUNDFORGE_DATABASE_URL=migrated_url,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "re-sealed 1 stored API key(s)" in rotated.stdout
    assert llm.keyring.current_id != before and before in llm.keyring.ids

    anthropic_fake.script.append(Reply(text="8A, A minor."))
    assert text(await collect(stream_chat(conn, user_id, QUESTION))) == "8A, A minor."
    await create_provider(conn, llm.keyring, user_id, claude(anthropic_fake, name="Spare"))
    sealed_with = await conn.fetch("SELECT api_key_key_id FROM llm_providers")
    assert {row[0] for row in sealed_with} == {llm.keyring.current_id}


def test_rotate_refuses_when_the_key_comes_from_the_environment(data_dir: Path) -> None:
    secret = "A" * 43 + "="  # 32 bytes, base64
    refused = keys(data_dir, "rotate", SOUNDFORGE_SECRET_KEY=secret)
    assert refused.returncode == 2
    assert "SOUNDFORGE_OLD_SECRET_KEYS" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
