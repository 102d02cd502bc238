"""RFC 9162 (Certificate Transparency v2) Merkle trees over byte-string leaves.

Owns the tree hash (MTH), inclusion and consistency proofs built from a list of
leaves, their verification, and re-exports the incremental, store-backed
`MerkleTree` from `tensorledger.crypto._tree`.

The list functions below follow the RFC's recursive definitions (section 2.1)
literally, so they read as the specification; `MerkleTree` computes the same
proofs from stored subtree hashes, and the tests check the two byte for byte.

Verification never raises: any malformed input (wrong hash length, index out
of range, sizes out of order, missing or extra proof elements) is simply a
proof that does not verify. Building a proof for an impossible index or size
raises `InvalidRequestError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from tensorledger.crypto._tree import MemoryNodeStore, MerkleTree, NodeStore
from tensorledger.errors import InvalidRequestError

#: length in bytes of every hash in the tree (SHA-256)
HASH_SIZE = 32

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256

#: MTH({}) = SHA-256(""), the root of the empty tree
EMPTY_ROOT: bytes = _sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Hash of one leaf: SHA-256(0x00 || data)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (for ``n > 1``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves.

    Computed bottom-up, promoting an unpaired last node to the next level:
    this builds exactly the RFC's left-balanced tree (split at the largest
    power of two below n) without recursion, which matters for large lists.
    """
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        paired = [
            _sha256(_NODE_PREFIX + left + right).digest()
            for left, right in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _leaf_hashes(leaves: Sequence[bytes]) -> list[bytes]:
    return [_sha256(_LEAF_PREFIX + leaf).digest() for leaf in leaves]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over raw leaf data (RFC 9162 section 2.1.1)."""
    return _mth(_leaf_hashes(leaves))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1, leaf's sibling first.

    Raises `InvalidRequestError` unless ``0 <= index < len(leaves)``.
    """
    n = len(leaves)
    if not 0 <= index < n:
        raise InvalidRequestError(f"inclusion proof: leaf index {index} not in a tree of {n}")
    hashes = _leaf_hashes(leaves)
    path: list[bytes] = []
    # PATH(m, D[lo:hi]) unrolled from the top; the RFC lists the deepest sibling
    # first, so the siblings found on the way down are reversed at the end.
    lo, hi, m = 0, n, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(_mth(hashes[lo + k : hi]))
            hi = lo + k
        else:
            path.append(_mth(hashes[lo : lo + k]))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1 for ``m = old_size``.

    The RFC defines it for ``0 < m < n``; for ``m == 0`` and ``m == n`` the
    proof is empty (nothing needs proving). Raises `InvalidRequestError`
    unless ``0 <= old_size <= len(leaves)``.
    """
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise InvalidRequestError(
            f"consistency proof: old size {old_size} not in 0..{n} (the new size)"
        )
    if old_size in (0, n):
        return []
    hashes = _leaf_hashes(leaves)
    proof: list[bytes] = []
    # SUBPROOF(m, D[lo:hi], b) unrolled from the top; each level appends its
    # hash after the deeper levels' ones, hence the reversal at the end.
    lo, hi, m, complete = 0, n, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_mth(hashes[lo + k : hi]))
            hi = lo + k
        else:
            proof.append(_mth(hashes[lo : lo + k]))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(_mth(hashes[lo:hi]))
    proof.reverse()
    return proof


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows raw leaf data ``leaf`` at ``index`` in the tree ``root``."""
    if not isinstance(leaf, bytes):
        return False
    return verify_inclusion_hash(leaf_hash(leaf), index, size, proof, root)


def verify_inclusion_hash(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2: verify an inclusion proof for a leaf hash."""
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_size(index) and _is_size(size)):
        return False
    if index >= size or not _all_hashes(proof):
        return False
    return _root_from_inclusion_path(leaf_hash, index, size, proof) == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2: verify that tree ``new_root`` extends tree ``old_root``.

    Beyond the RFC's ``0 < old_size < new_size``: equal sizes need an empty
    proof and equal roots; ``old_size == 0`` needs an empty proof and
    ``old_root`` equal to the empty tree's root.
    """
    if not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    if not (_is_size(old_size) and _is_size(new_size)) or old_size > new_size:
        return False
    if not _all_hashes(proof):
        return False
    if old_size in (0, new_size):
        return not proof and _trivially_consistent(old_size, new_size, old_root, new_root)
    roots = _roots_from_consistency_path(old_size, new_size, old_root, proof)
    return roots == (old_root, new_root)


def _root_from_inclusion_path(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes | None:
    """Steps 2-5 of RFC 9162 section 2.1.3.2; None if the path has the wrong length.

    Needs ``0 <= index < size`` and 32-byte hashes.
    """
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return None  # more elements than the tree has levels
        if fn & 1 or fn == sn:
            r = _sha256(_NODE_PREFIX + p + r).digest()
            if not fn & 1:
                # fn is the last node of its level with no right sibling: it is
                # promoted unchanged until it becomes a right child.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(_NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def _roots_from_consistency_path(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes] | None:
    """Steps 1-7 of RFC 9162 section 2.1.4.2: the (old, new) roots the proof implies.

    None if the path has the wrong length. Needs ``0 < old_size < new_size``
    and 32-byte hashes.
    """
    if not proof:
        return None
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree of the new one: its root is the
        # first node of the path and is not sent.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return None  # more elements than the new tree has levels
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE_PREFIX + c + fr).digest()
            sr = _sha256(_NODE_PREFIX + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(_NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return (fr, sr) if sn == 0 else None


def _trivially_consistent(old_size: int, new_size: int, old_root: bytes, new_root: bytes) -> bool:
    """The cases outside the RFC's 0 < old_size < new_size, which need no proof.

    Every tree extends the empty tree, whose root is fixed; a tree of the same
    size extends only itself.
    """
    if old_size == 0 and old_root != EMPTY_ROOT:
        return False
    return old_size < new_size or old_root == new_root


def _all_hashes(proof: object) -> bool:
    if isinstance(proof, bytes | str) or not isinstance(proof, Sequence):
        return False
    return all(_is_hash(p) for p in proof)


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryNodeStore",
    "MerkleTree",
    "NodeStore",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
    "verify_inclusion_hash",
]
