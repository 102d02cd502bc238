"""Pairwise masks over Z/2^128 from ephemeral X25519 keys: they hide inputs and cancel in sums.

Every pair of parties (i, j) agrees on a seed by X25519 and HKDF-SHA256 (info =
domain ‖ session id ‖ both MSP ids in sorted order), and expands it with
SHAKE-256 into one ring element per vector element. With parties ordered by
MSP id, party i adds the pair's mask for every j after it and subtracts it
for every j before it, so the masks cancel exactly in the sum of all masked
vectors, while a single masked vector is uniform to anyone who holds neither
private key of any of its pairs: the aggregator holds none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tensorledger.errors import InvalidRequestError
from tensorledger.secagg.encoding import (
    ELEMENT_BYTES,
    MODULUS,
    RingVector,
    from_bytes,
    ring_sum,
    to_bytes,
)

#: separates these seeds from any other use of the same keys (versioned, so a
#: later change of the derivation can never reuse a v1 seed)
DOMAIN = b"tensorledger/secagg/v1"
KEY_BYTES = 32


def generate_key() -> X25519PrivateKey:
    """A fresh ephemeral X25519 private key: one per party per session, never reused."""
    return X25519PrivateKey.generate()


def public_key_hex(key: X25519PrivateKey) -> str:
    """The raw 32-byte public key as 64 lower-case hex digits (what RegisterKey takes)."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def load_public_key(value: str | bytes | X25519PublicKey, owner: str = "peer") -> X25519PublicKey:
    """A peer's public key from its hex or raw 32 bytes; InvalidRequestError names `owner`."""
    if isinstance(value, X25519PublicKey):
        return value
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
    except ValueError:
        raise InvalidRequestError(f"the public key of {owner} is not hex") from None
    if len(raw) != KEY_BYTES:
        raise InvalidRequestError(
            f"the public key of {owner} has {len(raw)} bytes; X25519 keys have {KEY_BYTES}"
        )
    return X25519PublicKey.from_public_bytes(raw)


def pair_seed(
    session_id: str,
    me: str,
    peer: str,
    my_private_key: X25519PrivateKey,
    peer_public_key: X25519PublicKey,
) -> bytes:
    """The 32-byte seed the pair (me, peer) shares in this session; both sides derive the same.

    The session id in `info` makes masks differ between sessions even if a
    key were reused, and the sorted pair makes the derivation symmetric.
    """
    try:
        shared = my_private_key.exchange(peer_public_key)
    except ValueError:  # a low-order point gives the all-zero secret
        raise InvalidRequestError(
            f"the public key of {peer} is a low-order point; it cannot agree on a secret"
        ) from None
    first, second = sorted((me, peer))
    info = b"\0".join((DOMAIN, *(s.encode("utf-8") for s in (session_id, first, second))))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def expand(seed: bytes, length: int) -> RingVector:
    """`length` ring elements from SHAKE-256(seed): each is uniform in Z/2^128."""
    return from_bytes(hashlib.shake_256(seed).digest(ELEMENT_BYTES * length))


def mask(
    session_id: str,
    me: str,
    my_private_key: X25519PrivateKey,
    peer_public_keys: Mapping[str, str | bytes | X25519PublicKey],
    vector: RingVector,
) -> RingVector:
    """`vector` plus `me`'s pairwise masks: added for peers after `me`, subtracted for those before.

    `peer_public_keys` holds every other party's key (by MSP id) and not
    `me`'s: a missing peer would leave its masks uncancelled in the sum.
    """
    if me in peer_public_keys:
        raise InvalidRequestError(f"the peer keys include {me} itself; pass only other parties")
    if not peer_public_keys:
        raise InvalidRequestError("masking needs at least one peer")
    masked: RingVector = np.array([int(v) % MODULUS for v in vector], dtype=object)
    for peer in sorted(peer_public_keys):
        key = load_public_key(peer_public_keys[peer], peer)
        stream = expand(pair_seed(session_id, me, peer, my_private_key, key), len(masked))
        masked = (masked + stream if peer > me else masked - stream) % MODULUS
    return masked


def unmask_sum(masked_vectors: Iterable[RingVector]) -> RingVector:
    """The sum of every party's masked vector: the masks cancel, leaving the sum of inputs."""
    return ring_sum(masked_vectors)


def masked_digest(vector: RingVector) -> str:
    """Hex SHA-256 of the vector's canonical bytes (16 little-endian bytes per element)."""
    return hashlib.sha256(to_bytes(vector)).hexdigest()
