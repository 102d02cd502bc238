"""MerkleTree: the same answers as the list functions, for every past size, from a store."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorledger.crypto import merkle
from tensorledger.crypto.merkle import MemoryNodeStore, MerkleTree, NodeStore
from tensorledger.errors import IntegrityError, InvalidRequestError

LEAVES = [f"leaf {i}".encode() for i in range(70)]
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class RecordingStore:
    """A NodeStore that counts reads and remembers each write batch."""

    def __init__(self, inner: NodeStore | None = None) -> None:
        self.inner = inner if inner is not None else MemoryNodeStore()
        self.reads = 0
        self.batches: list[list[tuple[int, int, bytes]]] = []

    def get_node(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.inner.get_node(level, index)

    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        self.batches.append(list(nodes))
        self.inner.put_nodes(nodes)


class SyntheticStore:
    """Answers for every position with a made-up hash: a huge tree with no leaves built.

    The hashes do not chain, so only read counts mean anything here.
    """

    def __init__(self) -> None:
        self.reads = 0

    def get_node(self, level: int, index: int) -> bytes:
        self.reads += 1
        return hashlib.sha256(f"{level}/{index}".encode()).digest()

    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        raise AssertionError("read-only")


class FailingStore(MemoryNodeStore):
    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        if self.fail:
            raise OSError("disk full")
        super().put_nodes(nodes)


def build(leaves: Sequence[bytes], store: NodeStore | None = None) -> MerkleTree:
    tree = MerkleTree(store)
    for leaf in leaves:
        tree.append(leaf)
    return tree


def test_satisfies_the_protocol():
    store: NodeStore = MemoryNodeStore()
    assert MerkleTree(store).store is store


def test_equals_the_list_functions_for_every_past_size():
    tree = build(LEAVES)
    assert tree.size == len(LEAVES)
    for size in range(len(LEAVES) + 1):
        prefix = LEAVES[:size]
        assert tree.root(size) == merkle.root(prefix), size
        for index in range(size):
            assert tree.inclusion_proof(index, size) == merkle.inclusion_proof(prefix, index)
        for old in range(size + 1):
            assert tree.consistency_proof(old, size) == merkle.consistency_proof(prefix, old)
    assert tree.root() == merkle.root(LEAVES)
    assert tree.inclusion_proof(3) == merkle.inclusion_proof(LEAVES, 3)
    assert tree.consistency_proof(5) == merkle.consistency_proof(LEAVES, 5)


def test_empty_tree():
    tree = MerkleTree()
    assert tree.size == 0
    assert tree.root() == merkle.EMPTY_ROOT == tree.root(0)
    assert tree.consistency_proof(0) == []


def test_hashes_agree_with_the_merkle_primitives():
    # _tree.py keeps its own copies of the prefixes; they must be the RFC's.
    tree = MerkleTree()
    assert tree.append(b"a") == 0
    assert tree.append(b"b") == 1
    assert tree.leaf_hash(0) == merkle.leaf_hash(b"a")
    assert tree.root() == merkle.node_hash(merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b"))


def test_stores_exactly_the_complete_subtrees():
    store = MemoryNodeStore()
    build(LEAVES, store)
    expected = 0
    level = 0
    while (1 << level) <= len(LEAVES):
        width = 1 << level
        for index in range(len(LEAVES) // width):
            span = LEAVES[index * width : (index + 1) * width]
            assert store.get_node(level, index) == merkle.root(span), (level, index)
            expected += 1
        with pytest.raises(KeyError):
            store.get_node(level, len(LEAVES) // width)
        level += 1
    assert len(store) == expected


@PROPERTY
@given(
    hashes=st.lists(st.binary(min_size=32, max_size=32), max_size=200),
    cuts=st.lists(st.integers(0, 200), max_size=8),
    start=st.integers(0, 40),
)
def test_extend_hashes_equals_repeated_append(hashes, cuts, start):
    prefix = [hashlib.sha256(bytes([i])).digest() for i in range(start)]
    one = MerkleTree()
    for h in prefix + hashes:
        one.append_hash(h)

    store = RecordingStore()
    many = MerkleTree(store)
    many.extend_hashes(prefix)
    bounds = sorted({0, len(hashes), *(c for c in cuts if c <= len(hashes))})
    for lo, hi in itertools.pairwise(bounds):
        before = len(store.batches)
        written = many.extend_hashes(hashes[lo:hi])
        assert len(store.batches) == before + 1  # one write per call
        assert store.batches[-1] == written
    assert many.extend_hashes([]) == []

    assert many.size == one.size == start + len(hashes)
    for size in {0, many.size // 3, many.size // 2, many.size}:
        assert many.root(size) == one.root(size)
    written_all = [node for batch in store.batches for node in batch]
    assert len(written_all) == len({(lv, i) for lv, i, _ in written_all})  # nothing written twice
    for level, index, value in written_all:
        assert one.store.get_node(level, index) == value


def test_extend_hashes_returns_level_by_level():
    tree = MerkleTree()
    tree.extend_hashes([merkle.leaf_hash(x) for x in LEAVES[:3]])
    nodes = tree.extend_hashes([merkle.leaf_hash(x) for x in LEAVES[3:8]])
    assert [(lv, i) for lv, i, _ in nodes] == [
        (0, 3), (0, 4), (0, 5), (0, 6), (0, 7), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (3, 0),
    ]  # fmt: skip
    assert tree.root() == merkle.root(LEAVES[:8])


@PROPERTY
@given(leaves=st.lists(st.binary(max_size=16), min_size=1, max_size=300), data=st.data())
def test_random_trees_match_the_list_functions(leaves, data):
    tree = MerkleTree()
    tree.extend_hashes([merkle.leaf_hash(x) for x in leaves])
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    prefix = leaves[:size]
    assert tree.root(size) == merkle.root(prefix)
    assert tree.inclusion_proof(index, size) == merkle.inclusion_proof(prefix, index)
    assert tree.consistency_proof(old, size) == merkle.consistency_proof(prefix, old)
    assert tree.leaf_hash(index) == merkle.leaf_hash(leaves[index])


def test_reopened_tree_continues_identically():
    store = MemoryNodeStore()
    first = build(LEAVES[:23], store)
    reopened = MerkleTree(store, size=first.size)
    assert reopened.root() == first.root()
    for leaf in LEAVES[23:]:
        reopened.append(leaf)
    straight = build(LEAVES)
    assert reopened.size == straight.size
    for size in range(len(LEAVES) + 1):
        assert reopened.root(size) == straight.root(size)
    assert reopened.inclusion_proof(30) == straight.inclusion_proof(30)
    assert reopened.consistency_proof(23) == straight.consistency_proof(23)


def test_opening_beyond_the_store_is_an_integrity_error():
    store = MemoryNodeStore()
    build(LEAVES[:5], store)
    MerkleTree(store, size=5)
    with pytest.raises(IntegrityError, match="merkle tree"):
        MerkleTree(store, size=6)


class LossyStore(RecordingStore):
    """Lost one node, as a damaged database would."""

    lost = (1, 2)

    def get_node(self, level: int, index: int) -> bytes:
        if (level, index) == self.lost:
            raise KeyError((level, index))
        return super().get_node(level, index)


def test_missing_node_is_an_integrity_error():
    store = LossyStore()
    tree = build(LEAVES[:7], store)  # root(7) = H(node(2, 0), H(node(1, 2), leaf 6))
    with pytest.raises(IntegrityError, match=r"node \(1, 2\) missing"):
        tree.root()
    with pytest.raises(IntegrityError, match=r"node \(1, 2\) missing"):
        tree.inclusion_proof(0)
    assert tree.root(4) == merkle.root(LEAVES[:4])  # what does not need it still works


def test_failed_write_leaves_the_tree_unchanged():
    store = FailingStore()
    tree = build(LEAVES[:5], store)
    root = tree.root()
    store.fail = True
    with pytest.raises(OSError, match="disk full"):
        tree.append(b"x")
    with pytest.raises(OSError, match="disk full"):
        tree.extend_hashes([merkle.leaf_hash(b"x")] * 3)
    assert tree.size == 5
    assert tree.root() == root


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.root(11),
        lambda t: t.root(-1),
        lambda t: t.inclusion_proof(10),
        lambda t: t.inclusion_proof(-1),
        lambda t: t.inclusion_proof(5, 5),
        lambda t: t.inclusion_proof(0, 11),
        lambda t: t.consistency_proof(11),
        lambda t: t.consistency_proof(6, 5),
        lambda t: t.consistency_proof(-1),
        lambda t: t.leaf_hash(10),
        lambda t: t.leaf_hash(-1),
        lambda t: t.append_hash(b"short"),
        lambda t: t.append_hash("0" * 32),
        lambda t: t.extend_hashes([merkle.leaf_hash(b"a"), b"\x00" * 33]),
        lambda t: MerkleTree(size=-1),
    ],
)
def test_bad_arguments_raise_invalid_request(call):
    tree = build(LEAVES[:10])
    with pytest.raises(InvalidRequestError):
        call(tree)
    assert tree.size == 10  # a rejected batch appends nothing


def test_memory_store_rejects_negative_positions():
    store = MemoryNodeStore()
    store.put_nodes([(0, 0, b"\x00" * 32)])
    with pytest.raises(KeyError):
        store.get_node(0, -1)
    with pytest.raises(KeyError):
        store.get_node(-1, 0)
    with pytest.raises(InvalidRequestError):
        store.put_nodes([(0, -1, b"\x00" * 32)])


@pytest.mark.parametrize("size", [2**40 - 1, 2**40, 10**12 + 12345, 2**63 - 3])
def test_proofs_read_logarithmically_many_nodes(size):
    store = SyntheticStore()
    tree = MerkleTree(store, size=size)
    bound = size.bit_length()
    for index in (0, size // 3, size - 1):
        store.reads = 0
        proof = tree.inclusion_proof(index)
        assert store.reads <= 2 * bound
        assert len(proof) <= bound
    store.reads = 0
    tree.root(size - 1)
    assert store.reads <= bound
    for old in (1, size // 2 + 1, size - 1):
        store.reads = 0
        tree.consistency_proof(old)
        assert store.reads <= 2 * bound


def test_append_reads_only_left_siblings():
    store = RecordingStore()
    tree = MerkleTree(store)
    for i in range(1023):
        tree.append(LEAVES[i % 70] + i.to_bytes(2, "big"))
    store.reads = 0
    tree.append(b"last")  # index 1023 completes ten subtrees
    assert store.reads == 10
    assert len(store.batches[-1]) == 11


@pytest.mark.slow
def test_a_million_leaves_is_fast():
    hashes = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(1_000_000)]
    tree = MerkleTree()
    start = time.perf_counter()
    for h in hashes:
        tree.append_hash(h)
    appended = time.perf_counter() - start
    index = 765_432
    start = time.perf_counter()
    for _ in range(100):
        proof = tree.inclusion_proof(index)
    proved = (time.perf_counter() - start) / 100
    root, leaf = tree.root(), tree.leaf_hash(index)
    start = time.perf_counter()
    for _ in range(100):
        assert merkle.verify_inclusion_hash(leaf, index, tree.size, proof, root)
    verified = (time.perf_counter() - start) / 100
    assert appended < 20, appended
    assert proved < 1e-3, proved
    assert verified < 1e-3, verified
    other = MerkleTree()
    other.extend_hashes(hashes)
    assert other.root() == root
