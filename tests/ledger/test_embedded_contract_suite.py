"""The contract conformance suite run against the embedded backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tensorledger as tl
from tests.contract_suite import DataContractSuite


class TestEmbeddedDataContract(DataContractSuite):
    """Two gateways (Org1 and Org2 clients) on one two-organisation embedded network.

    The network is shared by the class's tests, as a Fabric network would be:
    the suite gives every test keys of its own.
    """

    event_timeout = 1.0

    @pytest.fixture(scope="class")
    @classmethod
    def gateways(
        cls, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[tuple[tl.Gateway, tl.Gateway]]:
        path = tl.init(tmp_path_factory.mktemp("suite") / "ledger", orgs=["Org1", "Org2"])
        with tl.connect(path, identity="Org1") as org1, tl.connect(path, identity="Org2") as org2:
            yield org1, org2
