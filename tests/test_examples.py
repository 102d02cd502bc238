"""The examples run end to end, small, and say what they did."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("sklearn")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert load(name).main(["--small", "--dir", str(tmp_path)]) == 0
    return capsys.readouterr().out


def test_research_is_verified_by_the_other_org(tmp_path: Path, capsys) -> None:
    out = run("research", tmp_path, capsys)
    assert "verification: ok" in out
    assert "Org2: analysis ols-diabetes-v1-" in out


def test_healthcare_lineage_names_both_hospitals(tmp_path: Path, capsys) -> None:
    out = run("healthcare", tmp_path, capsys)
    assert "lineage of tumour-classifier@1: hospital-a@1, hospital-b@1" in out
    assert "'consent': 'research-use'" in out


def test_finance_audits_one_version_per_anchored_epoch(tmp_path: Path, capsys) -> None:
    module = load("finance")
    assert module.main(["--small", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    epochs = 4  # --small
    assert f"audit trail of fraud-detector: {epochs // module.EVERY} versions" in out
    assert out.count("datasets card-transactions@1") == epochs // module.EVERY


def test_federated_hospitals_govern_train_verify_and_promote(tmp_path: Path, capsys) -> None:
    out = run("federated", tmp_path, capsys)
    for job in ("fl-fedavg", "fl-median", "fl-secure"):
        assert f"job {job} " in out and "approved by Org1MSP, Org2MSP, Org3MSP" in out
    assert "2 rounds verified by Org2MSP" in out
    assert "weightsRoot is round 2's globalAfter: True" in out
    assert "promoted tumour-fl@1" in out
    assert "lineage of tumour-fl@1: hospital-a@1, hospital-b@1, hospital-c@1" in out
    assert "verified by Org3MSP: True" in out
    assert "budget 0.5 of 1.0 spent" in out
    assert "pooled OLS matches statsmodels: True" in out
    fedavg, median = (
        float(line.rsplit(" ", 1)[1])
        for line in out.splitlines()
        if line.strip().startswith(("fedavg: held-out", "median: held-out"))
    )
    assert median > fedavg + 0.1  # the poisoned client drags FedAvg off, not the median
