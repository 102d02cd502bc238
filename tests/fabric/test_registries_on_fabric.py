"""The registry contracts on real Fabric: chaincode-to-chaincode reads through the peer.

`analyses`, `models`, `governance` and `rounds` check references by calling
another chaincode. On Fabric that call goes through the peer, which the
official Python shim speaks wrongly (tensorledger/fabric/_shim_fixes.py);
these tests run the calls for real and compare with the embedded ledger.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import tensorledger as tl
from tensorledger.errors import ContractError
from tensorledger.fabric import network
from tensorledger.fabric.install import Installation
from tensorledger.ledger.network import DEFAULT_CONTRACTS
from tensorledger.registry import add_dataset, record_analysis
from tests.fabric.conftest import CHANNEL, bring_up

pytestmark = pytest.mark.fabric

REGISTRIES = [c for c in DEFAULT_CONTRACTS if c.name in ("datasets", "analyses")]
ROWS = "x,y\n1,2.5\n2,4.5\n3,6.5\n"


@pytest.fixture(scope="module")
def registry_net(fabric: Installation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("fabric-registries") / "net"
    bring_up(directory, fabric, contracts=REGISTRIES)
    try:
        yield directory
    finally:
        network.down(directory)


def _record(gw: tl.Gateway, csv: Path, analysis_id: str) -> dict[str, object]:
    dataset = add_dataset(gw, csv, "points")
    record = record_analysis(
        gw,
        analysis_id,
        method="mean",
        inputs=[f"points@{dataset.version}"],
        result={"mean_y": 4.5},
        result_hash="ab" * 32,
    )
    raw = gw.network(CHANNEL).contract("analyses").evaluate("GetAnalysis", record.id)
    return json.loads(raw)  # type: ignore[no-any-return]


def test_a_call_to_another_chaincode_checks_the_reference_on_fabric(
    registry_net: Path, tmp_path: Path
) -> None:
    csv = tmp_path / "points.csv"
    csv.write_text(ROWS)
    with tl.connect(registry_net, identity="Org1") as gw:
        on_fabric = _record(gw, csv, "mean-1")
        # the peers are still up: the call did not crash them
        assert network.status(registry_net).healthy
    embedded_dir = tl.init(tmp_path / "ledger", orgs=["Org1", "Org2"])
    with tl.connect(embedded_dir, identity="Org1") as gw:
        embedded = _record(gw, csv, "mean-1")
    stamped = ("txId", "timestamp")
    assert {k: v for k, v in on_fabric.items() if k not in stamped} == {
        k: v for k, v in embedded.items() if k not in stamped
    }


def test_a_reference_to_nothing_is_refused_by_the_called_chaincode(registry_net: Path) -> None:
    with tl.connect(registry_net, identity="Org2") as gw:
        contract = gw.network(CHANNEL).contract("analyses")
        record = {
            "id": "orphan",
            "method": "mean",
            "inputs": [{"dataset": "missing@1", "root": "cd" * 32}],
            "result": {},
            "resultHash": "ef" * 32,
            "package": "test",
        }
        with pytest.raises(ContractError) as err:
            contract.submit("RecordAnalysis", json.dumps(record))
        assert "names dataset missing@1, which does not exist" in err.value.message
        with pytest.raises(ContractError, match="Analysis orphan does not exist"):
            contract.evaluate("GetAnalysis", "orphan")
