"""Sealed API keys: AES-256-GCM bound to the provider id, server keys from the environment or
a generated file, rotation by key id, and clear errors for keys that do not open."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from soundforge.llm import Keyring, KeyUnavailable, LlmError, rotate
from soundforge.llm.keys import KEY_FILE, ServerKeys, key_id


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_a_sealed_key_opens_for_its_provider_only(tmp_path: Path) -> None:
    keyring = Keyring.load(tmp_path, {})
    sealed = keyring.seal("provider-a", "sk-ant-secret-x7Qa")
    assert sealed.last4 == "x7Qa" and sealed.key_id == keyring.current_id
    assert b"secret" not in sealed.ciphertext and len(sealed.nonce) == 12
    assert (
        keyring.open("provider-a", sealed.ciphertext, sealed.nonce, sealed.key_id)
        == "sk-ant-secret-x7Qa"
    )
    with pytest.raises(KeyUnavailable, match="copied from another"):
        keyring.open("provider-b", sealed.ciphertext, sealed.nonce, sealed.key_id)
    tampered = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(KeyUnavailable):
        keyring.open("provider-a", tampered, sealed.nonce, sealed.key_id)
    # Two seals of one key differ (a fresh nonce each time).
    assert keyring.seal("provider-a", "sk-ant-secret-x7Qa").ciphertext != sealed.ciphertext


def test_the_key_file_is_made_once_private_and_reused(tmp_path: Path) -> None:
    first = Keyring.load(tmp_path, {})
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = Keyring.load(tmp_path, {})
    assert again.current_id == first.current_id
    sealed = first.seal("p", "key-1234")
    assert again.open("p", sealed.ciphertext, sealed.nonce, sealed.key_id) == "key-1234"
    (line,) = path.read_text().splitlines()
    assert len(base64.b64decode(line)) == 32 and line not in repr(first)


def test_the_environment_key_wins_and_makes_no_file(tmp_path: Path) -> None:
    key = os.urandom(32)
    keyring = Keyring.load(tmp_path, {"SOUNDFORGE_SECRET_KEY": b64(key)})
    assert keyring.current_id == key_id(key)
    assert not (tmp_path / KEY_FILE).exists()


@pytest.mark.parametrize("value", ["not base64!", b64(b"short"), b64(os.urandom(31))])
def test_a_bad_environment_key_is_a_clear_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(LlmError, match="SOUNDFORGE_SECRET_KEY is not a base64 AES-256 key"):
        Keyring.load(tmp_path, {"SOUNDFORGE_SECRET_KEY": value})


def test_rotation_keeps_old_ids_opening_and_seals_with_the_new(tmp_path: Path) -> None:
    before = Keyring.load(tmp_path, {})
    old = before.seal("p", "sk-old-key")
    new_id = rotate(tmp_path)
    after = Keyring.load(tmp_path, {})
    assert after.current_id == new_id != before.current_id
    assert after.ids == {before.current_id, new_id}
    assert after.open("p", old.ciphertext, old.nonce, old.key_id) == "sk-old-key"
    assert after.seal("p", "sk-new-key").key_id == new_id


def test_moving_to_an_environment_key_with_the_old_ones_listed(tmp_path: Path) -> None:
    file_ring = Keyring.load(tmp_path, {})
    sealed = file_ring.seal("p", "sk-from-file")
    old_env = os.urandom(32)
    env_sealed = Keyring.load(tmp_path, {"SOUNDFORGE_SECRET_KEY": b64(old_env)}).seal("p", "sk-env")
    new_env = os.urandom(32)
    ring = Keyring.load(
        tmp_path,
        {"SOUNDFORGE_SECRET_KEY": b64(new_env), "SOUNDFORGE_OLD_SECRET_KEYS": b64(old_env)},
    )
    assert ring.current_id == key_id(new_env)
    # The file's key still opens (it is read, not made), and so does the listed old one.
    assert ring.open("p", sealed.ciphertext, sealed.nonce, sealed.key_id) == "sk-from-file"
    assert ring.open("p", env_sealed.ciphertext, env_sealed.nonce, env_sealed.key_id) == "sk-env"


def test_a_key_sealed_with_an_unknown_server_key_says_so(tmp_path: Path) -> None:
    other = Keyring.load(tmp_path / "elsewhere", {})
    sealed = other.seal("p", "sk-elsewhere")
    with pytest.raises(
        KeyUnavailable, match=f"server key {sealed.key_id}.*enter the API key again"
    ):
        Keyring.load(tmp_path, {}).open("p", sealed.ciphertext, sealed.nonce, sealed.key_id)


def test_server_keys_follow_the_key_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    keys = ServerKeys(tmp_path, {})
    first = keys.keyring
    sealed = first.seal("p", "sk-before")
    assert keys.keyring is first  # nothing changed: the same keyring, no read
    new_id = rotate(tmp_path)
    rotated = keys.keyring
    assert rotated.current_id == new_id and first.current_id in rotated.ids
    assert rotated.open("p", sealed.ciphertext, sealed.nonce, sealed.key_id) == "sk-before"
    # A file caught halfway through a write: the keyring stays, and the next use reads again.
    path = tmp_path / KEY_FILE
    good = path.read_text()
    path.write_text(good + "c29tZQ")
    assert keys.keyring is rotated and keys.keyring is rotated
    assert caplog.text.count("the server keys were not read again") == 1  # not on every use
    path.write_text(good + b64(os.urandom(32)) + "\n")
    third = keys.keyring
    assert third.current_id not in (first.current_id, new_id)
    # A file that is gone is not made again while the server runs: its keys stay.
    path.unlink()
    assert keys.keyring is third and not path.exists()
    assert "is gone: the server keeps the keys it read" in caplog.text
