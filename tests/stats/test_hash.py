"""Result hashes are exact: stable across runs and JSON round trips, moved by one ulp."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from tensorledger.errors import InvalidRequestError
from tensorledger.stats import (
    canonical_json,
    correlation,
    describe,
    hash_result,
    logit,
    ols,
    ttest,
)


def test_canonical_form_is_pinned() -> None:
    value = {"n": 3, "a": 1.5, "flag": True, "names": ["b"], "none": None, "tiny": 5e-324}
    expected = (
        b'{"a":"0x1.8000000000000p+0","flag":true,"n":3,"names":["b"],"none":null,'
        b'"tiny":"0x0.0000000000001p-1022"}'
    )
    assert canonical_json(value) == expected
    assert hash_result(value) == hashlib.sha256(expected).hexdigest()


def test_non_finite_floats_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="non-finite"):
        hash_result({"x": float("nan")})


def test_hash_is_identical_across_runs(diabetes: pd.DataFrame, cancer: pd.DataFrame) -> None:
    features = list(diabetes.columns[:-1])
    for run in (
        lambda: describe(diabetes),
        lambda: correlation(diabetes, features),
        lambda: ols(diabetes, "target", features),
        lambda: logit(cancer, "target", ["mean radius", "mean texture"]),
        lambda: ttest(cancer, "mean radius", "target"),
    ):
        first, second = run(), run()
        assert first.to_dict() == second.to_dict()
        assert first.result_hash() == second.result_hash()
        assert len(first.result_hash()) == 64


def test_hash_survives_a_json_round_trip(diabetes: pd.DataFrame) -> None:
    """What the ledger stores is JSON; re-hashing what it returns must give the same hash."""
    result = ols(diabetes, "target", list(diabetes.columns[:-1]))
    stored = json.loads(json.dumps(result.to_dict()))
    assert hash_result(stored) == result.result_hash()


def test_to_dict_holds_only_plain_python_values(cancer: pd.DataFrame) -> None:
    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or type(value) in (bool, int, float, str)

    assert plain(ttest(cancer, "mean radius", "target").to_dict())
    assert plain(describe(cancer, ["mean radius"]).to_dict())
    assert plain(logit(cancer, "target", ["mean radius"]).to_dict())


def test_one_ulp_in_one_value_changes_the_hash(diabetes: pd.DataFrame) -> None:
    """The largest bmi moves up one ulp: describe's max must move, and OLS's fit with it.

    (Not every one-ulp change can move every statistic: a value whose ulp is
    below the ulp of a sum it enters leaves that sum, and the result, the same
    double. The ledger binds the data by their Merkle root, not by this hash.)
    """
    features = list(diabetes.columns[:-1])
    bmi = diabetes["bmi"].to_numpy()
    top = int(np.argmax(bmi))
    nudged = diabetes.copy()
    nudged.loc[top, "bmi"] = np.nextafter(bmi[top], np.inf)
    assert nudged["bmi"].to_numpy()[top] != bmi[top]
    # The maximum moves by exactly that ulp, so this one cannot be a near miss.
    assert describe(nudged).result_hash() != describe(diabetes).result_hash()
    assert (
        ols(nudged, "target", features).result_hash()
        != ols(diabetes, "target", features).result_hash()
    )
