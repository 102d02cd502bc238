"""A job's client-side DP settings, applied to each update delta with `tensorledger.privacy`.

The DP-SGD recipe once per round on the update delta (trained weights minus
the global weights a client received): `tensorledger.privacy.clip_and_noise`
scales the whole delta to L2 norm ≤ ``clip`` and adds N(0, (noise_multiplier
· clip)²) noise per coordinate. What that costs in (ε, δ) over the job's
rounds is `tensorledger.privacy.gaussian_epsilon`'s business; this module
turns a job's ``dp`` record into settings and spends each round's (ε, δ)
from a client's dataset budget through the `budgets` chaincode.

Accounting: each round is one Gaussian mechanism on the client's data (the
privacy unit is the client's whole update, sensitivity C), so one round
costs ε = gaussian_epsilon(sigma, δ, 1), rounded UP to the budget's nano-ε grid
(spending a hair more than the proof needs is safe; less would not be). The
ledger composes releases by adding their ε (basic composition: T rounds
cost T·ε at T·δ), looser than zCDP composition over T steps but exact and
checkable by anyone from the release records. sigma = 0 clips without noise:
there is no finite ε to spend, so such a job spends nothing.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from tensorledger.errors import InvalidRequestError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.privacy.sgd import clip_and_noise as gaussian_update

#: the `statistic` of a federated round's release in the `budgets` chaincode
STATISTIC = "federated-update"
#: the budget's ε grid: 9 decimals (nano-ε)
_NANO = Decimal("0.000000001")

NDArrays = list[npt.NDArray[Any]]


@dataclass(frozen=True)
class ClipNoise:
    """Clip norm C and noise multiplier (sigma); sigma 0 clips only."""

    clip: float
    noise_multiplier: float = 0.0
    #: δ of each round's (ε, δ); None when the job names none (then nothing is accounted)
    delta: float | None = None

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
        if self.delta is not None and (
            isinstance(self.delta, bool)
            or not isinstance(self.delta, int | float)
            or not 0 < self.delta < 1
        ):
            raise InvalidRequestError(f"DP delta must be a number with 0 < δ < 1, not {self.delta}")

    @property
    def accounted(self) -> bool:
        """Whether rounds cost ε: noise is added (sigma > 0) at a stated δ."""
        return self.noise_multiplier > 0 and self.delta is not None

    def round_epsilon(self) -> Decimal:
        """One round's ε at δ, rounded up to nano-ε: what each client spends per round."""
        if not self.accounted or self.delta is None:
            raise InvalidRequestError("a DP setting without noise and delta costs no finite ε")
        from tensorledger.privacy.mechanisms import epsilon_of
        from tensorledger.privacy.sgd import gaussian_epsilon

        exact = Decimal(repr(gaussian_epsilon(self.noise_multiplier, self.delta, 1)))
        rounded = exact.quantize(_NANO, rounding=ROUND_CEILING)
        try:
            return epsilon_of(f"{rounded:f}")
        except InvalidRequestError as exc:
            raise InvalidRequestError(
                f"one round at noise multiplier {self.noise_multiplier} and δ={self.delta} "
                f"costs ε={rounded}, which no budget can hold: {exc}"
            ) from None

    @classmethod
    def from_record(cls, dp: Mapping[str, Any]) -> ClipNoise | None:
        """From a job's ``dp`` object (``{clip, noiseMultiplier, ...}``); None without a clip."""
        if not dp or "clip" not in dp:
            return None
        return cls(dp["clip"], dp.get("noiseMultiplier", 0.0), dp.get("delta"))


def clip_and_noise(
    delta: Sequence[npt.NDArray[Any]], mechanism: ClipNoise, rng: np.random.Generator
) -> NDArrays:
    """``delta`` clipped and noised per ``mechanism``; shapes and dtypes kept."""
    return gaussian_update(delta, mechanism.clip, mechanism.noise_multiplier, rng)


def spend_round(
    gw: Gateway,
    mechanism: ClipNoise,
    *,
    dataset: str,
    job: str,
    round_number: int,
    client: str,
    digest: str | None,
    dry_run: bool = False,
    channel: str = DEFAULT_CHANNEL,
) -> str:
    """Spend one round's ε from ``dataset``'s budget (``"id@v"``); returns the release id.

    The release's value is the update's model digest, never the update. With
    ``dry_run`` the `Spend` is only evaluated: a client checks its budget
    this way before it trains, so an exhausted budget refuses the round
    before any data is touched. ContractError carries the contract's refusal,
    which names the dataset ("... of dataset D's budget: ...").
    """
    epsilon = mechanism.round_epsilon()
    release_id = f"fl-r{round_number}-{secrets.token_hex(8)}"
    record = {
        "id": release_id,
        "dataset": dataset,
        "epsilon": str(epsilon),
        "delta": mechanism.delta,
        "mechanism": "gaussian",
        "statistic": STATISTIC,
        "parameters": {
            "job": job,
            "round": round_number,
            "client": client,
            "clip": mechanism.clip,
            "noiseMultiplier": mechanism.noise_multiplier,
        },
        "value": digest,
    }
    contract = gw.network(channel).contract("budgets")
    if dry_run:
        contract.evaluate("Spend", json.dumps(record))
    else:
        contract.submit("Spend", json.dumps(record))
    return release_id


__all__ = ["STATISTIC", "ClipNoise", "clip_and_noise", "spend_round"]
