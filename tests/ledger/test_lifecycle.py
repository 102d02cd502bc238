"""The `_lifecycle` system chaincode: org admins approve, a majority commits, sequences upgrade.

Called through the gateway with Fabric's own function names, as the peer CLI
would send them, on a three-organisation network (MAJORITY = 2 approvals).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import tensorledger as tl
from tensorledger.ledger.network import ContractSpec, EmbeddedNetwork
from tests.ledger.ledger_state import snapshot

LIFECYCLE = "_lifecycle"
APPROVE = "ApproveChaincodeDefinitionForMyOrg"
COMMIT = "CommitChaincodeDefinition"
QUERY = "QueryChaincodeDefinition"
DATA = "tensorledger.contracts.data:DataContract"

_names = itertools.count()


def definition(
    name: str, sequence: int, policy: str = "MAJORITY", version: str = "1.0", contract: str = DATA
) -> str:
    return json.dumps(
        {
            "name": name,
            "version": version,
            "sequence": sequence,
            "contract": contract,
            "policy": policy,
        }
    )


class Orgs:
    """Gateways of the three organisations' admins and users on one network."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._gateways: dict[str, tl.Gateway] = {}

    def lifecycle(self, who: str) -> tl.Contract:
        if who not in self._gateways:
            self._gateways[who] = tl.connect(self.path, identity=who)
        return self._gateways[who].network("mychannel").contract(LIFECYCLE)

    def contract(self, name: str, who: str = "Org1") -> tl.Contract:
        self.lifecycle(who)
        return self._gateways[who].network("mychannel").contract(name)

    def approve(self, who: str, text: str) -> tl.SubmitResult:
        return self.lifecycle(f"{who}/Admin").submit(APPROVE, text)

    def commit(self, text: str, who: str = "Org1/Admin") -> tl.SubmitResult:
        return self.lifecycle(who).submit(COMMIT, text)

    def close(self) -> None:
        for gw in self._gateways.values():
            gw.close()


@pytest.fixture(scope="module")
def orgs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orgs]:
    path = tl.init(tmp_path_factory.mktemp("lifecycle") / "ledger", orgs=["Org1", "Org2", "Org3"])
    o = Orgs(path)
    yield o
    o.close()


@pytest.fixture
def name() -> str:
    return f"cc{next(_names)}"


def test_commit_with_fewer_approvals_than_majority_is_refused(orgs: Orgs, name: str) -> None:
    text = definition(name, 1)
    orgs.approve("Org1", text)
    before = snapshot(orgs.path)
    with pytest.raises(tl.ContractError) as err:
        orgs.commit(text)
    assert f"chaincode definition for {name} sequence 1 lacks approvals" in err.value.message
    assert "MAJORITY" in err.value.message
    assert "approved: Org1MSP" in err.value.message
    assert snapshot(orgs.path) == before
    with pytest.raises(tl.NotFoundError, match=name):
        orgs.contract(name).submit("storeData", "k", "v")
    with pytest.raises(tl.ContractError, match="not defined"):
        orgs.lifecycle("Org1").evaluate(QUERY, name)
    # A second organisation's approval makes a majority of three.
    orgs.approve("Org3", text)
    res = orgs.commit(text, who="Org2")  # any member may commit
    assert res.payload == f"committed {name} version 1.0 sequence 1".encode()
    assert orgs.contract(name).submit("storeData", "k", "v").payload == (
        b"Data with ID k stored successfully."
    )
    committed = json.loads(orgs.lifecycle("Org2").evaluate(QUERY, name))
    assert committed["sequence"] == 1 and committed["policy"] == "MAJORITY"


def test_no_approvals_at_all_is_refused(orgs: Orgs, name: str) -> None:
    with pytest.raises(tl.ContractError, match=r"lacks approvals .*\(approved: none\)"):
        orgs.commit(definition(name, 1))


def test_a_client_cannot_approve(orgs: Orgs, name: str) -> None:
    before = snapshot(orgs.path)
    with pytest.raises(tl.ContractError) as err:
        orgs.lifecycle("Org1").submit(APPROVE, definition(name, 1))
    assert err.value.message == "only an admin of Org1MSP may approve a definition"
    assert snapshot(orgs.path) == before


