"""Provider rows: create, list, update and delete with ownership in the SQL, keys sealed and
write-only, a ciphertext copied to another row refusing to open, and re-sealing after a
server key rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from soundforge.llm import (
    InvalidProvider,
    Keyring,
    KeyUnavailable,
    NewProvider,
    ProviderChanges,
    ProviderNameTaken,
    ProviderNotFound,
    create_provider,
    delete_provider,
    get_provider,
    get_target,
    list_providers,
    reseal,
    rotate,
    update_provider,
)
from tests.llm.conftest import make_user

CLAUDE = NewProvider(
    name="My Claude", kind="anthropic", model="claude-sonnet-4-6", api_key="sk-ant-secret-x7Qa"
)
OLLAMA = NewProvider(
    name="Ollama", kind="openai_compatible", model="llama3.2", base_url="http://localhost:11434/v1/"
)


async def test_create_list_update_delete_with_ownership(
    conn: Any, user_id: str, tmp_path: Path
) -> None:
    keyring = Keyring.load(tmp_path, {})
    other = await make_user(conn, "other")
    mine = await create_provider(conn, keyring, user_id, CLAUDE)
    assert (mine.source, mine.has_api_key, mine.api_key_last4, mine.health_status) == (
        "user",
        True,
        "x7Qa",
        "unknown",
    )
    assert "sk-ant" not in repr(mine) and "sk-ant" not in msgspec.json.encode(mine).decode()
    local = await create_provider(conn, keyring, user_id, OLLAMA)
    assert local.base_url == "http://localhost:11434/v1" and not local.has_api_key
    system = await create_provider(
        conn, keyring, None, msgspec.structs.replace(OLLAMA, name="Shared Ollama", priority=5)
    )
    theirs = await create_provider(
        conn, keyring, other, msgspec.structs.replace(CLAUDE, name="Theirs")
    )

    listed = await list_providers(conn, user_id)
    assert [(p.name, p.source) for p in listed] == [
        ("My Claude", "user"),
        ("Ollama", "user"),
        ("Shared Ollama", "system"),
    ]
    assert theirs.id not in {p.id for p in listed}

    # Someone else's id, a system id without admin rights, and garbage all read as unknown.
    for owner, provider_id in [
        (user_id, theirs.id),
        (user_id, system.id),
        (None, mine.id),
        (user_id, "not-a-uuid"),
    ]:
        with pytest.raises(ProviderNotFound):
            await get_provider(conn, owner, provider_id)
        with pytest.raises(ProviderNotFound):
            await update_provider(conn, keyring, owner, provider_id, ProviderChanges(enabled=False))
        assert not await delete_provider(conn, owner, provider_id)

    changed = await update_provider(
        conn,
        keyring,
        user_id,
        mine.id,
        ProviderChanges(enabled=False, priority=7, api_key="sk-ant-other-9Zz9"),
    )
    assert (changed.enabled, changed.priority, changed.api_key_last4, changed.name) == (
        False,
        7,
        "9Zz9",
        "My Claude",
    )
    target = await get_target(conn, user_id, mine.id)
    assert target.api_key(keyring) == "sk-ant-other-9Zz9"
    keyless = await update_provider(conn, keyring, user_id, mine.id, ProviderChanges(api_key=None))
    assert not keyless.has_api_key and keyless.api_key_last4 is None
    assert await update_provider(conn, keyring, user_id, mine.id, ProviderChanges()) == keyless

    assert await delete_provider(conn, user_id, mine.id)
    assert not await delete_provider(conn, user_id, mine.id)
    assert await delete_provider(conn, None, system.id)


async def test_names_are_unique_per_owner_and_settings_are_checked(
    conn: Any, user_id: str, tmp_path: Path
) -> None:
    keyring = Keyring.load(tmp_path, {})
    other = await make_user(conn, "other")
    await create_provider(conn, keyring, user_id, CLAUDE)
    await create_provider(conn, keyring, other, CLAUDE)  # another owner may use the name
    with pytest.raises(ProviderNameTaken, match="'MY CLAUDE' exists already"):
        await create_provider(
            conn, keyring, user_id, msgspec.structs.replace(CLAUDE, name="MY CLAUDE")
        )
    with pytest.raises(InvalidProvider, match="needs its base URL"):
        await create_provider(
            conn, keyring, user_id, msgspec.structs.replace(OLLAMA, base_url=None)
        )
    with pytest.raises(InvalidProvider, match="not an http"):
        await create_provider(
            conn, keyring, user_id, msgspec.structs.replace(OLLAMA, base_url="ftp://x")
        )
    with pytest.raises(InvalidProvider, match="1 to 100 characters"):
        await create_provider(
            conn, keyring, user_id, msgspec.structs.replace(OLLAMA, name="x" * 101)
        )
    ollama = await create_provider(conn, keyring, user_id, OLLAMA)
    with pytest.raises(ProviderNameTaken):
        await update_provider(conn, keyring, user_id, ollama.id, ProviderChanges(name="my claude"))


async def test_a_ciphertext_copied_to_another_row_does_not_open(
    conn: Any, user_id: str, tmp_path: Path
) -> None:
    keyring = Keyring.load(tmp_path, {})
    victim = await create_provider(conn, keyring, user_id, CLAUDE)
    attacker_id = await make_user(conn, "attacker")
    attacker = await create_provider(
        conn, keyring, attacker_id, msgspec.structs.replace(CLAUDE, name="Copy", api_key="sk-mine")
    )
    await conn.execute(
        """UPDATE llm_providers AS a SET api_key_ciphertext = v.api_key_ciphertext,
               api_key_nonce = v.api_key_nonce, api_key_key_id = v.api_key_key_id
           FROM llm_providers AS v WHERE a.id = $1::uuid AND v.id = $2::uuid""",
        attacker.id,
        victim.id,
    )
    stolen = await get_target(conn, attacker_id, attacker.id)
    with pytest.raises(KeyUnavailable, match="copied from another"):
        stolen.api_key(keyring)
    assert (await get_target(conn, user_id, victim.id)).api_key(keyring) == "sk-ant-secret-x7Qa"


async def test_reseal_moves_keys_to_the_current_server_key(
    conn: Any, user_id: str, tmp_path: Path
) -> None:
    old = Keyring.load(tmp_path, {})
    first = await create_provider(conn, old, user_id, CLAUDE)
    second = await create_provider(
        conn, old, None, msgspec.structs.replace(CLAUDE, name="System", api_key="sk-system")
    )
    rotate(tmp_path)
    new = Keyring.load(tmp_path, {})
    assert await reseal(conn, new) == 2
    assert await reseal(conn, new) == 0
    ids = await conn.fetch("SELECT DISTINCT api_key_key_id FROM llm_providers")
    assert [r["api_key_key_id"] for r in ids] == [new.current_id]
    assert (await get_target(conn, user_id, first.id)).api_key(new) == "sk-ant-secret-x7Qa"
    assert (await get_target(conn, None, second.id)).api_key(new) == "sk-system"
    # A key sealed with a server key that is gone is left for its owner to enter again.
    stranger = Keyring.load(tmp_path / "other", {})
    await create_provider(conn, stranger, user_id, msgspec.structs.replace(CLAUDE, name="Lost"))
    assert await reseal(conn, new) == 0
