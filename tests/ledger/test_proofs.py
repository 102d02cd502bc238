"""Offline proofs: inclusion of a transaction and consistency of two checkpoints.

Each proof is also re-checked with the RFC 9162 and signed-note code in
`fabric_reference`, and every corruption of a valid proof must be refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import tensorledger as tl
from tensorledger.ledger.proof import ConsistencyProof, TransactionProof
from tests.ledger.busy_ledger import BusyLedger
from tests.ledger.fabric_reference import (
    ENDORSEMENT_POLICY_FAILURE,
    TRANSACTIONS_FILTER,
    VALID,
    log_entry,
    mth,
    note_key,
    note_signed_by,
    parse_note,
    root_from_inclusion,
)
from tests.ledger.ledger_state import metadata_of, signcert, stored_blocks, stored_envelope


def log_entries(ledger: Path, channel: str = "mychannel") -> list[bytes]:
    """The log's leaves: each transaction the TRANSACTIONS_FILTER marks valid, in chain order,
    as (block, position, envelope)."""
    out = []
    for block in stored_blocks(ledger, channel):
        codes = bytes(metadata_of(block).metadata[TRANSACTIONS_FILTER])
        out += [
            log_entry(block.number, i, e)
            for i, (e, c) in enumerate(zip(block.envelopes, codes, strict=True))
            if c == VALID
        ]
    return out


@pytest.fixture(scope="module")
def busy_gw(busy: BusyLedger) -> Iterator[tl.Gateway]:
    with tl.connect(busy.path, identity="Org2") as gw:
        yield gw


@pytest.fixture(scope="module")
def proof(busy: BusyLedger, busy_gw: tl.Gateway) -> TransactionProof:
    return busy_gw.prove(busy.valid[3].tx_id)


@pytest.fixture(scope="module")
def key(busy_gw: tl.Gateway) -> str:
    return busy_gw.network("mychannel").verifier_key()


# -- inclusion ---------------------------------------------------------------------------


def test_every_valid_transaction_has_a_proof_that_checks_independently(
    busy: BusyLedger, busy_gw: tl.Gateway, key: str
) -> None:
    leaves = log_entries(busy.path)
    newest = parse_note(busy_gw.network("mychannel").checkpoint())
    assert newest.size == len(leaves)
    assert newest.root == mth(leaves)
    for t in busy.valid:
        p = busy_gw.prove(t.tx_id)
        assert p.verify(key).size == newest.size
        assert (p.tx_id, p.channel, p.block) == (t.tx_id, "mychannel", t.block)
        assert p.envelope == stored_envelope(busy.path, t.tx_id)
        entry = log_entry(p.block, p.index, p.envelope)
        assert leaves[p.leaf_index] == entry
        assert note_signed_by(p.checkpoint, key)
        note = parse_note(p.checkpoint)
        assert root_from_inclusion(p.leaf_index, note.size, entry, list(p.path)) == note.root


def test_checkpoints_are_signed_by_the_orderer_key(busy: BusyLedger, key: str) -> None:
    name, _, public = note_key(key)
    assert name.endswith("/mychannel")
    cert_pem = signcert(busy.path, "orderers", "example.com", "orderer.example.com")
    cert_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert public.public_bytes(*spki) == cert_key.public_bytes(*spki)


def test_proof_fails_with_another_networks_key(tmp_path: Path, proof: TransactionProof) -> None:
    other = tl.init(tmp_path / "other", orgs=["Org1", "Org2"])
    with tl.connect(other, identity="Org1") as gw:
        other_key = gw.network("mychannel").verifier_key()
    with pytest.raises(tl.IntegrityError, match="checkpoint"):
        proof.verify(other_key)


def test_proof_fails_with_another_channels_key(tmp_path: Path) -> None:
    path = tl.init(tmp_path / "ledger", orgs=["Org1"], channels=("alpha", "beta"))
    with tl.connect(path, identity="Org1") as gw:
        res = gw.network("alpha").contract("datacontract").submit("storeData", "k", "v")
        p = gw.prove(res.tx_id, channel="alpha")
        p.verify(gw.network("alpha").verifier_key())
        with pytest.raises(tl.IntegrityError):
            p.verify(gw.network("beta").verifier_key())


def test_invalid_and_unknown_transactions_have_no_proof(
    busy: BusyLedger, busy_gw: tl.Gateway
) -> None:
    failed = next(t for t in busy.txs if t.code == ENDORSEMENT_POLICY_FAILURE)
    with pytest.raises(tl.NotFoundError, match="ENDORSEMENT_POLICY_FAILURE"):
        busy_gw.prove(failed.tx_id)
    with pytest.raises(tl.NotFoundError, match="no transaction"):
        busy_gw.prove("0" * 64)


def test_proof_json_round_trips(proof: TransactionProof, key: str) -> None:
    text = proof.to_json()
    again = TransactionProof.from_json(text)
    assert again == proof
    assert again.verify(key) == proof.verify(key)
    with pytest.raises(tl.InvalidRequestError, match="not a tensorledger transaction proof"):
        TransactionProof.from_json(text.replace("TransactionProof/v1", "TransactionProof/v0"))
    with pytest.raises(tl.InvalidRequestError, match="malformed proof"):
        TransactionProof.from_json(text[:-5])


def _flip(data: bytes, i: int, mask: int) -> bytes:
    return data[:i] + bytes([data[i] ^ mask]) + data[i + 1 :]


@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_every_byte_of_the_path_matters(proof: TransactionProof, key: str, mask: int) -> None:
    assert len(proof.path) >= 3
    for j, node in enumerate(proof.path):
        for i in range(len(node)):
            path = list(proof.path)
            path[j] = _flip(node, i, mask)
            with pytest.raises(tl.IntegrityError):
                dataclasses.replace(proof, path=tuple(path)).verify(key)


def test_every_byte_of_the_envelope_matters(proof: TransactionProof, key: str) -> None:
    for i in range(len(proof.envelope)):
        with pytest.raises(tl.IntegrityError):
            dataclasses.replace(proof, envelope=_flip(proof.envelope, i, 0x01)).verify(key)


def test_path_length_and_index_mutations_fail(proof: TransactionProof, key: str) -> None:
    size = parse_note(proof.checkpoint).size
    path = list(proof.path)
    variants = [
        {"path": tuple(path[:-1])},
        {"path": tuple(path[1:])},
        {"path": (*path, path[-1])},
        {"path": (path[0], *path)},
        {"path": ()},
        {"path": tuple(reversed(path))},
        {"path": (*path[:-1], path[-1] + b"\x00")},
        {"path": (*path[:-1], path[-1][:-1])},
        {"envelope": proof.envelope + b"\x00"},
        {"envelope": proof.envelope[:-1]},
        {"envelope": b""},
        {"tx_id": "0" * 64},
        {"channel": "otherchannel"},
    ]
    variants += [
        {"leaf_index": i}
        for i in {0, proof.leaf_index - 1, proof.leaf_index + 1, size - 1, size, size + 1, 2**64}
        if i != proof.leaf_index
    ]
    for change in variants:
        with pytest.raises(tl.IntegrityError):
            dataclasses.replace(proof, **change).verify(key)  # type: ignore[arg-type]


def test_negative_leaf_index_fails(proof: TransactionProof, key: str) -> None:
    with pytest.raises(tl.IntegrityError):
        dataclasses.replace(proof, leaf_index=-1).verify(key)


def test_every_character_of_the_checkpoint_matters(proof: TransactionProof, key: str) -> None:
    text = proof.checkpoint
    for i in range(len(text)):
        for replacement in ("x", "0"):
            if text[i] == replacement:
                continue
            mutated = text[:i] + replacement + text[i + 1 :]
            # A broken note is either malformed or fails its signature; never accepted.
            with pytest.raises((tl.IntegrityError, tl.InvalidRequestError)):
                dataclasses.replace(proof, checkpoint=mutated).verify(key)


def test_block_and_position_of_a_proof_are_authenticated(proof: TransactionProof, key: str) -> None:
    # Regression: the block number used to be outside the log leaf, so an edited
    # proof could name any block and still verify.
    for change in (
        {"block": proof.block + 1},
        {"block": proof.block - 1},
        {"block": 0},
        {"block": -1},
        {"block": 2**64},
        {"index": proof.index + 1},
        {"index": -1},
        {"index": 2**32},
    ):
        with pytest.raises(tl.IntegrityError):
            dataclasses.replace(proof, **change).verify(key)  # type: ignore[arg-type]


# -- consistency -----------------------------------------------------------------------------


@pytest.fixture
def grown(ledger_path: Path) -> Iterator[tuple[tl.Gateway, int, int]]:
    with tl.connect(ledger_path, identity="Org1") as gw:
        contract = gw.network("mychannel").contract("datacontract")
        for i in range(3):
            contract.submit("storeData", f"a{i}", "v")
        old = parse_note(gw.network("mychannel").checkpoint()).size
        for i in range(6):
            contract.submit("storeData", f"b{i}", "v")
        new = parse_note(gw.network("mychannel").checkpoint()).size
        yield gw, old, new


def test_consistency_between_checkpoints(
    ledger_path: Path, grown: tuple[tl.Gateway, int, int]
) -> None:
    gw, old, new = grown
    network = gw.network("mychannel")
    cp = network.consistency(old)
    old_cp, new_cp = cp.verify(network.verifier_key())
    assert (old_cp.size, new_cp.size) == (old, new)
    leaves = log_entries(ledger_path)
    assert len(leaves) == new
    assert old_cp.root == mth(leaves[:old]) and new_cp.root == mth(leaves)
    assert ConsistencyProof.from_json(cp.to_json()) == cp
    for size in range(1, new + 1):
        network.consistency(size).verify(network.verifier_key())


def test_consistency_proof_corruptions_fail(grown: tuple[tl.Gateway, int, int]) -> None:
    gw, old, _ = grown
    network = gw.network("mychannel")
    key = network.verifier_key()
    cp = network.consistency(old)
    assert cp.path
    for j, node in enumerate(cp.path):
        for i in range(len(node)):
            path = list(cp.path)
            path[j] = _flip(node, i, 0x01)
            with pytest.raises(tl.IntegrityError):
                dataclasses.replace(cp, path=tuple(path)).verify(key)
    for shorter_or_longer in (cp.path[:-1], (*cp.path, cp.path[0]), ()):
        with pytest.raises(tl.IntegrityError):
            dataclasses.replace(cp, path=tuple(shorter_or_longer)).verify(key)
    # Checkpoints swapped: the "old" one is now the larger.
    with pytest.raises(tl.IntegrityError):
        ConsistencyProof(cp.new_checkpoint, cp.old_checkpoint, cp.path).verify(key)


def test_consistency_refuses_impossible_sizes(grown: tuple[tl.Gateway, int, int]) -> None:
    gw, _, new = grown
    network = gw.network("mychannel")
    with pytest.raises(tl.NotFoundError):
        network.consistency(new + 5)
    with pytest.raises((tl.InvalidRequestError, tl.NotFoundError)):
        network.consistency(new, new - 1)
