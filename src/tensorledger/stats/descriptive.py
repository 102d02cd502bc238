"""Descriptive statistics of numeric columns: count, mean, variance, extremes, quantiles.

Moments stream batch by batch; quantiles need every value, so `describe`
keeps the requested columns (8 bytes per value) until it has sorted them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorledger.errors import InvalidRequestError
from tensorledger.stats._backend import compute
from tensorledger.stats._moments import Moments
from tensorledger.stats._source import Block, Data, blocks, check_names, peek_columns, require_rows
from tensorledger.stats.result import JSONValue, StatResult, floats


@dataclass(frozen=True)
class ColumnSummary:
    """The description of one column; ``quantiles[i]`` is at level ``Description.levels[i]``."""

    name: str
    count: int
    mean: float
    variance: float
    std: float
    min: float
    max: float
    quantiles: tuple[float, ...]

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready values."""
        return {
            "name": self.name,
            "count": self.count,
            "mean": self.mean,
            "variance": self.variance,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "quantiles": floats(self.quantiles),
        }


@dataclass(frozen=True)
class Description(StatResult):
    """`describe`'s result: one `ColumnSummary` per column, in the order asked for."""

    method = "describe"

    levels: tuple[float, ...]
    columns: tuple[ColumnSummary, ...]

    def column(self, name: str) -> ColumnSummary:
        """The summary of the column called `name`."""
        for summary in self.columns:
            if summary.name == name:
                return summary
        raise KeyError(name)

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready values: the quantile levels once, then each column's summary."""
        return {
            "method": self.method,
            "levels": floats(self.levels),
            "columns": [c.to_dict() for c in self.columns],
        }


def describe(
    data: Data,
    columns: Sequence[str] | None = None,
    quantiles: Sequence[float] = (0.25, 0.5, 0.75),
) -> Description:
    """Count, mean, variance (ddof=1), std, min, max and quantiles of each column.

    With ``columns=None`` every numeric column of the first batch is described.
    Quantiles interpolate linearly between order statistics, numpy's default
    ("linear", Hyndman and Fan type 7), with numpy's own rounding so that the
    values agree bit for bit.
    """
    levels = _levels(quantiles)
    if columns is None:
        names, stream = peek_columns(data)
        source: object = stream
    else:
        names = check_names(columns, "describe")
        source = data
    with compute() as tf:
        moments = Moments(tf, len(names), cross=False)
        kept: list[Block] = []
        for block in blocks(source, names):
            moments.add(block)
            kept.append(block)
        require_rows(moments.n, 2, "describe")
        ordered = tf.sort(tf.constant(np.concatenate(kept), tf.float64), axis=0)
        values = [_quantile(ordered, moments.n, q) for q in levels]
        mean = moments.mean.numpy()
        variance = moments.variance().numpy()
        std = tf.sqrt(moments.variance()).numpy()
        table = tf.stack(values, axis=0).numpy() if values else np.empty((0, len(names)))
        low = ordered[0].numpy()
        high = ordered[-1].numpy()
    return Description(
        levels=levels,
        columns=tuple(
            ColumnSummary(
                name=name,
                count=moments.n,
                mean=float(mean[j]),
                variance=float(variance[j]),
                std=float(std[j]),
                min=float(low[j]),
                max=float(high[j]),
                quantiles=tuple(float(v) for v in table[:, j]),
            )
            for j, name in enumerate(names)
        ),
    )


def _levels(quantiles: Sequence[float]) -> tuple[float, ...]:
    levels = tuple(float(q) for q in quantiles)
    for q in levels:
        if not (math.isfinite(q) and 0.0 <= q <= 1.0):
            raise InvalidRequestError(f"quantile levels must lie in [0, 1], got {q}")
    return levels


def _quantile(ordered: Any, n: int, q: float) -> Any:
    """Row of quantiles at level `q` of the column-wise sorted matrix `ordered`.

    Mirrors numpy's "linear" method step for step: virtual index (n-1)·q, and
    the interpolation from the nearer neighbour, so the result is monotone in q.
    """
    index = (n - 1) * q
    if index >= n - 1:
        return ordered[n - 1]
    below = math.floor(index)
    gamma = index - below
    a = ordered[below]
    b = ordered[below + 1]
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1.0 - gamma)
    return a + diff * gamma
