"""Ledgers shared by the ledger tests that only read them."""

from __future__ import annotations

import pytest

from tests.ledger.busy_ledger import BusyLedger, build


@pytest.fixture(scope="session")
def busy(tmp_path_factory: pytest.TempPathFactory) -> BusyLedger:
    """A ledger with valid and invalid transactions of every kind; tests must not write to it."""
    return build(tmp_path_factory.mktemp("busy") / "ledger")
