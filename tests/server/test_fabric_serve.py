"""`tensorledger serve` over a real two-organisation Fabric network: the embedded API's shapes.

Reference values come from elsewhere than the server: heights from the peer
CLI (`fabric status`), values from the Python client, the orderer CA from the
network's profile, JSON key sets from an embedded ledger's server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

import tensorledger as tl
from tensorledger.errors import IntegrityError
from tensorledger.fabric import network
from tensorledger.fabric.install import Installation
from tensorledger.ledger.fabric_proof import FabricBlockProof
from tensorledger.ledger.network import DEFAULT_CONTRACTS
from tensorledger.registry import DatasetRecord, add_dataset, record_analysis
from tensorledger.server.app import create_app
from tensorledger.server.tokens import TOKENS_FILE, TokenEntry, TokenStore, token_hash
from tests.fabric.conftest import CHANNEL, bring_up, fabric, fabric_net  # noqa: F401 (fixtures)
from tests.server.live import live_server

pytestmark = pytest.mark.fabric
CH = f"/api/v1/channels/{CHANNEL}"


@dataclass
class FabricServed:
    path: Path
    client: TestClient
    tokens: dict[str, str]
    tx_ids: dict[str, str]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def peer_heights(self) -> set[int | None]:
        # The peer CLI's answer (`peer channel getinfo`), not the server's qscc path.
        return set(network.status(self.path).heights.values())


@pytest.fixture(scope="module")
def served(fabric_net: Path) -> Iterator[FabricServed]:  # noqa: F811 (the fixture)
    tx_ids = {}
    with tl.connect(fabric_net, identity="Org1") as gw:
        data = gw.network(CHANNEL).contract("datacontract")
        tx_ids["first"] = data.submit("storeData", "stat", "[1.0, 2.0]").tx_id
        tx_ids["second"] = data.submit("storeData", "stat", "[1.0, 2.0, 3.0]").tx_id
        data.submit("storeData", "path/with/slashes", "nested")
    store = TokenStore.for_ledger(fabric_net)
    tokens = {
        "read": store.add("Org1", "read", "1d")[0],
        "write1": store.add("Org1", "write", "1d")[0],
        "write2": store.add("Org2", "write", "1d")[0],
    }
    # An expired token, written as an old entry would be (add refuses a past expiry).
    tokens["expired"] = "expired-token-value"
    old = TokenEntry(
        "t-old", token_hash(tokens["expired"]), "Org2", "write", "2020-01-01T00:00:00Z",
        "2020-01-02T00:00:00Z",
    )  # fmt: skip
    store._write([*store.entries(), old])
    with TestClient(create_app(fabric_net), raise_server_exceptions=False) as client:
        yield FabricServed(fabric_net, client, tokens, tx_ids)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    """An embedded ledger's server with one DataContract write: the reference shapes."""
    path = tmp_path_factory.mktemp("embedded") / "ledger"
    tl.init(path, orgs=["Org1", "Org2"])
    with tl.connect(path, identity="Org1") as gw:
        tx = gw.network(CHANNEL).contract("datacontract").submit("storeData", "k", "v")
    token = TokenStore.for_ledger(path).add("Org1", "read", "1d")[0]
    with TestClient(create_app(path), raise_server_exceptions=False) as client:
        yield client, f"Bearer {token}", tx.tx_id


def test_tokens_live_inside_the_network_directory(served: FabricServed) -> None:
    assert (served.path / TOKENS_FILE).is_file()
    assert served.path / TOKENS_FILE == TokenStore.for_ledger(served.path).path


def test_info_and_height_match_the_peers(served: FabricServed) -> None:
    info = served.client.get("/api/v1/info", headers=served.auth("read")).json()
    assert [o["msp_id"] for o in info["orgs"]] == ["Org1MSP", "Org2MSP"]
    assert info["channels"] == [CHANNEL] and info["caller"]["msp_id"] == "Org1MSP"
    got = served.client.get(CH, headers=served.auth("read")).json()
    assert {got["height"]} == served.peer_heights()
    assert got["orgs"] == ["Org1MSP", "Org2MSP"]
    assert "datacontract" in {c["name"] for c in got["contracts"]}
    assert got["checkpoint"] is None and "BEGIN CERTIFICATE" in got["verifier_key"]
    # the three writes of the fixture at least (the config block's transaction too)
    assert got["tx_count"] >= 3


