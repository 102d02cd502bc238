"""A three-organisation ledger shared within a module (MAJORITY = two endorsements of three)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tensorledger.ledger.network import EmbeddedNetwork
from tests.contracts.ledgers import Net, make_net
from tests.contracts.records import dataset


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    """Three orgs; datasets cohort@1 (Org1, by make_net) and other@1 (Org2) registered."""
    for n in make_net(tmp_path_factory.mktemp("gov") / "ledger", ["Org1", "Org2", "Org3"]):
        n.contract("Org2", "datasets").submit("RegisterDataset", json.dumps(dataset("other")))
        yield n


@pytest.fixture
def network(net: Net) -> Iterator[EmbeddedNetwork]:
    """Direct access to the ledger, to endorse first and commit later."""
    network = EmbeddedNetwork(net.path)
    try:
        yield network
    finally:
        network.close()
