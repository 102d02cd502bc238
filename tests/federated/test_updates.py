"""Update encoding: digests against an RFC 9162 recomputation; fetch refuses tampering."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tensorledger.errors import IntegrityError, InvalidRequestError
from tensorledger.federated.updates import fetch_update, model_digest, store_update

NAMES = ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]


def tensors(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = [(5, 4), (4,), (4, 1), (1,)]
    return [rng.normal(size=s).astype(np.float32) for s in shapes]


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1, written out."""
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def reference_digest(names: list[str], arrays: list[np.ndarray]) -> str:
    leaves = []
    for name, a in zip(names, arrays, strict=True):
        header = f"{a.dtype.name}\x00{json.dumps(list(a.shape), separators=(',', ':'))}\x00"
        digest = hashlib.sha256(header.encode() + a.astype(a.dtype.newbyteorder("<")).tobytes())
        leaves.append(name.encode() + b"\x00" + digest.digest())
    return mth(leaves).hex()


@pytest.fixture
def gw(tmp_path: Path) -> SimpleNamespace:
    """All `store_update`/`fetch_update` use of a gateway is its directory."""
    return SimpleNamespace(root=tmp_path)


def test_digest_is_the_rfc9162_root_over_named_tensor_hashes() -> None:
    arrays = tensors()
    assert model_digest(NAMES, arrays) == reference_digest(NAMES, arrays)
    # order, names, values and dtype are all inside the digest
    assert model_digest(NAMES[::-1], arrays[::-1]) != model_digest(NAMES, arrays)
    assert model_digest(["x", *NAMES[1:]], arrays) != model_digest(NAMES, arrays)
    bumped = [a.copy() for a in arrays]
    bumped[3][0] = np.nextafter(bumped[3][0], np.float32(np.inf))
    assert model_digest(NAMES, bumped) != model_digest(NAMES, arrays)
    assert model_digest(NAMES, [a.astype(np.float64) for a in arrays]) != model_digest(
        NAMES, arrays
    )


def test_store_then_fetch_gives_the_same_tensors_bit_for_bit(gw: SimpleNamespace) -> None:
    arrays = tensors()
    stored = store_update(gw, NAMES, arrays)
    assert stored.root == reference_digest(NAMES, arrays)
    names, back = fetch_update(gw, stored.object, stored.root, "job j round 1 update of A")
    assert names == NAMES
    assert [b.tobytes() for b in back] == [a.tobytes() for a in arrays]
    assert [b.shape for b in back] == [a.shape for a in arrays]
    assert store_update(gw, NAMES, arrays) == stored  # content addressed: same object


def test_a_flipped_byte_in_the_chunk_store_is_named(gw: SimpleNamespace) -> None:
    stored = store_update(gw, NAMES, tensors())
    chunks = [p for p in (gw.root / "blobs").rglob("*") if p.is_file()]
    manifest = next(p for p in chunks if p.name == stored.object)
    (data,) = [p for p in chunks if p != manifest]
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.chmod(0o644)
    data.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError) as caught:
        fetch_update(gw, stored.object, stored.root, "job j round 2 update of Org2")
    assert caught.value.where.startswith("job j round 2 update of Org2")


def test_tensors_that_do_not_give_the_recorded_digest_are_refused(gw: SimpleNamespace) -> None:
    stored = store_update(gw, NAMES, tensors(0))
    other = store_update(gw, NAMES, tensors(1))
    with pytest.raises(IntegrityError) as caught:
        fetch_update(gw, other.object, stored.root, "job j round 1 update of Org3")
    assert caught.value.where == "job j round 1 update of Org3"
    assert stored.root in caught.value.detail


def test_a_missing_object_is_an_integrity_failure_naming_the_update(gw: SimpleNamespace) -> None:
    with pytest.raises(IntegrityError, match="update of Org1 object"):
        fetch_update(gw, "ab" * 32, "cd" * 32, "job j round 1 update of Org1")


def test_a_tensor_count_that_does_not_match_the_names_is_refused(gw: SimpleNamespace) -> None:
    with pytest.raises(InvalidRequestError, match="holds 3 tensors but the model has 4"):
        store_update(gw, NAMES, tensors()[:3])
    assert not (gw.root / "blobs").exists() or not any((gw.root / "blobs").rglob("*.tmp"))
