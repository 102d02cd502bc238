"""Covariance and Pearson correlation matrices, streamed over batches.

Both come from one co-moment matrix accumulated with pairwise merges, so the
correlation never divides sums that lost their digits to cancellation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tensorledger.errors import InvalidRequestError
from tensorledger.stats._backend import compute
from tensorledger.stats._moments import Moments
from tensorledger.stats._source import Data, blocks, check_names, require_rows
from tensorledger.stats.result import JSONValue, StatResult, matrix


@dataclass(frozen=True)
class _MatrixResult(StatResult):
    columns: tuple[str, ...]
    n: int
    matrix: tuple[tuple[float, ...], ...]

    def as_array(self) -> npt.NDArray[np.float64]:
        """The matrix as a numpy array, rows and columns in the order of `columns`."""
        return np.array(self.matrix, dtype=np.float64).reshape(len(self.columns), -1)

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready values."""
        return {
            "method": self.method,
            "columns": list(self.columns),
            "n": self.n,
            "matrix": matrix(self.matrix),
        }


@dataclass(frozen=True)
class CovarianceMatrix(_MatrixResult):
    """Sample covariances (ddof=1), as `numpy.cov(..., rowvar=False)`."""

    method = "covariance"


@dataclass(frozen=True)
class CorrelationMatrix(_MatrixResult):
    """Pearson correlations, as `numpy.corrcoef(..., rowvar=False)`; the diagonal is exactly 1."""

    method = "correlation"


def covariance(data: Data, columns: Sequence[str]) -> CovarianceMatrix:
    """The sample covariance matrix (ddof=1) of `columns`."""
    names = check_names(columns, "covariance")
    with compute() as tf:
        moments = _comoments(tf, data, names, "covariance")
        cov = moments.variance().numpy()
    return CovarianceMatrix(columns=tuple(names), n=moments.n, matrix=_rows(cov))


def correlation(data: Data, columns: Sequence[str]) -> CorrelationMatrix:
    """The Pearson correlation matrix of `columns`; refuses a constant column."""
    names = check_names(columns, "correlation")
    with compute() as tf:
        moments = _comoments(tf, data, names, "correlation")
        diagonal = tf.linalg.diag_part(moments.m2).numpy()
        for name, value in zip(names, diagonal, strict=True):
            if value <= 0.0:
                raise InvalidRequestError(
                    f"column {name!r} is constant; its correlation is undefined"
                )
        scale = tf.sqrt(tf.linalg.diag_part(moments.m2))
        corr = moments.m2 / tf.tensordot(scale, scale, axes=0)
        corr = tf.clip_by_value(corr, -1.0, 1.0)
        corr = tf.linalg.set_diag(corr, tf.ones([len(names)], tf.float64)).numpy()
    return CorrelationMatrix(columns=tuple(names), n=moments.n, matrix=_rows(corr))


def _comoments(tf: Any, data: Data, names: list[str], what: str) -> Moments:
    moments = Moments(tf, len(names), cross=True)
    for block in blocks(data, names):
        moments.add(block)
    require_rows(moments.n, 2, what)
    return moments


def _rows(values: npt.NDArray[np.float64]) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in values)
