"""The aggregation rules against independent numpy/scipy implementations, and their refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tensorledger.errors import InvalidRequestError
from tensorledger.federated.aggregation import aggregate


def updates(seed: int = 0, clients: int = 5) -> list[tuple[list[np.ndarray], int]]:
    rng = np.random.default_rng(seed)
    return [
        (
            [rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)],
            int(rng.integers(1, 100)),
        )
        for _ in range(clients)
    ]


def stacked(results: list[tuple[list[np.ndarray], int]], layer: int) -> np.ndarray:
    return np.stack([np.asarray(t[layer], dtype=np.float64) for t, _ in results])


def test_fedavg_is_the_example_weighted_mean() -> None:
    results = updates()
    counts = np.array([n for _, n in results], dtype=np.float64)
    out = aggregate("fedavg", {}, results)
    for layer in range(2):
        expected = np.tensordot(counts, stacked(results, layer), axes=1) / counts.sum()
        assert out[layer].dtype == np.float32
        np.testing.assert_allclose(out[layer], expected, rtol=1e-5, atol=1e-6)


def test_median_ignores_counts_and_one_huge_outlier() -> None:
    results = updates()
    results[0] = ([t * 1e6 for t in results[0][0]], 10_000)
    out = aggregate("median", {}, results)
    for layer in range(2):
        np.testing.assert_allclose(
            out[layer], np.median(stacked(results, layer), axis=0), rtol=1e-6
        )


@pytest.mark.parametrize("beta", [0.0, 0.2, 0.4])
def test_trimmed_mean_matches_scipy(beta: float) -> None:
    results = updates(clients=7)
    out = aggregate("trimmed_mean", {"beta": beta}, results)
    for layer in range(2):
        expected = stats.trim_mean(stacked(results, layer), beta, axis=0)
        np.testing.assert_allclose(out[layer], expected, rtol=1e-5, atol=1e-6)


def krum_scores(results: list[tuple[list[np.ndarray], int]], f: int) -> list[float]:
    """Krum's score written from the paper: sum of squared distances to the n-f-2 nearest others."""
    flat = [np.concatenate([np.ravel(t).astype(np.float64) for t in ts]) for ts, _ in results]
    n = len(flat)
    scores = []
    for i in range(n):
        d = sorted(float(np.sum((flat[i] - flat[j]) ** 2)) for j in range(n) if j != i)
        scores.append(sum(d[: max(1, n - f - 2)]))
    return scores


def test_krum_picks_the_client_with_the_lowest_score_and_skips_the_attacker() -> None:
    results = updates(clients=6)
    results[2] = ([t + 50 for t in results[2][0]], results[2][1])
    scores = krum_scores(results, f=1)
    best = int(np.argmin(scores))
    assert best != 2
    out = aggregate("krum", {"num_malicious": 1}, results)
    for layer in range(2):
        np.testing.assert_array_equal(out[layer], results[best][0][layer])


def test_multikrum_averages_the_best_to_keep() -> None:
    results = updates(clients=6)
    results[4] = ([t * -20 for t in results[4][0]], results[4][1])
    scores = krum_scores(results, f=1)
    keep = sorted(np.argsort(scores)[:3].tolist())
    assert 4 not in keep
    chosen = [results[i] for i in keep]
    counts = np.array([n for _, n in chosen], dtype=np.float64)
    out = aggregate("multikrum", {"num_malicious": 1, "to_keep": 3}, results)
    for layer in range(2):
        expected = np.tensordot(counts, stacked(chosen, layer), axes=1) / counts.sum()
        np.testing.assert_allclose(out[layer], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("fedavg", {}),
        ("median", {}),
        ("trimmed_mean", {"beta": 0.2}),
        ("krum", {"num_malicious": 1}),
        ("multikrum", {"num_malicious": 1, "to_keep": 2}),
    ],
)
def test_same_updates_same_order_give_the_same_bytes(method: str, params: dict) -> None:
    first = aggregate(method, params, updates(3))
    again = aggregate(method, params, updates(3))
    assert [a.tobytes() for a in first] == [b.tobytes() for b in again]
    assert all(a.dtype == np.float32 for a in first)


@pytest.mark.parametrize(
    ("method", "params", "clients", "message"),
    [
        ("mean", {}, 3, "aggregation must be one of"),
        ("fedavg", {"beta": 0.1}, 3, "takes parameters"),
        ("trimmed_mean", {"beta": 0.5}, 3, "beta must be a number in [0, 0.5)"),
        ("trimmed_mean", {"beta": "0.1"}, 3, "beta must be"),
        ("krum", {"num_malicious": -1}, 3, "num_malicious must be an integer"),
        ("krum", {"num_malicious": True}, 3, "num_malicious must be an integer"),
        ("krum", {"num_malicious": 3}, 3, "needs more than 3 clients"),
        ("multikrum", {"to_keep": 4}, 3, "to_keep=4 exceeds the 3 clients"),
        ("multikrum", {"to_keep": 0}, 3, "to_keep must be an integer"),
        ("fedavg", {}, 0, "at least one client update"),
    ],
)
def test_bad_rules_and_params_are_refused(
    method: str, params: dict, clients: int, message: str
) -> None:
    with pytest.raises(
        InvalidRequestError,
        match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)"),
    ):
        aggregate(method, params, updates(clients=clients))


def test_updates_that_do_not_fit_each_other_are_refused() -> None:
    results = updates(clients=3)
    results[1] = ([results[1][0][0][:2], results[1][0][1]], results[1][1])
    with pytest.raises(InvalidRequestError, match=r"update 1 has tensors"):
        aggregate("fedavg", {}, results)
    results = updates(clients=3)
    results[2] = ([t.astype(np.float64) for t in results[2][0]], results[2][1])
    with pytest.raises(InvalidRequestError, match=r"update 2 has tensors \['float64"):
        aggregate("median", {}, results)
    results = updates(clients=3)
    results[0] = (results[0][0], 0)
    with pytest.raises(InvalidRequestError, match="claims 0 examples"):
        aggregate("fedavg", {}, results)
