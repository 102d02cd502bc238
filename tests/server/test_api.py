"""Every read endpoint against a ledger with known contents; proofs verify offline."""

from __future__ import annotations

import base64

from tensorledger.ledger.proof import ConsistencyProof, TransactionProof
from tests.contracts.records import dataset

API = "/api/v1/channels/mychannel"


def test_health_needs_no_token_and_says_auth_is_required(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["auth_required"] is True


def test_info_names_orgs_channels_and_caller(client, served):
    body = client.get("/api/v1/info", headers=served.auth("admin")).json()
    assert [o["msp_id"] for o in body["orgs"]] == ["Org1MSP", "Org2MSP"]
    assert body["channels"] == ["mychannel"]
    assert body["caller"]["identity"] == "Org1/Admin"
    assert body["caller"]["scope"] == "write"


def test_channel_summary_matches_the_store(client, served):
    body = client.get(API, headers=served.auth("read")).json()
    assert body["height"] == served.height()
    assert body["orgs"] == ["Org1MSP", "Org2MSP"]
    assert {"datacontract", "datasets", "models", "analyses"} <= {
        c["name"] for c in body["contracts"]
    }
    assert body["checkpoint"].splitlines()[1] == str(body["log_size"])


def test_blocks_page_newest_first_and_pages_on(client, served):
    h = served.auth("read")
    height = served.height()
    first = client.get(f"{API}/blocks?limit=5", headers=h).json()
    assert [b["number"] for b in first["blocks"]] == list(range(height - 1, height - 6, -1))
    second = client.get(f"{API}/blocks?limit=5&before={first['next_before']}", headers=h).json()
    assert second["blocks"][0]["number"] == height - 6
    tail = client.get(f"{API}/blocks?limit=100&before=3", headers=h).json()
    assert [b["number"] for b in tail["blocks"]] == [2, 1, 0]
    assert tail["next_before"] is None


def test_block_detail_chains_to_its_predecessor(client, served):
    h = served.auth("read")
    b5 = client.get(f"{API}/blocks/5", headers=h).json()
    b4 = client.get(f"{API}/blocks/4", headers=h).json()
    assert b5["previous_hash"] == b4["hash"]
    assert len(b5["transactions"]) == b5["tx_count"] >= 1
    tx = b5["transactions"][0]
    assert tx["block"] == 5 and tx["code"] == "VALID"


def test_transaction_has_creator_endorsements_and_writes(client, served):
    tx_id = served.tx_ids["statData"]
    tx = client.get(f"{API}/transactions/{tx_id}", headers=served.auth("read")).json()
    assert tx["tx_id"] == tx_id
    assert tx["creator"]["msp_id"] == "Org1MSP"
    assert tx["function"] == "storeData" and tx["args"] == ["statData", "[1.0, 2.0]"]
    assert len(tx["endorsers"]) == 2  # MAJORITY of two organisations
    assert tx["writes"] == [
        {"namespace": "datacontract", "key": "statData", "value": "[1.0, 2.0]", "deleted": False}
    ]


def test_state_and_history_of_a_key(client, served):
    h = served.auth("read")
    state = client.get(f"{API}/state/datacontract/statData", headers=h).json()
    assert state["value"] == "[1.0, 2.0, 3.0]"
    assert base64.b64decode(state["value_base64"]) == b"[1.0, 2.0, 3.0]"
    slashes = client.get(f"{API}/state/datacontract/path/with/slashes", headers=h).json()
    assert slashes["value"] == "nested"
    hist = client.get(f"{API}/history/datacontract/statData", headers=h).json()["history"]
    assert [e["value"] for e in hist] == ["[1.0, 2.0]", "[1.0, 2.0, 3.0]"]
    assert hist[0]["tx_id"] == served.tx_ids["statData"]


def test_registries(client, served):
    h = served.auth("read")
    listed = client.get(f"{API}/datasets", headers=h).json()["datasets"]
    assert [(d["id"], d["version"]) for d in listed] == [("cohort", 2)]
    versions = client.get(f"{API}/datasets/cohort", headers=h).json()["versions"]
    assert [d["root"] for d in versions] == [
        dataset("cohort")["root"],
        dataset("cohort", 2)["root"],
    ]
    fraud = client.get(f"{API}/models/fraud", headers=h).json()
    assert [p["metrics"]["loss"] for p in fraud["metrics"]] == [0.9, 0.5, 0.25]
    assert [p["epoch"] for p in fraud["metrics"]] == [10, 20, 30]
    assert client.get(f"{API}/analyses/ols-1", headers=h).json()["method"] == "ols"
    assert [a["id"] for a in client.get(f"{API}/analyses", headers=h).json()["analyses"]] == [
        "ols-1"
    ]


def test_lineage_graph_of_a_model(client, served):
    g = client.get(f"{API}/lineage/model/fraud", headers=served.auth("read")).json()
    assert g["root"] == "model:fraud@3"
    edges = {(e["from"], e["to"], e["relation"]) for e in g["edges"]}
    assert ("model:fraud@3", "dataset:cohort@2", "trained on") in edges
    assert ("model:fraud@3", "model:fraud@2", "parent checkpoint") in edges
    assert ("dataset:cohort@2", "dataset:cohort@1", "derived from") in edges
    ids = [n["id"] for n in g["nodes"]]
    assert len(ids) == len(set(ids))
    assert {e["to"] for e in g["edges"]} <= set(ids)


def test_transaction_proof_verifies_offline(client, served):
    h = served.auth("read")
    key = client.get(API, headers=h).json()["verifier_key"]
    tx_id = served.tx_ids["fraud@2"]
    r = client.get(f"{API}/proofs/transactions/{tx_id}", headers=h)
    proof = TransactionProof.from_json(r.text)
    assert proof.tx_id == tx_id
    proof.verify(key)
    # The proof places the transaction where the chain view does.
    tx = client.get(f"{API}/transactions/{tx_id}", headers=h).json()
    assert proof.block == tx["block"] and proof.leaf_index == tx["leaf"]


def test_consistency_proof_verifies_offline(client, served):
    h = served.auth("read")
    key = client.get(API, headers=h).json()["verifier_key"]
    r = client.get(f"{API}/proofs/consistency?old=3", headers=h)
    old, new = ConsistencyProof.from_json(r.text).verify(key)
    assert old.size == 3 and new.size >= served.height() - 1
    cp = client.get(f"{API}/checkpoint", headers=h).json()
    assert cp["size"] == new.size and base64.b64decode(cp["root"]) == new.root


def test_not_found_and_bad_input_are_one_line_errors(client, served):
    h = served.auth("read")
    cases = {
        "/api/v1/channels/nochannel": 404,
        f"{API}/blocks/100000": 404,
        f"{API}/transactions/{'0' * 64}": 404,
        f"{API}/state/datacontract/absent": 404,
        f"{API}/datasets/absent": 404,
        f"{API}/models/absent": 404,
        f"{API}/analyses/absent": 404,
        f"{API}/lineage/model/absent": 404,
        f"{API}/proofs/consistency?old=100000": 404,
        f"{API}/blocks?limit=0": 400,
        f"{API}/blocks/-1": 400,
        f"{API}/lineage/planet/x": 400,
        "/api/v1/nowhere": 404,
    }
    for url, status in cases.items():
        r = client.get(url, headers=h)
        assert r.status_code == status, (url, r.text)
        assert list(r.json()) == ["error"] and "\n" not in r.json()["error"], url


def test_federated_endpoints_answer_or_say_not_deployed(client, served):
    h = served.auth("read")
    for url in (f"{API}/jobs", f"{API}/rounds/job-1", f"{API}/budgets/cohort"):
        r = client.get(url, headers=h)
        assert r.status_code in (200, 404), (url, r.text)
        assert r.status_code == 200 or "error" in r.json()


def test_evaluation_reads_as_the_caller(client, served):
    r = client.post(
        f"{API}/contracts/datacontract/evaluations",
        headers=served.auth("read"),
        json={"function": "retrieveData", "args": ["statData"]},
    )
    assert r.status_code == 200 and r.json()["payload"] == "[1.0, 2.0, 3.0]"


def test_submit_writes_as_the_tokens_identity(fresh):
    from fastapi.testclient import TestClient

    from tensorledger.server.app import create_app

    with TestClient(create_app(fresh.path)) as c:
        before = fresh.height()
        r = c.post(
            f"{API}/contracts/datacontract/transactions",
            headers=fresh.auth("org2"),
            json={"function": "storeData", "args": ["k", "v"]},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["payload"] == "Data with ID k stored successfully."
        assert fresh.height() == before + 1
        tx = c.get(f"{API}/transactions/{body['tx_id']}", headers=fresh.auth("read")).json()
        assert tx["creator"]["msp_id"] == "Org2MSP" and tx["block"] == body["block"]
        refused = c.post(
            f"{API}/contracts/datacontract/transactions",
            headers=fresh.auth("write"),
            json={"function": "retrieveData", "args": ["missing"]},
        )
        assert refused.status_code == 409
        assert refused.json() == {"error": "Data with ID missing does not exist."}
        assert fresh.height() == before + 1
