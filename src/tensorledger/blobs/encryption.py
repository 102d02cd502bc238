"""Per-chunk AES-256-GCM for datasets that must not leave their owner readable, and data keys.

Owns the sealed-chunk format (nonce || ciphertext || tag), key ids, and the
key files an organisation keeps under ``keys/<MSPID>/<dataset_id>.key``.

The nonce is derived from the key and the chunk's plaintext digest, not drawn
at random: the same chunk under the same key always seals to the same bytes,
so re-adding identical data stores nothing new. This is safe for GCM because a
nonce repeats only for an identical plaintext (what leaks is "these two chunks
are equal", which content addressing reveals anyway); the plaintext digest is
also the AAD, binding each sealed chunk to the manifest entry it was made for.
Keys never go on chain; a manifest names its key by `key_id` only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tensorledger.blobs.store import BytesLike
from tensorledger.errors import ConfigError, IntegrityError, InvalidRequestError

#: the manifest's name for the one cipher used
AES_256_GCM = "AES-256-GCM"
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16

_KEY_FILE = re.compile(r"[0-9a-f]{64}")
_DATASET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def new_key() -> bytes:
    """A fresh random AES-256 data key."""
    return secrets.token_bytes(KEY_SIZE)


def check_key(key: object) -> bytes:
    """``key`` if it is 32 bytes, else `InvalidRequestError` (the message never shows the key)."""
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        kind = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
        raise InvalidRequestError(f"a data key must be {KEY_SIZE} bytes (AES-256), not {kind}")
    return key


def key_id(key: bytes) -> str:
    """The key's public name: hex of SHA-256("tensorledger-key" || key)[:16].

    Sixteen bytes tell keys apart without helping anyone guess one; the
    prefix keeps this hash from equalling any other hash of the key.
    """
    return hashlib.sha256(b"tensorledger-key" + check_key(key)).digest()[:16].hex()


def nonce_for(key: bytes, digest: bytes) -> bytes:
    """The chunk's nonce: HMAC-SHA256(key, b"nonce" || plaintext digest)[:12]."""
    return hmac.new(key, b"nonce" + digest, hashlib.sha256).digest()[:NONCE_SIZE]


def seal(key: bytes, digest: bytes, plaintext: BytesLike) -> bytes:
    """Encrypt one chunk whose plaintext SHA-256 is ``digest``: nonce || ciphertext || tag."""
    nonce = nonce_for(key, digest)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, digest)


def unseal(key: bytes, digest: bytes, sealed: bytes, *, where: str) -> bytes:
    """Decrypt a sealed chunk; `IntegrityError` naming ``where`` if it cannot be.

    A wrong key and a changed byte look the same to GCM (the tag fails), so
    the message says both; the caller has already compared key ids when it
    could tell them apart.
    """
    if len(sealed) < NONCE_SIZE + TAG_SIZE:
        raise IntegrityError(where, f"cannot decrypt: {len(sealed)} bytes is too short")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], digest)
    except InvalidTag:
        raise IntegrityError(
            where, "cannot decrypt: authentication failed (wrong key or altered chunk)"
        ) from None


# -- key files ---------------------------------------------------------------------------------


def key_path(key_dir: Path, dataset_id: str) -> Path:
    """Where the data key of ``dataset_id`` lives in ``key_dir``.

    The id becomes a file name, so only plain names are accepted.
    """
    if not isinstance(dataset_id, str) or not _DATASET_ID.fullmatch(dataset_id):
        raise InvalidRequestError(
            f"dataset id {dataset_id!r} cannot name a key file: use letters, digits, '.', '_', '-'"
        )
    return Path(key_dir) / f"{dataset_id}.key"


def save_key(key_dir: Path, dataset_id: str, key: bytes) -> Path:
    """Write the data key of ``dataset_id`` (hex, mode 0600); return its path.

    Saving the key already there is a no-op; a different key is refused,
    because overwriting it would make every chunk sealed with the old one
    unreadable for good.
    """
    check_key(key)
    path = key_path(key_dir, dataset_id)
    if path.exists():
        if read_key_file(path) == key:
            return path
        raise ConfigError(
            f"key file {path} already holds another key (id {key_id(read_key_file(path))}); "
            "refusing to overwrite it"
        )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, (key.hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        # link, not rename: it fails if another writer got there first, so a
        # key can never be silently replaced
        os.link(tmp, path)
    except FileExistsError:
        raise ConfigError(
            f"key file {path} appeared while saving; refusing to overwrite it"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def read_key_file(path: Path) -> bytes:
    """The key in a key file; `ConfigError` if it is missing or not 64 hex digits."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ConfigError(f"no data key at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read data key {path}: {exc}") from None
    if not _KEY_FILE.fullmatch(text):
        raise ConfigError(
            f"data key {path} is malformed: expected 64 lowercase hex digits (an AES-256 key)"
        )
    return bytes.fromhex(text)


def load_key(key_dir: Path, dataset_id: str) -> bytes:
    """The data key of ``dataset_id`` from ``key_dir``; `ConfigError` if missing or malformed."""
    path = key_path(key_dir, dataset_id)
    if not path.exists():
        raise ConfigError(
            f"no data key for dataset {dataset_id!r} in {key_dir}: "
            "it is kept by the owning organisation and never on chain"
        )
    return read_key_file(path)


__all__ = [
    "AES_256_GCM",
    "KEY_SIZE",
    "check_key",
    "key_id",
    "key_path",
    "load_key",
    "new_key",
    "read_key_file",
    "save_key",
    "seal",
    "unseal",
]
