"""The incremental RFC 9162 Merkle tree over a pluggable store of subtree hashes.

Owns `MerkleTree`, the `NodeStore` interface it writes through, and the
in-memory store. Public names are re-exported by `tensorledger.crypto.merkle`.

Only complete subtrees are stored: node ``(level, index)`` is the MTH of leaves
``[index * 2**level, (index + 1) * 2**level)`` and exists once all of them do,
so a stored node never changes. Every tree of any past size is a right fold of
at most log2(n) such nodes, which is how roots and proofs for old sizes come
out with O(log n) store reads and no rehashing of leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from tensorledger.errors import IntegrityError, InvalidRequestError

# The same domain-separation bytes as `merkle.leaf_hash` / `merkle.node_hash`:
# kept here so that this module does not import `merkle`, which re-exports it
# (the tests check both give identical hashes).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_HASH_SIZE = 32
_sha256 = hashlib.sha256
_EMPTY_ROOT = _sha256(b"").digest()

Node = tuple[int, int, bytes]


class NodeStore(Protocol):
    """Where a `MerkleTree` keeps its complete-subtree hashes."""

    def get_node(self, level: int, index: int) -> bytes:
        """The hash of node ``(level, index)``; raises `KeyError` if absent."""
        ...

    def put_nodes(self, nodes: Sequence[Node]) -> None:
        """Store ``(level, index, hash)`` triples; all or none (one write)."""
        ...


class MemoryNodeStore:
    """A `NodeStore` in memory: one growable list per level.

    Lists rather than a dict keyed by (level, index) because the tree only
    ever appends, and a 1,000,000-leaf tree then costs ~150 MB, not ~400 MB.
    """

    def __init__(self) -> None:
        self._levels: list[list[bytes | None]] = []

    def get_node(self, level: int, index: int) -> bytes:
        """The hash of node ``(level, index)``; raises `KeyError` if absent."""
        try:
            # negative indices would silently count from the end
            value = self._levels[level][index] if level >= 0 and index >= 0 else None
        except IndexError:
            value = None
        if value is None:
            raise KeyError((level, index))
        return value

    def put_nodes(self, nodes: Sequence[Node]) -> None:
        """Store the nodes, overwriting any with the same position."""
        levels = self._levels
        for level, index, value in nodes:
            if level < 0 or index < 0:
                raise InvalidRequestError(f"merkle node ({level}, {index}) has a negative position")
            while len(levels) <= level:
                levels.append([])
            row = levels[level]
            if index == len(row):
                row.append(value)
            else:
                if index > len(row):
                    row.extend([None] * (index - len(row) + 1))
                row[index] = value

    def __len__(self) -> int:
        """How many nodes are stored."""
        return sum(len(row) - row.count(None) for row in self._levels)


class MerkleTree:
    """An append-only RFC 9162 tree whose nodes live in a `NodeStore`.

    The tree holds nothing but its size: every hash is read from the store, so
    a store written inside a database transaction stays the one truth. If that
    transaction rolls back, open a new `MerkleTree` on the store at the size
    that was committed.
    """

    def __init__(self, store: NodeStore | None = None, size: int = 0) -> None:
        if size < 0:
            raise InvalidRequestError(f"merkle tree size {size} is negative")
        self._store: NodeStore = store if store is not None else MemoryNodeStore()
        self._size = size
        if size:
            # Opening at a size the store cannot back would fail later, far from
            # the cause; the last leaf is the one node every size needs.
            self._node(0, size - 1)

    @property
    def size(self) -> int:
        """Number of leaves in the tree."""
        return self._size

    @property
    def store(self) -> NodeStore:
        """The store the tree reads and writes."""
        return self._store

    def append(self, leaf: bytes) -> int:
        """Append raw leaf data; returns its index."""
        return self.append_hash(_sha256(_LEAF_PREFIX + leaf).digest())

    def append_hash(self, leaf_hash: bytes) -> int:
        """Append a leaf by its hash, SHA-256(0x00 || data); returns its index."""
        _check_hash(leaf_hash)
        index = self._size
        nodes = [(0, index, leaf_hash)]
        level, i, value = 0, index, leaf_hash
        # A new leaf completes one subtree per trailing 1 bit of its index.
        while i & 1:
            value = _sha256(_NODE_PREFIX + self._node(level, i - 1) + value).digest()
            level += 1
            i >>= 1
            nodes.append((level, i, value))
        self._store.put_nodes(nodes)
        self._size = index + 1
        return index

    def extend_hashes(self, leaf_hashes: Sequence[bytes]) -> list[Node]:
        """Append many leaf hashes; writes every new node in one `put_nodes` call.

        Returns the new nodes, level by level, each level in index order.
        """
        for value in leaf_hashes:
            _check_hash(value)
        if not leaf_hashes:
            return []
        old, new = self._size, self._size + len(leaf_hashes)
        nodes: list[Node] = [(0, old + i, value) for i, value in enumerate(leaf_hashes)]
        row, level = list(leaf_hashes), 0
        # New nodes at a level are indices (old >> level) .. (new >> level) - 1.
        while (old >> (level + 1)) < (new >> (level + 1)):
            first = old >> level
            if first & 1:
                # The first new parent's left child was complete before.
                row.insert(0, self._node(level, first - 1))
            row = [
                _sha256(_NODE_PREFIX + left + right).digest()
                for left, right in zip(row[0::2], row[1::2], strict=False)
            ]
            level += 1
            base = old >> level
            nodes.extend((level, base + i, value) for i, value in enumerate(row))
        self._store.put_nodes(nodes)
        self._size = new
        return nodes

    def leaf_hash(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        if not 0 <= index < self._size:
            raise InvalidRequestError(f"leaf index {index} not in a tree of {self._size}")
        return self._node(0, index)

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all)."""
        size = self._check_size(size)
        return self._range(0, size) if size else _EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 PATH(index, D[size]), leaf's sibling first."""
        size = self._check_size(size)
        if not 0 <= index < size:
            raise InvalidRequestError(
                f"inclusion proof: leaf index {index} not in a tree of {size}"
            )
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if index < lo + k:
                path.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range(lo, lo + k))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 PROOF(old_size, D[new_size]); empty when old_size is 0 or new_size."""
        new_size = self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise InvalidRequestError(
                f"consistency proof: old size {old_size} not in 0..{new_size} (the new size)"
            )
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        lo, hi, complete = 0, new_size, True
        while old_size != hi:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if old_size <= lo + k:
                proof.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._range(lo, lo + k))
                lo, complete = lo + k, False
        if not complete:
            proof.append(self._range(lo, hi))
        proof.reverse()
        return proof

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise InvalidRequestError(f"tree size {size} not in 0..{self._size} (the current size)")
        return size

    def _node(self, level: int, index: int) -> bytes:
        try:
            return self._store.get_node(level, index)
        except KeyError:
            raise IntegrityError(
                "merkle tree", f"node ({level}, {index}) missing from the store"
            ) from None

    def _range(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi), a node of some RFC tree: lo is aligned to hi - lo.

        Such a range is one stored node per 1 bit of hi - lo, largest first;
        the RFC tree over it is their right fold.
        """
        width = hi - lo
        nodes: list[bytes] = []
        while width:
            level = width.bit_length() - 1
            nodes.append(self._node(level, lo >> level))
            lo += 1 << level
            width -= 1 << level
        value = nodes.pop()
        while nodes:
            value = _sha256(_NODE_PREFIX + nodes.pop() + value).digest()
        return value


def _check_hash(value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != _HASH_SIZE:
        raise InvalidRequestError(f"a leaf hash must be {_HASH_SIZE} bytes")
