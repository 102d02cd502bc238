"""RFC 9162 list functions against a naive reference, known answers, and corruption.

The reference below is written from the RFC text alone, recursively, and
shares no code with tensorledger.crypto.merkle. Known answers come from
transparency-dev/merkle (proof/verify_test.go), the Go library behind
Certificate Transparency and Trillian.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorledger.crypto import merkle
from tensorledger.errors import InvalidRequestError


# --- naive reference, straight from RFC 9162 section 2.1 --------------------
def ref_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return ref_hash(b"")
    if n == 1:
        return ref_hash(b"\x00" + d[0])
    k = ref_k(n)
    return ref_hash(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def ref_path_len(m: int, n: int) -> int:
    """len(PATH(m, D[n])) without hashing anything."""
    if n == 1:
        return 0
    k = ref_k(n)
    return 1 + (ref_path_len(m, k) if m < k else ref_path_len(m - k, n - k))


def ref_proof_len(m: int, n: int, b: bool = True) -> int:
    """len(SUBPROOF(m, D[n], b)) without hashing anything."""
    if m == n:
        return 0 if b else 1
    k = ref_k(n)
    return 1 + (ref_proof_len(m, k, b) if m <= k else ref_proof_len(m - k, n - k, False))


def ref_root_from_path(h: bytes, m: int, n: int, path: list[bytes]) -> bytes | None:
    """Invert PATH: the root that `path` implies for leaf hash h, or None if its shape is wrong."""
    if n == 1:
        return h if not path else None
    if not path:
        return None
    k = ref_k(n)
    if m < k:
        sub = ref_root_from_path(h, m, k, path[:-1])
        return None if sub is None else ref_hash(b"\x01" + sub + path[-1])
    sub = ref_root_from_path(h, m - k, n - k, path[:-1])
    return None if sub is None else ref_hash(b"\x01" + path[-1] + sub)


def ref_verify_inclusion(h: bytes, m: int, n: int, path: list[bytes], root: bytes) -> bool:
    if not 0 <= m < n or any(len(p) != 32 for p in path):
        return False
    return ref_root_from_path(h, m, n, path) == root


def ref_roots_from_subproof(
    m: int, n: int, proof: list[bytes], b: bool, old_root: bytes
) -> tuple[bytes, bytes] | None:
    """Invert SUBPROOF: the (old, new) subtree roots the proof implies, or None."""
    if m == n:
        if b:
            return (old_root, old_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = ref_k(n)
    last = proof[-1]
    if m <= k:
        sub = ref_roots_from_subproof(m, k, proof[:-1], b, old_root)
        return None if sub is None else (sub[0], ref_hash(b"\x01" + sub[1] + last))
    sub = ref_roots_from_subproof(m - k, n - k, proof[:-1], False, old_root)
    if sub is None:
        return None
    return ref_hash(b"\x01" + last + sub[0]), ref_hash(b"\x01" + last + sub[1])


def ref_verify_consistency(m: int, n: int, r1: bytes, r2: bytes, proof: list[bytes]) -> bool:
    if not 0 < m < n or any(len(p) != 32 for p in proof):
        return False
    return ref_roots_from_subproof(m, n, proof, True, r1) == (r1, r2)


# --- known answers: transparency-dev/merkle proof/verify_test.go -------------
KAT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
KAT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, proof); the Go file numbers leaves from 1
KAT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, proof)
KAT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def test_empty_tree_root_is_sha256_of_nothing():
    assert merkle.EMPTY_ROOT == EMPTY
    assert merkle.root([]) == EMPTY


@pytest.mark.parametrize("size", range(1, 9))
def test_known_roots(size):
    assert merkle.root(KAT_LEAVES[:size]).hex() == KAT_ROOTS[size - 1]


def test_leaf_and_node_hash_known_answers():
    assert merkle.leaf_hash(b"").hex() == KAT_ROOTS[0]
    pair = merkle.node_hash(merkle.leaf_hash(b""), merkle.leaf_hash(b"\x00"))
    assert pair.hex() == KAT_ROOTS[1]


@pytest.mark.parametrize(("index", "size", "proof"), KAT_INCLUSION)
def test_known_inclusion_proofs(index, size, proof):
    leaves = KAT_LEAVES[:size]
    expected = [bytes.fromhex(p) for p in proof]
    assert merkle.inclusion_proof(leaves, index) == expected
    root = bytes.fromhex(KAT_ROOTS[size - 1])
    assert merkle.verify_inclusion(leaves[index], index, size, expected, root)


@pytest.mark.parametrize(("old", "new", "proof"), KAT_CONSISTENCY)
def test_known_consistency_proofs(old, new, proof):
    expected = [bytes.fromhex(p) for p in proof]
    assert merkle.consistency_proof(KAT_LEAVES[:new], old) == expected
    old_root, new_root = bytes.fromhex(KAT_ROOTS[old - 1]), bytes.fromhex(KAT_ROOTS[new - 1])
    assert merkle.verify_consistency(old, new, old_root, new_root, expected)


# --- exhaustive agreement with the reference ---------------------------------
LEAVES = [f"leaf {i}".encode() for i in range(70)]


@pytest.mark.parametrize("size", range(71))
def test_matches_reference_for_every_index_and_old_size(size):
    leaves = LEAVES[:size]
    tree_root = merkle.root(leaves)
    assert tree_root == ref_mth(leaves)
    for m in range(size):
        proof = merkle.inclusion_proof(leaves, m)
        assert proof == ref_path(m, leaves), (m, size)
        assert merkle.verify_inclusion(leaves[m], m, size, proof, tree_root)
        assert merkle.verify_inclusion_hash(merkle.leaf_hash(leaves[m]), m, size, proof, tree_root)
    for m in range(size + 1):
        proof = merkle.consistency_proof(leaves, m)
        expected = ref_proof(m, leaves) if 0 < m < size else []
        assert proof == expected, (m, size)
        old_root = ref_mth(leaves[:m])
        assert merkle.verify_consistency(m, size, old_root, tree_root, proof), (m, size)


def test_verifiers_agree_with_reference_verifiers():
    # The two verifiers share nothing; the RFC's bit-twiddling one must accept
    # exactly what inverting the recursive definitions accepts.
    leaves = LEAVES[:13]
    for size in range(1, 14):
        root = ref_mth(leaves[:size])
        for m in range(size):
            h = merkle.leaf_hash(leaves[m])
            proof = ref_path(m, leaves[:size])
            for claimed in range(1, 16):
                assert merkle.verify_inclusion_hash(h, m, claimed, proof, root) == (
                    ref_verify_inclusion(h, m, claimed, proof, root)
                ), (m, size, claimed)
        for old in range(1, size):
            proof = ref_proof(old, leaves[:size])
            old_root = ref_mth(leaves[:old])
            for o in range(1, 16):
                for n in range(o, 16):
                    assert merkle.verify_consistency(o, n, old_root, root, proof) == (
                        ref_verify_consistency(o, n, old_root, root, proof)
                    ), (old, size, o, n)


# --- bad arguments -----------------------------------------------------------
@pytest.mark.parametrize(("size", "index"), [(0, 0), (3, 3), (3, -1), (1, 5)])
def test_inclusion_proof_rejects_bad_index(size, index):
    with pytest.raises(InvalidRequestError, match="index"):
        merkle.inclusion_proof(LEAVES[:size], index)


@pytest.mark.parametrize(("size", "old"), [(0, 1), (3, 4), (3, -1)])
def test_consistency_proof_rejects_bad_old_size(size, old):
    with pytest.raises(InvalidRequestError, match="old size"):
        merkle.consistency_proof(LEAVES[:size], old)


GOOD_ROOT = merkle.root(LEAVES[:5])
GOOD_PROOF = merkle.inclusion_proof(LEAVES[:5], 2)


@pytest.mark.parametrize(
    ("leaf", "index", "size", "proof", "root"),
    [
        (LEAVES[2], 2, 5, GOOD_PROOF, GOOD_ROOT[:31]),
        (LEAVES[2], 2, 5, GOOD_PROOF, GOOD_ROOT + b"\x00"),
        (LEAVES[2], 2, 5, [*GOOD_PROOF[:2], GOOD_PROOF[2][:31]], GOOD_ROOT),
        (LEAVES[2], 2, 5, [*GOOD_PROOF, b""], GOOD_ROOT),
        (LEAVES[2], 2, 2, GOOD_PROOF, GOOD_ROOT),
        (LEAVES[2], 5, 5, GOOD_PROOF, GOOD_ROOT),
        (LEAVES[2], -1, 5, GOOD_PROOF, GOOD_ROOT),
        (LEAVES[2], 2, -5, GOOD_PROOF, GOOD_ROOT),
        (LEAVES[2], 2, 0, [], GOOD_ROOT),
        (LEAVES[2], 2, 5, None, GOOD_ROOT),
        (LEAVES[2], 2, 5, b"".join(GOOD_PROOF), GOOD_ROOT),
        (LEAVES[2], 2, 5, [1, 2, 3], GOOD_ROOT),
        (LEAVES[2], "2", 5, GOOD_PROOF, GOOD_ROOT),
        (LEAVES[2], 2.0, 5, GOOD_PROOF, GOOD_ROOT),
        (LEAVES[2], 2, None, GOOD_PROOF, GOOD_ROOT),
        (None, 2, 5, GOOD_PROOF, GOOD_ROOT),
        (LEAVES[2], 2, 5, GOOD_PROOF, None),
        (LEAVES[2], 2, 5, [p.hex() for p in GOOD_PROOF], GOOD_ROOT),
        (LEAVES[2], 2, 5, GOOD_PROOF * 40, GOOD_ROOT),
    ],
)
def test_verify_inclusion_returns_false_on_malformed_input(leaf, index, size, proof, root):
    assert merkle.verify_inclusion(LEAVES[2], 2, 5, GOOD_PROOF, GOOD_ROOT)
    assert merkle.verify_inclusion(leaf, index, size, proof, root) is False


OLD_ROOT = merkle.root(LEAVES[:3])
CONS = merkle.consistency_proof(LEAVES[:5], 3)


@pytest.mark.parametrize(
    ("old", "new", "r1", "r2", "proof"),
    [
        (3, 5, OLD_ROOT[:31], GOOD_ROOT, CONS),
        (3, 5, OLD_ROOT, GOOD_ROOT[:31], CONS),
        (3, 5, OLD_ROOT, GOOD_ROOT, [*CONS, b""]),
        (3, 5, OLD_ROOT, GOOD_ROOT, [CONS[0][:31], *CONS[1:]]),
        (5, 3, OLD_ROOT, GOOD_ROOT, CONS),
        (5, 3, GOOD_ROOT, OLD_ROOT, CONS),
        (-3, 5, OLD_ROOT, GOOD_ROOT, CONS),
        (3, 5, OLD_ROOT, GOOD_ROOT, []),
        (3, 5, OLD_ROOT, GOOD_ROOT, None),
        (3, 5, OLD_ROOT, GOOD_ROOT, b"".join(CONS)),
        (3, 5, OLD_ROOT, GOOD_ROOT, [7]),
        (3, None, OLD_ROOT, GOOD_ROOT, CONS),
        # the trivial cases, made wrong
        (0, 0, EMPTY, GOOD_ROOT, []),
        (0, 0, GOOD_ROOT, GOOD_ROOT, []),
        (0, 0, EMPTY, EMPTY, [EMPTY]),
        (0, 5, SOME_HASH, GOOD_ROOT, []),
        (0, 5, EMPTY, GOOD_ROOT, [EMPTY]),
        (5, 5, GOOD_ROOT, SOME_HASH, []),
        (5, 5, GOOD_ROOT, GOOD_ROOT, [GOOD_ROOT]),
        (1, 2, SOME_HASH, GOOD_ROOT, []),
    ],
)
def test_verify_consistency_returns_false_on_malformed_input(old, new, r1, r2, proof):
    assert merkle.verify_consistency(3, 5, OLD_ROOT, GOOD_ROOT, CONS)
    assert merkle.verify_consistency(old, new, r1, r2, proof) is False


def test_trivial_consistency_cases_hold():
    assert merkle.verify_consistency(0, 0, EMPTY, EMPTY, [])
    assert merkle.verify_consistency(0, 5, EMPTY, GOOD_ROOT, [])
    assert merkle.verify_consistency(5, 5, GOOD_ROOT, GOOD_ROOT, [])


# --- corruption: every mutation of a valid proof must fail -------------------
def _flips(proof: list[bytes], mask: int):
    for i, element in enumerate(proof):
        for j in range(len(element)):
            bad = bytearray(element)
            bad[j] ^= mask
            yield [*proof[:i], bytes(bad), *proof[i + 1 :]]


def _reshapes(proof: list[bytes], junk: bytes):
    """Proofs with an element removed, added, duplicated, or two swapped."""
    for i in range(len(proof)):
        yield proof[:i] + proof[i + 1 :]
        yield [*proof[:i], proof[i], *proof[i:]]
    for i in range(len(proof) + 1):
        yield [*proof[:i], junk, *proof[i:]]
    for i in range(len(proof)):
        for j in range(i + 1, len(proof)):
            if proof[i] != proof[j]:
                swapped = list(proof)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                yield swapped


trees = st.integers(min_value=1, max_value=300).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.binary(min_size=1, max_size=8))
)
masks = st.integers(min_value=1, max_value=255)
junk_hashes = st.binary(min_size=32, max_size=32)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(tree=trees, mask=masks, junk=junk_hashes, data=st.data())
def test_mutated_inclusion_proofs_fail(tree, mask, junk, data):
    n, m, salt = tree
    leaves = [salt + i.to_bytes(4, "big") for i in range(n)]
    root = merkle.root(leaves)
    proof = merkle.inclusion_proof(leaves, m)
    assert merkle.verify_inclusion(leaves[m], m, n, proof, root)

    for bad in _flips(proof, mask):
        assert not merkle.verify_inclusion(leaves[m], m, n, bad, root)
    for bad in _reshapes(proof, junk):
        assert not merkle.verify_inclusion(leaves[m], m, n, bad, root)
    if len(proof) > 1 and proof[::-1] != proof:
        assert not merkle.verify_inclusion(leaves[m], m, n, proof[::-1], root)
    # a different index, leaf or root
    for other in {m - 1, m + 1, m ^ 1, m ^ 2, data.draw(st.integers(0, 2 * n))} - {m}:
        assert not merkle.verify_inclusion(leaves[m], other, n, proof, root)
    for other in {m - 1, m + 1} & set(range(n)):
        assert not merkle.verify_inclusion(leaves[other], m, n, proof, root)
    assert not merkle.verify_inclusion(leaves[m] + b"x", m, n, proof, root)
    for j in range(32):
        bad_root = bytearray(root)
        bad_root[j] ^= mask
        assert not merkle.verify_inclusion(leaves[m], m, n, proof, bytes(bad_root))
    assert not merkle.verify_inclusion(leaves[m], m, n, proof, EMPTY)
    # A proof does not bind the size, only the tree's shape along the path (for
    # leaf 0 the trees of 3 and 4 leaves look alike); the signed checkpoint
    # binds the size to the root. A changed size must fail exactly when the
    # reference finds the shape wrong, and always when the path length differs.
    h = merkle.leaf_hash(leaves[m])
    for other in {n - 1, n + 1, 2 * n, n // 2, data.draw(st.integers(0, 4 * n))} - {n}:
        got = merkle.verify_inclusion(leaves[m], m, other, proof, root)
        assert got == ref_verify_inclusion(h, m, other, proof, root)
        if 0 <= m < other and ref_path_len(m, other) != len(proof):
            assert not got


consistency_trees = st.integers(min_value=2, max_value=300).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(1, n - 1), st.binary(min_size=1, max_size=8))
)


@PROPERTY
@given(tree=consistency_trees, mask=masks, junk=junk_hashes, data=st.data())
def test_mutated_consistency_proofs_fail(tree, mask, junk, data):
    n, m, salt = tree
    leaves = [salt + i.to_bytes(4, "big") for i in range(n)]
    r1, r2 = merkle.root(leaves[:m]), merkle.root(leaves)
    proof = merkle.consistency_proof(leaves, m)
    assert merkle.verify_consistency(m, n, r1, r2, proof)

    for bad in _flips(proof, mask):
        assert not merkle.verify_consistency(m, n, r1, r2, bad)
    for bad in _reshapes(proof, junk):
        assert not merkle.verify_consistency(m, n, r1, r2, bad)
    for bad in ([r1, *proof], [*proof, r1], [r2, *proof], [*proof, r2], proof[:-1], []):
        assert not merkle.verify_consistency(m, n, r1, r2, bad)
    assert not merkle.verify_consistency(m, n, r2, r1, proof)
    for j in range(32):
        for r in (r1, r2):
            bad_root = bytearray(r)
            bad_root[j] ^= mask
            args = (bytes(bad_root), r2) if r is r1 else (r1, bytes(bad_root))
            assert not merkle.verify_consistency(m, n, *args, proof)
    # As with inclusion, the sizes are bound by the shape only; each changed
    # pair must get the reference's answer, and fail when the length differs.
    others = {
        (m - 1, n),
        (m + 1, n),
        (m ^ 2, n),
        (m, n + 1),
        (m, n - 1),
        (m, 2 * n),
        (m, n // 2),
        (data.draw(st.integers(0, n)), data.draw(st.integers(0, 2 * n))),
    } - {(m, n)}
    for o, s in others:
        got = merkle.verify_consistency(o, s, r1, r2, proof)
        assert got == ref_verify_consistency(o, s, r1, r2, proof), (o, s)
        if 0 < o < s and ref_proof_len(o, s) != len(proof):
            assert not got


@PROPERTY
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=120), st.data())
def test_valid_proofs_always_verify(leaves, data):
    n = len(leaves)
    root = merkle.root(leaves)
    assert root == ref_mth(leaves)
    m = data.draw(st.integers(0, n - 1))
    assert merkle.verify_inclusion(leaves[m], m, n, merkle.inclusion_proof(leaves, m), root)
    old = data.draw(st.integers(0, n))
    proof = merkle.consistency_proof(leaves, old)
    assert merkle.verify_consistency(old, n, merkle.root(leaves[:old]), root, proof)


def test_leaf_and_node_hashes_are_domain_separated():
    # A leaf whose data is two child hashes must not hash like their parent.
    left, right = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.leaf_hash(left + right) != merkle.node_hash(left, right)
    # and a one-leaf tree cannot pass for the two-leaf tree it encodes
    two = merkle.root([b"a", b"b"])
    assert not merkle.verify_inclusion(left + right, 0, 1, [], two)
