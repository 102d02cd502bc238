"""Shared by the crash and tamper trials: one random seed per run, in every failure message.

Set TL_DURABILITY_SEED to replay a run. Under pytest-xdist every worker derives
the same seed from the run's id, so one run has one seed whichever worker fails.
"""

from __future__ import annotations

import os
import random

import pytest


def _seed() -> int:
    if given := os.environ.get("TL_DURABILITY_SEED"):
        return int(given)
    if run := os.environ.get("PYTEST_XDIST_TESTRUNUID"):
        return int(run[:8], 16)
    return random.SystemRandom().randrange(2**32)


SEED = _seed()


def pytest_report_header() -> str:
    return f"durability trials: TL_DURABILITY_SEED={SEED}"


@pytest.fixture(scope="session")
def seed() -> int:
    print(f"TL_DURABILITY_SEED={SEED}")
    return SEED
