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
