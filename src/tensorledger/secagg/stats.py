"""Pooled statistics across organisations from secure sums: count, sum, mean and pooled OLS.

Each statistic is a function of sums of per-organisation sufficient
statistics, so one secure sum gives the pooled result while no party sees
another's rows or totals. OLS needs n, XᵀX, Xᵀy and yᵀy; β solves the pooled
normal equations and the standard errors come from the pooled residual
variance, which equals OLS on the concatenated rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from tensorledger.errors import ContractError, InvalidRequestError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry._records import AnalysisRecord
from tensorledger.registry.analyses import get_analysis, record_analysis
from tensorledger.registry.datasets import resolve_dataset
from tensorledger.secagg.encoding import DEFAULT_SCALE_BITS
from tensorledger.secagg.protocol import SecureSession, SecureSum
from tensorledger.stats.result import JSONValue, StatResult, floats


@dataclass(frozen=True, eq=False)
class PooledMean(StatResult):
    """Row count, column sums and column means over every organisation's rows."""

    method: ClassVar[str] = "secagg.pooled_mean"

    session: str
    count: int
    total: npt.NDArray[np.float64]
    mean: npt.NDArray[np.float64]

    def to_dict(self) -> dict[str, JSONValue]:
        """count, sum and mean as JSON."""
        return {
            "count": self.count,
            "sum": floats(self.total.tolist()),
            "mean": floats(self.mean.tolist()),
        }


@dataclass(frozen=True, eq=False)
class PooledOLS(StatResult):
    """OLS of y on X (with intercept first when fitted) over every organisation's rows."""

    method: ClassVar[str] = "secagg.pooled_ols"

    session: str
    n: int
    coefficients: npt.NDArray[np.float64]
    standard_errors: npt.NDArray[np.float64]
    sigma2: float  # residual variance, RSS / (n - p)
    intercept: bool

    def to_dict(self) -> dict[str, JSONValue]:
        """Coefficients, standard errors, n and σ² as JSON."""
        return {
            "n": self.n,
            "coefficients": floats(self.coefficients.tolist()),
            "standardErrors": floats(self.standard_errors.tolist()),
            "sigma2": float(self.sigma2),
            "intercept": self.intercept,
        }


def pooled_mean(
    gateways: Mapping[str, Gateway],
    values: Mapping[str, npt.ArrayLike],
    session_id: str,
    *,
    scale_bits: int = DEFAULT_SCALE_BITS,
    aggregator: Gateway | None = None,
    channel: str = DEFAULT_CHANNEL,
    analysis_id: str | None = None,
    inputs: Sequence[str] = (),
) -> PooledMean:
    """Count, per-column sum and mean of every organisation's rows (vector or matrix).

    Each organisation contributes [n_i, Σ rows]; with `analysis_id` the
    result is recorded as an analysis of the datasets `inputs`.
    """
    _check_record(gateways, aggregator, analysis_id, inputs, channel)
    local = {org: _rows(org, v) for org, v in values.items()}
    widths = {m.shape[1] for m in local.values()}
    if len(widths) != 1:
        raise InvalidRequestError(f"every organisation must give the same columns, got {widths}")
    vectors = {org: np.concatenate(([m.shape[0]], m.sum(axis=0))) for org, m in local.items()}
    summed = _run(gateways, vectors, session_id, scale_bits, aggregator, channel)
    count = int(summed.values[0])
    if count == 0:
        raise InvalidRequestError("the organisations hold no rows; there is no mean")
    total = summed.values[1:]
    result = PooledMean(summed.session, count, total, total / count)
    _record(gateways, aggregator, summed, result, analysis_id, inputs, channel, {})
    return result


def pooled_ols(
    gateways: Mapping[str, Gateway],
    data: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    session_id: str,
    *,
    intercept: bool = True,
    scale_bits: int = DEFAULT_SCALE_BITS,
    aggregator: Gateway | None = None,
    channel: str = DEFAULT_CHANNEL,
    analysis_id: str | None = None,
    inputs: Sequence[str] = (),
) -> PooledOLS:
    """OLS over every organisation's (X, y) rows, from securely summed n, XᵀX, Xᵀy, yᵀy.

    Only the upper triangle of XᵀX is summed (it is symmetric). With
    `analysis_id` the result is recorded as an analysis of `inputs`, with the
    session id in its parameters. A singular pooled XᵀX (or n ≤ p) can only be
    seen after the sum, so that refusal comes once the session is recorded.
    """
    _check_record(gateways, aggregator, analysis_id, inputs, channel)
    vectors: dict[str, npt.NDArray[np.float64]] = {}
    widths = set()
    for org, (x, y) in data.items():
        design = _rows(org, x)
        if intercept:
            design = np.hstack((np.ones((design.shape[0], 1)), design))
        target = np.asarray(y, dtype=np.float64)
        if target.shape != (design.shape[0],):
            raise InvalidRequestError(
                f"{org}: y has shape {target.shape}; X has {design.shape[0]} rows"
            )
        widths.add(design.shape[1])
        gram = design.T @ design
        upper = gram[np.triu_indices(design.shape[1])]
        vectors[org] = np.concatenate(
            ([design.shape[0]], upper, design.T @ target, [target @ target])
        )
    if len(widths) != 1:
        raise InvalidRequestError(f"every organisation must give the same columns, got {widths}")
    (p,) = widths
    summed = _run(gateways, vectors, session_id, scale_bits, aggregator, channel)
    result = _solve(summed, p, intercept)
    _record(
        gateways,
        aggregator,
        summed,
        result,
        analysis_id,
        inputs,
        channel,
        {"intercept": intercept, "columns": p},
    )
    return result


