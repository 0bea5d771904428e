"""``soundforge keys status|rotate`` as a user runs them: real subprocesses on a scratch data
directory with its embedded PostgreSQL; the test opens the cluster itself in between to
store a provider key and to check what rotation did to it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest

from soundforge.llm.keys import KEY_FILE, Keyring
from soundforge.llm.providers import NewProvider, create_provider
from soundforge.storage.embedded_postgres import EmbeddedPostgres
from tests.embedded_pg import scratch_data_dir

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


async def test_rotate_refuses_while_a_server_uses_the_data_directory(data_dir: Path) -> None:
    async def attempt(_conn: Any) -> subprocess.CompletedProcess[str]:
        return keys(data_dir, "rotate")

    refused = await with_database(data_dir, attempt)
    assert refused.returncode == 2
    assert "stop it first" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert not (data_dir / KEY_FILE).exists()  # nothing was changed


def test_rotate_refuses_when_the_key_comes_from_the_environment(data_dir: Path) -> None:
    secret = "A" * 43 + "="  # 32 bytes, base64
    refused = keys(data_dir, "rotate", SOUNDFORGE_SECRET_KEY=secret)
    assert refused.returncode == 2
    assert "SOUNDFORGE_OLD_SECRET_KEYS" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
