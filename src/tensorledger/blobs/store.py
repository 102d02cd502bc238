"""Content-addressed chunk storage: the narrow interface and the local-directory backend.

Owns `ChunkStore` (what every backend offers) and `LocalChunkStore`, which keeps
each chunk as one file named by the SHA-256 of its bytes.

Promises kept here:

* a chunk that `put` returned for survives a crash: it is written to a
  temporary file in its final directory, fsynced, renamed into place and the
  directory fsynced, so the final name only ever holds complete content;
* `put` of content already stored writes nothing (re-adding data is free);
* `get` does not verify: readers check every chunk against a manifest, which
  is the only thing a chunk's name is trusted through.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from tensorledger.errors import InvalidRequestError, NotFoundError

#: anything a chunk's bytes may be handed over as; written without copying
BytesLike = bytes | bytearray | memoryview

_DIGEST = re.compile(r"[0-9a-f]{64}")


def is_digest(value: object) -> bool:
    """Whether ``value`` is a SHA-256 digest as 64 lowercase hex digits."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def check_digest(value: object, what: str = "digest") -> str:
    """``value`` if it is 64 lowercase hex digits, else `InvalidRequestError`.

    A digest becomes a file name, so anything else (upper case, ``..``, a
    slash) must be refused before it gets near the file system.
    """
    if not is_digest(value):
        raise InvalidRequestError(
            f"{what} must be 64 lowercase hex digits (SHA-256), not {value!r}"
        )
    assert isinstance(value, str)  # for the type checker: is_digest checked it
    return value


class ChunkStore(Protocol):
    """Where chunks live, named by the hex SHA-256 of their bytes.

    Implementations must make `put` durable before returning and idempotent;
    `get` returns the bytes as stored, unverified.
    """

    def put(self, data: BytesLike, *, digest: str | None = None) -> str:
        """Store ``data``; return its hex SHA-256.

        ``digest``, when given, is the caller's own SHA-256 of ``data``, so the
        bytes are not hashed a second time; a wrong one only makes the chunk
        unreadable, because readers verify every chunk they fetch.
        """
        ...

    def get(self, digest: str) -> bytes:
        """The stored bytes; `NotFoundError` ``"chunk <digest>"`` when absent."""
        ...

    def has(self, digest: str) -> bool:
        """Whether a chunk with this name is stored."""
        ...


class LocalChunkStore:
    """A `ChunkStore` in a local directory: ``root/sha256/<2 hex>/<64 hex>``.

    The two-hex fan-out keeps directories small enough for any file system.
    Nothing is created until the first `put`, so opening a store to read never
    writes.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalChunkStore({str(self.root)!r})"

    def path(self, digest: str) -> Path:
        """Where the chunk named ``digest`` lives (whether or not it exists)."""
        check_digest(digest)
        return self.root / "sha256" / digest[:2] / digest

    def put(self, data: BytesLike, *, digest: str | None = None) -> str:
        """Store ``data`` durably under its SHA-256; nothing is written if already there."""
        if digest is None:
            digest = hashlib.sha256(data).hexdigest()
        final = self.path(digest)
        size = memoryview(data).nbytes
        try:
            if final.stat().st_size == size:
                return digest
        except FileNotFoundError:
            pass
        # A same-name file of another size is a torn or truncated copy left by
        # something outside this store; the rename below replaces it whole.
        self._ensure_dir(final.parent)
        _write_atomically(final, data)
        return digest

    def get(self, digest: str) -> bytes:
        """The chunk's bytes as stored; `NotFoundError` when absent."""
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"chunk {digest}") from None

    def has(self, digest: str) -> bool:
        """Whether the chunk named ``digest`` is stored."""
        return self.path(digest).is_file()

    def _ensure_dir(self, directory: Path) -> None:
        """Create ``directory`` and its parents, fsyncing each new entry's parent.

        A chunk renamed into a directory that is itself not yet durable could
        vanish with it after a crash.
        """
        if directory.is_dir():
            return
        missing: list[Path] = []
        current = directory
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for new in reversed(missing):
            new.mkdir(exist_ok=True)
            _fsync_dir(new.parent)


def _write_atomically(final: Path, data: BytesLike) -> None:
    """Write ``data`` to ``final`` so that the name only ever holds complete content.

    The temporary file sits in the same directory (a rename within one file
    system is atomic) and is removed on any error, so a failed write leaves
    nothing behind.
    """
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name[:16]}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        try:
            view = memoryview(data).cast("B")
            written = 0
            while written < len(view):
                written += os.write(fd, view[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)


def _fsync_dir(directory: Path) -> None:
    """Make a directory's entries (a rename, a new subdirectory) durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_for(root: Path) -> LocalChunkStore:
    """The chunk store of a ledger directory: ``root / "blobs"``."""
    return LocalChunkStore(Path(root) / "blobs")


__all__ = ["BytesLike", "ChunkStore", "LocalChunkStore", "check_digest", "is_digest", "store_for"]
