"""Objects in a chunk store: adding them chunk by chunk, and reading them back verified.

Owns `put_object` (the write path), `get_manifest`, `read_chunk`,
`iter_chunks` and `verify_object` (the read paths); `VerifiedReader`, the
seekable file over an object, lives in `tensorledger.blobs.reader`.

Promises kept here:

* `put_object` stores every chunk durably before it stores the manifest, so a
  manifest digest, once returned, never names missing chunks; an interrupted
  put leaves no manifest behind (its finished chunks are harmless: content
  addressed, complete, and reused by the next put of the same data);
* nothing of a chunk is returned before its plaintext has been hashed and
  matched against the manifest; a bad, missing or undecryptable chunk raises
  `IntegrityError` naming ``"<where> chunk <index>"``.

Adding data costs one SHA-256 per chunk (plus one of the ciphertext when
encrypted), done in worker threads: hashlib and the file writes release the
GIL, so hashing, reading the next chunk and fsyncing overlap.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from tensorledger.blobs.encryption import AES_256_GCM, check_key, key_id, seal, unseal
from tensorledger.blobs.manifest import CHUNK_SIZE, ChunkRef, Manifest
from tensorledger.blobs.store import BytesLike, ChunkStore, check_digest
from tensorledger.crypto import merkle
from tensorledger.errors import IntegrityError, InvalidRequestError, NotFoundError

#: threads that hash, seal and write chunks; more than the cores, because
#: much of their time is spent waiting on fsync
_WORKERS = 4
#: chunks handed to the workers and not yet collected; also the number of
#: read buffers, which bounds a put's memory to _IN_FLIGHT * chunk_size
_IN_FLIGHT = 2 * _WORKERS

Progress = Callable[[int, int], None]
Source = bytes | bytearray | memoryview | BinaryIO | os.PathLike[str]


def put_object(
    store: ChunkStore,
    data: Source,
    *,
    media_type: str,
    key: bytes | None = None,
    chunk_size: int = CHUNK_SIZE,
    metadata: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> tuple[Manifest, str]:
    """Store ``data`` as chunks, then its manifest; return (manifest, manifest digest).

    ``data`` is bytes, a binary stream or a path; streams and files are read
    ``chunk_size`` bytes at a time into a few reused buffers, never whole.
    With ``key`` every chunk is sealed with AES-256-GCM; the manifest commits
    to the plaintext either way. ``progress(done_bytes, total_bytes)`` is
    called after each chunk is durable (``total_bytes`` is -1 when a stream's
    size cannot be known); if it raises, the put stops and no manifest is
    written.
    """
    if key is not None:
        check_key(key)
    # Build an empty manifest first so a bad media type, chunk size or
    # metadata is refused before any chunk is written.
    empty = Manifest(
        media_type=media_type,
        size=0,
        chunk_size=chunk_size,
        chunks=(),
        root=merkle.EMPTY_ROOT.hex(),
        encryption=AES_256_GCM if key is not None else None,
        key_id=key_id(key) if key is not None else None,
        metadata=metadata or {},
    )
    with _chunks_of(data, chunk_size) as (chunks, total):
        refs = _store_chunks(store, chunks, key, total, progress)
    manifest = Manifest(
        media_type=empty.media_type,
        size=sum(ref.size for ref in refs),
        chunk_size=chunk_size,
        chunks=tuple(refs),
        root=merkle.root([bytes.fromhex(ref.digest) for ref in refs]).hex(),
        encryption=empty.encryption,
        key_id=empty.key_id,
        metadata=empty.metadata,
    )
    digest = store.put(manifest.to_json())
    return manifest, digest


def _store_chunks(
    store: ChunkStore,
    chunks: Iterator[memoryview],
    key: bytes | None,
    total: int,
    progress: Progress | None,
) -> list[ChunkRef]:
    """Hash, seal and store chunks on worker threads; collect them in order.

    Collecting oldest first, and never more than _IN_FLIGHT outstanding, is
    what lets `_read_chunks` reuse a buffer _IN_FLIGHT chunks later: by then
    the chunk that used it has been collected.
    """
    refs: list[ChunkRef] = []
    pending: deque[Future[tuple[str, str, int]]] = deque()
    done = 0

    def collect() -> None:
        nonlocal done
        digest, stored, size = pending.popleft().result()
        refs.append(ChunkRef(index=len(refs), size=size, digest=digest, stored=stored, offset=done))
        done += size
        if progress is not None:
            progress(done, total)

    executor = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="tensorledger-put")
    try:
        for view in chunks:
            pending.append(executor.submit(_put_chunk, store, view, key))
            if len(pending) >= _IN_FLIGHT:
                collect()
        while pending:
            collect()
    finally:
        # chunks already being written finish whole (their buffers are not
        # reused before this returns); the rest are never started
        executor.shutdown(wait=True, cancel_futures=True)
    return refs


def _put_chunk(store: ChunkStore, view: memoryview, key: bytes | None) -> tuple[str, str, int]:
    """Hash the plaintext once, seal if asked, store; (digest, stored digest, size)."""
    digest = hashlib.sha256(view).digest()
    hex_digest = digest.hex()
    if key is None:
        store.put(view, digest=hex_digest)
        return hex_digest, hex_digest, len(view)
    return hex_digest, store.put(seal(key, digest, view)), len(view)


@contextmanager
def _chunks_of(data: Source, chunk_size: int) -> Iterator[tuple[Iterator[memoryview], int]]:
    """The chunks of ``data`` as memoryviews, and its size if known (else -1)."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data).cast("B")
        yield (view[i : i + chunk_size] for i in range(0, len(view), chunk_size)), len(view)
    elif isinstance(data, str):
        raise InvalidRequestError("put_object: pass a Path for a file or bytes for data, not str")
    elif isinstance(data, os.PathLike):
        with Path(data).open("rb", buffering=0) as stream:
            yield _read_chunks(stream, chunk_size), os.fstat(stream.fileno()).st_size
    else:
        yield _read_chunks(data, chunk_size), _remaining(data)


