"""Fixtures shared by every test directory: fresh embedded ledgers in temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

import tensorledger as tl

# The abstract contract suite is imported by backend test modules: show its assertion details.
pytest.register_assert_rewrite("tests.contract_suite")


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """A fresh two-organisation embedded network (Org1, Org2) with the seed's DataContract."""
    return tl.init(tmp_path / "ledger", orgs=["Org1", "Org2"])
