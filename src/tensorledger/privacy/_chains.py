"""OpenDP chains for each statistic, and the noise scale that meets a requested ε.

Kept apart from `mechanisms` because importing OpenDP takes seconds: nothing
loads it until a release is actually planned.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import opendp.prelude as dp

from tensorledger.errors import InvalidRequestError

dp.enable_features("contrib")

#: OpenDP's transformations; some of its constructors are untyped, so they go through Any
_t: Any = dp.t

__all__ = ["D_IN", "Build", "builder", "dp", "measured", "search_scale"]

MAX_BINS = 10_000
#: the privacy unit: one row added or removed
D_IN = 1


@dataclass(frozen=True)
class Build:
    """Transformations to add noise to, each with its noise weight, and how to read the output.

    A part's noise scale is `weight * scale`; weights equal to each part's
    sensitivity give every part an equal share of ε.
    """

    parts: list[tuple[Any, float]]
    parameters: dict[str, Any]
    finish: Callable[[Any], Any]
    #: the parameter name each part's noise scale is recorded under
    scale_names: tuple[str, ...] = ("scale",)


def _floats() -> tuple[Any, Any]:
    return dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance()


def _texts() -> tuple[Any, Any]:
    return dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance()


def builder(
    statistic: str,
    noise: str,
    *,
    bounds: Sequence[float] | None,
    bins: Sequence[float] | Sequence[str] | None,
    size: int | None,
) -> Build:
    """The transformations of `statistic`; options it does not use are refused, not ignored."""
    if statistic != "histogram" and bins is not None:
        raise InvalidRequestError(f"{statistic} takes no bins (only histogram does)")
    if statistic in ("count", "histogram") and bounds is not None:
        raise InvalidRequestError(f"{statistic} takes no bounds (only sum and mean do)")
    if statistic != "mean" and size is not None:
        raise InvalidRequestError(f"{statistic} takes no row count (only mean does)")
    if statistic == "count":
        count = _texts() >> _t.then_count()
        return Build([(count, 1.0)], {}, int)
    if statistic == "histogram":
        return _histogram(noise, bins)
    low, high = _bounds(bounds, statistic)
    clamped = _floats() >> _t.then_clamp((low, high))
    if statistic == "sum":
        return Build([(clamped >> _t.then_sum(), 1.0)], {"bounds": [low, high]}, float)
    if size is None:
        summed = clamped >> _t.then_sum()
        counted = _floats() >> _t.then_count()
        # equal weights in units of sensitivity: sum and count each get half of ε
        parts = [(summed, float(summed.map(D_IN))), (counted, 1.0)]
        params = {"bounds": [low, high], "n": "private"}
        return Build(parts, params, _ratio, ("scale", "countScale"))
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidRequestError(f"the row count of a mean must be an integer ≥ 1, not {size!r}")
    # resizing to the public n keeps d_in = 1 meaningful (one row in or out) on a sized domain
    mean = clamped >> _t.then_resize(size=size, constant=(low + high) / 2) >> _t.then_mean()
    return Build([(mean, 1.0)], {"bounds": [low, high], "n": size}, float)


def _ratio(pair: Any) -> float:
    total, count = pair
    return float(total) / max(int(count), 1)


def _bounds(bounds: Sequence[float] | None, statistic: str) -> tuple[float, float]:
    if bounds is None:
        raise InvalidRequestError(
            f"{statistic} needs bounds (low, high) on the column's values: each row's "
            "influence is limited by clamping to them"
        )
    values = list(bounds)
    if len(values) != 2 or not all(_is_number(v) for v in values):
        raise InvalidRequestError(f"bounds must be two numbers (low, high), not {bounds!r}")
    low, high = float(values[0]), float(values[1])
    if not low < high:
        raise InvalidRequestError(f"bounds must have low < high, got ({low}, {high})")
    return low, high


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _histogram(noise: str, bins: Sequence[float] | Sequence[str] | None) -> Build:
    if bins is None or isinstance(bins, str) or not 0 < len(bins) <= MAX_BINS:
        raise InvalidRequestError(
            f"histogram needs bins: increasing numeric edges or categories (1 to {MAX_BINS})"
        )
    metric = dp.L1Distance[int] if noise == "laplace" else dp.L2Distance[int]
    items = list(bins)
    if all(isinstance(b, str) for b in items):
        if len(set(items)) != len(items):
            raise InvalidRequestError("histogram categories must be distinct")
        counts = _texts() >> _t.then_count_by_categories(
            categories=items, null_category=True, MO=metric
        )
        return Build([(counts, 1.0)], {"categories": items}, _counts)
    if not all(_is_number(b) for b in items):
        raise InvalidRequestError("histogram bins must be all numbers (edges) or all text")
    edges = [float(b) for b in items]  # type: ignore[arg-type]
    if len(edges) < 2 or any(a >= b for a, b in itertools.pairwise(edges)):
        raise InvalidRequestError("histogram edges must be at least two, strictly increasing")
    # find_bin gives 0 below the first edge and len(edges) from the last one on: those
    # rows, and only those, fall into the null ("other") category
    inner = list(range(1, len(edges)))
    counts = (
        _floats()
        >> _t.then_find_bin(edges=edges)
        >> _t.then_count_by_categories(categories=inner, null_category=True, MO=metric)
    )
    return Build([(counts, 1.0)], {"bins": edges}, _counts)


def _counts(values: Any) -> dict[str, Any]:
    out = [int(v) for v in values]
    return {"counts": out[:-1], "other": out[-1]}


def measured(parts: list[tuple[Any, float]], noise: str, delta: float) -> Callable[[float], Any]:
    """The measurement at a given scale: each part plus noise, composed, in (ε, δ) if Gaussian."""
    then_noise = dp.m.then_laplace if noise == "laplace" else dp.m.then_gaussian

    def make(scale: float) -> Any:
        noisy = [part >> then_noise(scale=scale * weight) for part, weight in parts]
        measurement = noisy[0] if len(noisy) == 1 else dp.c.make_composition(noisy)
        if noise == "gaussian":  # zCDP → (ε, δ)-DP at the given δ, by OpenDP's conversion
            measurement = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(measurement), delta)
        return measurement

    return make


def search_scale(make: Callable[[float], Any], budget: Any, *, where: str) -> float:
    """The smallest noise scale whose measurement OpenDP proves (D_IN, budget)-private."""
    try:
        return float(dp.binary_search_param(make, d_in=D_IN, d_out=budget, T=float))
    except (ValueError, dp.OpenDPException) as exc:
        raise InvalidRequestError(f"no noise scale meets {where}: {exc}") from None
