"""Federated learning on real Fabric: the same API as on the embedded ledger, rounds verified."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tensorledger as tl
from tensorledger.fabric import network
from tensorledger.fabric.install import Installation
from tensorledger.ledger.network import DEFAULT_CONTRACTS
from tensorledger.registry import add_dataset
from tests.fabric.conftest import bring_up

pytestmark = [pytest.mark.fabric, pytest.mark.slow]

NEEDED = ("datasets", "models", "governance", "rounds")
ORGS = ["Org1", "Org2"]


@pytest.fixture(scope="module")
def fl_net(fabric: Installation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("fabric-fl") / "net"
    bring_up(directory, fabric, contracts=[c for c in DEFAULT_CONTRACTS if c.name in NEEDED])
    try:
        yield directory
    finally:
        network.down(directory)


def test_two_org_run_on_fabric_is_anchored_and_verifies(fl_net: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from tensorledger import governance
    from tensorledger.federated import run_federated, verify_job
    from tests.federated.cancer import model_fn, splits

    data, _ = splits(ORGS)
    csv = tmp_path / "cohort.csv"
    csv.write_text("x\n1\n")
    with (
        tl.connect(fl_net, identity="Org1") as gw1,
        tl.connect(fl_net, identity="Org2") as gw2,
    ):
        gws = {"Org1": gw1, "Org2": gw2}
        dataset = add_dataset(gw1, csv, "cohort")
        governance.propose_job(
            gw1,
            "fabric-job",
            model="cancer-net",
            datasets=[f"cohort@{dataset.version}"],
            rounds=2,
            aggregation="median",
            approvers=["Org1MSP", "Org2MSP"],
            threshold_metric="accuracy",
            threshold_min=0.5,
        )
        governance.approve_job(gw1, "fabric-job")
        with pytest.raises(tl.ContractError, match="lacks approvals from Org2MSP"):
            governance.start_job(gw1, "fabric-job")
        governance.approve_job(gw2, "fabric-job")
        result = run_federated(
            gws,
            job_id="fabric-job",
            model_fn=model_fn,
            client_data=data,
            rounds=2,
            aggregation="median",
        )
        rounds = governance.list_rounds(gw2, "fabric-job")
        assert [r.round for r in rounds] == [1, 2]
        assert rounds[-1].global_after == result.digest
        checked = verify_job(gw2, "fabric-job")
        assert len(checked.rounds) == 2
        assert checked.final == result.digest
