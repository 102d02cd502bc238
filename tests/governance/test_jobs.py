"""GovernanceContract jobs: proposal rules, approvals by the right organisations, start."""

from __future__ import annotations

import json
from typing import Any

import pytest

import tensorledger as tl
from tensorledger import governance
from tensorledger.errors import NotFoundError
from tensorledger.ledger.network import EmbeddedNetwork
from tests.contracts.ledgers import Net
from tests.contracts.records import envelope_timestamp, uid
from tests.governance.records import APPROVERS, job, js, state

CC = "governance"


def propose(net: Net, record: dict[str, Any], org: str = "Org1") -> dict[str, Any]:
    return dict(json.loads(net.contract(org, CC).submit("ProposeJob", js(record)).payload))


def test_proposal_is_stored_with_status_approvals_and_ledger_facts(net: Net) -> None:
    sent = job(uid("job"), approvers=APPROVERS)
    res = net.contract("Org2", CC).submit("ProposeJob", js(sent))
    stored = json.loads(res.payload)
    assert {k: stored[k] for k in sent} == sent
    assert stored["status"] == "proposed" and stored["approvals"] == []
    assert (stored["owner"], stored["registeredBy"], stored["txId"]) == (
        "Org2MSP",
        "User1@org2.example.com",
        res.tx_id,
    )
    assert stored["timestamp"] == envelope_timestamp(net.envelope(res.tx_id))
    assert net.contract("Org3", CC).evaluate("GetJob", sent["id"]) == res.payload
    assert res.payload in net.contract("Org1", CC).evaluate("ListJobs")


def test_optional_fields_get_their_defaults(net: Net) -> None:
    sent = job(uid("job"), aggregation={"method": "fedavg"})
    del sent["dp"], sent["description"]
    stored = propose(net, sent)
    assert stored["dp"] == {} and stored["description"] is None
    assert stored["aggregation"] == {"method": "fedavg", "params": {}}


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"rounds": 0}, "field 'rounds' must be an integer from 1 to 10000, got 0"),
    ({"rounds": 10001}, "field 'rounds' must be an integer from 1 to 10000"),
    ({"rounds": True}, "field 'rounds' must be an integer"),
    ({"rounds": 2.0}, "field 'rounds' must be an integer"),
    ({"model": "a/b"}, "field 'model' must be an id"),
    ({"datasets": []}, "field 'datasets' must be an array of at least one reference"),
    ({"datasets": ["cohort"]}, "field 'datasets[0]' must be a reference 'id@version'"),
    ({"datasets": ["cohort@1", "cohort@1"]}, "field 'datasets' lists a reference twice"),
    ({"aggregation": {"method": "mean"}}, "field 'aggregation.method' must be one of fedavg"),
    ({"aggregation": "fedavg"}, "field 'aggregation' must be an object {method, params}"),
    ({"aggregation": {"method": "krum", "f": 1}}, "unknown field 'aggregation.f'"),
    (
        {"aggregation": {"method": "krum", "params": []}},
        "field 'aggregation.params' must be a JSON object",
    ),
    ({"dp": [1]}, "field 'dp' must be a JSON object"),
    ({"approvers": []}, "field 'approvers' must be an array of 1 to 100 MSP ids"),
    ({"approvers": ["Org1MSP", "Org1MSP"]}, "field 'approvers' lists an MSP twice"),
    ({"approvers": ["Org 1"]}, "field 'approvers[0]' must be an id"),
    ({"threshold": {"metric": "auc"}}, "missing required field 'threshold.min'"),
    (
        {"threshold": {"metric": "auc", "min": "0.9"}},
        "field 'threshold.min' must be a finite number",
    ),
    ({"threshold": {"metric": "", "min": 1}}, "field 'threshold.metric' must be non-empty text"),
    ({"description": ""}, "field 'description' must be non-empty text"),
    ({"status": "running"}, "unknown field 'status'"),
    ({"approvals": [{"msp": "Org1MSP"}]}, "unknown field 'approvals'"),
    ({"owner": "Org3MSP"}, "field 'owner' is filled in by the contract"),
]


