"""Provider API keys sealed at rest: AES-256-GCM bound to the provider's row.

A key is stored as ``api_key_ciphertext`` + ``api_key_nonce`` (12 random bytes) +
``api_key_key_id`` (which server key sealed it) + ``api_key_last4`` (for "…x7Qa" in the
settings page). The provider's id is the GCM *associated data*, so a ciphertext copied into
another row fails to decrypt instead of lending one provider's key to another.

**Server keys.** :meth:`Keyring.load` reads them, current key first:

* ``SOUNDFORGE_SECRET_KEY``: base64 of 32 bytes (``openssl rand -base64 32``); when set it
  is the current key, and the key file (if any) is only read, never created;
* otherwise ``<data>/keys/llm.key``, created on first use (mode 0600, directory 0700): one
  base64 key per line, the **last** line current;
* ``SOUNDFORGE_OLD_SECRET_KEYS``: comma-separated base64 keys that still decrypt.

A key's id is a fingerprint of the key (:func:`key_id`), so the same key has the same id
wherever it is read from. **Rotation**: :func:`rotate` appends a new key to the file (or set
a new ``SOUNDFORGE_SECRET_KEY`` and move the old one to ``SOUNDFORGE_OLD_SECRET_KEYS``);
rows sealed with an older key still open, and ``providers.reseal`` (run by the periodic
health job) re-seals them with the current one, after which the old key can go.

**A running server** holds :class:`ServerKeys`, which reads the file again whenever it
changed (one ``stat`` per use), so ``soundforge keys rotate`` takes effect on a server that
is running: it opens what the command re-sealed, and seals with the new key from then on.

    keyring = Keyring.load(data_dir, os.environ)
    sealed = keyring.seal(provider_id, "sk-ant-...")
    assert keyring.open(provider_id, sealed.ciphertext, sealed.nonce, sealed.key_id) == "sk-ant-..."

Plaintext keys are never logged and never stored; :class:`SealedKey`'s repr hides nothing
secret because it holds nothing secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from soundforge.llm.errors import KeyUnavailable, LlmError

__all__ = ["KEY_FILE", "Keyring", "SealedKey", "ServerKeys", "key_id", "rotate"]

log = logging.getLogger(__name__)

SECRET_KEY_VAR: Final = "SOUNDFORGE_SECRET_KEY"
OLD_KEYS_VAR: Final = "SOUNDFORGE_OLD_SECRET_KEYS"
#: The key file, relative to the data directory.
KEY_FILE: Final = Path("keys") / "llm.key"
_NONCE_BYTES: Final = 12


class SealedKey(msgspec.Struct, frozen=True):
    ciphertext: bytes
    nonce: bytes
    key_id: str
    last4: str


def key_id(key: bytes) -> str:
    """The id stored next to what ``key`` sealed: a fingerprint, not the key."""
    return hashlib.sha256(b"soundforge.llm.key-id\x00" + key).hexdigest()[:16]


def _decode(value: str, where: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise LlmError(
            f"{where} is not a base64 AES-256 key (32 bytes); make one with "
            "'openssl rand -base64 32'."
        )
    return key


class Keyring:
    """The server's keys: ``current`` seals, every known one opens."""

    __slots__ = ("_current", "_keys")

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._current = key_id(keys[0])
        self._keys: dict[str, bytes] = {}
        for key in keys:
            self._keys.setdefault(key_id(key), key)

    def __repr__(self) -> str:
        return f"Keyring(current={self._current!r}, ids={sorted(self._keys)!r})"

    @property
    def current_id(self) -> str:
        return self._current

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    @classmethod
    def load(cls, data_dir: Path, environ: Mapping[str, str], *, create: bool = True) -> Keyring:
        """The keys from the environment and ``<data>/keys/llm.key`` (see the module doc);
        the file is created when it is missing, no ``SOUNDFORGE_SECRET_KEY`` is set and
        ``create`` allows it (otherwise a missing file is an :class:`LlmError`)."""
        keys: list[bytes] = []
        path = data_dir / KEY_FILE
        if environ.get(SECRET_KEY_VAR):
            keys.append(_decode(environ[SECRET_KEY_VAR], SECRET_KEY_VAR))
            keys += reversed(_read_file(path))
        else:
            keys += reversed(_read_file(path, create=create))
            if not keys:
                raise LlmError(f"{path} is missing.")
        for old in (environ.get(OLD_KEYS_VAR) or "").split(","):
            if old.strip():
                keys.append(_decode(old, OLD_KEYS_VAR))
        return cls(keys)

    def seal(self, provider_id: str, api_key: str) -> SealedKey:
        nonce = os.urandom(_NONCE_BYTES)
        box = AESGCM(self._keys[self._current])
        ciphertext = box.encrypt(nonce, api_key.encode(), _aad(provider_id))
        return SealedKey(ciphertext, nonce, self._current, api_key[-4:])

    def open(self, provider_id: str, ciphertext: bytes, nonce: bytes, sealed_with: str) -> str:
        """The plaintext key; raises :class:`KeyUnavailable` when it cannot be had."""
        key = self._keys.get(sealed_with)
        if key is None:
            raise KeyUnavailable(
                f"The API key was sealed with server key {sealed_with}, which this server does "
                f"not have; restore it (in {OLD_KEYS_VAR}) or enter the API key again."
            )
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, _aad(provider_id)).decode()
        except (InvalidTag, UnicodeDecodeError):
            raise KeyUnavailable(
                "The stored API key does not decrypt for this provider (it was altered or "
                "copied from another one); enter the API key again."
            ) from None


