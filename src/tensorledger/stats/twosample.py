"""Two-sample t-tests of a difference in means: Welch's (default) and the pooled one.

Each group's moments stream block by block; nothing is kept but, per group,
a count, a mean, a sum of squared deviations and one partial block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from tensorledger.errors import InvalidRequestError
from tensorledger.stats._backend import compute
from tensorledger.stats._distributions import t_two_sided
from tensorledger.stats._moments import Moments
from tensorledger.stats._source import (
    Data,
    Rechunker,
    column,
    finite,
    numeric_column,
    tables,
)
from tensorledger.stats.result import JSONScalar, JSONValue, StatResult


@dataclass(frozen=True)
class TTestResult(StatResult):
    """t for mean(a) - mean(b), its degrees of freedom and two-sided p value.

    `column`, `group_column` and `groups` say which data were compared; they
    are None when two arrays were passed directly.
    """

    method = "ttest"

    column: str | None
    group_column: str | None
    groups: tuple[JSONScalar, JSONScalar] | None
    equal_var: bool
    t: float
    df: float
    p: float
    mean_a: float
    mean_b: float
    difference: float
    var_a: float
    var_b: float
    n_a: int
    n_b: int

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready values."""
        return {
            "method": self.method,
            "column": self.column,
            "group_column": self.group_column,
            "groups": None if self.groups is None else list(self.groups),
            "equal_var": self.equal_var,
            "t": self.t,
            "df": self.df,
            "p": self.p,
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "difference": self.difference,
            "var_a": self.var_a,
            "var_b": self.var_b,
            "n_a": self.n_a,
            "n_b": self.n_b,
        }


@overload
def ttest(
    data: Data,
    column: str,
    group_column: str,
    /,
    groups: Sequence[JSONScalar] | None = None,
    *,
    equal_var: bool = False,
) -> TTestResult: ...


@overload
def ttest(a: npt.ArrayLike, b: npt.ArrayLike, /, *, equal_var: bool = False) -> TTestResult: ...


def ttest(
    first: Any,
    second: Any,
    group_column: str | None = None,
    /,
    groups: Sequence[JSONScalar] | None = None,
    *,
    equal_var: bool = False,
) -> TTestResult:
    """Test mean(a) = mean(b) for two samples.

    ``ttest(data, column, group_column, groups=None)`` splits `column` by the
    values of `group_column`: `groups` names the two values to compare (a
    first); without it the column must hold exactly two distinct values, taken
    in sorted order. ``ttest(a, b)`` compares two arrays. Welch's test unless
    ``equal_var=True``, as in `scipy.stats.ttest_ind`.
    """
    grouped = isinstance(second, str)
    if grouped and group_column is None:
        raise InvalidRequestError("ttest: name the group column")
    if not grouped and (group_column is not None or groups is not None):
        raise InvalidRequestError("ttest(a, b) takes two arrays and no group column")
    with compute() as tf:
        chosen: tuple[JSONScalar, JSONScalar] | None
        if group_column is not None:
            chosen, a, b = _grouped(tf, first, second, group_column, groups)
        else:
            chosen = None
            a = _streamed(tf, [_sample(first, "a")])
            b = _streamed(tf, [_sample(second, "b")])
        names = chosen if chosen is not None else ("a", "b")
        for label, moments in zip(names, (a, b), strict=True):
            if moments.n < 2:
                raise InvalidRequestError(
                    f"ttest needs at least 2 rows in each group, got {moments.n} in {label!r}"
                )
        numbers = _statistic(tf, a, b, equal_var)
    return TTestResult(
        column=second if chosen is not None else None,
        group_column=group_column if chosen is not None else None,
        groups=chosen,
        equal_var=equal_var,
        n_a=a.n,
        n_b=b.n,
        **numbers,
    )