def _keys(value: object) -> object:
    """The nested key structure of a JSON value; a list by the union of its items' structures."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes = {json.dumps(_keys(v), sort_keys=True) for v in value}
        return sorted(s for s in shapes if s != "null")
    return None


def _tx_shape(tx: dict[str, object]) -> dict[str, list[str] | None]:
    """A transaction's keys, and its nested objects' keys (reads/writes by their first item)."""
    return {
        k: sorted(v) if isinstance(v, dict) else sorted(v[0]) if isinstance(v, list) and v and
        isinstance(v[0], dict) else None
        for k, v in tx.items()
    }  # fmt: skip


def test_block_list_and_detail_have_the_embedded_shape(
    served: FabricServed, embedded: tuple[TestClient, str, str]
) -> None:
    ref_client, ref_auth, ref_tx = embedded
    tx = served.client.get(
        f"{CH}/transactions/{served.tx_ids['first']}", headers=served.auth("read")
    ).json()
    ref_block = ref_client.get(f"{CH}/transactions/{ref_tx}", headers={"Authorization": ref_auth})
    fab_page = served.client.get(f"{CH}/blocks?limit=100", headers=served.auth("read")).json()
    ref_page = ref_client.get(f"{CH}/blocks", headers={"Authorization": ref_auth}).json()
    assert _keys(fab_page) == _keys(ref_page)
    numbers = [b["number"] for b in fab_page["blocks"]]
    assert numbers == list(range(fab_page["height"] - 1, -1, -1))
    # The chain links: each block's previous_hash is the hash of the block below it.
    for newer, older in zip(fab_page["blocks"], fab_page["blocks"][1:], strict=False):
        assert newer["previous_hash"] == older["hash"]
    fab_detail = served.client.get(f"{CH}/blocks/{tx['block']}", headers=served.auth("read"))
    ref_detail = ref_client.get(
        f"{CH}/blocks/{ref_block.json()['block']}", headers={"Authorization": ref_auth}
    )
    assert fab_detail.status_code == 200
    fab_json, ref_json = fab_detail.json(), ref_detail.json()
    assert set(fab_json) == set(ref_json)
    ref_tx_shape = _tx_shape(ref_json["transactions"][0])
    for fab_tx in fab_json["transactions"]:
        fab_shape = _tx_shape(fab_tx)
        assert set(fab_shape) == set(ref_tx_shape)
        # Nested objects compare where both have one (the embedded write read no key).
        both = [k for k in fab_shape if fab_shape[k] is not None and ref_tx_shape[k] is not None]
        assert {k: fab_shape[k] for k in both} == {k: ref_tx_shape[k] for k in both}
        assert {k for k in ref_tx_shape if ref_tx_shape[k] is not None} <= set(both)
    assert served.tx_ids["first"] in {t["tx_id"] for t in fab_detail.json()["transactions"]}
    missing = served.client.get(f"{CH}/blocks/999999", headers=served.auth("read"))
    assert missing.status_code == 404 and "no block 999999" in missing.json()["error"]


def test_a_transaction_is_valid_with_both_orgs_endorsements(served: FabricServed) -> None:
    got = served.client.get(
        f"{CH}/transactions/{served.tx_ids['first']}", headers=served.auth("read")
    ).json()
    assert got["code"] == "VALID" and got["leaf"] is None
    assert got["chaincode"] == "datacontract" and got["function"] == "storeData"
    assert {e.split(":")[0] for e in got["endorsers"]} == {"Org1MSP", "Org2MSP"}
    assert got["creator"]["msp_id"] == "Org1MSP"
    assert {
        "namespace": "datacontract",
        "key": "stat",
        "value": "[1.0, 2.0]",
        "deleted": False,
    } in got["writes"]
    unknown = served.client.get(f"{CH}/transactions/{'ab' * 32}", headers=served.auth("read"))
    assert unknown.status_code == 404


def test_state_and_history_of_a_data_key_and_501_for_raw_namespaces(
    served: FabricServed,
) -> None:
    second = served.client.get(
        f"{CH}/transactions/{served.tx_ids['second']}", headers=served.auth("read")
    ).json()
    state = served.client.get(f"{CH}/state/datacontract/stat", headers=served.auth("read")).json()
    assert state["value"] == "[1.0, 2.0, 3.0]"
    assert state["version"] == [second["block"], second["index"]]
    history = served.client.get(f"{CH}/history/datacontract/stat", headers=served.auth("read"))
    assert [h["tx_id"] for h in history.json()["history"]] == [
        served.tx_ids["first"],
        served.tx_ids["second"],
    ]
    nested = served.client.get(
        f"{CH}/state/datacontract/path/with/slashes", headers=served.auth("read")
    )
    assert nested.json()["value"] == "nested"
    absent = served.client.get(f"{CH}/state/datacontract/nope", headers=served.auth("read"))
    assert absent.status_code == 404
    raw = served.client.get(f"{CH}/state/_lifecycle/namespaces", headers=served.auth("read"))
    assert raw.status_code == 501
    assert "not available on the fabric backend" in raw.json()["error"]


def test_a_write_through_the_api_commits_on_fabric(served: FabricServed) -> None:
    body = {"function": "storeData", "args": ["via-api", "written by Org2"]}
    got = served.client.post(
        f"{CH}/contracts/datacontract/transactions", json=body, headers=served.auth("write2")
    )
    assert got.status_code == 200, got.text
    assert got.json()["code"] == "VALID"
    with tl.connect(served.path, identity="Org1") as gw:
        value = gw.network(CHANNEL).contract("datacontract").evaluate("retrieveData", "via-api")
    assert value == b"written by Org2"
    tx = served.client.get(f"{CH}/transactions/{got.json()['tx_id']}", headers=served.auth("read"))
    assert tx.json()["creator"]["msp_id"] == "Org2MSP"
    refused = served.client.post(
        f"{CH}/contracts/datacontract/transactions",
        json={"function": "retrieveData", "args": ["never-written"]},
        headers=served.auth("write1"),
    )
    assert refused.status_code == 409 and "does not exist" in refused.json()["error"]


def test_a_proof_from_the_api_verifies_offline(served: FabricServed) -> None:
    got = served.client.get(
        f"{CH}/proofs/transactions/{served.tx_ids['first']}", headers=served.auth("read")
    )
    assert got.status_code == 200
    proof = FabricBlockProof.from_json(got.text)
    # The orderer organisation's CA as cryptogen wrote it, not as the server reports it.
    ca_dir = served.path / "crypto/ordererOrganizations/example.com/ca"
    orderer_ca = next(ca_dir.glob("*-cert.pem")).read_bytes()
    assert "orderer" in proof.verify(orderer_ca)
    assert proof.tx_id == served.tx_ids["first"]
    raw = bytearray(proof.block_bytes)
    raw[len(raw) // 2] ^= 0x01
    tampered = FabricBlockProof(
        proof.tx_id, proof.channel, proof.block_number, proof.index, bytes(raw),
        proof.previous_header,
    )  # fmt: skip
    with pytest.raises(IntegrityError):
        tampered.verify(orderer_ca)
    for path in ("/proofs/consistency?old=1", "/checkpoint"):
        answer = served.client.get(f"{CH}{path}", headers=served.auth("read"))
        assert answer.status_code == 501
        assert "not available on the fabric backend" in answer.json()["error"]


def test_registries_answer_404_for_chaincodes_not_deployed(served: FabricServed) -> None:
    got = served.client.get(f"{CH}/datasets", headers=served.auth("read"))
    assert got.status_code == 404
    assert got.json()["error"] == f"chaincode datasets is not deployed on channel {CHANNEL}"


def test_auth_refusals_change_nothing(served: FabricServed) -> None:
    before = served.peer_heights()
    url = f"{CH}/contracts/datacontract/transactions"
    body = {"function": "storeData", "args": ["refused", "x"]}
    assert served.client.get(CH).status_code == 401
    assert served.client.post(url, json=body).status_code == 401
    assert served.client.post(url, json=body, headers=served.auth("expired")).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert served.client.post(url, json=body, headers=bad).status_code == 401
    assert served.client.post(url, json=body, headers=served.auth("read")).status_code == 403
    assert (
        served.client.get("/api/v1/channels/other", headers=served.auth("read")).status_code == 404
    )
    assert served.peer_heights() == before


def _private_keys(root: Path) -> list[str]:
    """Every private scalar in the network's crypto material, as hex and as base64."""
    found = []
    for pem in root.rglob("*"):
        if pem.is_file() and pem.stat().st_size < 8192 and b"PRIVATE KEY" in pem.read_bytes():
            key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            scalar = key.private_numbers().private_value.to_bytes(32, "big")
            found += [scalar.hex(), base64.b64encode(scalar).decode()]
    return found


