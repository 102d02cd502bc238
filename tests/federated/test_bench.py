"""Benchmark: what anchoring costs a federated run, and what robust rules buy under poisoning.

Prints one JSON line: wall time of the same run anchored (every update
stored, every round recorded on the ledger) and not anchored (medians of
interleaved runs), their ratio against the 1.10 target, and held-out
accuracy of fedavg, median, trimmed_mean and krum with 20 % of clients
poisoned. Speed is reported, never asserted.
"""

from __future__ import annotations

import json
import statistics
import time

import pytest

from tensorledger.federated import run_federated
from tests.federated.cancer import accuracy, model_fn, splits
from tests.federated.conftest import open_job
from tests.federated.test_poisoning import CLIENTS, RULES, clients_of, sign_flip

pytestmark = pytest.mark.bench

ROUNDS = 5
REPEATS = 3


def test_anchoring_overhead_and_robustness_under_poisoning(net) -> None:  # type: ignore[no-untyped-def]
    data, test = splits(CLIENTS)
    gateways = clients_of(net.gws)

    def once(anchor: bool) -> float:
        job = open_job(net.gws, rounds=ROUNDS) if anchor else "baseline"
        started = time.perf_counter()
        run_federated(
            gateways,
            job_id=job,
            model_fn=model_fn,
            client_data=data,
            rounds=ROUNDS,
            anchor=anchor,
            evaluate=False,
        )
        return time.perf_counter() - started

    once(True), once(False)  # warm-up: TensorFlow traces the training step once per model
    anchored, plain = [], []
    for _ in range(REPEATS):
        anchored.append(once(True))
        plain.append(once(False))
    ours, peer = statistics.median(anchored), statistics.median(plain)

    poisoned = {}
    for rule, params in RULES.items():
        result = run_federated(
            gateways,
            job_id="poisoned",
            model_fn=model_fn,
            client_data=data,
            rounds=ROUNDS,
            aggregation=rule,
            params=params,
            anchor=False,
            poison={"c3": sign_flip},
            evaluate=False,
        )
        poisoned[rule] = accuracy(result.weights, *test)
    print(
        "\n"
        + json.dumps(
            {
                "benchmark": "federated-anchored-vs-plain",
                "ours_s": ours,
                "peer_s": peer,
                "ratio": ours / peer,
                "target_ratio": 1.10,
                "clients": len(CLIENTS),
                "rounds": ROUNDS,
                "poisoned_fraction": 1 / len(CLIENTS),
                "accuracy_under_poisoning": poisoned,
            }
        )
    )
