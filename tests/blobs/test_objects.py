"""put_object and the verified read paths: round trips, tampering, interruption, streaming."""

from __future__ import annotations

import hashlib
import io
import os
import random
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorledger.blobs import (
    LocalChunkStore,
    get_manifest,
    iter_chunks,
    put_object,
    read_chunk,
    verify_object,
)
from tensorledger.blobs import objects as objects_module
from tensorledger.blobs import store as store_module
from tensorledger.errors import IntegrityError, InvalidRequestError, NotFoundError

from ._files import all_named_by_content, flip_byte, mth, stored_files, temp_files

DATA = random.Random(4).randbytes(10_000)


def test_chunks_offsets_digests_and_root_match_an_independent_computation(
    store: LocalChunkStore,
) -> None:
    manifest, digest = put_object(
        store, DATA, media_type="application/octet-stream", chunk_size=1024
    )
    pieces = [DATA[i : i + 1024] for i in range(0, len(DATA), 1024)]
    assert [c.size for c in manifest.chunks] == [len(p) for p in pieces]
    assert [c.offset for c in manifest.chunks] == list(range(0, len(DATA), 1024))
    assert [c.digest for c in manifest.chunks] == [hashlib.sha256(p).hexdigest() for p in pieces]
    assert all(c.stored == c.digest for c in manifest.chunks)
    assert manifest.root == mth([hashlib.sha256(p).digest() for p in pieces]).hex()
    assert manifest.size == len(DATA)
    assert digest == hashlib.sha256(store.get(digest)).hexdigest() == manifest.digest()
    assert len(stored_files(store)) == len(pieces) + 1
    assert b"".join(iter_chunks(store, manifest)) == DATA


