"""Differentially private statistics of one column, built from OpenDP's proven parts.

Every release is an OpenDP measurement (a transformation chain that bounds
each row's influence, then calibrated noise); the noise scale for a requested
ε is found with OpenDP's `binary_search_param` against the measurement's own
privacy map, so the ε a release spends is one OpenDP has proven, never one
derived by hand here. The privacy unit is one row added or removed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tensorledger.contracts.budgets import EpsilonError, format_epsilon, parse_epsilon
from tensorledger.errors import InvalidRequestError

Mechanism = Literal["laplace", "gaussian"]
STATISTICS = ("count", "sum", "mean", "histogram")
MECHANISMS = ("laplace", "gaussian")


@dataclass(frozen=True)
class Release:
    """A DP statistic as released: the noisy value and what it cost; never the raw value.

    `parameters` say how it was made (bounds, bins, noise scale, n when
    public, OpenDP's ε for that scale); `id`, `dataset` and `tx_id` are set
    once the release is recorded on the ledger.
    """

    statistic: str
    column: str
    value: Any
    epsilon: Decimal
    delta: float
    mechanism: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    dataset: str | None = None
    tx_id: str | None = None

    def to_record(self, release_id: str, dataset_ref: str) -> dict[str, Any]:
        """The `Spend` record of the `budgets` contract for this release."""
        return {
            "id": release_id,
            "dataset": dataset_ref,
            "epsilon": format_epsilon(parse_epsilon(str(self.epsilon))),
            "delta": self.delta,
            "mechanism": self.mechanism,
            "statistic": self.statistic,
            "parameters": {"column": self.column, **self.parameters},
            "value": self.value,
        }

    def recorded(self, release_id: str, dataset_ref: str, tx_id: str) -> Release:
        """This release as recorded under `release_id` by transaction `tx_id`."""
        return replace(self, id=release_id, dataset=dataset_ref, tx_id=tx_id)


def epsilon_of(value: str | Decimal | int | float) -> Decimal:
    """ε as an exact Decimal, held to the budget contract's rule (0 < ε ≤ 1000, ≤ 9 decimals).

    A float is read through its shortest repr (0.1 → '0.1'), which is what
    its author typed; anything the ledger would refuse is refused here first.
    """
    if isinstance(value, bool) or not isinstance(value, (str, Decimal, int, float)):
        raise InvalidRequestError(f"ε must be a decimal string such as '0.5', not {value!r}")
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        return Decimal(format_epsilon(parse_epsilon(text)))
    except EpsilonError as exc:
        raise InvalidRequestError(str(exc)) from None


@dataclass(frozen=True)
class Plan:
    """A DP measurement ready to run: the OpenDP chain with its calibrated noise scale."""

    statistic: str
    column: str
    epsilon: Decimal
    delta: float
    mechanism: Mechanism
    scale: float
    parameters: Mapping[str, Any]
    measurement: Any = field(repr=False)
    finish: Callable[[Any], Any] = field(repr=False)

    def run(self, values: npt.ArrayLike) -> Release:
        """Release the statistic of `values` with fresh noise (OpenDP's own CSPRNG)."""
        data = _as_input(np.asarray(values), self.statistic, self.column, self.parameters)
        return Release(
            self.statistic,
            self.column,
            self.finish(self.measurement(data)),
            self.epsilon,
            self.delta,
            self.mechanism,
            dict(self.parameters),
        )


def plan(
    statistic: str,
    *,
    column: str,
    epsilon: str | Decimal | int | float,
    mechanism: str = "laplace",
    bounds: Sequence[float] | None = None,
    bins: Sequence[float] | Sequence[str] | None = None,
    delta: float = 0.0,
    size: int | None = None,
) -> Plan:
    """Build the measurement for one statistic at `epsilon` (and `delta` for Gaussian noise).

    count: rows. sum: values clamped to `bounds`. mean: clamped to `bounds`;
    with a public row count `size` the sum is divided by it, without one a
    noisy sum and a noisy count share ε. histogram: counts per bin, `bins`
    being increasing edges ([e0, e1) ... [e_{k-1}, e_k)) or categories; rows
    in no bin are counted as "other", also with noise.
    """
    eps = epsilon_of(epsilon)
    noise = _check_mechanism(mechanism, delta)
    if statistic not in STATISTICS:
        raise InvalidRequestError(f"statistic {statistic!r} is not one of {', '.join(STATISTICS)}")
    from tensorledger.privacy import _chains

    build = _chains.builder(statistic, noise, bounds=bounds, bins=bins, size=size)
    make = _chains.measured(build.parts, noise, delta)
    budget: float | tuple[float, float] = float(eps) if noise == "laplace" else (float(eps), delta)
    scale = _chains.search_scale(make, budget, where=f"{statistic} of {column!r} at ε={eps}")
    measurement = make(scale)
    spent = measurement.map(_chains.D_IN)
    parameters: dict[str, Any] = {
        **build.parameters,
        **{name: scale * w for name, (_, w) in zip(build.scale_names, build.parts, strict=True)},
        "dIn": _chains.D_IN,
        "openDPEpsilon": spent[0] if isinstance(spent, tuple) else spent,
    }
    return Plan(statistic, column, eps, delta, noise, scale, parameters, measurement, build.finish)


def release(values: npt.ArrayLike, statistic: str, **options: Any) -> Release:
    """Plan and run in one call: `plan(statistic, **options).run(values)`."""
    return plan(statistic, **options).run(values)


def _check_mechanism(mechanism: str, delta: float) -> Mechanism:
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not math.isfinite(delta):
        raise InvalidRequestError(f"δ must be a number, not {delta!r}")
    if mechanism == "laplace":
        if delta != 0:
            raise InvalidRequestError(
                f"the Laplace mechanism is pure ε-DP: δ must be 0, not {delta}"
            )
        return "laplace"
    if mechanism == "gaussian":
        if not 0 < delta < 1:
            raise InvalidRequestError(
                f"the Gaussian mechanism needs a δ with 0 < δ < 1 (e.g. 1e-6), not {delta}"
            )
        return "gaussian"
    raise InvalidRequestError(f"mechanism {mechanism!r} is not one of {', '.join(MECHANISMS)}")


def _as_input(
    values: npt.NDArray[Any], statistic: str, column: str, parameters: Mapping[str, Any]
) -> list[Any]:
    """The column as the list OpenDP takes: finite floats, or text for categories."""
    if values.ndim != 1:
        raise InvalidRequestError(f"column {column!r} must be 1-D, got shape {values.shape}")
    # a count reads no values, and categories are matched as text: both take any dtype
    if statistic == "count" or (statistic == "histogram" and "categories" in parameters):
        return [str(v) for v in values.tolist()]
    if values.dtype.kind not in "biuf":
        raise InvalidRequestError(
            f"column {column!r} is not numeric (dtype {values.dtype}); {statistic} needs numbers"
        )
    floats = values.astype(np.float64)
    bad = ~np.isfinite(floats)
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidRequestError(f"column {column!r} has a non-finite value at row {row}")
    out: list[Any] = floats.tolist()
    return out
