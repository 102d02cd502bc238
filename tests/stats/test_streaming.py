"""Batching must not change results: caller batches not at all, internal blocks to 1e-12.

Caller batches are re-cut into fixed blocks, so any batching of the input gives
bit-identical results. The block size itself changes the order of the Chan
merges; with blocks of 7 and 64 rows every statistic must stay within 1e-12 of
the one-block result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tensorledger.stats import (
    StatResult,
    _source,
    correlation,
    covariance,
    describe,
    logit,
    ols,
    ttest,
)
from tests.stats.conftest import batches

LOGIT_FEATURES = ["mean radius", "mean texture", "mean smoothness"]

Run = Callable[[Any], StatResult]


def _runs(diabetes: pd.DataFrame, cancer: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, Run]]:
    features = [c for c in diabetes.columns if c != "target"]
    return {
        "describe": (diabetes, lambda d: describe(d)),
        "covariance": (diabetes, lambda d: covariance(d, list(diabetes.columns))),
        "correlation": (diabetes, lambda d: correlation(d, list(diabetes.columns))),
        "ols": (diabetes, lambda d: ols(d, "target", features)),
        "ols-no-intercept": (diabetes, lambda d: ols(d, "target", features, add_intercept=False)),
        "logit": (cancer, lambda d: logit(d, "target", LOGIT_FEATURES)),
        "ttest": (cancer, lambda d: ttest(d, "mean radius", "target")),
        "ttest-pooled": (cancer, lambda d: ttest(d, "mean radius", "target", equal_var=True)),
    }


METHODS = list(_runs(pd.DataFrame(), pd.DataFrame()))


def _numbers(value: Any) -> Iterator[float]:
    """Every number in a result's dict, in a fixed order."""
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _numbers(value[key])
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield float(value)


def _strings(value: Any) -> str:
    """The non-numeric skeleton of a result: names, flags, structure."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_strings(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_strings(v) for v in value) + "]"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "#"
    return repr(value)


@pytest.mark.parametrize("method", METHODS)
def test_caller_batching_gives_identical_results(
    diabetes: pd.DataFrame, cancer: pd.DataFrame, method: str
) -> None:
    frame, run = _runs(diabetes, cancer)[method]
    whole = run(frame)
    for size in (7, 64):
        assert run(batches(frame, size)) == whole
    assert run([frame.iloc[:100], frame.iloc[100:]]) == whole  # a list of DataFrames


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("block_rows", [7, 64])
def test_block_merges_agree_to_1e_12(
    diabetes: pd.DataFrame,
    cancer: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    block_rows: int,
) -> None:
    frame, run = _runs(diabetes, cancer)[method]
    whole = run(frame).to_dict()
    monkeypatch.setattr(_source, "BLOCK_ROWS", block_rows)
    merged = run(batches(frame, 50)).to_dict()
    assert _strings(merged) == _strings(whole)
    if method == "describe":
        # Diabetes' features are centred by scikit-learn, so their means are
        # rounding noise around 0 (|mean| < 1e-15) that no relative tolerance
        # can compare: they, and only they, are held to 1e-16 absolute (the
        # columns' values are ~0.05, so that is ~1e-14 of the data's scale).
        means = [[c.pop("mean") for c in d["columns"]] for d in (merged, whole)]
        np.testing.assert_allclose(means[0], means[1], rtol=1e-12, atol=1e-16)
    expected = np.array(list(_numbers(whole)))
    actual = np.array(list(_numbers(merged)))
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0)


def test_two_dimensional_array_columns_are_named_c0_c1(diabetes: pd.DataFrame) -> None:
    matrix = diabetes.to_numpy()
    named = describe(diabetes)
    positional = describe(matrix)
    assert [c.name for c in positional.columns] == [f"c{i}" for i in range(matrix.shape[1])]
    assert [c.mean for c in positional.columns] == [c.mean for c in named.columns]
    stream = (matrix[i : i + 30] for i in range(0, len(matrix), 30))
    assert (
        ols(stream, "c10", [f"c{i}" for i in range(10)]).coefficients
        == ols(diabetes, "target", list(diabetes.columns[:-1])).coefficients
    )
