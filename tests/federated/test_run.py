"""A three-organisation run on the embedded ledger: every round anchored, recomputable, verified."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

import tensorledger as tl
from tensorledger.errors import ContractError, InvalidRequestError
from tensorledger.federated import FederatedResult, run_federated, verify_job, verify_round
from tensorledger.federated.updates import fetch_update
from tests.federated.cancer import accuracy, model_fn, splits
from tests.federated.conftest import ORGS, open_job
from tests.federated.test_updates import reference_digest

ROUNDS = 3


@dataclass
class Run:
    job: str
    result: FederatedResult
    test: tuple[np.ndarray, np.ndarray]
    sizes: dict[str, int]
    initial: list[np.ndarray]


@pytest.fixture(scope="module")
def run(net) -> Run:  # type: ignore[no-untyped-def]
    gws = net.gws
    job = open_job(gws, rounds=ROUNDS)
    data, test = splits(ORGS)
    initial = [np.array(w) for w in model_fn().get_weights()]
    result = run_federated(
        gws, job_id=job, model_fn=model_fn, client_data=data, rounds=ROUNDS, epochs=2
    )
    return Run(job, result, test, {o: d.num_examples for o, d in data.items()}, initial)


def test_every_round_is_recorded_with_every_client(run: Run, gws: dict[str, tl.Gateway]) -> None:
    from tensorledger import governance

    records = governance.list_rounds(gws["Org2"], run.job)
    assert [r.round for r in records] == list(range(1, ROUNDS + 1))
    for record in records:
        assert [u.client for u in record.updates] == ORGS  # sorted by client id
        assert [u.msp for u in record.updates] == [f"{o}MSP" for o in ORGS]
        assert [u.num_examples for u in record.updates] == [run.sizes[o] for o in ORGS]
        assert all(0 <= u.metrics["accuracy"] <= 1 for u in record.updates)
    assert records[0].global_before == reference_digest(["dense/kernel", "dense/bias"], run.initial)
    for before, after in itertools.pairwise(records):
        assert after.global_before == before.global_after
    assert records[-1].global_after == run.result.digest
    assert [o.global_after for o in run.result.rounds] == [r.global_after for r in records]


def test_each_global_model_is_the_numpy_weighted_mean_of_the_stored_updates(
    run: Run, gws: dict[str, tl.Gateway]
) -> None:
    from tensorledger import governance

    for outcome in run.result.rounds:
        record = governance.get_round(gws["Org3"], run.job, outcome.round)
        fetched = [
            fetch_update(gws["Org3"], u.update_object, u.update_root, f"update of {u.client}")[1]
            for u in record.updates
        ]
        counts = np.array([u.num_examples for u in record.updates], dtype=np.float64)
        for layer, got in enumerate(outcome.weights):
            stack = np.stack([f[layer].astype(np.float64) for f in fetched])
            expected = np.tensordot(counts, stack, axes=1) / counts.sum()
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
        names = ["dense/kernel", "dense/bias"]
        assert reference_digest(names, outcome.weights) == record.global_after


def test_the_federated_model_predicts_held_out_rows(run: Run) -> None:
    assert accuracy(run.result.weights, *run.test) > 0.9
    assert accuracy(run.initial, *run.test) < accuracy(run.result.weights, *run.test)


def test_any_organisation_verifies_every_round_bit_for_bit(
    run: Run, gws: dict[str, tl.Gateway]
) -> None:
    for org in ("Org2", "Org3"):
        checks = [verify_round(gws[org], run.job, n) for n in range(1, ROUNDS + 1)]
        assert [c.recomputed for c in checks] == [o.global_after for o in run.result.rounds]
        assert checks[0].previous is None
        assert checks[1].previous == checks[0].global_after
    whole = verify_job(gws["Org2"], run.job)
    assert whole.final == run.result.digest
    assert len(whole.rounds) == ROUNDS


def test_a_job_without_every_approval_does_not_start(gws: dict[str, tl.Gateway]) -> None:
    from tensorledger import governance

    job = open_job(gws, approve=False)
    governance.approve_job(gws["Org1"], job)
    data, _ = splits(ORGS)
    with pytest.raises(ContractError, match="lacks approvals"):
        run_federated(gws, job_id=job, model_fn=model_fn, client_data=data, rounds=1)
    assert governance.list_rounds(gws["Org1"], job) == []


def test_a_run_that_differs_from_the_job_is_refused_before_training(
    gws: dict[str, tl.Gateway],
) -> None:
    from tensorledger import governance

    job = open_job(gws, method="median", rounds=2)
    data, _ = splits(ORGS)
    with pytest.raises(InvalidRequestError, match="aggregates with median"):
        run_federated(
            gws, job_id=job, model_fn=model_fn, client_data=data, rounds=2, aggregation="fedavg"
        )
    with pytest.raises(InvalidRequestError, match="has 2 rounds; 3 asked for"):
        run_federated(
            gws, job_id=job, model_fn=model_fn, client_data=data, rounds=3, aggregation="median"
        )
    with pytest.raises(InvalidRequestError, match="no gateway for clients"):
        run_federated(
            {"Org1": gws["Org1"]}, job_id=job, model_fn=model_fn, client_data=data, rounds=1
        )
    assert governance.list_rounds(gws["Org1"], job) == []


def test_client_side_clipping_bounds_every_recorded_update(gws: dict[str, tl.Gateway]) -> None:
    clip = 0.05
    job = open_job(gws, rounds=1, dp={"clip": clip, "noiseMultiplier": 0.0, "delta": 1e-5})
    data, _ = splits(ORGS)
    initial = [np.array(w) for w in model_fn().get_weights()]
    result = run_federated(gws, job_id=job, model_fn=model_fn, client_data=data, rounds=1)
    record = result.rounds[0].record
    assert record is not None
    assert dict(record.dp)["clip"] == clip
    for u in record.updates:
        _, tensors = fetch_update(gws["Org2"], u.update_object, u.update_root, u.client)
        norm = np.sqrt(
            sum(
                np.sum((t.astype(np.float64) - i) ** 2)
                for t, i in zip(tensors, initial, strict=True)
            )
        )
        assert norm <= clip * (1 + 1e-5)
        assert norm > clip / 2  # training moved far more than the clip: it was clipped, not tiny
    verify_round(gws["Org3"], job, 1)
