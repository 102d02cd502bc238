"""Fixtures shared by every test directory: fresh embedded ledgers in temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

import tensorledger as tl


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """A fresh two-organisation embedded network (Org1, Org2) with the seed's DataContract."""
    return tl.init(tmp_path / "ledger", orgs=["Org1", "Org2"])