def _solve(summed: SecureSum, p: int, intercept: bool) -> PooledOLS:
    values = summed.values
    n = int(values[0])
    k = p * (p + 1) // 2
    gram = np.zeros((p, p))
    gram[np.triu_indices(p)] = values[1 : 1 + k]
    gram = gram + np.triu(gram, 1).T
    xty = values[1 + k : 1 + k + p]
    yty = float(values[1 + k + p])
    if n <= p:
        raise InvalidRequestError(f"pooled OLS needs more rows than columns: n={n}, p={p}")
    # Fixed-point rounding moves each summed entry by up to parties · 2^-(k+1), so
    # an exactly singular XᵀX arrives with tiny non-zero singular values: a
    # singular value within ten times that noise is treated as zero.
    singular = np.linalg.svd(gram, compute_uv=False)
    noise = p * len(summed.parties) * 2.0 ** -(summed.scale_bits + 1)
    noise += p * float(np.finfo(np.float64).eps) * float(singular.max(initial=0.0))
    if float(singular.min()) <= 10 * noise:
        raise InvalidRequestError("the pooled XᵀX is singular; the columns are collinear")
    beta = np.asarray(np.linalg.solve(gram, xty), dtype=np.float64)
    inverse = np.linalg.inv(gram)
    sigma2 = (yty - float(beta @ xty)) / (n - p)
    errors = np.sqrt(np.maximum(np.diag(inverse), 0.0) * max(sigma2, 0.0))
    return PooledOLS(summed.session, n, beta, errors, sigma2, intercept)


def _rows(org: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    try:
        rows = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"{org}: values are not numeric: {exc}") from None
    if rows.ndim == 1:
        rows = rows[:, None]
    if rows.ndim != 2:
        raise InvalidRequestError(f"{org}: values must be a vector or a matrix, got {rows.shape}")
    return rows


def _run(
    gateways: Mapping[str, Gateway],
    vectors: Mapping[str, npt.NDArray[np.float64]],
    session_id: str,
    scale_bits: int,
    aggregator: Gateway | None,
    channel: str,
) -> SecureSum:
    length = len(next(iter(vectors.values()))) if vectors else 0
    session = SecureSession(
        gateways, session_id, length, scale_bits=scale_bits, aggregator=aggregator, channel=channel
    )
    return session.run(vectors)


def _check_record(
    gateways: Mapping[str, Gateway],
    aggregator: Gateway | None,
    analysis_id: str | None,
    inputs: Sequence[str],
    channel: str,
) -> None:
    """Refuse a recording that would fail, before the session writes anything."""
    if analysis_id is None:
        return
    if not inputs:
        raise InvalidRequestError(
            f"analysis {analysis_id} needs its input datasets ('id@v'), one per organisation"
        )
    gw = aggregator or gateways[min(gateways)]
    for ref in inputs:
        resolve_dataset(gw, ref, channel=channel)  # NotFoundError names an unknown one
    try:
        get_analysis(gw, analysis_id, channel=channel)
    except ContractError:
        return
    raise InvalidRequestError(f"analysis {analysis_id} already exists; pick another id")


def _record(
    gateways: Mapping[str, Gateway],
    aggregator: Gateway | None,
    summed: SecureSum,
    result: StatResult,
    analysis_id: str | None,
    inputs: Sequence[str],
    channel: str,
    extra: Mapping[str, JSONValue],
) -> AnalysisRecord | None:
    if analysis_id is None:
        return None
    parameters: dict[str, JSONValue] = {
        "session": summed.session,
        "parties": list(summed.parties),
        "scaleBits": summed.scale_bits,
        "aggregateTx": summed.tx_id,
        **extra,
    }
    return record_analysis(
        aggregator or gateways[min(gateways)],
        analysis_id,
        method=result.method,
        inputs=inputs,
        result=result.to_dict(),
        result_hash=result.result_hash(),
        parameters=parameters,
        channel=channel,
    )
