"""Fixtures: one served ledger per module, and a TestClient over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from tensorledger.server.app import create_app
from tests.server.ledgers import Served, make_served


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return make_served(tmp_path_factory.mktemp("served") / "ledger")


@pytest.fixture(scope="module")
def client(served: Served) -> Iterator[TestClient]:
    with TestClient(create_app(served.path), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def public_client(served: Served) -> Iterator[TestClient]:
    with TestClient(create_app(served.path, public_read=True), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def fresh(tmp_path: Path) -> Served:
    return make_served(tmp_path / "ledger")
