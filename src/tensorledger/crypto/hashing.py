"""SHA-256, the one content hash of tensorledger, for bytes and for files.

Owns the digest helpers the other layers call; the Merkle code calls hashlib
directly because it hashes millions of 65-byte strings and each call counts.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tensorledger.errors import InvalidRequestError


def sha256(data: bytes) -> bytes:
    """The 32-byte SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def sha256_hex(data: bytes) -> str:
    """The SHA-256 digest of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> bytes:
    """The SHA-256 digest of a file's contents, read ``chunk`` bytes at a time.

    Memory stays at one chunk whatever the file's size.
    """
    if chunk <= 0:
        raise InvalidRequestError(f"chunk size must be positive, not {chunk}")
    digest = hashlib.sha256()
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    with Path(path).open("rb", buffering=0) as stream:
        while count := stream.readinto(view):
            digest.update(view[:count])
    return digest.digest()