def _read_chunks(stream: Any, chunk_size: int) -> Iterator[memoryview]:
    """Fill up to _IN_FLIGHT reused buffers from ``stream`` in turn, one chunk each.

    Buffers are allocated only as needed, so a small file costs one.
    """
    ring: list[bytearray] = []
    turn = 0
    while True:
        if len(ring) < _IN_FLIGHT:
            ring.append(bytearray(chunk_size))
        view = memoryview(ring[turn % len(ring)])
        turn += 1
        filled = _fill(stream, view)
        if filled:
            yield view[:filled]
        if filled < chunk_size:
            return


def _fill(stream: Any, view: memoryview) -> int:
    """Read into ``view`` until it is full or the stream ends; the count read."""
    readinto = getattr(stream, "readinto", None)
    filled = 0
    while filled < len(view):
        if readinto is not None:
            count = readinto(view[filled:]) or 0
        else:
            piece = stream.read(len(view) - filled)
            count = len(piece)
            view[filled : filled + count] = piece
        if not count:
            break
        filled += count
    return filled


def _remaining(stream: Any) -> int:
    """Bytes left in a stream if that can be known without reading it, else -1."""
    try:
        if stream.seekable():
            here = stream.tell()
            end = stream.seek(0, os.SEEK_END)
            stream.seek(here)
            return int(end - here)
    except (AttributeError, OSError, ValueError):
        pass
    return -1


# -- reading --------------------------------------------------------------------------------


def get_manifest(store: ChunkStore, digest: str) -> Manifest:
    """The manifest stored under ``digest``, after checking the blob hashes to it.

    `NotFoundError` when absent; `IntegrityError` ``"manifest <digest>"`` when
    the stored bytes differ or are not a valid manifest.
    """
    check_digest(digest, "manifest digest")
    try:
        blob = store.get(digest)
    except NotFoundError:
        raise NotFoundError(f"manifest {digest}") from None
    actual = hashlib.sha256(blob).hexdigest()
    if actual != digest:
        raise IntegrityError(f"manifest {digest}", f"stored bytes hash to {actual}")
    try:
        return Manifest.from_json(blob)
    except InvalidRequestError as exc:
        raise IntegrityError(f"manifest {digest}", f"not a valid manifest ({exc})") from None


