"""Fixtures shared by every test directory: fresh embedded ledgers in temporary folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import tensorledger as tl

# The abstract contract suite is imported by backend test modules: show its assertion details.
pytest.register_assert_rewrite("tests.contract_suite")


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """A fresh two-organisation embedded network (Org1, Org2) with the seed's DataContract."""
    return tl.init(tmp_path / "ledger", orgs=["Org1", "Org2"])


# `make test` sets TENSORLEDGER_NO_SKIP=1: it installs everything the suite needs
# (Fabric, Chromium, every extra), so a test that would skip there is a failure
# of the setup, reported as one instead of passing silently.
_NO_SKIP = os.environ.get("TENSORLEDGER_NO_SKIP") == "1"


def _fail_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if _NO_SKIP and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under TENSORLEDGER_NO_SKIP=1: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Turn a skipped test into a failed one under TENSORLEDGER_NO_SKIP=1."""
    outcome = yield
    _fail_skip(outcome.get_result())  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """Turn a module skipped at import (importorskip) into a failure too."""
    outcome = yield
    _fail_skip(outcome.get_result())  # type: ignore[attr-defined]
