"""Bad inputs are refused with one clear `InvalidRequestError` line, never a TF traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tensorledger.errors import InvalidRequestError
from tensorledger.stats import correlation, covariance, describe, logit, ols, ttest

X = np.arange(10.0)
CLEAN = {"x": X, "z": np.sin(X), "y": X % 3 + np.cos(X), "g": X % 2, "b": (X > 4).astype(float)}


def _with(**columns: Any) -> dict[str, Any]:
    return {**CLEAN, **columns}


CASES: list[tuple[str, Callable[[], object], str]] = [
    ("missing column", lambda: describe(CLEAN, ["nope"]), r"column 'nope' is not in the data"),
    ("missing y", lambda: ols(CLEAN, "nope", ["x"]), r"column 'nope' is not in the data"),
    ("missing group", lambda: ttest(CLEAN, "y", "nope"), r"column 'nope' is not in the data"),
    (
        "strings",
        lambda: covariance(_with(s=np.array(list("abcdefghij"))), ["x", "s"]),
        r"column 's' is not numeric \(dtype <U1\)",
    ),
    (
        "objects",
        lambda: describe(_with(o=np.array([1.0] * 9 + [None], dtype=object)), ["o"]),
        r"column 'o' is not numeric",
    ),
    ("NaN", lambda: ols(_with(x=np.r_[X[:7], np.nan, X[8:]]), "y", ["x"]), r"'x' has NaN at row 7"),
    (
        "inf",
        lambda: correlation(_with(z=np.r_[np.inf, X[1:]]), ["x", "z"]),
        r"'z' has an infinite value at row 0",
    ),
    (
        "NaN in a later batch",
        lambda: describe([CLEAN, _with(x=np.r_[X[:3], np.nan, X[4:]])], ["x"]),
        r"'x' has NaN at row 13",
    ),
    ("one row", lambda: describe({"x": [1.0]}), r"describe needs at least 2 rows, got 1"),
    ("no rows", lambda: covariance({"x": []}, ["x"]), r"covariance needs at least 2 rows, got 0"),
    (
        "ols rows",
        lambda: ols(
            {"y": [1.0, 2.0, 4.0], "x": [0.0, 1.0, 3.0], "w": [1.0, 0.0, 2.0]}, "y", ["x", "w"]
        ),
        r"ols with 3 coefficients needs at least 4 rows, got 3",
    ),
    (
        "ttest rows",
        lambda: ttest([1.0], [1.0, 2.0]),
        r"ttest needs at least 2 rows in each group, got 1 in 'a'",
    ),
    (
        "duplicate regressor",
        lambda: ols(_with(w=2.0 * X - 1.0), "y", ["x", "z", "w"]),
        r"singular design matrix: column 'w' is a linear combination of 'const', 'x'$",
    ),
    (
        "constant regressor",
        lambda: logit(_with(c=np.full(10, 3.0)), "b", ["x", "c"]),
        r"singular design matrix: column 'c' is a linear combination of 'const'$",
    ),
    (
        "zero regressor",
        lambda: ols(_with(c=np.zeros(10)), "y", ["c"], add_intercept=False),
        r"singular design matrix: column 'c' is all zeros",
    ),
    ("y among x", lambda: ols(CLEAN, "y", ["x", "y"]), r"column 'y' is both y and a regressor"),
    ("no regressors", lambda: ols(CLEAN, "y", []), r"ols x needs at least one column"),
    ("named twice", lambda: correlation(CLEAN, ["x", "x"]), r"column 'x' is named twice"),
    ("const clash", lambda: ols(_with(const=X), "y", ["const"]), r"the intercept's name"),
    ("perfect fit", lambda: ols(_with(y=3 * X + 1), "y", ["x"]), r"exact linear function"),
    ("constant y", lambda: ols(_with(y=np.ones(10)), "y", ["x"]), r"column 'y' is constant"),
    (
        "constant correlation",
        lambda: correlation(_with(c=np.ones(10)), ["x", "c"]),
        r"column 'c' is constant; its correlation is undefined",
    ),
    (
        "labels",
        lambda: logit(CLEAN, "y", ["x"]),
        r"column 'y' must hold only 0 and 1, found 1\.54\d+ at row 1",
    ),
    (
        "one class",
        lambda: logit(_with(b=np.zeros(10)), "b", ["x"]),
        r"column 'b' has only one class",
    ),
    (
        "separation",
        lambda: logit(CLEAN, "b", ["x"]),
        r"perfect separation, 'x' predict 'b' exactly",
    ),
    (
        "quasi-separation",
        lambda: logit({"x": [1.0, 2, 3, 3, 4, 5], "b": [0.0, 0, 0, 1, 1, 1]}, "b", ["x"]),
        r"information matrix became singular .* quasi-separated",
    ),
    ("max_iter", lambda: logit(CLEAN, "g", ["x"], max_iter=0), r"max_iter must be at least 1"),
    (
        "three groups",
        lambda: ttest(_with(g=X % 3), "y", "g"),
        r"column 'g' has more than two groups \(0\.0, 1\.0, 2\.0, \.\.\.\); pass groups",
    ),
    ("one group", lambda: ttest(_with(g=np.zeros(10)), "y", "g"), r"must hold two groups, found 1"),
    ("absent group", lambda: ttest(CLEAN, "y", "g", groups=(0, 7)), r"got 0 in 7"),
    ("same group", lambda: ttest(CLEAN, "y", "g", groups=(1, 1)), r"the two groups are the same"),
    ("constant groups", lambda: ttest([1.0, 1.0], [2.0, 2.0]), r"both groups are constant"),
    ("2-D sample", lambda: ttest(np.ones((2, 2)), [1.0, 2.0]), r"sample a must be 1-D"),
    ("quantile", lambda: describe(CLEAN, ["x"], quantiles=(0.5, 1.5)), r"must lie in \[0, 1\]"),
    ("not data", lambda: describe(42), r"data must be a mapping of columns.*not int"),
    ("bad batch", lambda: describe([CLEAN, 3], ["x"]), r"batch 1 is a int"),
    ("1-D array", lambda: describe(X), r"must be 2-D, got 1-D"),
    ("empty stream", lambda: describe(iter([])), r"the data has no batches"),
    ("no numbers", lambda: describe({"s": ["a", "b"]}), r"the data has no numeric columns"),
    (
        "ragged",
        lambda: covariance({"x": [1.0, 2.0, 3.0], "z": [1.0, 2.0]}, ["x", "z"]),
        r"columns have different lengths \(x: 3, z: 2\)",
    ),
]


@pytest.mark.parametrize(("call", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_in_one_line(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message) as caught:
        call()
    assert "\n" not in str(caught.value)


def test_a_dataframe_with_a_text_column_describes_the_numbers() -> None:
    frame = pd.DataFrame({"name": list("abc"), "v": [1.0, 2.0, 4.0]})
    assert [c.name for c in describe(frame).columns] == ["v"]
