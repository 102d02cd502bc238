"""One poisoned client in five: FedAvg is dragged off, median, trimmed mean and Krum hold.

The attacker returns the global weights moved ten times its honest step
backwards (a scaled sign flip). Accuracy is read on held-out rows with numpy,
and only orderings with margins are asserted, never exact figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import tensorledger as tl
from tensorledger.federated import run_federated, verify_round
from tests.federated.cancer import accuracy, model_fn, splits
from tests.federated.conftest import open_job

CLIENTS = ["c1", "c2", "c3", "c4", "c5"]
ROUNDS = 3
RULES: dict[str, dict[str, Any]] = {
    "fedavg": {},
    "median": {},
    "trimmed_mean": {"beta": 0.2},
    "krum": {"num_malicious": 1},
}


def sign_flip(sent: list[np.ndarray], trained: list[np.ndarray]) -> list[np.ndarray]:
    return [s - 10 * (t - s) for s, t in zip(sent, trained, strict=True)]


def clients_of(gws: Mapping[str, tl.Gateway]) -> dict[str, tl.Gateway]:
    """Five clients over three organisations: a hospital group may run several."""
    orgs = list(gws)
    return {name: gws[orgs[i % len(orgs)]] for i, name in enumerate(CLIENTS)}


@pytest.fixture(scope="module")
def accuracies(net) -> dict[str, float]:  # type: ignore[no-untyped-def]
    data, test = splits(CLIENTS)
    gateways = clients_of(net.gws)
    out = {}
    runs: list[tuple[str, str, dict[str, Any] | None]] = [("clean", "fedavg", None)]
    runs += [(rule, rule, {"c3": sign_flip}) for rule in RULES]
    for label, rule, poison in runs:
        job = open_job(net.gws, method=rule, params=RULES[rule], rounds=ROUNDS)
        result = run_federated(
            gateways,
            job_id=job,
            model_fn=model_fn,
            client_data=data,
            rounds=ROUNDS,
            aggregation=rule,
            params=RULES[rule],
            poison=poison,
            evaluate=False,
        )
        out[label] = accuracy(result.weights, *test)
        if rule in ("krum", "median"):  # robust rules recompute bit for bit too
            verify_round(net.gws["Org3"], job, ROUNDS)
    return out


def test_the_clean_run_learns(accuracies: dict[str, float]) -> None:
    assert accuracies["clean"] > 0.9


def test_one_poisoned_client_drags_fedavg_off(accuracies: dict[str, float]) -> None:
    assert accuracies["fedavg"] < accuracies["clean"] - 0.2


@pytest.mark.parametrize("rule", ["median", "trimmed_mean", "krum"])
def test_robust_rules_stay_close_to_the_clean_run(accuracies: dict[str, float], rule: str) -> None:
    assert accuracies[rule] > accuracies["clean"] - 0.05
    assert accuracies[rule] > accuracies["fedavg"] + 0.2