@pytest.mark.parametrize(("change", "expected"), BAD_FIELDS)
def test_each_malformed_field_is_refused_by_name(
    net: Net, change: dict[str, Any], expected: str
) -> None:
    sent = job(uid("bad"), **change)
    before = state(net, sent["id"])
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", CC).submit("ProposeJob", js(sent))
    assert err.value.message.startswith("job record: ")
    assert expected in err.value.message
    assert state(net, sent["id"]) == before


@pytest.mark.parametrize(
    "missing", ["id", "model", "datasets", "rounds", "aggregation", "approvers", "threshold"]
)
def test_each_required_field_is_required(net: Net, missing: str) -> None:
    sent = job(uid("miss"))
    del sent[missing]
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", CC).submit("ProposeJob", js(sent))
    assert err.value.message == f"job record: missing required field '{missing}'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "job record is not valid JSON"),
        ("[]", "job record must be a JSON object, got an array"),
        ('{"id": "a", "id": "b"}', "job record: duplicate field 'id'"),
        ('{"rounds": NaN}', "job record: NaN is not a JSON number"),
        ("", "job record is not valid JSON"),
    ],
)
def test_malformed_json_is_refused(net: Net, text: str, expected: str) -> None:
    height = net.height()
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", CC).submit("ProposeJob", text)
    assert err.value.message.startswith(expected)
    assert net.height() == height


def test_unregistered_dataset_and_reused_id_are_refused(net: Net) -> None:
    sent = job(uid("job"), datasets=["cohort@1", "cohort@2"])
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", CC).submit("ProposeJob", js(sent))
    assert err.value.message == (
        "job record: field 'datasets[1]' names dataset cohort@2, which does not exist"
    )
    ok = propose(net, job(sent["id"]))
    before = state(net, sent["id"])
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org2", CC).submit("ProposeJob", js(job(sent["id"], rounds=9)))
    assert err.value.message == f"Job {sent['id']} already exists; job ids are never reused"
    assert state(net, sent["id"]) == before and json.loads(before[0]) == ok


def test_only_named_approvers_approve_and_each_once(net: Net) -> None:
    j = propose(net, job(uid("job"), approvers=["Org2MSP", "Org3MSP"]))["id"]
    before = state(net, j)
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", CC).submit("ApproveJob", j)  # the proposer is not an approver
    assert (
        err.value.message == f"Org1MSP is not an approver of job {j} (approvers: Org2MSP, Org3MSP)"
    )
    assert state(net, j) == before
    res = net.contract("Org3", CC).submit("ApproveJob", j)
    approvals = json.loads(res.payload)["approvals"]
    assert [(a["msp"], a["txId"]) for a in approvals] == [("Org3MSP", res.tx_id)]
    assert approvals[0]["timestamp"] == envelope_timestamp(net.envelope(res.tx_id))
    before = state(net, j)
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org3", CC).submit("ApproveJob", j)
    assert err.value.message == f"Org3MSP has already approved job {j}"
    assert state(net, j) == before


def test_start_is_refused_until_every_approver_has_approved(net: Net) -> None:
    j = propose(net, job(uid("job"), approvers=APPROVERS))["id"]
    expected_missing = [", ".join(APPROVERS), "Org2MSP, Org3MSP", "Org2MSP"]
    for approver, missing in zip(["Org1", "Org3", None], expected_missing, strict=True):
        before = state(net, j)
        with pytest.raises(tl.ContractError) as err:
            net.contract("Org1", CC).submit("StartJob", j)
        assert err.value.message == f"Job {j} lacks approvals from {missing}"
        assert state(net, j) == before
        if approver:
            net.contract(approver, CC).submit("ApproveJob", j)
    net.contract("Org2", CC).submit("ApproveJob", j)
    started = json.loads(net.contract("Org3", CC).submit("StartJob", j).payload)
    assert started["status"] == "running"
    assert [a["msp"] for a in started["approvals"]] == ["Org1MSP", "Org3MSP", "Org2MSP"]


def test_a_running_job_cannot_be_started_or_approved_again(net: Net) -> None:
    j = propose(net, job(uid("job"), approvers=["Org1MSP"]))["id"]
    net.contract("Org1", CC).submit("ApproveJob", j)
    net.contract("Org1", CC).submit("StartJob", j)
    before = state(net, j)
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org2", CC).submit("StartJob", j)
    assert err.value.message == f"Job {j} is running; only a proposed job can be started"
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", CC).submit("ApproveJob", j)
    assert err.value.message == f"Org1MSP has already approved job {j}"
    assert state(net, j) == before


