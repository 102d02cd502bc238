"""A job's client-side DP settings, applied to each update delta with `tensorledger.privacy`.

The DP-SGD recipe once per round on the update delta (trained weights minus
the global weights a client received): `tensorledger.privacy.clip_and_noise`
scales the whole delta to L2 norm ≤ ``clip`` and adds N(0, (noise_multiplier
· clip)²) noise per coordinate. What that costs in (ε, δ) over the job's
rounds is `tensorledger.privacy.gaussian_epsilon`'s business; this module
only turns a job's ``dp`` record into settings and seeds the noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tensorledger.errors import InvalidRequestError
from tensorledger.privacy.sgd import clip_and_noise as gaussian_update

NDArrays = list[npt.NDArray[Any]]


@dataclass(frozen=True)
class ClipNoise:
    """Clip norm C and noise multiplier (sigma); sigma 0 clips only."""

    clip: float
    noise_multiplier: float = 0.0

    def __post_init__(self) -> None:
        for name, value in (("clip", self.clip), ("noise_multiplier", self.noise_multiplier)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidRequestError(f"DP {name} must be a number, not {value!r}")
        if not math.isfinite(self.clip) or self.clip <= 0:
            raise InvalidRequestError(f"DP clip must be a finite number > 0, not {self.clip}")
        if not math.isfinite(self.noise_multiplier) or self.noise_multiplier < 0:
            raise InvalidRequestError(
                f"DP noise_multiplier must be a finite number ≥ 0, not {self.noise_multiplier}"
            )

    @classmethod
    def from_record(cls, dp: Mapping[str, Any]) -> ClipNoise | None:
        """From a job's ``dp`` object (``{clip, noiseMultiplier, ...}``); None without a clip."""
        if not dp or "clip" not in dp:
            return None
        return cls(dp["clip"], dp.get("noiseMultiplier", 0.0))


def clip_and_noise(
    delta: Sequence[npt.NDArray[Any]], mechanism: ClipNoise, rng: np.random.Generator
) -> NDArrays:
    """``delta`` clipped and noised per ``mechanism``; shapes and dtypes kept."""
    return gaussian_update(delta, mechanism.clip, mechanism.noise_multiplier, rng)


__all__ = ["ClipNoise", "clip_and_noise"]
