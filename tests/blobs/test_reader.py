"""VerifiedReader: acts like a read-only BytesIO, verifies on first touch, caches a few chunks."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorledger.blobs import LocalChunkStore, VerifiedReader, new_key, put_object
from tensorledger.errors import IntegrityError, InvalidRequestError

from ._files import MemoryChunkStore, flip_byte

DATA = random.Random(11).randbytes(3000)


class CountingStore(MemoryChunkStore):
    def __init__(self) -> None:
        super().__init__()
        self.gets: list[str] = []

    def get(self, digest: str) -> bytes:
        self.gets.append(digest)
        return super().get(digest)


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("seek"), st.integers(-4000, 4000), st.sampled_from([0, 1, 2])),
        st.tuples(st.just("read"), st.integers(-1, 3000), st.just(0)),
        st.tuples(st.just("readinto"), st.integers(0, 3000), st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=100, deadline=None)
@given(ops=_ops, chunk_size=st.integers(7, 1200), cache=st.integers(1, 4))
def test_reads_and_seeks_match_bytesio(
    ops: list[tuple[str, int, int]], chunk_size: int, cache: int
) -> None:
    store = MemoryChunkStore()
    manifest, _ = put_object(store, DATA, media_type="x/y", chunk_size=chunk_size)
    reader = VerifiedReader(store, manifest, cache_chunks=cache)
    expected = io.BytesIO(DATA)
    for op, amount, whence in ops:
        if op == "seek":
            try:
                want = expected.seek(amount, whence)
            except ValueError:
                with pytest.raises(ValueError):
                    reader.seek(amount, whence)
                continue
            assert reader.seek(amount, whence) == want
        elif op == "read":
            assert reader.read(amount) == expected.read(amount)
        else:
            mine, theirs = bytearray(amount), bytearray(amount)
            assert reader.readinto(mine) == expected.readinto(theirs)
            assert mine == theirs
        assert reader.tell() == expected.tell()
    assert reader.readall() == expected.read()


def test_each_chunk_is_fetched_once_while_cached_and_the_cache_is_bounded() -> None:
    store = CountingStore()
    manifest, _ = put_object(store, DATA, media_type="x/y", chunk_size=500)
    store.gets.clear()
    reader = VerifiedReader(store, manifest, cache_chunks=2)
    assert reader.read() == DATA
    assert len(store.gets) == 6
    reader.seek(2999)
    reader.read(1)
    assert len(store.gets) == 6  # the last chunk is still cached
    reader.seek(0)
    reader.read(1)
    assert len(store.gets) == 7  # the first one was evicted
    assert len(reader._cache) <= 2


def test_nothing_is_returned_from_a_read_that_reaches_a_bad_chunk(store: LocalChunkStore) -> None:
    manifest, _ = put_object(store, DATA, media_type="x/y", chunk_size=500)
    flip_byte(store.path(manifest.chunks[2].stored), 5)
    reader = VerifiedReader(store, manifest, where="blob")
    assert reader.read(1000) == DATA[:1000]
    reader.seek(800)
    with pytest.raises(IntegrityError) as caught:
        reader.read(400)
    assert caught.value.where == "blob chunk 2"
    assert reader.tell() == 800  # a failed read consumes nothing
    reader.seek(1600)
    assert reader.read() == DATA[1600:]  # the good chunks after it still read


def test_numpy_reads_an_encrypted_array_through_it(store: LocalChunkStore) -> None:
    array = np.arange(600, dtype=np.float64).reshape(200, 3)
    buffer = io.BytesIO()
    np.save(buffer, array)
    key = new_key()
    manifest, _ = put_object(store, buffer.getvalue(), media_type="x/y", key=key, chunk_size=256)
    with VerifiedReader(store, manifest, key=key) as reader:
        np.testing.assert_array_equal(np.load(reader), array)


def test_it_is_a_read_only_seekable_file() -> None:
    store = MemoryChunkStore()
    manifest, _ = put_object(store, DATA, media_type="x/y", chunk_size=1000)
    reader = VerifiedReader(store, manifest)
    assert reader.readable() and reader.seekable() and not reader.writable()
    assert reader.size == len(DATA)
    with pytest.raises(OSError):
        reader.write(b"x")
    reader.close()
    for call in (reader.read, reader.tell, lambda: reader.seek(0)):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(InvalidRequestError):
        VerifiedReader(store, manifest, cache_chunks=0)
