"""The embedded ledger's blocks and transactions are Fabric's, checked from outside.

Every expected value is computed here from Fabric's rules with the generated
protos, `cryptography` and the DER writer in `fabric_reference`, never by
calling the ledger's own hashing or parsing code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from hypothesis import given
from hypothesis import strategies as st

import tensorledger as tl
from tests.ledger.busy_ledger import BusyLedger
from tests.ledger.fabric_reference import (
    ENDORSEMENT_POLICY_FAILURE,
    SIGNATURES,
    TRANSACTIONS_FILTER,
    VALID,
    block_header_der,
    creator,
    decode_tx,
    der_length,
    der_octets,
    der_uint,
    ecdsa_verifies,
    is_low_s,
)
from tests.ledger.ledger_state import (
    header_of,
    metadata_of,
    signcert,
    stored_blocks,
    stored_envelope,
)

ENDORSER_TRANSACTION = 3  # common.HeaderType
CONFIG = 1


# -- the reference DER writer is right ------------------------------------------------


def test_der_writer_known_answers() -> None:
    assert der_uint(0) == bytes.fromhex("020100")
    assert der_uint(127) == bytes.fromhex("02017f")
    assert der_uint(128) == bytes.fromhex("02020080")
    assert der_uint(256) == bytes.fromhex("02020100")
    assert der_length(127) == b"\x7f"
    assert der_length(200) == bytes.fromhex("81c8")
    assert der_length(300) == bytes.fromhex("82012c")
    assert der_octets(b"") == b"\x04\x00"
    # Block 1 with a 32-byte previous hash: 30 LL 02 01 01 04 20 .. 04 20 ..
    der = block_header_der(1, b"\xaa" * 32, b"\xbb" * 32)
    assert der[:7] == bytes.fromhex("3047020101" + "0420")
    assert len(der) == 2 + 0x47


@given(st.integers(min_value=0, max_value=2**200))
def test_der_integer_matches_cryptography(n: int) -> None:
    # encode_dss_signature writes SEQUENCE{INTEGER r, INTEGER s}; its INTEGER is independent.
    seq = encode_dss_signature(n, 1)
    body = der_uint(n) + der_uint(1)
    assert seq == b"\x30" + der_length(len(body)) + body


@given(st.binary(min_size=1, max_size=400))
def test_der_octet_string_matches_cryptography(data: bytes) -> None:
    # A SubjectKeyIdentifier extension value is exactly an OCTET STRING.
    assert x509.SubjectKeyIdentifier(data).public_bytes() == der_octets(data)


@given(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.binary(max_size=64),
    st.binary(min_size=32, max_size=32),
)
def test_ledger_header_bytes_equal_the_reference_der(
    number: int, previous: bytes, data_hash: bytes
) -> None:
    # The chain test below only reaches small block numbers; this covers every uint64.
    from tensorledger.ledger import block

    header = common_pb2.BlockHeader(number=number, previous_hash=previous, data_hash=data_hash)
    assert block.header_bytes(header) == block_header_der(number, previous, data_hash)
    assert (
        block.header_hash(header)
        == hashlib.sha256(block_header_der(number, previous, data_hash)).digest()
    )


# -- transaction ids and creators --------------------------------------------------------


def test_submit_tx_id_is_sha256_of_nonce_and_creator(ledger_path: Path) -> None:
    with tl.connect(ledger_path, identity="Org1") as gw:
        res = gw.network("mychannel").contract("datacontract").submit("storeData", "k", "v")
    tx = decode_tx(stored_envelope(ledger_path, res.tx_id))
    nonce, creator_bytes = tx.signature_header.nonce, tx.signature_header.creator
    assert res.tx_id == hashlib.sha256(nonce + creator_bytes).hexdigest()
    assert tx.channel_header.tx_id == res.tx_id
    assert len(nonce) == 24  # Fabric's SDKs use 24 random bytes
    assert tx.channel_header.type == ENDORSER_TRANSACTION
    assert tx.channel_header.channel_id == "mychannel"
    who = creator(creator_bytes)
    assert who.msp_id == "Org1MSP"
    assert who.cert_pem == signcert(
        ledger_path, "users", "org1.example.com", "User1@org1.example.com"
    )


def test_every_transaction_id_and_creator_signature(busy: BusyLedger) -> None:
    user_certs = {
        signcert(busy.path, "users", f"org{i}.example.com", f"{u}@org{i}.example.com")
        for i in (1, 2)
        for u in ("User1", "Admin")
    }
    seen = set()
    for block in stored_blocks(busy.path)[1:]:
        for raw in block.envelopes:
            tx = decode_tx(raw)
            shdr = tx.signature_header
            assert tx.channel_header.tx_id == hashlib.sha256(shdr.nonce + shdr.creator).hexdigest()
            who = creator(shdr.creator)
            assert who.cert_pem in user_certs
            assert ecdsa_verifies(who.public_key, tx.envelope.payload, tx.envelope.signature)
            assert is_low_s(tx.envelope.signature)
            seen.add(tx.channel_header.tx_id)
    assert {t.tx_id for t in busy.txs} <= seen


def test_genesis_is_a_config_block_signed_by_the_orderer(busy: BusyLedger) -> None:
    genesis = stored_blocks(busy.path)[0]
    assert len(genesis.envelopes) == 1
    env = common_pb2.Envelope.FromString(genesis.envelopes[0])
    payload = common_pb2.Payload.FromString(env.payload)
    chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    assert chdr.type == CONFIG and chdr.channel_id == "mychannel"
    shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
    orderer = creator(shdr.creator)
    assert orderer.msp_id == "OrdererMSP"
    assert orderer.cert_pem == signcert(busy.path, "orderers", "example.com", "orderer.example.com")
    assert ecdsa_verifies(orderer.public_key, env.payload, env.signature)


# -- blocks ------------------------------------------------------------------------------


def test_blocks_chain_with_fabric_header_hashing(busy: BusyLedger) -> None:
    blocks = stored_blocks(busy.path)
    assert len(blocks) >= 10
    previous = b""
    for i, block in enumerate(blocks):
        header = header_of(block)
        assert block.number == i and header.number == i
        assert header.previous_hash == previous, f"block {i} does not link"
        assert header.data_hash == hashlib.sha256(b"".join(block.envelopes)).digest()
        previous = hashlib.sha256(
            block_header_der(header.number, header.previous_hash, header.data_hash)
        ).digest()
    assert len(blocks[busy.multi_tx_block].envelopes) == 7


def test_orderer_signs_every_block_header(busy: BusyLedger) -> None:
    orderer_cert = signcert(busy.path, "orderers", "example.com", "orderer.example.com")
    for block in stored_blocks(busy.path):
        header = header_of(block)
        md = common_pb2.Metadata.FromString(metadata_of(block).metadata[SIGNATURES])
        assert len(md.signatures) == 1
        sig = md.signatures[0]
        signer = creator(common_pb2.SignatureHeader.FromString(sig.signature_header).creator)
        assert signer.cert_pem == orderer_cert
        # Fabric's BlockSignatureVerifier: value || signature_header || BlockHeaderBytes.
        signed = (
            md.value
            + sig.signature_header
            + block_header_der(header.number, header.previous_hash, header.data_hash)
        )
        assert ecdsa_verifies(signer.public_key, signed, sig.signature), block.number
        assert is_low_s(sig.signature)


def test_transactions_filter_holds_the_validation_codes(busy: BusyLedger) -> None:
    blocks = stored_blocks(busy.path)
    for block in blocks:
        tx_filter = bytes(metadata_of(block).metadata[TRANSACTIONS_FILTER])
        assert len(tx_filter) == len(block.envelopes)
    first = busy.txs[0].block
    for block in blocks[:first]:  # genesis and the DataContract's lifecycle transactions
        assert bytes(metadata_of(block).metadata[TRANSACTIONS_FILTER]) == bytes(
            [VALID] * len(block.envelopes)
        )
    for block in blocks[first:]:
        recorded = [t for t in busy.txs if t.block == block.number]
        tx_ids = [decode_tx(e).channel_header.tx_id for e in block.envelopes]
        assert tx_ids == [t.tx_id for t in recorded]
        assert bytes(metadata_of(block).metadata[TRANSACTIONS_FILTER]) == bytes(
            t.code for t in recorded
        ), f"block {block.number}"


def test_policy_failure_lands_in_the_filter_of_a_fresh_ledger(ledger_path: Path) -> None:
    with tl.connect(ledger_path, identity="Org1") as gw:
        contract = gw.network("mychannel").contract("datacontract")
        with pytest.raises(tl.CommitError) as err:
            contract.submit("storeData", "k", "v", endorsing_orgs=["Org1MSP"])
        assert err.value.code == "ENDORSEMENT_POLICY_FAILURE"
    block = stored_blocks(ledger_path)[err.value.block or 0]
    assert decode_tx(block.envelopes[0]).channel_header.tx_id == err.value.tx_id
    assert bytes(metadata_of(block).metadata[TRANSACTIONS_FILTER]) == bytes(
        [ENDORSEMENT_POLICY_FAILURE]
    )


# -- endorsements ---------------------------------------------------------------------------


def test_endorsements_are_peer_signatures_over_the_response(busy: BusyLedger) -> None:
    peers = {
        f"Org{i}MSP": signcert(
            busy.path, "peers", f"org{i}.example.com", f"peer0.org{i}.example.com"
        )
        for i in (1, 2)
    }
    checked = 0
    for t in busy.txs:
        tx = decode_tx(stored_envelope(busy.path, t.tx_id))
        endorsers = []
        for e in tx.endorsements:
            who = creator(e.endorser)
            assert who.cert_pem == peers[who.msp_id]
            assert who.org_units == ["peer"]
            signed = tx.action_payload.action.proposal_response_payload + e.endorser
            assert ecdsa_verifies(who.public_key, signed, e.signature)
            assert is_low_s(e.signature)
            endorsers.append(who.msp_id)
            checked += 1
        expected = ["Org1MSP"] if t.code == ENDORSEMENT_POLICY_FAILURE else ["Org1MSP", "Org2MSP"]
        assert sorted(endorsers) == expected, t
    assert checked >= 2 * len(busy.txs) - 1


def test_proposal_hash_binds_response_to_proposal(busy: BusyLedger) -> None:
    for t in busy.txs:
        tx = decode_tx(stored_envelope(busy.path, t.tx_id))
        # protoutil.GetProposalHash1: channel header || signature header || payload sans transient.
        expected = hashlib.sha256(
            tx.payload.header.channel_header
            + tx.payload.header.signature_header
            + tx.action_payload.chaincode_proposal_payload
        ).digest()
        assert tx.response_payload.proposal_hash == expected


def test_read_write_sets_are_fabric_kv_with_block_tx_versions(busy: BusyLedger) -> None:
    store_k0, delete_k0 = busy.txs[0], busy.txs[5]
    assert delete_k0.event == ("DataDeleted", b"k0")

    def kv(tx_id: str) -> kv_rwset_pb2.KVRWSet:
        action = decode_tx(stored_envelope(busy.path, tx_id)).action
        rw = rwset_pb2.TxReadWriteSet.FromString(action.results)
        assert rw.data_model == rwset_pb2.TxReadWriteSet.KV
        (ns,) = rw.ns_rwset
        assert ns.namespace == "datacontract"
        return kv_rwset_pb2.KVRWSet.FromString(ns.rwset)

    written = kv(store_k0.tx_id)
    assert [(w.key, w.value, w.is_delete) for w in written.writes] == [("k0", b"v0", False)]
    assert list(written.reads) == []  # storeData is a blind write
    deleted = kv(delete_k0.tx_id)
    (read,) = deleted.reads
    # Version = height of the writing transaction: its block and its index in the block.
    assert (read.key, read.version.block_num, read.version.tx_num) == ("k0", store_k0.block, 0)
    assert [(w.key, w.is_delete) for w in deleted.writes] == [("k0", True)]


def test_response_and_chaincode_id_are_endorsed(busy: BusyLedger) -> None:
    tx = decode_tx(stored_envelope(busy.path, busy.txs[1].tx_id))
    assert tx.action.response.status == 200
    assert tx.action.response.payload == b"Data with ID k1 stored successfully."
    assert tx.action.chaincode_id.name == "datacontract"
    assert tx.action.chaincode_id.version == "1.0"


# -- channels ---------------------------------------------------------------------------------


def test_channels_are_separate_ledgers(tmp_path: Path) -> None:
    path = tl.init(tmp_path / "ledger", orgs=["Org1", "Org2"], channels=("alpha", "beta"))
    beta_before = stored_blocks(path, "beta")
    with tl.connect(path, identity="Org1") as gw:
        alpha = gw.network("alpha").contract("datacontract")
        beta = gw.network("beta").contract("datacontract")
        res = alpha.submit("storeData", "shared-id", "alpha only")
        assert alpha.evaluate("retrieveData", "shared-id") == b"alpha only"
        with pytest.raises(tl.ContractError) as err:
            beta.evaluate("retrieveData", "shared-id")
        assert err.value.message == "Data with ID shared-id does not exist."
        with pytest.raises(tl.NotFoundError):
            gw.prove(res.tx_id, channel="beta")
        beta.submit("storeData", "shared-id", "beta only")
        assert alpha.evaluate("retrieveData", "shared-id") == b"alpha only"
        assert beta.evaluate("retrieveData", "shared-id") == b"beta only"
        assert gw.network("alpha").checkpoint() != gw.network("beta").checkpoint()
    assert stored_blocks(path, "beta")[: len(beta_before)] == beta_before
    alpha_ids = {
        decode_tx(e).channel_header.tx_id
        for b in stored_blocks(path, "alpha")[1:]
        for e in b.envelopes
    }
    beta_envs = [decode_tx(e) for b in stored_blocks(path, "beta")[1:] for e in b.envelopes]
    assert res.tx_id in alpha_ids
    assert res.tx_id not in {t.channel_header.tx_id for t in beta_envs}
    assert {t.channel_header.channel_id for t in beta_envs} == {"beta"}


def test_unknown_channel_is_a_config_error(ledger_path: Path) -> None:
    with tl.connect(ledger_path, identity="Org1") as gw:
        with pytest.raises(tl.ConfigError, match="no channel 'other'"):
            gw.network("other").contract("datacontract").evaluate("retrieveData", "k")
