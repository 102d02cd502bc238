"""A seekable, read-only file over a stored object that only ever hands out verified bytes.

Owns `VerifiedReader`, through which random-access readers (pyarrow's Parquet
reader, numpy's header parser) read an object without trusting the store.

Each chunk is fetched, decrypted and checked against the manifest the first
time a read touches it; the last few verified chunks are cached, so memory
stays at ``cache_chunks * chunk_size`` whatever the object's size. A read that
reaches a bad chunk raises `IntegrityError` and returns nothing.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import TYPE_CHECKING

from tensorledger.blobs.objects import read_chunk
from tensorledger.errors import InvalidRequestError

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from tensorledger.blobs.manifest import Manifest
    from tensorledger.blobs.store import ChunkStore


class VerifiedReader(io.RawIOBase):
    """Readable, seekable bytes of ``manifest``'s object, verified chunk by chunk."""

    def __init__(
        self,
        store: ChunkStore,
        manifest: Manifest,
        *,
        key: bytes | None = None,
        where: str = "object",
        cache_chunks: int = 4,
    ) -> None:
        super().__init__()
        if cache_chunks < 1:
            raise InvalidRequestError(f"cache_chunks must be at least 1, not {cache_chunks}")
        self.manifest = manifest
        self.where = where
        self._store = store
        self._key = key
        self._capacity = cache_chunks
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._pos = 0

    def readable(self) -> bool:
        """Always: this is a reader."""
        return True

    def seekable(self) -> bool:
        """Always: any chunk can be fetched and verified on its own."""
        return True

    def writable(self) -> bool:
        """Never: stored objects are immutable."""
        return False

    def write(self, data: Buffer) -> int:
        """Refused: stored objects are immutable."""
        raise io.UnsupportedOperation("VerifiedReader is read-only")

    @property
    def size(self) -> int:
        """The object's size in bytes."""
        return self.manifest.size

    def tell(self) -> int:
        """The current position."""
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset`` from the start, the current position or the end."""
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self.manifest.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            # as io.BytesIO: refuse an absolute negative position, clamp a relative one
            if whence == io.SEEK_SET:
                raise ValueError(f"negative seek position {target}")
            target = 0
        self._pos = target
        return target

    def readinto(self, buffer: Buffer) -> int:
        """Fill ``buffer`` from the current position; short only at the end of the object.

        Filling fully (rather than stopping at a chunk boundary) matters to
        callers such as pyarrow that take a short read for the end.
        """
        self._check_open()
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self.manifest.size - self._pos))
        written = 0
        chunk_size = self.manifest.chunk_size
        while written < count:
            position = self._pos + written
            index, start = divmod(position, chunk_size)
            chunk = self._chunk(index)
            take = min(count - written, len(chunk) - start)
            view[written : written + take] = chunk[start : start + take]
            written += take
        self._pos += written
        return written

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that remain if negative or None)."""
        self._check_open()
        remaining = max(0, self.manifest.size - self._pos)
        count = remaining if size is None or size < 0 else min(size, remaining)
        index, start = divmod(self._pos, self.manifest.chunk_size)
        if count and start + count <= self.manifest.chunk_size:
            # within one chunk: one slice, no intermediate buffer
            data = self._chunk(index)[start : start + count]
            self._pos += count
            return data
        buffer = bytearray(count)
        self.readinto(buffer)
        return bytes(buffer)

    def readall(self) -> bytes:
        """Everything from the current position to the end."""
        return self.read(-1)

    def close(self) -> None:
        """Close and drop the cached chunks."""
        self._cache.clear()
        super().close()

    def _chunk(self, index: int) -> bytes:
        """Chunk ``index``, verified; from the cache when it was verified recently."""
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        data = read_chunk(self._store, self.manifest, index, key=self._key, where=self.where)
        self._cache[index] = data
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return data

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed VerifiedReader")


__all__ = ["VerifiedReader"]
