"""A Fabric installation (built once, cached) and a running two-org network for the module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tensorledger.errors import ConfigError
from tensorledger.fabric import network
from tensorledger.fabric.install import Installation, find_installation, install
from tensorledger.ledger.network import ContractSpec

DATA = ContractSpec("datacontract", "tensorledger.contracts.data:DataContract")
CHANNEL = "mychannel"


@pytest.fixture(scope="session")
def fabric() -> Installation:
    """The cached Fabric build; built here when absent and Go is on the machine."""
    try:
        return find_installation()
    except ConfigError:
        if shutil.which("go") is None:
            pytest.skip("Fabric is not installed and `go` is not on PATH")
        return install()


def bring_up(directory: Path, fabric: Installation, **options: Any) -> dict[str, Any]:
    return network.up(
        directory, 2, CHANNEL, options.pop("contracts", [DATA]), fabric=fabric, **options
    )


@pytest.fixture(scope="module")
def fabric_net(fabric: Installation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running two-organisation network with the DataContract (MAJORITY policy)."""
    directory = tmp_path_factory.mktemp("fabric") / "net"
    bring_up(directory, fabric)
    try:
        yield directory
    finally:
        network.down(directory)


@pytest.fixture(scope="module")
def fabric_node_net(
    fabric: Installation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A running two-organisation network with the Python and the Node.js DataContract."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the Node chaincode needs `node` and `npm` on PATH")
    directory = tmp_path_factory.mktemp("fabric-node") / "net"
    bring_up(directory, fabric, node_chaincode=True)
    try:
        yield directory
    finally:
        network.down(directory)
