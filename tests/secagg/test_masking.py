"""Pairwise masks: they cancel exactly in the sum, hide each input, and need a party's private key.

The reference masks are derived here from the spec (X25519, HKDF-SHA256 with
info = domain ‖ session ‖ sorted pair, SHAKE-256, 16 little-endian bytes per
element), not from the code under test.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import tensorledger as tl
from tensorledger.secagg import encoding, masking

M = 1 << 128


def msps(n: int) -> list[str]:
    # not in sorted order on purpose: the masks must order parties by MSP id
    return [f"Org{i}MSP" for i in random.Random(n).sample(range(1, n + 1), n)]


def reference_stream(
    session: str, a: str, b: str, a_key: X25519PrivateKey, b_pub: X25519PublicKey, length: int
) -> list[int]:
    first, second = sorted((a, b))
    info = b"tensorledger/secagg/v1\0" + f"{session}\0{first}\0{second}".encode()
    seed = HKDF(hashes.SHA256(), 32, None, info).derive(a_key.exchange(b_pub))
    data = hashlib.shake_256(seed).digest(16 * length)
    return [int.from_bytes(data[16 * i : 16 * i + 16], "little") for i in range(length)]


def run(
    n: int, length: int, session: str = "s1"
) -> tuple[list[str], dict[str, X25519PrivateKey], dict[str, list[int]], dict[str, np.ndarray]]:
    names = msps(n)
    keys = {m: X25519PrivateKey.generate() for m in names}
    rng = random.Random(n * 1000 + length)
    inputs = {m: [rng.randrange(M) for _ in range(length)] for m in names}
    masked = {
        m: masking.mask(
            session,
            m,
            keys[m],
            {p: masking.public_key_hex(keys[p]) for p in names if p != m},
            np.array(inputs[m], dtype=object),
        )
        for m in names
    }
    return names, keys, inputs, masked


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_masks_cancel_exactly_in_the_sum(n: int) -> None:
    names, _, inputs, masked = run(n, 64)
    expected = [sum(col) % M for col in zip(*inputs.values(), strict=True)]
    assert [int(v) for v in masking.unmask_sum(masked.values())] == expected
    # dropping any one party's masked vector leaves masks that do not cancel
    for m in names:
        partial = [int(v) for v in masking.unmask_sum(v for k, v in masked.items() if k != m)]
        rest = [sum(inputs[k][i] for k in names if k != m) % M for i in range(64)]
        assert partial != rest


@pytest.mark.parametrize("n", [2, 3, 5])
def test_masks_follow_the_specified_derivation(n: int) -> None:
    names, keys, inputs, masked = run(n, 16, session="derivation")
    for m in names:
        expected = list(inputs[m])
        for p in names:
            if p == m:
                continue
            stream = reference_stream("derivation", m, p, keys[m], keys[p].public_key(), 16)
            sign = 1 if p > m else -1
            expected = [(v + sign * s) % M for v, s in zip(expected, stream, strict=True)]
        assert [int(v) for v in masked[m]] == expected


def test_a_masked_vector_differs_from_its_input_and_looks_uniform() -> None:
    length = 4096
    names, _, _, _ = run(3, 1)
    keys = {m: X25519PrivateKey.generate() for m in names}
    zeros = np.zeros(length, dtype=object)
    for m in names:
        peers = {p: keys[p].public_key() for p in names if p != m}
        masked = [int(v) for v in masking.mask("uniform", m, keys[m], peers, zeros)]
        assert all(v != 0 for v in masked)
        assert len(set(masked)) == length
        # each of a few bit positions is set in about half the elements (6 sd: 2048 ± 192)
        for bit in (127, 126, 100, 64, 63, 0):
            ones = sum((v >> bit) & 1 for v in masked)
            assert abs(ones - length / 2) < 6 * (length / 4) ** 0.5, (m, bit, ones)


def test_removing_a_partys_masks_needs_its_private_key() -> None:
    names, keys, inputs, masked = run(3, 32, session="strip")
    outsider = X25519PrivateKey.generate()  # what an aggregator holds: its own key, public keys
    for m in names:

        def strip(key: X25519PrivateKey, me: str) -> list[int]:
            out = [int(v) for v in masked[me]]
            for p in names:
                if p != me:
                    s = reference_stream("strip", me, p, key, keys[p].public_key(), 32)
                    sign = 1 if p > me else -1
                    out = [(v - sign * x) % M for v, x in zip(out, s, strict=True)]
            return out

        assert strip(keys[m], m) == inputs[m]  # with m's private key: its input
        assert strip(outsider, m) != inputs[m]  # with any other key: noise
        assert all(a != b for a, b in zip(strip(outsider, m), inputs[m], strict=True))


def test_sessions_give_different_masks_for_the_same_keys() -> None:
    a, b = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    zero = np.zeros(8, dtype=object)
    one = masking.mask("s-1", "AMSP", a, {"BMSP": b.public_key()}, zero)
    two = masking.mask("s-2", "AMSP", a, {"BMSP": b.public_key()}, zero)
    assert list(one) != list(two)


def test_a_missing_peer_leaves_the_sum_masked() -> None:
    names, keys, inputs, masked = run(3, 8, session="missing")
    first, _, last = names
    # the first party masks without the last party's key: its pair mask stays in the sum
    masked[first] = masking.mask(
        "missing",
        first,
        keys[first],
        {p: keys[p].public_key() for p in names if p not in (first, last)},
        np.array(inputs[first], dtype=object),
    )
    expected = [sum(col) % M for col in zip(*inputs.values(), strict=True)]
    assert [int(v) for v in masking.unmask_sum(masked.values())] != expected


def test_bad_peer_keys_are_refused_by_name() -> None:
    me = X25519PrivateKey.generate()
    vec = np.zeros(2, dtype=object)
    with pytest.raises(tl.InvalidRequestError, match="include AMSP itself"):
        masking.mask("s", "AMSP", me, {"AMSP": me.public_key()}, vec)
    with pytest.raises(tl.InvalidRequestError, match="at least one peer"):
        masking.mask("s", "AMSP", me, {}, vec)
    with pytest.raises(tl.InvalidRequestError, match="public key of BMSP is not hex"):
        masking.mask("s", "AMSP", me, {"BMSP": "zz" * 32}, vec)
    with pytest.raises(tl.InvalidRequestError, match="public key of BMSP has 31 bytes"):
        masking.mask("s", "AMSP", me, {"BMSP": "00" * 31}, vec)
    with pytest.raises(tl.InvalidRequestError, match="BMSP is a low-order point"):
        masking.mask("s", "AMSP", me, {"BMSP": "00" * 32}, vec)


def test_masked_digest_is_sha256_of_little_endian_elements() -> None:
    vec = np.array([1, M - 1, 2**70], dtype=object)
    raw = b"".join(int(v).to_bytes(16, "little") for v in vec)
    assert masking.masked_digest(vec) == hashlib.sha256(raw).hexdigest()
    assert encoding.to_bytes(vec) == raw
