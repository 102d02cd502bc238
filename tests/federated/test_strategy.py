"""The strategy and the in-process round loop without the ledger (``anchor=False``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters

from tensorledger.errors import IntegrityError, InvalidRequestError, UnavailableError
from tensorledger.federated import AnchoredStrategy, run_federated
from tests.federated.cancer import accuracy, model_fn, splits

ORGS = ["Org1", "Org2", "Org3"]
SHAPES = [(3, 1), (1,)]


def offline() -> dict[str, SimpleNamespace]:
    """Stand-ins for gateways: an unanchored run only asks them for their MSP."""
    return {o: SimpleNamespace(msp_id=f"{o}MSP") for o in ORGS}


def strategy() -> AnchoredStrategy:
    initial = [np.zeros(s, np.float32) for s in SHAPES]
    return AnchoredStrategy(
        job="j", names=["dense/kernel", "dense/bias"], initial=initial, clients=2, anchor=False
    )


def fit_res(client: str, arrays: list[np.ndarray], n: int = 10) -> tuple[object, FitRes]:
    res = FitRes(
        status=Status(code=Code.OK, message=""),
        parameters=ndarrays_to_parameters(arrays),
        num_examples=n,
        metrics={"client": client, "msp": f"{client}MSP", "loss": 1.0},
    )
    return SimpleNamespace(cid=f"grpc-{client}"), res


def test_same_seed_same_model_whatever_order_clients_answer_in() -> None:
    data, test = splits(ORGS)
    runs = [
        run_federated(
            offline(),  # type: ignore[arg-type]
            job_id="offline",
            model_fn=model_fn,
            client_data=data,
            rounds=2,
            anchor=False,
            evaluate=False,
        )
        for _ in range(2)
    ]
    assert runs[0].digest == runs[1].digest
    assert [o.clients for o in runs[0].rounds] == [tuple(ORGS)] * 2
    assert all(o.record is None and o.global_after is None for o in runs[0].rounds)
    assert accuracy(runs[0].weights, *test) > 0.85


def test_an_update_that_does_not_fit_the_model_is_refused_naming_the_client() -> None:
    good = [np.ones(s, np.float32) for s in SHAPES]
    bad = [np.ones((4, 1), np.float32), np.ones(1, np.float32)]
    with pytest.raises(InvalidRequestError, match="client B returned tensors"):
        strategy().aggregate_fit(1, [fit_res("A", good), fit_res("B", bad)], [])  # type: ignore[list-item]
    wrong_dtype = [a.astype(np.float64) for a in good]
    with pytest.raises(InvalidRequestError, match="client C returned tensors"):
        strategy().aggregate_fit(1, [fit_res("C", wrong_dtype)], [])  # type: ignore[list-item]


def test_two_updates_claiming_one_client_are_refused() -> None:
    good = [np.ones(s, np.float32) for s in SHAPES]
    with pytest.raises(InvalidRequestError, match="a client id repeats"):
        strategy().aggregate_fit(1, [fit_res("A", good), fit_res("A", good)], [])  # type: ignore[list-item]


def test_a_round_with_a_failed_client_stops_with_the_clients_error() -> None:
    good = [np.ones(s, np.float32) for s in SHAPES]
    ours = IntegrityError("dataset d v1 chunk 0", "SHA-256 differs")
    with pytest.raises(IntegrityError, match="chunk 0"):
        strategy().aggregate_fit(1, [fit_res("A", good)], [ours])  # type: ignore[list-item]
    with pytest.raises(UnavailableError, match="1 of 2 clients failed"):
        strategy().aggregate_fit(1, [fit_res("A", good)], [RuntimeError("gone")])  # type: ignore[list-item]


def test_the_aggregate_is_sorted_by_client_id_not_by_arrival() -> None:
    rng = np.random.default_rng(0)
    updates = {c: [rng.normal(size=s).astype(np.float32) for s in SHAPES] for c in "ABCDE"}
    forward = strategy()
    backward = strategy()
    forward.aggregate_fit(1, [fit_res(c, updates[c], 7 + i) for i, c in enumerate("ABCDE")], [])  # type: ignore[misc]
    backward.aggregate_fit(
        1,
        [fit_res(c, updates[c], 7 + "ABCDE".index(c)) for c in "EDCBA"],  # type: ignore[misc]
        [],
    )
    a, b = forward.outcomes[0], backward.outcomes[0]
    assert a.clients == b.clients == tuple("ABCDE")
    assert [x.tobytes() for x in a.weights] == [y.tobytes() for y in b.weights]


def test_anchoring_without_a_gateway_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="needs the aggregator's gateway"):
        AnchoredStrategy(job="j", names=["a"], initial=[np.zeros(1)], clients=1)
    with pytest.raises(InvalidRequestError, match="aggregation must be one of"):
        AnchoredStrategy(
            job="j", names=["a"], initial=[np.zeros(1)], clients=1, method="mean", anchor=False
        )