def _statistic(tf: Any, a: Moments, b: Moments, equal_var: bool) -> dict[str, float]:
    var_a = a.variance()[0]
    var_b = b.variance()[0]
    na, nb = float(a.n), float(b.n)
    if equal_var:
        pooled = (a.m2[0] + b.m2[0]) / (na + nb - 2.0)
        se2 = pooled * (1.0 / na + 1.0 / nb)
        df = tf.constant(na + nb - 2.0, tf.float64)
    else:
        sa, sb = var_a / na, var_b / nb
        se2 = sa + sb
        df = tf.square(se2) / (tf.square(sa) / (na - 1.0) + tf.square(sb) / (nb - 1.0))
    if float(se2.numpy()) == 0.0:
        raise InvalidRequestError("ttest: both groups are constant; t is undefined")
    difference = a.mean[0] - b.mean[0]
    t = difference / tf.sqrt(se2)
    p = t_two_sided(tf, t, df)
    values = {
        "t": t,
        "df": df,
        "p": p,
        "mean_a": a.mean[0],
        "mean_b": b.mean[0],
        "difference": difference,
        "var_a": var_a,
        "var_b": var_b,
    }
    return {name: float(v.numpy()) for name, v in values.items()}


def _streamed(tf: Any, parts: Iterable[npt.NDArray[np.float64]]) -> Moments:
    """Moments of a sample fed as 1-D pieces, re-cut into fixed blocks."""
    moments = Moments(tf, 1, cross=False)
    chunks = Rechunker()
    for part in parts:
        for block in chunks.push(part.reshape(-1, 1)):
            moments.add(block)
    for block in chunks.flush():
        moments.add(block)
    return moments


def _sample(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidRequestError(f"ttest: sample {name} must be 1-D, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise InvalidRequestError(f"ttest: sample {name} is not numeric (dtype {array.dtype})")
    return finite(array.astype(np.float64), name, 0)


def _grouped(
    tf: Any, data: Data, name: str, group_column: str, groups: Sequence[JSONScalar] | None
) -> tuple[tuple[JSONScalar, JSONScalar], Moments, Moments]:
    """The moments of `name` in each of the two groups, streamed, and the groups' labels."""
    wanted = None if groups is None else _two(groups)
    found: dict[JSONScalar, tuple[Moments, Rechunker]] = {}
    offset = 0
    for table in tables(data):
        values = numeric_column(table, name, offset)
        labels = column(table, group_column)
        if len(labels) != len(values):
            raise InvalidRequestError(
                f"columns {name!r} and {group_column!r} have different lengths"
            )
        if labels.dtype.kind == "f":
            finite(labels.astype(np.float64), group_column, offset)
        for label in wanted if wanted is not None else _labels(labels):
            moments, chunks = found.setdefault(label, (Moments(tf, 1, cross=False), Rechunker()))
            for block in chunks.push(values[labels == label].reshape(-1, 1)):
                moments.add(block)
        if wanted is None and len(found) > 2:
            shown = ", ".join(repr(g) for g in sorted(found, key=_order)[:5])
            raise InvalidRequestError(
                f"ttest: column {group_column!r} has more than two groups ({shown}, ...); "
                "pass groups=(a, b)"
            )
        offset += len(values)
    for moments, chunks in found.values():
        for block in chunks.flush():
            moments.add(block)
    if wanted is None:
        if len(found) != 2:
            raise InvalidRequestError(
                f"ttest: column {group_column!r} must hold two groups, found {len(found)}"
            )
        first, second = sorted(found, key=_order)
        wanted = (first, second)
    empty = Moments(tf, 1, cross=False)
    return wanted, found.get(wanted[0], (empty,))[0], found.get(wanted[1], (empty,))[0]


def _labels(labels: npt.NDArray[Any]) -> list[JSONScalar]:
    return [_plain(v) for v in np.unique(labels)]


def _plain(value: Any) -> JSONScalar:
    """A label as a plain JSON value (numpy scalars do not serialise)."""
    plain = value.item() if isinstance(value, np.generic) else value
    if not isinstance(plain, bool | int | float | str):
        raise InvalidRequestError(f"ttest: group label {plain!r} is not a number or a string")
    return plain


def _two(groups: Sequence[JSONScalar]) -> tuple[JSONScalar, JSONScalar]:
    if isinstance(groups, str) or len(groups) != 2:
        raise InvalidRequestError(f"ttest: groups must name exactly two values, got {groups!r}")
    first, second = (_plain(g) for g in groups)
    if first == second:
        raise InvalidRequestError(f"ttest: the two groups are the same value {first!r}")
    return first, second


def _order(label: JSONScalar) -> tuple[str, JSONScalar]:
    # Sort numbers among numbers and strings among strings, never comparing across.
    return (type(label).__name__ if isinstance(label, str) else "", label)
