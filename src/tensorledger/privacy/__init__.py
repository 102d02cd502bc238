"""Differential privacy with an ε budget the ledger enforces: releases, budgets, DP-SGD noise.

Importing this package does not import OpenDP (seconds); planning a release
or computing a Gaussian ε does.
"""

from __future__ import annotations

from tensorledger.privacy.budget import (
    BUDGETS,
    Budget,
    get_budget,
    list_releases,
    release,
    set_budget,
)
from tensorledger.privacy.mechanisms import Plan, Release, epsilon_of, plan
from tensorledger.privacy.sgd import clip_and_noise, gaussian_epsilon

__all__ = [
    "BUDGETS",
    "Budget",
    "Plan",
    "Release",
    "clip_and_noise",
    "epsilon_of",
    "gaussian_epsilon",
    "get_budget",
    "list_releases",
    "plan",
    "release",
    "set_budget",
]