def test_no_get_leaks_a_private_key(served: FabricServed) -> None:
    secrets = _private_keys(served.path)
    assert secrets, "the network has private keys to look for"
    height = served.client.get(CH, headers=served.auth("read")).json()["height"]
    paths = [
        "/",
        "/static/verify.js",
        "/api/v1/info",
        "/api/v1/health",
        "/api/v1/openapi.json",
        CH,
        f"{CH}/blocks?limit=100",
    ]
    paths += [f"{CH}/blocks/{n}" for n in range(height)]
    paths += [f"{CH}/transactions/{t}" for t in served.tx_ids.values()]
    paths += [f"{CH}/proofs/transactions/{t}" for t in served.tx_ids.values()]
    paths += [f"{CH}/history/datacontract/stat"]
    for path in paths:
        got = served.client.get(path, headers=served.auth("read"))
        assert got.status_code == 200, (path, got.text)
        assert "PRIVATE KEY" not in got.text, path
        for line in secrets:
            assert line not in got.text, path
        # The proof carries whole blocks (base64): look inside them too.
        if "/proofs/" in path:
            block = FabricBlockProof.from_json(got.text).block_bytes
            assert b"PRIVATE KEY" not in block
            assert not any(bytes.fromhex(s) in block for s in secrets[::2])


