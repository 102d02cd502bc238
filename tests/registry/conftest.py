"""A two-organisation network shared within a module, and a gateway per organisation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tensorledger as tl
from tests.contracts.ledgers import Net, make_net


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    yield from make_net(tmp_path_factory.mktemp("registry") / "ledger", ["Org1", "Org2"])


@pytest.fixture
def gw1(net: Net) -> tl.Gateway:
    return net.gws["Org1"]


@pytest.fixture
def gw2(net: Net) -> tl.Gateway:
    return net.gws["Org2"]
