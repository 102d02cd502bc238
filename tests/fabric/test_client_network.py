"""Our client on a real Fabric 2.1 network: the contract suite, equivalence, rejections, proofs.

Every rejection here is decided by Fabric itself (its orderer's policy
check, its committer's validation codes); the tests check that our client
reports it with the right error class and Fabric's reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.peer import transaction_pb2

import tensorledger as tl
from tensorledger.errors import (
    ContractError,
    EndorsementError,
    IdentityError,
    IntegrityError,
    NotFoundError,
    TensorLedgerError,
)
from tensorledger.gateway._fabric import FabricBackend
from tensorledger.ledger.fabric_proof import FabricBlockProof
from tests.contract_suite import DataContractSuite
from tests.fabric.conftest import CHANNEL

pytestmark = pytest.mark.fabric

CC = "datacontract"


class TestFabricDataContract(DataContractSuite):
    """The abstract suite, unchanged, through the fabric backend on a two-org network."""

    channel = CHANNEL
    chaincode = CC
    event_timeout = 5.0

    @pytest.fixture(scope="class")
    @classmethod
    def gateways(cls, fabric_net: Path) -> Iterator[tuple[tl.Gateway, tl.Gateway]]:
        with (
            tl.connect(fabric_net, identity="Org1") as org1,
            tl.connect(fabric_net / "network.json", identity="Org2", backend="fabric") as org2,
        ):
            yield org1, org2


@pytest.fixture(scope="module")
def fabric_gw(fabric_net: Path) -> Iterator[tl.Gateway]:
    with tl.connect(fabric_net, identity="Org1") as gw:
        yield gw


@pytest.fixture(scope="module")
def backend(fabric_net: Path) -> Iterator[FabricBackend]:
    """A bare backend, for tests that tamper between endorsement and ordering."""
    b = FabricBackend(fabric_net, "Org1")
    yield b
    b.close()


def _outcome(contract: tl.Contract, how: str, fn: str, args: list[str]) -> tuple[str, str, bytes]:
    try:
        if how == "submit":
            return ("ok", "", contract.submit(fn, *args).payload)
        return ("ok", "", contract.evaluate(fn, *args))
    except TensorLedgerError as exc:
        return ("error", type(exc).__name__, str(exc).encode())


def test_same_calls_give_same_payloads_and_errors_as_embedded(
    fabric_gw: tl.Gateway, tmp_path: Path
) -> None:
    key = f"eq-{uuid.uuid4().hex[:12]}"
    calls = [
        ("submit", "storeData", [key, "[1.0, 2.0]"]),
        ("evaluate", "retrieveData", [key]),
        ("submit", "storeData", [key, "h\u00e9llo \u4e2d\U0001f680"]),
        ("evaluate", "retrieveData", [key]),
        ("submit", "storeData", [f"{key}/b", "second"]),
        ("evaluate", "listData", [key, f"{key}~"]),
        ("evaluate", "retrieveData", [f"{key}-missing"]),
        ("submit", "deleteData", [f"{key}-missing"]),
        ("evaluate", "noSuchFunction", []),
        ("submit", "storeData", [key]),
        ("submit", "deleteData", [key]),
        ("evaluate", "retrieveData", [key]),
    ]
    embedded_path = tl.init(tmp_path / "ledger", orgs=["Org1", "Org2"])
    with tl.connect(embedded_path, identity="Org1") as embedded_gw:
        embedded = embedded_gw.network(CHANNEL).contract(CC)
        fabric = fabric_gw.network(CHANNEL).contract(CC)
        want = [_outcome(embedded, how, fn, args) for how, fn, args in calls]
        got = [_outcome(fabric, how, fn, args) for how, fn, args in calls]
        hist_embedded = json.loads(embedded.evaluate("history", key))
        hist_fabric = json.loads(fabric.evaluate("history", key))
    assert got == want
    assert sum(1 for o in want if o[0] == "error") == 5  # the calls that must fail did
    # History carries each ledger's own tx ids and times; the changes themselves,
    # newest first on both, must agree in order.
    assert len(hist_fabric) == len(hist_embedded) == 3
    assert {frozenset(h) for h in hist_fabric} == {frozenset(h) for h in hist_embedded}

    def change(h: dict[str, object]) -> tuple[object, object]:
        return (h["value"], h["isDelete"])

    assert [change(h) for h in hist_fabric] == [change(h) for h in hist_embedded]


def test_unmet_majority_policy_is_invalidated_by_fabric(fabric_gw: tl.Gateway) -> None:
    contract = fabric_gw.network(CHANNEL).contract(CC)
    key = f"policy-{uuid.uuid4().hex[:12]}"
    contract.submit("storeData", key, "both orgs")
    with pytest.raises(EndorsementError, match="ENDORSEMENT_POLICY_FAILURE"):
        contract.submit("storeData", key, "org1 only", endorsing_orgs=["Org1"])
    assert contract.evaluate("retrieveData", key) == b"both orgs"


def test_forged_envelope_signature_is_refused_by_the_orderer(
    backend: FabricBackend, fabric_gw: tl.Gateway
) -> None:
    key = f"forged-{uuid.uuid4().hex[:12]}"
    tx_id, envelope = backend.endorse(CHANNEL, CC, "storeData", [key, "forged"])
    envelope.signature = envelope.signature[:-1] + bytes([envelope.signature[-1] ^ 0x01])
    with pytest.raises(IdentityError, match="FORBIDDEN") as caught:
        backend.commit(CHANNEL, tx_id, envelope)
    assert backend.profile.orderer.address in str(caught.value)
    with pytest.raises(ContractError, match="does not exist"):
        fabric_gw.network(CHANNEL).contract(CC).evaluate("retrieveData", key)


def test_forged_endorsement_signature_is_invalidated_by_the_committer(
    backend: FabricBackend, fabric_gw: tl.Gateway
) -> None:
    """The orderer does not check endorsements; the committing peers do."""
    key = f"forged-endorsement-{uuid.uuid4().hex[:12]}"
    tx_id, envelope = backend.endorse(CHANNEL, CC, "storeData", [key, "forged"])
    payload = common_pb2.Payload.FromString(envelope.payload)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    action = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    sig = action.action.endorsements[1].signature
    action.action.endorsements[1].signature = sig[:-1] + bytes([sig[-1] ^ 0x01])
    tx.actions[0].payload = action.SerializeToString()
    payload.data = tx.SerializeToString()
    raw = payload.SerializeToString()
    forged = common_pb2.Envelope(payload=raw, signature=backend.signer.sign(raw))
    with pytest.raises(EndorsementError, match="ENDORSEMENT_POLICY_FAILURE"):
        backend.commit(CHANNEL, tx_id, forged)
    with pytest.raises(ContractError, match="does not exist"):
        fabric_gw.network(CHANNEL).contract(CC).evaluate("retrieveData", key)


def test_prove_checks_the_block_fabric_committed(fabric_gw: tl.Gateway) -> None:
    contract = fabric_gw.network(CHANNEL).contract(CC)
    result = contract.submit("storeData", f"proof-{uuid.uuid4().hex[:12]}", "v")
    proof = fabric_gw.prove(result.tx_id)
    assert isinstance(proof, FabricBlockProof)
    assert proof.tx_id == result.tx_id and proof.block_number == result.block
    # The orderer CA comes from the channel's configuration (the profile names none).
    key = fabric_gw.network(CHANNEL).verifier_key()
    assert "orderer" in FabricBlockProof.from_json(proof.to_json()).verify(key)
    block = common_pb2.Block.FromString(proof.block_bytes)
    block.data.data[proof.index] = block.data.data[proof.index] + b"\x00"
    tampered = FabricBlockProof(
        proof.tx_id,
        proof.channel,
        proof.block_number,
        proof.index,
        block.SerializeToString(),
        proof.previous_header,
    )
    with pytest.raises(IntegrityError, match="data_hash"):
        tampered.verify(key)


def test_prove_refuses_invalidated_and_unknown_transactions(fabric_gw: tl.Gateway) -> None:
    contract = fabric_gw.network(CHANNEL).contract(CC)
    with pytest.raises(EndorsementError) as caught:
        contract.submit("storeData", f"inv-{uuid.uuid4().hex[:12]}", "v", endorsing_orgs=["Org2"])
    tx_id = str(caught.value).split()[1]
    with pytest.raises(NotFoundError, match="invalidated"):
        fabric_gw.prove(tx_id)
    with pytest.raises(NotFoundError):
        fabric_gw.prove("00" * 32)


def test_concurrent_clients_all_commit(fabric_gw: tl.Gateway) -> None:
    # The chaincode server answers each transaction in its own task on one stream
    # per peer; concurrent transactions must neither collide nor be lost.
    from concurrent.futures import ThreadPoolExecutor

    contract = fabric_gw.network(CHANNEL).contract(CC)
    prefix = f"conc-{uuid.uuid4().hex[:8]}"
    keys = [f"{prefix}/{i:02d}" for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda k: contract.submit("storeData", k, k[::-1]), keys))
    assert len({r.tx_id for r in results}) == len(keys)
    listed = json.loads(contract.evaluate("listData", f"{prefix}/", f"{prefix}0"))
    assert [(r["id"], r["data"]) for r in listed] == [(k, k[::-1]) for k in keys]