def test_live_block_events_poll_the_peer(served: FabricServed) -> None:
    with live_server(served.path) as base, httpx.Client(base_url=base, timeout=30) as client:
        url = f"{CH}/events?from=1&access_token={served.tokens['read']}"
        with client.stream("GET", url) as stream:
            lines = []
            for line in stream.iter_lines():
                lines.append(line)
                if line.startswith("data:"):
                    break
    event = json.loads(lines[-1].removeprefix("data:"))
    detail = served.client.get(f"{CH}/blocks/1", headers=served.auth("read")).json()
    assert event["number"] == 1 and event["data_hash"] == detail["data_hash"]
    assert "id: 1" in lines


REGISTRIES = [c for c in DEFAULT_CONTRACTS if c.name in ("datasets", "models", "analyses")]


@pytest.fixture(scope="module")
def registry_served(
    fabric: Installation,  # noqa: F811 (the fixture)
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, str, DatasetRecord]]:
    """A network with the registry chaincodes, one dataset and one analysis of it."""
    directory = tmp_path_factory.mktemp("fabric-registries") / "net"
    bring_up(directory, fabric, contracts=REGISTRIES)
    try:
        csv = directory.parent / "points.csv"
        csv.write_text("x,y\n1,2.5\n2,4.5\n")
        with tl.connect(directory, identity="Org1") as gw:
            dataset = add_dataset(gw, csv, "points")
            record_analysis(
                gw, "mean-1", method="mean", inputs=[dataset.ref], result={"mean_y": 3.5},
                result_hash="ab" * 32,
            )  # fmt: skip
        token = TokenStore.for_ledger(directory).add("Org2", "read", "1d")[0]
        with TestClient(create_app(directory), raise_server_exceptions=False) as client:
            yield client, f"Bearer {token}", dataset
    finally:
        network.down(directory)


def test_registries_and_lineage_work_through_chaincode_calls(
    registry_served: tuple[TestClient, str, DatasetRecord],
) -> None:
    client, auth, dataset = registry_served
    headers = {"Authorization": auth}
    listed = client.get(f"{CH}/datasets", headers=headers)
    assert listed.status_code == 200, listed.text
    # The reference is what the registering client got back, not what the server read.
    assert [(d["id"], d["version"], d["root"]) for d in listed.json()["datasets"]] == [
        ("points", 1, dataset.root)
    ]
    versions = client.get(f"{CH}/datasets/points", headers=headers).json()["versions"]
    assert [v["txId"] for v in versions] == [dataset.tx_id]
    assert client.get(f"{CH}/datasets/absent", headers=headers).status_code == 404
    assert client.get(f"{CH}/models", headers=headers).json() == {"models": []}
    analysis = client.get(f"{CH}/analyses/mean-1", headers=headers).json()
    assert analysis["result"] == {"mean_y": 3.5}
    graph = client.get(f"{CH}/lineage/analysis/mean-1", headers=headers).json()
    assert {(e["to"], e["relation"]) for e in graph["edges"]} >= {("dataset:points@1", "input")}
    tx = client.get(f"{CH}/transactions/{dataset.tx_id}", headers=headers).json()
    assert tx["code"] == "VALID" and tx["chaincode"] == "datasets"
