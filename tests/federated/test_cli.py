"""`fl run`, `fl status`, `verify round` and `verify job` on per-organisation datasets."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tensorledger.cli import app
from tensorledger.registry import add_dataset
from tests.contracts.records import uid
from tests.federated.cancer import splits
from tests.federated.conftest import ORGS, open_job

runner = CliRunner()


@pytest.fixture(scope="module")
def registered(net, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each organisation's share registered as its own CSV dataset; org → ref."""
    data, _ = splits(ORGS, seed=3)
    folder = tmp_path_factory.mktemp("csv")
    refs = {}
    for org in ORGS:
        x, y = data[org].train
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
        frame["target"] = y.astype(int)
        path = folder / f"{org}.csv"
        frame.to_csv(path, index=False)
        record = add_dataset(net.gws[org], path, uid(f"cancer-{org.lower()}"))
        refs[org] = record.ref
    return refs


def cli(net, *args: str) -> object:  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--ledger", str(net.path), *args])


def test_run_status_and_verify_from_the_command_line(net, registered: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    job = open_job(net.gws, method="median", rounds=2)
    data = [arg for org in ORGS for arg in ("--data", f"{org}={registered[org]}")]
    result = cli(net, "fl", "run", job, *data, "--label", "target", "--json")
    assert result.exit_code == 0, result.output
    ran = json.loads(result.stdout[result.stdout.index("{") :])
    assert [r["round"] for r in ran["rounds"]] == [1, 2]
    assert ran["rounds"][-1]["globalAfter"] == ran["digest"]

    status = cli(net, "-i", "Org2", "fl", "status", job, "--json")
    assert status.exit_code == 0, status.output
    shown = json.loads(status.stdout)
    assert shown["status"] == "running"
    assert [r["clients"] for r in shown["recorded"]] == [ORGS, ORGS]
    assert cli(net, "fl", "status", job).exit_code == 0

    checked = cli(net, "-i", "Org3", "verify", "round", job, "2", "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["recomputed"] == ran["digest"]
    whole = cli(net, "-i", "Org3", "verify", "job", job)
    assert whole.exit_code == 0, whole.output
    assert "2 rounds" in whole.stdout


def test_bad_requests_are_one_line_errors(net, registered: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    job = open_job(net.gws, rounds=1)
    result = cli(net, "fl", "run", job, "--data", "Org1", "--label", "target")
    assert result.exit_code == 3
    assert "is not NAME=VALUE" in result.output
    result = cli(
        net,
        "fl",
        "run",
        job,
        "--orgs",
        "Org1,Org2",
        "--data",
        f"Org1={registered['Org1']}",
        "--label",
        "target",
    )
    assert result.exit_code == 3
    assert "Org2" in result.output
    missing = cli(net, "verify", "round", job, "1")
    assert missing.exit_code == 8, missing.output
