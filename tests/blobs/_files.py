"""What the store tests look at on disk, and how they damage it; apart from the code under test."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tensorledger.blobs import LocalChunkStore


def stored_files(store: LocalChunkStore) -> list[Path]:
    """Every file under the store's root, temporary ones included."""
    if not store.root.exists():
        return []
    return sorted(p for p in store.root.rglob("*") if p.is_file())


def temp_files(store: LocalChunkStore) -> list[Path]:
    return [p for p in stored_files(store) if p.name.startswith(".") or p.suffix == ".tmp"]


def all_named_by_content(store: LocalChunkStore) -> bool:
    """Whether every file with a final name holds exactly the bytes its name promises."""
    return all(
        hashlib.sha256(p.read_bytes()).hexdigest() == p.name
        for p in stored_files(store)
        if p not in temp_files(store)
    )


def flip_byte(path: Path, position: int) -> bytes:
    """Flip one bit of the byte at ``position`` (modulo the size); return the original bytes."""
    original = path.read_bytes()
    damaged = bytearray(original)
    damaged[position % len(damaged)] ^= 0x01
    path.write_bytes(bytes(damaged))
    return original


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 Merkle tree hash, written from the RFC's recursive definition.

    An independent reference for manifest roots (not tensorledger.crypto.merkle).
    """
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


class MemoryChunkStore:
    """A ChunkStore in a dict: the protocol's second implementation, and fast for property tests."""

    def __init__(self) -> None:
        self.chunks: dict[str, bytes] = {}

    def put(self, data: bytes | bytearray | memoryview, *, digest: str | None = None) -> str:
        digest = digest or hashlib.sha256(data).hexdigest()
        self.chunks.setdefault(digest, bytes(data))
        return digest

    def get(self, digest: str) -> bytes:
        from tensorledger.errors import NotFoundError

        try:
            return self.chunks[digest]
        except KeyError:
            raise NotFoundError(f"chunk {digest}") from None

    def has(self, digest: str) -> bool:
        return digest in self.chunks
