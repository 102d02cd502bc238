"""Chaincode-to-chaincode calls: a contract reads another chaincode's state inside its transaction.

The called chaincode's reads join the transaction's read/write set (so MVCC
protects the decision made on them); the called chaincode may not write.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tensorledger as tl
from tensorledger.ledger.network import ContractSpec, EmbeddedNetwork
from tensorledger.ledger.rwset import decode_rwset
from tensorledger.ledger.transaction import parse_envelope

CALLER = ContractSpec("caller", "tests.ledger.caller_contract:CallerContract")


@pytest.fixture
def network(tmp_path: Path):
    path = tl.init(tmp_path / "ledger", orgs=["Org1", "Org2"])
    net = EmbeddedNetwork(path)
    net.deploy("mychannel", CALLER)
    yield net
    net.close()


def test_call_reads_the_other_namespace_and_records_the_read(network: EmbeddedNetwork) -> None:
    ch, user = network.channel(), network.identity("Org1")
    stored = ch.submit(user, "datacontract", "storeData", ["src", "hello"])
    res = ch.submit(user, "caller", "copy", ["src", "dst"])
    assert res.payload == b"hello"
    assert ch.evaluate(user, "caller", "get", ["dst"]) == b"hello"
    rwsets = {
        ns.namespace: ns
        for ns in decode_rwset(parse_envelope(ch.store.tx(res.tx_id).envelope).rwset)
    }
    assert set(rwsets) == {"caller", "datacontract"}
    called = rwsets["datacontract"]
    assert not called.writes
    assert called.reads["src"] is not None and called.reads["src"].block == stored.block


def test_read_in_called_namespace_is_mvcc_checked(network: EmbeddedNetwork) -> None:
    ch, user = network.channel(), network.identity("Org1")
    ch.submit(user, "datacontract", "storeData", ["src", "v1"])
    copy = ch.endorse(user, "caller", "copy", ["src", "dst"])
    ch.submit(user, "datacontract", "storeData", ["src", "v2"])
    with pytest.raises(tl.MVCCConflictError) as err:
        ch.commit_envelope(copy)
    assert err.value.code == "MVCC_READ_CONFLICT"
    with pytest.raises(tl.ContractError, match="dst does not exist"):
        ch.evaluate(user, "caller", "get", ["dst"])


def test_called_chaincode_may_not_write(network: EmbeddedNetwork) -> None:
    ch, user = network.channel(), network.identity("Org1")
    height = ch.store.height()
    with pytest.raises(tl.ContractError, match="may only read"):
        ch.submit(user, "caller", "writeThere", ["k"])
    with pytest.raises(tl.ContractError, match="Data with ID k does not exist"):
        ch.evaluate(user, "datacontract", "retrieveData", ["k"])
    assert ch.store.height() == height


def test_missing_value_in_called_chaincode_is_the_callers_error(network: EmbeddedNetwork) -> None:
    ch, user = network.channel(), network.identity("Org1")
    with pytest.raises(tl.ContractError, match="Data with ID nope does not exist"):
        ch.submit(user, "caller", "copy", ["nope", "dst"])


def test_self_and_unknown_calls_are_refused(network: EmbeddedNetwork) -> None:
    ch, user = network.channel(), network.identity("Org1")
    with pytest.raises(tl.ContractError, match="may not call itself"):
        ch.submit(user, "caller", "callSelf", [])


def test_foreign_writes_are_invalid_even_when_endorsed(network: EmbeddedNetwork) -> None:
    # Colluding peers sign a read/write set that writes into another chaincode's namespace:
    # that namespace's endorsement policy was never evaluated, so the committer refuses it.
    from fabric_protos.peer import proposal_response_pb2

    from tensorledger.ledger.proposal import build_proposal, parse_proposal
    from tensorledger.ledger.rwset import NamespaceRWSet, encode_rwset
    from tensorledger.ledger.transaction import assemble, endorse_response

    ch, user = network.channel(), network.identity("Org1")
    proposal = build_proposal(user, "mychannel", "caller", "copy", ["a", "b"])
    parsed = parse_proposal(proposal.proto)
    forged = encode_rwset(
        [NamespaceRWSet("caller"), NamespaceRWSet("datacontract", writes={"stolen": b"x"})]
    )
    response = proposal_response_pb2.Response(status=200, payload=b"x")
    endorsements = [
        endorse_response(parsed, response, forged, None, "1.0", e.peer)
        for e in ch.endorsers.values()
    ]
    envelope = assemble(proposal, endorsements, user)
    with pytest.raises(tl.CommitError) as err:
        ch.commit_envelope(envelope)
    assert err.value.code == "ILLEGAL_WRITESET"
    with pytest.raises(tl.ContractError, match="Data with ID stolen does not exist"):
        ch.evaluate(user, "datacontract", "retrieveData", ["stolen"])
