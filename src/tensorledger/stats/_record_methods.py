"""Which statistics can be recorded, their parameters as JSON, and running them on verified inputs.

One function, `compute`, turns (method, JSON parameters, sources) into a
result, and both `run_analysis` and `verify_analysis` call it: the recorder
computes from the same JSON the ledger will hold (its parameters are
round-tripped through JSON first), so the verifier, starting from the
ledger's copy, runs exactly the same computation. Defaults are resolved
before recording (every column named, every option spelled out), so a
recomputation never depends on a default that a later version might change.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tensorledger.errors import InvalidRequestError
from tensorledger.stats._record_sources import Source
from tensorledger.stats.association import correlation, covariance
from tensorledger.stats.descriptive import describe
from tensorledger.stats.linear import ols
from tensorledger.stats.logistic import logit
from tensorledger.stats.result import JSONScalar, JSONValue, StatResult
from tensorledger.stats.twosample import ttest

#: the methods `run_analysis` records and `verify_analysis` recomputes
METHODS = ("describe", "covariance", "correlation", "ols", "logit", "ttest")

#: each method's parameters and their defaults (None: resolved from the data, or absent)
_ALLOWED: dict[str, dict[str, JSONValue]] = {
    "describe": {"columns": None, "quantiles": [0.25, 0.5, 0.75]},
    "covariance": {"columns": None},
    "correlation": {"columns": None},
    "ols": {"y": None, "x": None, "add_intercept": True},
    "logit": {"y": None, "x": None, "add_intercept": True, "max_iter": 100, "tol": 1e-12},
    "ttest": {
        "column": None,
        "group_column": None,
        "groups": None,
        "equal_var": False,
        "other": None,
    },
}


def check_method(method: object) -> str:
    """`method` if tensorledger records it, else an error listing those it does."""
    if not isinstance(method, str) or method not in METHODS:
        raise InvalidRequestError(
            f"analysis method {method!r} is not one tensorledger.stats records "
            f"({', '.join(METHODS)})"
        )
    return method


def resolve_parameters(
    method: str, params: Mapping[str, Any], first: Source, other: Source | None
) -> dict[str, JSONValue]:
    """The caller's parameters with every default filled in, exactly as JSON will give them back.

    Columns left out become the dataset's numeric columns (all but y for a
    regression); `other` becomes the resolved 'id@v' of the second dataset.
    """
    allowed = _ALLOWED[method]
    _refuse_unknown(method, params)
    # an explicit None means "the default", as it would for the statistic itself
    resolved: dict[str, Any] = {
        name: default if params.get(name) is None else params[name]
        for name, default in allowed.items()
    }
    for name in ("columns", "x"):
        if isinstance(resolved.get(name), str):
            resolved[name] = [resolved[name]]  # one column, as the statistics accept it
    numeric = first.numeric_columns
    if method in ("describe", "covariance", "correlation") and resolved["columns"] is None:
        resolved["columns"] = numeric
    if method in ("ols", "logit"):
        if resolved["y"] is None:
            raise InvalidRequestError(f"{method}: name the response column with y=")
        if resolved["x"] is None:
            resolved["x"] = [c for c in numeric if c != resolved["y"]]
    if method == "ttest":
        if resolved["column"] is None:
            raise InvalidRequestError("ttest: name the compared column with column=")
        resolved["other"] = other.ref if other is not None else None
        if (resolved["group_column"] is None) == (other is None):
            raise InvalidRequestError(
                "ttest: give either group_column= (two groups of one dataset) or "
                "other= (a second dataset), not both or neither"
            )
        # options that do not apply stay absent rather than recorded as null
        resolved = {name: value for name, value in resolved.items() if value is not None}
    return _as_json(resolved, method)


def expected_inputs(method: str, parameters: Mapping[str, Any]) -> int:
    """How many input datasets the parameters call for (two only for a ttest with `other`)."""
    return 2 if method == "ttest" and parameters.get("other") is not None else 1


def compute(method: str, parameters: Mapping[str, Any], sources: Sequence[Source]) -> StatResult:
    """Run `method` with JSON `parameters` on verified `sources` (the first is the main input).

    Refuses (InvalidRequestError) parameters that are unknown or of the wrong
    JSON type, and inputs that do not match them: a recorded analysis is
    recomputed from what others wrote, so nothing is taken on trust.
    """
    check_method(method)
    _refuse_unknown(method, parameters)
    want = expected_inputs(method, parameters)
    if len(sources) != want:
        raise InvalidRequestError(
            f"{method}: the parameters call for {want} input dataset(s), "
            f"the analysis lists {len(sources)}"
        )
    return _RUNNERS[method](parameters, sources)


def _describe(p: Mapping[str, Any], sources: Sequence[Source]) -> StatResult:
    columns = _names(p, "columns")
    quantiles = _numbers(p, "quantiles")
    return describe(sources[0].batches(columns), columns, quantiles)


def _covariance(p: Mapping[str, Any], sources: Sequence[Source]) -> StatResult:
    columns = _names(p, "columns")
    return covariance(sources[0].batches(columns), columns)


def _correlation(p: Mapping[str, Any], sources: Sequence[Source]) -> StatResult:
    columns = _names(p, "columns")
    return correlation(sources[0].batches(columns), columns)


def _ols(p: Mapping[str, Any], sources: Sequence[Source]) -> StatResult:
    y, x = _text(p, "y"), _names(p, "x")
    return ols(sources[0].batches([*x, y]), y, x, _flag(p, "add_intercept"))


def _logit(p: Mapping[str, Any], sources: Sequence[Source]) -> StatResult:
    y, x = _text(p, "y"), _names(p, "x")
    max_iter = p.get("max_iter")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int):
        raise InvalidRequestError(
            f"logit: parameter 'max_iter' must be an integer, not {max_iter!r}"
        )
    tol = _number(p.get("tol"), "logit: parameter 'tol'")
    return logit(sources[0].batches([*x, y]), y, x, _flag(p, "add_intercept"), max_iter, tol)


def _ttest(p: Mapping[str, Any], sources: Sequence[Source]) -> StatResult:
    column = _text(p, "column")
    equal_var = _flag(p, "equal_var")
    if len(sources) == 2:
        if sources[1].ref != p.get("other"):
            raise InvalidRequestError(
                f"ttest: parameter 'other' is {p.get('other')!r} but the second input "
                f"is {sources[1].ref}"
            )
        if p.get("group_column") is not None or p.get("groups") is not None:
            raise InvalidRequestError("ttest: a test of two datasets takes no group_column")
        a, b = sources[0].values(column), sources[1].values(column)
        return ttest(a, b, equal_var=equal_var)
    group_column = _text(p, "group_column")
    groups = p.get("groups")
    chosen: list[JSONScalar] | None = None
    if groups is not None:
        if not isinstance(groups, list):
            raise InvalidRequestError(f"ttest: parameter 'groups' must be a list, not {groups!r}")
        chosen = list(groups)
    data = sources[0].batches([column, group_column])
    return ttest(data, column, group_column, groups=chosen, equal_var=equal_var)


_RUNNERS: dict[str, Callable[[Mapping[str, Any], Sequence[Source]], StatResult]] = {
    "describe": _describe,
    "covariance": _covariance,
    "correlation": _correlation,
    "ols": _ols,
    "logit": _logit,
    "ttest": _ttest,
}


def _refuse_unknown(method: str, params: Mapping[str, Any]) -> None:
    unknown = sorted(set(params) - set(_ALLOWED[method]))
    if unknown:
        known = ", ".join(_ALLOWED[method])
        raise InvalidRequestError(f"{method}: unknown parameter {unknown[0]!r} (it takes {known})")


def _text(p: Mapping[str, Any], name: str) -> str:
    value = p.get(name)
    if not isinstance(value, str):
        raise InvalidRequestError(f"parameter {name!r} must be a column name, not {value!r}")
    return value


def _names(p: Mapping[str, Any], name: str) -> list[str]:
    value = p.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequestError(f"parameter {name!r} must be a list of column names")
    return list(value)


def _numbers(p: Mapping[str, Any], name: str) -> list[float]:
    value = p.get(name)
    if not isinstance(value, list):
        raise InvalidRequestError(f"parameter {name!r} must be a list of numbers")
    return [_number(v, f"parameter {name!r}") for v in value]


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"{what} must be a number, not {value!r}")
    return float(value)


def _flag(p: Mapping[str, Any], name: str) -> bool:
    value = p.get(name)
    if not isinstance(value, bool):
        # a JSON "false" string would be truthy; refuse rather than guess
        raise InvalidRequestError(f"parameter {name!r} must be true or false, not {value!r}")
    return value


def _as_json(value: Mapping[str, Any], method: str) -> dict[str, JSONValue]:
    """`value` round-tripped through JSON: tuples become lists, numpy scalars plain numbers.

    Refuses what JSON cannot carry exactly (NaN, infinities, arbitrary objects),
    because the ledger's copy is what a verifier will recompute from.
    """
    try:
        text = json.dumps(value, default=_plain, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"{method}: parameters must be JSON values: {exc}") from None
    parsed: dict[str, JSONValue] = json.loads(text)
    return parsed


def _plain(value: object) -> JSONValue:
    """JSON's `default=` hook: numpy scalars and arrays as plain values (tuples need none)."""
    if isinstance(value, np.generic):
        plain: JSONValue = value.item()
        if isinstance(plain, float) and not math.isfinite(plain):
            raise ValueError(f"{plain} is not a finite number")
        return plain
    if isinstance(value, np.ndarray):
        converted: JSONValue = value.tolist()
        return converted
    raise TypeError(f"{type(value).__name__} {value!r} is not a JSON value")