class ServerKeys:
    """A server's keyring, read again when ``<data>/keys/llm.key`` changes.

    ``keyring`` compares the file's stat with the one it was read at and loads it again when
    they differ (a ``keys rotate`` meanwhile). A file that does not read (caught halfway
    through a write) leaves the keyring as it was, with one warning, until the file changes
    again; so does a
    file that is gone (no new key is made while the server runs: that would lose the old
    ones). The swap is one reference, so a reader never sees half a keyring.
    """

    __slots__ = ("_data_dir", "_environ", "_keyring", "_stamp")

    def __init__(self, data_dir: Path, environ: Mapping[str, str]) -> None:
        self._data_dir = data_dir
        self._environ = dict(environ)
        self._keyring = Keyring.load(data_dir, self._environ)
        self._stamp = _stamp(data_dir / KEY_FILE)

    def __repr__(self) -> str:
        return f"ServerKeys({self._keyring!r})"

    @property
    def keyring(self) -> Keyring:
        path = self._data_dir / KEY_FILE
        stamp = _stamp(path)
        if stamp is None and self._stamp is not None:
            log.warning("%s is gone: the server keeps the keys it read", path)
            self._stamp = None
        elif stamp != self._stamp:
            try:
                keyring = Keyring.load(self._data_dir, self._environ, create=False)
            except LlmError as error:
                log.warning("the server keys were not read again: %s", error)
                self._stamp = stamp  # once: the file's next change is read again
                return self._keyring
            if keyring.current_id != self._keyring.current_id:
                log.info("server key %s is current now", keyring.current_id)
            self._keyring, self._stamp = keyring, stamp
        return self._keyring


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells that a file changed: its inode, size and modification time."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _aad(provider_id: str) -> bytes:
    return f"soundforge.llm_providers:{provider_id}".encode()


def _read_file(path: Path, *, create: bool = False) -> list[bytes]:
    """The keys of ``path``, oldest first; creates it with one new key when asked."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        if not create:
            return []
        return [_create(path)]
    keys = [_decode(line, str(path)) for line in text.splitlines() if line.strip()]
    if not keys and create:
        raise LlmError(f"{path} holds no key; delete the empty file to have a new one made.")
    return keys


def _create(path: Path) -> bytes:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another node or process made it first: use theirs
        return _read_file(path)[-1]
    with os.fdopen(fd, "w") as file:
        file.write(base64.b64encode(key).decode() + "\n")
    return key


def rotate(data_dir: Path) -> str:
    """Append a new current key to ``<data>/keys/llm.key``; returns its id.

    Keys sealed with the older lines still open; ``providers.reseal`` moves them to the new
    key. Has no effect on a server whose ``SOUNDFORGE_SECRET_KEY`` is set (that key stays
    current): rotate that one by changing the variable.
    """
    path = data_dir / KEY_FILE
    _read_file(path, create=True)
    key = AESGCM.generate_key(bit_length=256)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as file:
        file.write(base64.b64encode(key).decode() + "\n")
    return key_id(key)
