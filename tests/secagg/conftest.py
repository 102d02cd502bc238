"""A four-organisation ledger shared within a module: Org1-3 are parties, Org4 is not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tensorledger as tl
from tests.contracts.ledgers import Net, make_net

ORGS = ["Org1", "Org2", "Org3", "Org4"]
PARTIES = ["Org1", "Org2", "Org3"]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    yield from make_net(tmp_path_factory.mktemp("secagg") / "ledger", ORGS)


@pytest.fixture
def parties(net: Net) -> dict[str, tl.Gateway]:
    """The three parties' own gateways, by organisation name."""
    return {org: net.gws[org] for org in PARTIES}