def test_approvals_count_only_for_the_identical_definition(orgs: Orgs, name: str) -> None:
    orgs.approve("Org1", definition(name, 1, policy="ANY"))
    orgs.approve("Org2", definition(name, 1, policy="MAJORITY"))
    with pytest.raises(tl.ContractError, match=r"approved: Org1MSP\)"):
        orgs.commit(definition(name, 1, policy="ANY"))
    with pytest.raises(tl.ContractError, match=r"approved: Org2MSP\)"):
        orgs.commit(definition(name, 1, policy="MAJORITY"))
    orgs.approve("Org2", definition(name, 1, policy="ANY"))  # a new approval replaces the old
    orgs.commit(definition(name, 1, policy="ANY"))


def test_an_approval_must_be_endorsed_by_the_approvers_own_peer(orgs: Orgs, name: str) -> None:
    text = definition(name, 1)
    with pytest.raises(tl.CommitError) as err:
        orgs.lifecycle("Org1/Admin").submit(APPROVE, text, endorsing_orgs=["Org2MSP"])
    assert err.value.code == "ENDORSEMENT_POLICY_FAILURE"
    orgs.approve("Org2", text)
    with pytest.raises(tl.ContractError, match=r"approved: Org2MSP\)"):
        orgs.commit(text)


def test_sequence_two_upgrades_the_policy(orgs: Orgs, name: str) -> None:
    network = EmbeddedNetwork(orgs.path)
    try:
        network.deploy("mychannel", ContractSpec(name, DATA, policy="OR('Org1MSP.peer')"))
        contract = orgs.contract(name)
        contract.submit("storeData", "before", "v1", endorsing_orgs=["Org1MSP"])
        network.deploy(
            "mychannel",
            ContractSpec(name, DATA, policy="AND('Org1MSP.peer','Org2MSP.peer')", version="2.0"),
        )
    finally:
        network.close()
    committed = json.loads(orgs.lifecycle("Org1").evaluate(QUERY, name))
    assert (committed["sequence"], committed["version"]) == (2, "2.0")
    with pytest.raises(tl.CommitError) as err:
        contract.submit("storeData", "after", "v2", endorsing_orgs=["Org1MSP"])
    assert err.value.code == "ENDORSEMENT_POLICY_FAILURE"
    contract.submit("storeData", "after", "v2", endorsing_orgs=["Org1MSP", "Org2MSP"])
    assert contract.evaluate("retrieveData", "before") == b"v1"  # state survives the upgrade
    assert contract.evaluate("retrieveData", "after") == b"v2"


@pytest.mark.parametrize("sequence", [1, 3, 0])
def test_wrong_sequence_is_refused(orgs: Orgs, name: str, sequence: int) -> None:
    first = definition(name, 1)
    orgs.approve("Org1", first)
    orgs.approve("Org2", first)
    orgs.commit(first)
    wrong = definition(name, sequence, policy="ANY")
    before = snapshot(orgs.path)
    with pytest.raises(tl.ContractError) as err:
        orgs.approve("Org1", wrong)
    if sequence == 0:
        assert "sequence must be at least 1" in err.value.message
    else:
        assert err.value.message == (
            f"requested sequence is {sequence}, but new definition must be sequence 2"
        )
    with pytest.raises(tl.ContractError, match="sequence"):
        orgs.commit(wrong)
    assert snapshot(orgs.path) == before
    assert json.loads(orgs.lifecycle("Org1").evaluate(QUERY, name))["sequence"] == 1


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "malformed chaincode definition"),
        (json.dumps({"name": "x"}), "malformed chaincode definition"),
        (definition("_system", 1), "invalid chaincode name"),
        (definition("ok", 1, contract="no-colon"), "must be 'module:Class'"),
        (definition("ok", 1, policy="AND("), "endorsement policy"),
        (definition("ok", 1, policy="OR('Org1MSP.boss')"), "role"),
    ],
)
def test_malformed_definitions_are_refused(orgs: Orgs, text: str, fragment: str) -> None:
    before = snapshot(orgs.path)
    with pytest.raises(tl.ContractError) as err:
        orgs.approve("Org1", text)
    assert fragment in err.value.message
    assert snapshot(orgs.path) == before