def read_chunk(
    store: ChunkStore,
    manifest: Manifest,
    index: int,
    *,
    key: bytes | None = None,
    where: str = "object",
) -> bytes:
    """Chunk ``index`` of the object, decrypted and verified against the manifest."""
    if isinstance(index, bool) or not isinstance(index, int):
        raise InvalidRequestError(f"{where}: chunk index must be an integer, not {index!r}")
    if not 0 <= index < len(manifest.chunks):
        raise InvalidRequestError(
            f"{where}: chunk index {index} out of range (0..{len(manifest.chunks) - 1})"
        )
    ref = manifest.chunks[index]
    name = f"{where} chunk {index}"
    if manifest.encryption is not None:
        _check_key_for(manifest, key, name)
    try:
        stored = store.get(ref.stored)
    except NotFoundError:
        raise IntegrityError(name, f"missing from the chunk store ({ref.stored})") from None
    data = stored
    if manifest.encryption is not None:
        assert key is not None  # _check_key_for refused None
        data = unseal(key, bytes.fromhex(ref.digest), stored, where=name)
    actual = hashlib.sha256(data).hexdigest()
    if actual != ref.digest:
        raise IntegrityError(name, f"SHA-256 is {actual}, the manifest says {ref.digest}")
    if len(data) != ref.size:  # only a SHA-256 collision gets here
        raise IntegrityError(name, f"{len(data)} bytes, the manifest says {ref.size}")
    return data


def _check_key_for(manifest: Manifest, key: bytes | None, name: str) -> None:
    """Refuse a missing key, and tell a wrong key from an altered chunk when ids show it."""
    if key is None:
        raise InvalidRequestError(
            f"{name}: the object is encrypted (key id {manifest.key_id}); a data key is needed"
        )
    given = key_id(key)
    if given != manifest.key_id:
        raise IntegrityError(
            name, f"cannot decrypt: key {given} is not the object's key {manifest.key_id}"
        )


def iter_chunks(
    store: ChunkStore,
    manifest: Manifest,
    *,
    key: bytes | None = None,
    where: str = "object",
    prefetch: int = 2,
) -> Iterator[bytes]:
    """The object's chunks in order, each verified before it is yielded.

    Up to ``prefetch`` later chunks are fetched and verified on a background
    thread while the caller works on the current one; a bad chunk's error is
    still raised only when the caller asks for that chunk, exactly as if it
    were read in turn.
    """
    count = len(manifest.chunks)
    if prefetch <= 0 or count <= 1:
        for index in range(count):
            yield read_chunk(store, manifest, index, key=key, where=where)
        return
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tensorledger-read")
    try:
        ahead: deque[Future[bytes]] = deque()
        submitted = 0
        for _ in range(count):
            while submitted < count and len(ahead) <= prefetch:
                ahead.append(
                    executor.submit(read_chunk, store, manifest, submitted, key=key, where=where)
                )
                submitted += 1
            yield ahead.popleft().result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def verify_object(
    store: ChunkStore, manifest: Manifest, *, key: bytes | None = None, where: str
) -> None:
    """Check every chunk and the Merkle root; `IntegrityError` names the first failure."""
    for _ in iter_chunks(store, manifest, key=key, where=where):
        pass
    root = merkle.root([bytes.fromhex(ref.digest) for ref in manifest.chunks]).hex()
    if root != manifest.root:  # a Manifest cannot be built so; kept for defence in depth
        raise IntegrityError(f"{where} manifest", f"root {manifest.root} but chunks give {root}")


__all__ = [
    "BytesLike",
    "Progress",
    "get_manifest",
    "iter_chunks",
    "put_object",
    "read_chunk",
    "verify_object",
]
