"""DP-SGD-style privacy for model updates: clip, add Gaussian noise, and count the ε spent.

`clip_and_noise` is the Gaussian mechanism on one update (sensitivity C after
clipping, noise sigma*C); `gaussian_epsilon` is what `steps` such updates cost in
(ε, δ), proven by OpenDP, so a federated job can `Spend` it from a budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tensorledger.errors import InvalidRequestError

MAX_STEPS = 10**9


def clip_and_noise(
    update_delta: Sequence[npt.NDArray[Any]],
    clip_norm: float,
    noise_multiplier: float,
    rng: np.random.Generator,
) -> list[npt.NDArray[Any]]:
    """The update scaled to global L2 norm ≤ `clip_norm`, plus N(0, (sigma*C)²) per coordinate.

    The norm is over all tensors together, so clipping bounds one client's
    whole contribution (the sensitivity the noise is calibrated to); each
    tensor keeps its shape and dtype.
    """
    _positive("clip_norm", clip_norm)
    if _bad_number(noise_multiplier) or noise_multiplier < 0:
        raise InvalidRequestError(
            f"noise_multiplier must be a finite number ≥ 0, not {noise_multiplier!r}"
        )
    arrays = [np.asarray(t) for t in update_delta]
    for i, array in enumerate(arrays):
        if array.dtype.kind != "f" or not np.all(np.isfinite(array)):
            raise InvalidRequestError(f"update tensor {i} must hold finite floats")
    norm = math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays))
    factor = min(1.0, clip_norm / norm) if norm > 0 else 1.0
    sigma = noise_multiplier * clip_norm
    out = []
    for array in arrays:
        values = array.astype(np.float64) * factor
        if sigma > 0:
            values = values + rng.normal(0.0, sigma, size=values.shape)
        out.append(values.astype(array.dtype))
    return out


def gaussian_epsilon(noise_multiplier: float, delta: float, steps: int) -> float:
    """ε at δ of `steps` Gaussian mechanisms with noise sigma = `noise_multiplier` * sensitivity.

    Each step is rho = 1/(2 sigma²)-zCDP and zCDP composes by adding rho, so
    the whole run is one Gaussian mechanism of scale sigma/√steps (rho =
    steps/(2 sigma²)); OpenDP's map gives its rho and OpenDP's zCDP→(ε, δ)
    conversion the ε.
    Sampling amplification is not claimed: this bound holds without it.
    """
    _positive("noise_multiplier", noise_multiplier)
    if _bad_number(delta) or not 0 < delta < 1:
        raise InvalidRequestError(f"δ must be a number with 0 < δ < 1, not {delta!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise InvalidRequestError(f"steps must be an integer from 1 to {MAX_STEPS}, not {steps!r}")
    from tensorledger.privacy._chains import dp

    space = dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float)
    composed: Any = dp.m.make_gaussian(*space, scale=noise_multiplier / math.sqrt(steps))
    approx: Any = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(composed), delta)
    epsilon, _ = approx.map(1.0)
    return float(epsilon)


def _bad_number(value: object) -> bool:
    return (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(float(value))
    )


def _positive(name: str, value: object) -> None:
    if _bad_number(value) or float(value) <= 0:  # type: ignore[arg-type]
        raise InvalidRequestError(f"{name} must be a finite number > 0, not {value!r}")
