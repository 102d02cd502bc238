"""The aggregation rules a job may name, as one function shared by training and verification.

`aggregate` wraps Flower's own `flwr.server.strategy.aggregate` functions, so
the live strategy and `verify_round` compute with the same code: given the
same updates in the same order, the result is bit for bit the same. The
order is part of the input (a floating-point sum depends on it): callers
always pass the updates sorted by client id, and a round record lists them
in that order.

Rules and their ``params`` (all optional):

* ``fedavg``: mean weighted by each client's example count;
* ``median``: coordinate-wise median (example counts ignored);
* ``trimmed_mean``: coordinate-wise mean after cutting ``beta`` (default 0.2,
  0 ≤ beta < 0.5) of the values at each end;
* ``krum``: the one update closest to its n - f - 2 nearest others, f =
  ``num_malicious`` (default 0);
* ``multikrum``: the example-weighted mean of the ``to_keep`` (default n - f)
  best-scoring updates by the Krum score;
* ``secure_fedavg``: the example-weighted mean computed by secure aggregation
  (`tensorledger.federated.secure`): the aggregator only ever holds masked
  contributions, so it is not a function of plain updates and `aggregate`
  refuses it. Robust rules cannot be made secure: each needs every client's
  own update, which is exactly what secure aggregation hides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from flwr.server.strategy import aggregate as flower

from tensorledger.errors import InvalidRequestError

NDArrays = list[npt.NDArray[Any]]

#: the rules, as a job's ``aggregation.method`` names them
METHODS = ("fedavg", "median", "trimmed_mean", "krum", "multikrum", "secure_fedavg")
#: the rule whose updates are masked; `tensorledger.federated.secure` computes it
SECURE = "secure_fedavg"
#: rules that look at individual updates, so secure aggregation cannot serve them
ROBUST = ("median", "trimmed_mean", "krum", "multikrum")
#: parameters each rule accepts
PARAMS: dict[str, tuple[str, ...]] = {
    "fedavg": (),
    "median": (),
    "trimmed_mean": ("beta",),
    "krum": ("num_malicious",),
    "multikrum": ("num_malicious", "to_keep"),
    "secure_fedavg": (),
}
DEFAULT_BETA = 0.2


def check(method: str, params: Mapping[str, Any]) -> None:
    """Refuse an unknown rule, an unknown parameter or one out of range; changes nothing."""
    robust = method.removeprefix("secure_")
    if robust in ROBUST and (method != robust or params.get("secure")):
        raise InvalidRequestError(
            f"aggregation {robust} cannot be combined with secure aggregation: it needs each "
            "client's own update, which secure aggregation hides; use secure_fedavg, or "
            f"{robust} without secure aggregation"
        )
    if method not in METHODS:
        raise InvalidRequestError(f"aggregation must be one of {list(METHODS)}, not {method!r}")
    unknown = sorted(set(params) - set(PARAMS[method]))
    if unknown:
        raise InvalidRequestError(
            f"aggregation {method} takes parameters {list(PARAMS[method])}, not {unknown}"
        )
    if "beta" in params:
        beta = params["beta"]
        if isinstance(beta, bool) or not isinstance(beta, int | float) or not 0 <= beta < 0.5:
            raise InvalidRequestError(
                f"trimmed_mean beta must be a number in [0, 0.5), not {beta!r}"
            )
    for name in ("num_malicious", "to_keep"):
        if name in params:
            value = params[name]
            low = 1 if name == "to_keep" else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidRequestError(
                    f"{method} {name} must be an integer ≥ {low}, not {value!r}"
                )


def aggregate(
    method: str, params: Mapping[str, Any], results: Sequence[tuple[Sequence[Any], int]]
) -> NDArrays:
    """The aggregate of ``results`` (``(tensors, example count)`` per client, in order).

    Each output tensor has the dtype of the first client's tensor at that
    position, so a float32 model stays float32 whatever numpy promoted to.
    """
    check(method, params)
    if method == SECURE:
        raise InvalidRequestError(
            f"{SECURE} is computed from masked contributions by tensorledger.federated.secure, "
            "not from plain updates"
        )
    if not results:
        raise InvalidRequestError("aggregation needs at least one client update")
    items: list[tuple[NDArrays, int]] = [
        ([np.asarray(t) for t in tensors], int(count)) for tensors, count in results
    ]
    _check_shapes(items)
    count = len(items)
    malicious = int(params.get("num_malicious", 0))
    if method == "fedavg":
        out = flower.aggregate(items)
    elif method == "median":
        out = flower.aggregate_median(items)
    elif method == "trimmed_mean":
        out = flower.aggregate_trimmed_avg(items, float(params.get("beta", DEFAULT_BETA)))
    elif method == "krum":
        _check_krum(method, malicious, 0, count)
        out = flower.aggregate_krum(items, malicious, 0)
    else:
        keep = int(params.get("to_keep", max(1, count - malicious)))
        _check_krum(method, malicious, keep, count)
        out = flower.aggregate_krum(items, malicious, keep)
    first = items[0][0]
    return [np.asarray(t, dtype=ref.dtype) for t, ref in zip(out, first, strict=True)]


def _check_shapes(items: Sequence[tuple[NDArrays, int]]) -> None:
    """Every update has the first one's tensor count, shapes and dtypes, and counts ≥ 1."""
    first = items[0][0]
    for position, (tensors, count) in enumerate(items):
        if count < 1:
            raise InvalidRequestError(f"update {position} claims {count} examples; at least 1")
        if len(tensors) != len(first) or any(
            t.shape != f.shape or t.dtype != f.dtype for t, f in zip(tensors, first, strict=False)
        ):
            raise InvalidRequestError(
                f"update {position} has tensors {_layout(tensors)}, update 0 has {_layout(first)}"
            )


def _layout(tensors: NDArrays) -> list[str]:
    return [f"{t.dtype.name}{list(t.shape)}" for t in tensors]


def _check_krum(method: str, malicious: int, keep: int, count: int) -> None:
    if malicious >= count:
        raise InvalidRequestError(
            f"{method} num_malicious={malicious} needs more than {malicious} clients; {count} sent"
        )
    if keep > count:
        raise InvalidRequestError(f"{method} to_keep={keep} exceeds the {count} clients")


__all__ = ["DEFAULT_BETA", "METHODS", "PARAMS", "ROBUST", "SECURE", "aggregate", "check"]
