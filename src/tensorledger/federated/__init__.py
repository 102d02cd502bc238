"""Federated training with Flower, every round anchored on the ledger and re-verifiable.

Organisations train one model on their own data; the aggregator runs
Flower's round loop with `AnchoredStrategy`, which stores each client's
update off chain and records the round (update digests, the rule, the global
model digests) through the `rounds` chaincode. `verify_round` lets any
organisation re-fetch the updates and recompute the aggregate bit for bit.

Its modules import TensorFlow and Flower when first used; ``import tensorledger``
does not.

    result = run_federated(gws, job_id="job-1", model_fn=lambda: tabular_model(30),
                           client_data=data, rounds=5, aggregation="median")
    verify_job(gws["Org2"], "job-1")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tensorledger.federated.aggregation import METHODS, aggregate
    from tensorledger.federated.client import ClientData, LedgerClient, Poison
    from tensorledger.federated.dp import ClipNoise, clip_and_noise
    from tensorledger.federated.models import tabular_model
    from tensorledger.federated.run import FederatedResult, run_federated
    from tensorledger.federated.strategy import AnchoredStrategy, RoundOutcome
    from tensorledger.federated.updates import fetch_update, model_digest, store_update
    from tensorledger.federated.verify import (
        JobVerification,
        RoundVerification,
        verify_job,
        verify_round,
    )

#: where each public name lives; modules load on first use, so importing one
#: light module (``aggregation``) does not pull in TensorFlow
_HOMES = {
    "METHODS": "aggregation",
    "aggregate": "aggregation",
    "ClientData": "client",
    "LedgerClient": "client",
    "Poison": "client",
    "ClipNoise": "dp",
    "clip_and_noise": "dp",
    "tabular_model": "models",
    "FederatedResult": "run",
    "run_federated": "run",
    "AnchoredStrategy": "strategy",
    "RoundOutcome": "strategy",
    "fetch_update": "updates",
    "model_digest": "updates",
    "store_update": "updates",
    "JobVerification": "verify",
    "RoundVerification": "verify",
    "verify_job": "verify",
    "verify_round": "verify",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "METHODS",
    "AnchoredStrategy",
    "ClientData",
    "ClipNoise",
    "FederatedResult",
    "JobVerification",
    "LedgerClient",
    "Poison",
    "RoundOutcome",
    "RoundVerification",
    "aggregate",
    "clip_and_noise",
    "fetch_update",
    "model_digest",
    "run_federated",
    "store_update",
    "tabular_model",
    "verify_job",
    "verify_round",
]
