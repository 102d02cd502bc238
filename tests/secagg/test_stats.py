"""Pooled statistics from secure sums against statsmodels and numpy on the pooled rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_diabetes

import tensorledger as tl
from tensorledger.registry.analyses import get_analysis
from tensorledger.secagg import get_session, pooled_mean, pooled_ols
from tensorledger.stats.result import hash_result
from tests.contracts.ledgers import Net
from tests.contracts.records import dataset, uid


def split(n: int, sizes: tuple[int, int]) -> dict[str, np.ndarray]:
    """Rows shuffled with a fixed seed, cut unevenly into three organisations."""
    order = np.random.default_rng(42).permutation(n)
    a, b = sizes
    return {"Org1": order[:a], "Org2": order[a : a + b], "Org3": order[a + b :]}


def test_pooled_ols_on_diabetes_matches_statsmodels_on_the_pooled_rows(
    net: Net, parties: dict[str, tl.Gateway]
) -> None:
    x, y = load_diabetes(return_X_y=True)
    rows = split(len(y), (41, 290))  # 41 / 290 / 111 rows
    result = pooled_ols(parties, {org: (x[r], y[r]) for org, r in rows.items()}, uid("ols"))
    reference = sm.OLS(y, sm.add_constant(x)).fit()
    assert result.n == 442
    np.testing.assert_allclose(result.coefficients, reference.params, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(result.standard_errors, reference.bse, rtol=1e-6, atol=1e-6)
    assert math.isclose(result.sigma2, reference.scale, rel_tol=1e-9)
    # the fit is far tighter than the promise: fixed-point rounding is 2^-49 per entry
    np.testing.assert_allclose(result.coefficients, reference.params, rtol=1e-9)


def test_pooled_ols_without_intercept(net: Net, parties: dict[str, tl.Gateway]) -> None:
    x, y = load_diabetes(return_X_y=True)
    x = x[:, :4]
    rows = split(len(y), (200, 30))
    result = pooled_ols(
        parties, {org: (x[r], y[r]) for org, r in rows.items()}, uid("ols0"), intercept=False
    )
    reference = sm.OLS(y, x).fit()
    np.testing.assert_allclose(result.coefficients, reference.params, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(result.standard_errors, reference.bse, rtol=1e-6, atol=1e-6)


def test_pooled_count_and_mean_are_exact(net: Net, parties: dict[str, tl.Gateway]) -> None:
    rng = np.random.default_rng(3)
    # values with at most 20 fractional bits encode exactly at 2^-48
    data = {
        org: rng.integers(-(10**9), 10**9, size=(n, 3)) / 2**20
        for org, n in zip(parties, (5, 130, 17), strict=True)
    }
    pooled = np.vstack(list(data.values()))
    result = pooled_mean(parties, data, uid("mean"))
    assert result.count == len(pooled) == 152
    exact_sums = [math.fsum(pooled[:, j]) for j in range(3)]
    assert result.total.tolist() == exact_sums
    assert result.mean.tolist() == [s / 152 for s in exact_sums]
    np.testing.assert_allclose(result.mean, pooled.mean(axis=0), rtol=1e-15)


def test_pooled_mean_of_real_columns_is_within_the_rounding_bound(
    net: Net, parties: dict[str, tl.Gateway]
) -> None:
    x, _ = load_diabetes(return_X_y=True)
    rows = split(len(x), (100, 300))
    result = pooled_mean(parties, {org: x[r, 2] for org, r in rows.items()}, uid("bmi"))
    assert result.count == 442
    bound = 442 * 2.0**-49 + abs(math.fsum(x[:, 2])) * 2**-52
    assert abs(result.total[0] - math.fsum(x[:, 2])) <= bound
    assert abs(result.mean[0] - np.mean(x[:, 2])) <= bound / 442 + 1e-18


def test_a_pooled_result_is_recorded_as_an_analysis(
    net: Net, parties: dict[str, tl.Gateway]
) -> None:
    inputs = []
    for org in parties:
        ds = uid(f"cohort-{org.lower()}")
        net.contract(org, "datasets").submit("RegisterDataset", json.dumps(dataset(ds)))
        inputs.append(f"{ds}@1")
    x, y = load_diabetes(return_X_y=True)
    rows = split(len(y), (60, 60))
    sid, aid = uid("ols-rec"), uid("analysis")
    result = pooled_ols(
        parties,
        {org: (x[r], y[r]) for org, r in rows.items()},
        sid,
        analysis_id=aid,
        inputs=inputs,
        aggregator=net.gws["Org4"],
    )
    record = get_analysis(net.gws["Org2"], aid)
    assert record.method == "secagg.pooled_ols"
    assert record.owner == "Org4MSP"
    assert record.parameters["session"] == sid
    assert record.parameters["aggregateTx"] == get_session(net.gws["Org1"], sid).aggregate_tx
    assert [i.dataset for i in record.inputs] == inputs
    assert record.result["coefficients"] == result.coefficients.tolist()
    assert hash_result(dict(record.result)) == record.result_hash


def test_recording_is_checked_before_the_session_runs(
    net: Net, parties: dict[str, tl.Gateway]
) -> None:
    data = {org: [1.0, 2.0] for org in parties}
    height = net.height()
    with pytest.raises(tl.InvalidRequestError, match="needs its input datasets"):
        pooled_mean(parties, data, uid("m"), analysis_id=uid("a"))
    with pytest.raises(tl.NotFoundError):
        pooled_mean(parties, data, uid("m"), analysis_id=uid("a"), inputs=["nope@1"])
    assert net.height() == height


def test_bad_ols_input_is_refused(net: Net, parties: dict[str, tl.Gateway]) -> None:
    x, y = load_diabetes(return_X_y=True)
    height = net.height()
    bad_y = dict.fromkeys(parties, (x[:10], y[:9]))
    with pytest.raises(tl.InvalidRequestError, match=r"Org1: y has shape \(9,\); X has 10 rows"):
        pooled_ols(parties, bad_y, uid("o"))
    widths = {"Org1": (x[:10], y[:10]), "Org2": (x[:10, :3], y[:10]), "Org3": (x[:10], y[:10])}
    with pytest.raises(tl.InvalidRequestError, match="same columns"):
        pooled_ols(parties, widths, uid("o"))
    assert net.height() == height
    collinear = {org: (np.hstack((x[:50, :2], x[:50, :1])), y[:50]) for org in parties}
    with pytest.raises(tl.InvalidRequestError, match="singular"):
        pooled_ols(parties, collinear, uid("o"))
