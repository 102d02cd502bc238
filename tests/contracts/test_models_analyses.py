"""ModelContract and AnalysisContract: round trips, versions, parents, immutability, events."""

from __future__ import annotations

import json

import pytest

import tensorledger as tl
from tensorledger.ledger.verify import verify_channel
from tests.contracts.ledgers import Net
from tests.contracts.records import analysis, envelope_timestamp, js, model, uid


def model_versions(net: Net, model_id: str) -> list[dict[str, object]]:
    return json.loads(net.contract("Org2", "models").evaluate("ListVersions", model_id))


def test_checkpoint_round_trip(net: Net) -> None:
    m = uid("model")
    sent = model(
        m,
        datasets=["cohort@1"],
        hyperparameters={"optimizer": "adam", "layers": [10, 1], "lr": 0.001},
        metrics={"loss": 0.25, "mae": 3},
        epoch=0,
        tags={"approvedBy": "risk committee"},
    )
    res = net.contract("Org1", "models").submit("RegisterCheckpoint", js(sent))
    stored = json.loads(res.payload)
    assert {k: stored[k] for k in sent} == sent
    assert stored["parent"] is None
    assert (stored["owner"], stored["registeredBy"], stored["txId"]) == (
        "Org1MSP",
        "User1@org1.example.com",
        res.tx_id,
    )
    assert stored["timestamp"] == envelope_timestamp(net.envelope(res.tx_id))
    c = net.contract("Org2", "models")
    assert c.evaluate("GetModel", m, "1") == res.payload
    assert c.evaluate("GetModel", m, "latest") == res.payload
    net.contract("Org1", "models").submit("RegisterCheckpoint", js(model(m, 2, parent=f"{m}@1")))
    newest = {r["id"]: r["version"] for r in json.loads(c.evaluate("ListModels"))}
    assert newest[m] == 2


def test_checkpoints_are_append_only_and_owned(net: Net) -> None:
    m = uid("model")
    c1, c2 = net.contract("Org1", "models"), net.contract("Org2", "models")
    c1.submit("RegisterCheckpoint", js(model(m)))
    with pytest.raises(tl.ContractError, match="already exists; versions are append-only"):
        c1.submit("RegisterCheckpoint", js(model(m, 1, framework="other")))
    with pytest.raises(tl.ContractError, match="version 3 is not the next version"):
        c1.submit("RegisterCheckpoint", js(model(m, 3)))
    with pytest.raises(tl.ContractError, match=r"Model .* belongs to Org1MSP"):
        c2.submit("RegisterCheckpoint", js(model(m, 2)))
    assert [r["framework"] for r in model_versions(net, m)] == ["keras-3.15"]
    c1.submit("RegisterCheckpoint", js(model(m, 2, parent=f"{m}@1")))
    assert [r["parent"] for r in model_versions(net, m)] == [None, f"{m}@1"]


def test_parent_checkpoint_must_exist(net: Net) -> None:
    m = uid("model")
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", "models").submit("RegisterCheckpoint", js(model(m, parent="base@1")))
    assert err.value.message == (
        "model record: field 'parent' names model base@1, which does not exist"
    )
    assert model_versions(net, m) == []


def test_another_org_may_fine_tune_from_a_checkpoint(net: Net) -> None:
    base, tuned = uid("base"), uid("tuned")
    net.contract("Org1", "models").submit("RegisterCheckpoint", js(model(base)))
    res = net.contract("Org2", "models").submit(
        "RegisterCheckpoint", js(model(tuned, parent=f"{base}@1"))
    )
    assert json.loads(res.payload)["owner"] == "Org2MSP"


def test_model_not_found_texts(net: Net) -> None:
    m = uid("none")
    c = net.contract("Org1", "models")
    with pytest.raises(tl.ContractError) as err:
        c.evaluate("GetModel", m, "latest")
    assert err.value.message == f"Model {m} does not exist."
    with pytest.raises(tl.ContractError) as err:
        c.evaluate("GetModel", m, "4")
    assert err.value.message == f"Model {m}@4 does not exist."


def test_analysis_round_trip_and_immutability(net: Net) -> None:
    a = uid("ols")
    sent = analysis(a)
    res = net.contract("Org2", "analyses").submit("RecordAnalysis", js(sent))
    stored = json.loads(res.payload)
    assert {k: stored[k] for k in sent} == sent
    assert stored["owner"] == "Org2MSP" and stored["txId"] == res.tx_id
    c = net.contract("Org1", "analyses")
    assert c.evaluate("GetAnalysis", a) == res.payload
    assert res.payload in c.evaluate("ListAnalyses")
    # written once, by anyone: neither the author nor another org may overwrite it
    for org in ("Org2", "Org1"):
        with pytest.raises(tl.ContractError) as err:
            net.contract(org, "analyses").submit("RecordAnalysis", js(analysis(a, method="t")))
        assert err.value.message == (
            f"Analysis {a} already exists; recorded analyses are never overwritten"
        )
    assert c.evaluate("GetAnalysis", a) == res.payload


def test_analysis_not_found_text(net: Net) -> None:
    a = uid("none")
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", "analyses").evaluate("GetAnalysis", a)
    assert err.value.message == f"Analysis {a} does not exist."


def test_events_name_the_record_keys(net: Net) -> None:
    m, a = uid("ev"), uid("ev")
    start = net.height()
    r1 = net.contract("Org1", "models").submit("RegisterCheckpoint", js(model(m)))
    r2 = net.contract("Org1", "analyses").submit("RecordAnalysis", js(analysis(a)))
    network = net.gws["Org1"].network()
    seen = [
        (e.chaincode, e.tx_id, e.name, e.payload)
        for e in network.chaincode_events(start_block=start, timeout=0.2)
    ]
    assert seen == [
        ("models", r1.tx_id, "CheckpointRegistered", f"model/{m}/0000000001".encode()),
        ("analyses", r2.tx_id, "AnalysisRecorded", f"analysis/{a}".encode()),
    ]


def test_three_org_network_runs_all_registries(net3: Net) -> None:
    m, a = uid("m"), uid("a")
    res = net3.contract("Org3", "models").submit("RegisterCheckpoint", js(model(m)))
    assert net3.contract("Org1", "models").evaluate("GetModel", m, "1") == res.payload
    res = net3.contract("Org2", "analyses").submit("RecordAnalysis", js(analysis(a)))
    assert net3.contract("Org3", "analyses").evaluate("GetAnalysis", a) == res.payload


def test_ledger_verifies_after_everything(net: Net, net3: Net) -> None:
    # Runs last in this module: every refusal and commit above left a chain that replays.
    for n in (net, net3):
        report = verify_channel(n.path, "mychannel")
        assert report.ok, report.findings
        assert report.valid >= 1