class _Trickle(io.RawIOBase):
    """A non-seekable stream that hands out at most 333 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:
        count = min(len(buffer), len(self._data), 333)
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


def test_bytes_path_and_streams_give_the_same_manifest(
    store: LocalChunkStore, tmp_path: Path
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    sources: list[object] = [DATA, bytearray(DATA), path, io.BytesIO(DATA), _Trickle(DATA)]
    digests = {put_object(store, s, media_type="text/plain", chunk_size=1000)[1] for s in sources}
    assert len(digests) == 1


def test_progress_reports_each_durable_chunk(store: LocalChunkStore) -> None:
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        # a chunk is reported only once it is stored
        assert store.has(manifest_so_far_digest(done))
        calls.append((done, total))

    def manifest_so_far_digest(done: int) -> str:
        return hashlib.sha256(DATA[(done - 1) // 1000 * 1000 : done]).hexdigest()

    put_object(store, DATA, media_type="text/plain", chunk_size=1000, progress=progress)
    assert calls == [(min(n, len(DATA)), len(DATA)) for n in range(1000, len(DATA) + 1000, 1000)]
    calls.clear()
    put_object(store, _Trickle(DATA), media_type="text/plain", chunk_size=1000, progress=progress)
    assert calls[-1] == (len(DATA), -1)


def test_the_empty_object(store: LocalChunkStore) -> None:
    manifest, digest = put_object(store, b"", media_type="text/plain")
    assert manifest.chunks == ()
    assert manifest.root == hashlib.sha256(b"").hexdigest()
    assert list(iter_chunks(store, manifest)) == []
    assert get_manifest(store, digest) == manifest
    verify_object(store, manifest, where="empty")


def test_putting_the_same_data_again_stores_nothing_new(store: LocalChunkStore) -> None:
    first = put_object(store, DATA, media_type="text/plain", chunk_size=1024)
    before = {p: p.stat().st_mtime_ns for p in stored_files(store)}
    assert put_object(store, DATA, media_type="text/plain", chunk_size=1024) == first
    assert {p: p.stat().st_mtime_ns for p in stored_files(store)} == before


def test_repeated_chunks_are_stored_once(store: LocalChunkStore) -> None:
    manifest, _ = put_object(store, b"A" * 4096, media_type="text/plain", chunk_size=1024)
    assert len(manifest.chunks) == 4
    assert len(stored_files(store)) == 2  # one chunk, one manifest


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), chunk_size=st.integers(min_value=1, max_value=700))
def test_round_trip_for_any_bytes_and_chunk_size(data: bytes, chunk_size: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        store = LocalChunkStore(Path(root))
        manifest, digest = put_object(
            store, io.BytesIO(data), media_type="x/y", chunk_size=chunk_size
        )
        assert get_manifest(store, digest) == manifest
        assert b"".join(iter_chunks(store, manifest, prefetch=chunk_size % 3)) == data
        assert len(manifest.chunks) == -(-len(data) // chunk_size)


def test_every_tampered_chunk_is_named_and_nothing_of_it_is_returned(
    store: LocalChunkStore,
) -> None:
    manifest, _ = put_object(store, DATA, media_type="text/plain", chunk_size=1024)
    for ref in manifest.chunks:
        path = store.path(ref.stored)
        original = flip_byte(path, ref.index * 37)
        where = f"obj chunk {ref.index}"
        with pytest.raises(IntegrityError, match="SHA-256") as caught:
            read_chunk(store, manifest, ref.index, where="obj")
        assert caught.value.where == where
        received: list[bytes] = []
        with pytest.raises(IntegrityError) as caught:
            received.extend(iter_chunks(store, manifest, where="obj"))
        assert caught.value.where == where
        assert b"".join(received) == DATA[: ref.offset]
        with pytest.raises(IntegrityError) as caught:
            verify_object(store, manifest, where="obj")
        assert caught.value.where == where
        path.write_bytes(original)
    verify_object(store, manifest, where="obj")


def test_truncated_swapped_and_missing_chunks_are_detected(store: LocalChunkStore) -> None:
    manifest, _ = put_object(store, DATA, media_type="text/plain", chunk_size=1024)
    first, second = (store.path(c.stored) for c in manifest.chunks[:2])
    original = first.read_bytes()
    first.write_bytes(original[:-1])
    with pytest.raises(IntegrityError, match="obj chunk 0"):
        read_chunk(store, manifest, 0, where="obj")
    first.write_bytes(second.read_bytes())
    with pytest.raises(IntegrityError, match="obj chunk 0"):
        read_chunk(store, manifest, 0, where="obj")
    first.unlink()
    with pytest.raises(IntegrityError, match="obj chunk 0: missing"):
        read_chunk(store, manifest, 0, where="obj")
    with pytest.raises(IntegrityError, match="obj chunk 0: missing"):
        verify_object(store, manifest, where="obj")


def test_chunk_index_out_of_range_is_a_bad_request(store: LocalChunkStore) -> None:
    manifest, _ = put_object(store, DATA, media_type="text/plain", chunk_size=1024)
    for index in (-1, len(manifest.chunks), True):
        with pytest.raises(InvalidRequestError):
            read_chunk(store, manifest, index)


def test_a_tampered_manifest_blob_is_refused(store: LocalChunkStore) -> None:
    _, digest = put_object(store, DATA, media_type="text/plain", chunk_size=1024)
    path = store.path(digest)
    for position in range(0, path.stat().st_size, 97):
        original = flip_byte(path, position)
        with pytest.raises(IntegrityError, match=f"manifest {digest}"):
            get_manifest(store, digest)
        path.write_bytes(original)
    path.unlink()
    with pytest.raises(NotFoundError, match=f"manifest {digest}"):
        get_manifest(store, digest)


def test_a_blob_that_is_not_a_manifest_is_refused(store: LocalChunkStore) -> None:
    digest = store.put(b'{"not": "a manifest"}')
    with pytest.raises(IntegrityError, match="not a valid manifest"):
        get_manifest(store, digest)


class _FailAfter(Exception):
    pass


def test_an_interrupted_put_writes_no_manifest_and_no_partial_chunk(tmp_path: Path) -> None:
    reference = LocalChunkStore(tmp_path / "reference")
    _, manifest_digest = put_object(reference, DATA, media_type="text/plain", chunk_size=512)
    store = LocalChunkStore(tmp_path / "blobs")

    def progress(done: int, total: int) -> None:
        if done >= 3 * 512:
            raise _FailAfter

    with pytest.raises(_FailAfter):
        put_object(store, DATA, media_type="text/plain", chunk_size=512, progress=progress)
    assert not store.has(manifest_digest)
    assert temp_files(store) == []
    assert all_named_by_content(store)
    # the next put completes, reusing what the interrupted one stored
    assert put_object(store, DATA, media_type="text/plain", chunk_size=512)[1] == manifest_digest


def test_a_write_failure_mid_put_leaves_no_temp_file_and_no_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalChunkStore(tmp_path / "blobs")
    real_fsync = os.fsync
    calls = 0

    def flaky_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 12:
            raise OSError("no space left")
        real_fsync(fd)

    monkeypatch.setattr(store_module.os, "fsync", flaky_fsync)
    with pytest.raises(OSError, match="no space left"):
        put_object(store, DATA, media_type="text/plain", chunk_size=512)
    monkeypatch.undo()
    assert temp_files(store) == []
    assert all_named_by_content(store)
    _, digest = put_object(
        LocalChunkStore(tmp_path / "ref"), DATA, media_type="text/plain", chunk_size=512
    )
    assert not store.has(digest)


def test_the_manifest_is_stored_after_every_chunk_is_durable(tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []

    class Recording(LocalChunkStore):
        def put(self, data: store_module.BytesLike, *, digest: str | None = None) -> str:
            events.append(("start", digest or "manifest"))
            result = super().put(data, digest=digest)
            events.append(("end", result))
            return result

    manifest, digest = put_object(
        Recording(tmp_path), DATA, media_type="text/plain", chunk_size=512
    )
    assert events[-2:] == [("start", "manifest"), ("end", digest)]
    assert sum(1 for kind, _ in events[:-2] if kind == "end") == len(manifest.chunks)


def test_media_type_and_chunk_size_are_checked_before_anything_is_written(
    store: LocalChunkStore,
) -> None:
    for kwargs in ({"media_type": "csv"}, {"media_type": "text/csv", "chunk_size": 0}):
        with pytest.raises(InvalidRequestError):
            put_object(store, DATA, **kwargs)
    with pytest.raises(InvalidRequestError, match="not str"):
        put_object(store, "data.csv", media_type="text/csv")
    assert stored_files(store) == []


class _Generated(io.RawIOBase):
    """``size`` pseudo-random bytes made on demand, so the test itself holds none of them."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.largest_read = 0
        self._block = random.Random(7).randbytes(1 << 16)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:
        view = memoryview(buffer).cast("B")
        count = min(len(view), self.remaining)
        self.largest_read = max(self.largest_read, count)
        done = 0
        while done < count:
            take = min(count - done, len(self._block))
            view[done : done + take] = self._block[:take]
            done += take
        self.remaining -= count
        return count


def test_put_streams_with_memory_bounded_by_a_few_chunks(store: LocalChunkStore) -> None:
    chunk_size = 256 * 1024
    source = _Generated(24 * 1024 * 1024)
    tracemalloc.start()
    try:
        manifest, _ = put_object(store, source, media_type="x/y", chunk_size=chunk_size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert manifest.size == 24 * 1024 * 1024
    assert source.largest_read <= chunk_size
    # the read buffers (objects._IN_FLIGHT of them) plus small change, never the whole input
    assert peak < (objects_module._IN_FLIGHT + 4) * chunk_size
