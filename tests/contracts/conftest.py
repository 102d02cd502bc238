"""Embedded networks for the registry contract tests, shared within a module (ids are unique)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tensorledger.ledger.network import EmbeddedNetwork
from tests.contracts.ledgers import Net, make_net


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    """Two organisations, Org1 and Org2, with the registry contracts deployed."""
    yield from make_net(tmp_path_factory.mktemp("net2") / "ledger", ["Org1", "Org2"])


@pytest.fixture(scope="module")
def net3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    """Three organisations: MAJORITY means two endorsements of three."""
    yield from make_net(tmp_path_factory.mktemp("net3") / "ledger", ["Org1", "Org2", "Org3"])


@pytest.fixture
def network(net: Net) -> Iterator[EmbeddedNetwork]:
    """Direct access to the two-org ledger, to endorse first and commit later."""
    network = EmbeddedNetwork(net.path)
    try:
        yield network
    finally:
        network.close()
