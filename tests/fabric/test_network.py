"""A real Fabric 2.1 network started by `fabric.up`: healthy, serving our Python chaincode.

Each promise is checked against Fabric itself (its /healthz, its TLS
listeners, `peer lifecycle chaincode queryinstalled`, its committer's
validation codes), not against what `up` wrote down.
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import urllib.request
from pathlib import Path

import pytest

from tensorledger.errors import ContractError, UnavailableError
from tensorledger.fabric import network
from tests.fabric.conftest import CHANNEL

pytestmark = pytest.mark.fabric


def _healthz(address: str) -> dict[str, object]:
    with urllib.request.urlopen(f"http://{address}/healthz", timeout=5) as reply:
        return json.loads(reply.read())


def _tls_handshake(address: str, ca: str) -> str:
    """Handshake against `ca` with host-name checking; the peer certificate's subject CN."""
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=ca)
    context.set_alpn_protocols(["h2"])
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            cert = tls.getpeercert()
    return dict(x[0] for x in cert["subject"])["commonName"]


def test_every_process_is_healthy(fabric_net: Path) -> None:
    profile = network.load_profile(fabric_net)
    found = network.status(fabric_net)
    assert found.healthy
    assert {p.name for p in found.processes} == {
        "orderer",
        "peer Org1",
        "peer Org2",
        "chaincode datacontract",
    }
    assert _healthz(profile["orderer"]["operations"])["status"] == "OK"
    for org in profile["organizations"]:
        assert _healthz(org["peer"]["operations"])["status"] == "OK"
    heights = set(found.heights.values())
    # genesis, then at least one block of approvals and one with the commit
    assert len(heights) == 1 and heights.pop() >= 3


def test_profile_addresses_speak_tls_with_the_recorded_cas(fabric_net: Path) -> None:
    profile = network.load_profile(fabric_net)
    assert profile["channel"] == CHANNEL
    assert _tls_handshake(profile["orderer"]["address"], profile["orderer"]["tls_ca"]) == (
        "orderer.example.com"
    )
    for org in profile["organizations"]:
        assert org["msp_id"] == f"{org['name']}MSP"
        assert _tls_handshake(org["peer"]["address"], org["peer"]["tls_ca"]) == org["peer"]["host"]
        assert {"Admin", "User1"} <= set(org["users"])
        assert any(Path(org["users"]["User1"], "signcerts").iterdir())
    # The other org's CA must not vouch for this peer: the CAs really are per org.
    first, second = profile["organizations"]
    with pytest.raises(ssl.SSLError):
        _tls_handshake(first["peer"]["address"], second["peer"]["tls_ca"])


def test_package_id_is_what_fabric_computes(fabric_net: Path) -> None:
    profile = network.load_profile(fabric_net)
    (chaincode,) = profile["chaincodes"]
    package = (fabric_net / "artifacts" / "datacontract.tgz").read_bytes()
    assert chaincode["package_id"] == f"datacontract_1.0:{hashlib.sha256(package).hexdigest()}"
    cli, orgs = network.admin_cli(fabric_net)
    for org in orgs:
        out = cli.run(org, ["lifecycle", "chaincode", "queryinstalled"], "queryinstalled")
        assert f"Package ID: {chaincode['package_id']}" in out
    out = cli.run(
        orgs[0],
        ["lifecycle", "chaincode", "querycommitted", "-C", CHANNEL, "-n", "datacontract"],
        "querycommitted",
    )
    assert "Version: 1.0, Sequence: 1" in out
    assert "Org1MSP: true" in out and "Org2MSP: true" in out


def test_store_on_one_org_retrieve_on_the_other(fabric_net: Path) -> None:
    cli, orgs = network.admin_cli(fabric_net)
    before = network.status(fabric_net).heights
    value = '[1.5, 2.5, "ünïcode"]'
    out = cli.invoke(orgs[0], CHANNEL, "datacontract", ["storeData", "stat-1", value], orgs)
    assert "status:200" in out and "Data with ID stat-1 stored successfully." in out
    assert cli.query(orgs[1], CHANNEL, "datacontract", ["retrieveData", "stat-1"]) == value
    assert cli.query(orgs[0], CHANNEL, "datacontract", ["retrieveData", "stat-1"]) == value
    after = network.status(fabric_net).heights
    assert all(after[o] == before[o] + 1 for o in before)
    history = json.loads(cli.query(orgs[1], CHANNEL, "datacontract", ["history", "stat-1"]))
    assert [h["value"] for h in history] == [value]


def test_contract_errors_carry_the_seed_message(fabric_net: Path) -> None:
    cli, orgs = network.admin_cli(fabric_net)
    with pytest.raises(ContractError) as caught:
        cli.query(orgs[0], CHANNEL, "datacontract", ["retrieveData", "never-stored"])
    assert caught.value.message == "Data with ID never-stored does not exist."


def test_majority_policy_is_enforced_by_fabric(fabric_net: Path) -> None:
    """Endorsed by Org1 alone, the write is ordered but Fabric's committer invalidates it."""
    cli, orgs = network.admin_cli(fabric_net)
    cli.invoke(orgs[0], CHANNEL, "datacontract", ["storeData", "guarded", "v1"], orgs)
    with pytest.raises(UnavailableError, match="ENDORSEMENT_POLICY_FAILURE"):
        cli.invoke(orgs[0], CHANNEL, "datacontract", ["storeData", "guarded", "v2"], orgs[:1])
    for org in orgs:
        assert cli.query(org, CHANNEL, "datacontract", ["retrieveData", "guarded"]) == "v1"