def test_unknown_and_malformed_job_ids(net: Net) -> None:
    j = uid("none")
    for function in ("GetJob", "ApproveJob", "StartJob"):
        call = (
            net.contract("Org1", CC).evaluate
            if function == "GetJob"
            else net.contract("Org1", CC).submit
        )
        with pytest.raises(tl.ContractError) as err:
            call(function, j)
        assert err.value.message == f"Job {j} does not exist."
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", CC).evaluate("GetJob", "../x")
    assert "Job id '../x' must match" in err.value.message


def test_racing_approvals_commit_once_and_the_loser_can_retry(
    net: Net, network: EmbeddedNetwork
) -> None:
    # Both approvals endorsed against the same job state: MVCC must refuse the second,
    # or one approval would silently erase the other.
    j = propose(net, job(uid("race")))["id"]
    ch = network.channel("mychannel")
    first = ch.endorse(network.identity("Org1"), CC, "ApproveJob", [j])
    second = ch.endorse(network.identity("Org2"), CC, "ApproveJob", [j])
    ch.commit_envelope(first)
    with pytest.raises(tl.MVCCConflictError):
        ch.commit_envelope(second)
    assert [
        a["msp"] for a in json.loads(net.contract("Org3", CC).evaluate("GetJob", j))["approvals"]
    ] == ["Org1MSP"]
    net.contract("Org2", CC).submit("ApproveJob", j)
    assert net.contract("Org1", CC).submit("StartJob", j).payload


def test_events_name_the_job_key(net: Net) -> None:
    j = uid("ev")
    start = net.height()
    r1 = net.contract("Org1", CC).submit("ProposeJob", js(job(j, approvers=["Org2MSP"])))
    r2 = net.contract("Org2", CC).submit("ApproveJob", j)
    r3 = net.contract("Org2", CC).submit("StartJob", j)
    seen = [
        (e.chaincode, e.tx_id, e.name, e.payload)
        for e in net.gws["Org1"].network().chaincode_events(start_block=start, timeout=0.2)
    ]
    key = f"job/{j}".encode()
    assert seen == [
        (CC, r1.tx_id, "JobProposed", key),
        (CC, r2.tx_id, "JobApproved", key),
        (CC, r3.tx_id, "JobStarted", key),
    ]


def test_client_functions_round_trip_and_map_not_found(net: Net) -> None:
    gw1, gw2 = net.gws["Org1"], net.gws["Org2"]
    j = uid("client")
    proposed = governance.propose_job(
        gw1, j, model="net", datasets=["cohort"], rounds=3, aggregation="median",
        approvers=["Org2MSP"], threshold_metric="auc", threshold_min=0.75,
    )  # fmt: skip
    assert proposed.datasets == ("cohort@1",)  # a bare id resolves to the newest version
    assert (proposed.aggregation, dict(proposed.aggregation_params)) == ("median", {})
    assert (proposed.threshold_metric, proposed.threshold_min) == ("auc", 0.75)
    assert proposed.missing_approvals == ("Org2MSP",) and proposed.owner == "Org1MSP"
    stored = net.contract("Org3", CC).evaluate("GetJob", j)
    assert proposed.to_dict() == json.loads(stored)
    approved = governance.approve_job(gw2, j)
    assert approved.approvals[0].msp == "Org2MSP" and approved.missing_approvals == ()
    assert governance.start_job(gw1, j).status == "running"
    assert governance.get_job(gw2, j).status == "running"
    assert j in [x.id for x in governance.list_jobs(gw1)]
    missing = uid("none")
    for call in (governance.get_job, governance.approve_job, governance.start_job):
        with pytest.raises(NotFoundError, match=f"Job {missing} does not exist"):
            call(gw1, missing)
    with pytest.raises(NotFoundError):
        governance.propose_job(
            gw1, uid("j"), model="net", datasets=["nope"], rounds=1, aggregation="fedavg",
            approvers=["Org1MSP"], threshold_metric="auc", threshold_min=0.5,
        )  # fmt: skip
    with pytest.raises(tl.ContractError, match="already approved"):
        governance.approve_job(gw2, j)  # refusals other than not-found stay ContractError
