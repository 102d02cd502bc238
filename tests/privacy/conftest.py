"""A two-organisation ledger holding scikit-learn's diabetes data, registered by Org1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tensorledger as tl
from tensorledger.registry import add_dataset
from tests.contracts.ledgers import Net, make_net
from tests.contracts.records import uid


@dataclass
class World:
    """The network, the diabetes frame as written to CSV, and the ref it was registered under."""

    net: Net
    frame: pd.DataFrame
    csv: Path

    @property
    def path(self) -> Path:
        return self.net.path

    def budgets(self, org: str = "Org1") -> tl.Contract:
        return self.net.contract(org, "budgets")

    def register(self, org: str = "Org1") -> str:
        """A fresh dataset id holding the diabetes CSV, registered by `org`; returns 'id@1'."""
        dataset_id = uid("diabetes")
        add_dataset(self.net.gws[org], self.csv, dataset_id)
        return f"{dataset_id}@1"


def diabetes_frame() -> pd.DataFrame:
    """The diabetes data in original units (age in years), plus a text column for categories."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sexLabel"] = frame["sex"].map({1.0: "F", 2.0: "M"})
    return frame


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("privacy")
    frame = diabetes_frame()
    csv = root / "diabetes.csv"
    frame.to_csv(csv, index=False)
    for net in make_net(root / "ledger", ["Org1", "Org2"]):
        yield World(net, frame, csv)


def spend_record(ref: str, release_id: str, epsilon: str, **fields: Any) -> str:
    """A valid Spend record for `ref`; fields override."""
    record: dict[str, Any] = {
        "id": release_id,
        "dataset": ref,
        "epsilon": epsilon,
        "mechanism": "laplace",
        "statistic": "mean",
        "parameters": {"column": "age"},
        "value": 48.5,
    }
    record.update(fields)
    return json.dumps(record)
