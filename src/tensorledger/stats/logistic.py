"""Logistic regression by Newton's method (IRLS) in TensorFlow, float64.

Newton needs one pass over the data per iteration, so `logit` keeps the
requested columns in memory (8 bytes per value), in fixed-size blocks whose
gradients and Hessians are summed block by block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorledger.errors import InvalidRequestError
from tensorledger.stats._backend import compute
from tensorledger.stats._distributions import normal_two_sided
from tensorledger.stats._linalg import StreamingR, check_full_rank, spd_solve
from tensorledger.stats._source import Block, Data, blocks, require_rows
from tensorledger.stats.linear import design_names, with_intercept
from tensorledger.stats.result import JSONValue, StatResult, floats

#: When every fitted probability is this close to its 0/1 label the classes are
#: perfectly separated: the likelihood has no maximum, the coefficients diverge.
SEPARATION_TOL = 1e-8


@dataclass(frozen=True)
class LogitResult(StatResult):
    """Maximum-likelihood coefficients with Wald inference (z and normal p values).

    `null_log_likelihood` is that of the intercept-only model and
    `pseudo_r_squared` McFadden's 1 - ll/ll₀, as statsmodels reports them.
    """

    method = "logit"

    y: str
    columns: tuple[str, ...]
    intercept: bool
    coefficients: tuple[float, ...]
    standard_errors: tuple[float, ...]
    z_values: tuple[float, ...]
    p_values: tuple[float, ...]
    log_likelihood: float
    null_log_likelihood: float
    pseudo_r_squared: float
    converged: bool
    iterations: int
    n: int
    df_model: int
    df_resid: int

    @property
    def params(self) -> Mapping[str, float]:
        """Coefficients by column name."""
        return dict(zip(self.columns, self.coefficients, strict=True))

    def to_dict(self) -> dict[str, JSONValue]:
        """JSON-ready values."""
        return {
            "method": self.method,
            "y": self.y,
            "columns": list(self.columns),
            "intercept": self.intercept,
            "coefficients": floats(self.coefficients),
            "standard_errors": floats(self.standard_errors),
            "z_values": floats(self.z_values),
            "p_values": floats(self.p_values),
            "log_likelihood": self.log_likelihood,
            "null_log_likelihood": self.null_log_likelihood,
            "pseudo_r_squared": self.pseudo_r_squared,
            "converged": self.converged,
            "iterations": self.iterations,
            "n": self.n,
            "df_model": self.df_model,
            "df_resid": self.df_resid,
        }


@dataclass
class _Pass:
    """Sums over all rows at one coefficient vector."""

    gradient: Any
    hessian: Any
    log_likelihood: Any


def logit(
    data: Data,
    y: str,
    x: Sequence[str],
    add_intercept: bool = True,
    max_iter: int = 100,
    tol: float = 1e-12,
) -> LogitResult:
    """Fit P(y=1) = 1/(1+exp(-Xβ)) by Newton's method from β = 0.

    Stops when no coefficient moved by more than ``tol·max(1, max|β|)``; if
    that never happens within `max_iter` steps the result says
    ``converged=False``. Refuses a y that is not 0/1 or has one class, a
    singular design, perfect separation (every row predicted exactly) and
    quasi-separation once it makes the information matrix singular.
    """
    names = design_names(y, x, add_intercept, "logit")
    regressors = names[1:] if add_intercept else names
    if max_iter < 1 or not tol > 0.0:
        raise InvalidRequestError("logit: max_iter must be at least 1 and tol positive")
    k = len(names)
    kept = list(blocks(data, [*regressors, y]))
    n = sum(b.shape[0] for b in kept)
    require_rows(n, k + 1, f"logit with {k} coefficients")
    positives = _check_labels(kept, y)
    if positives in (0, n):
        raise InvalidRequestError(f"logit: column {y!r} has only one class")
    with compute() as tf:
        xs = [with_intercept(tf, tf.constant(b[:, :-1], tf.float64), add_intercept) for b in kept]
        ys = [tf.constant(b[:, -1], tf.float64) for b in kept]
        qr = StreamingR(tf, k)
        for design in xs:
            qr.add(design)
        check_full_rank(qr.r.numpy(), names)
        beta = tf.zeros([k], tf.float64)
        converged = False
        iterations = 0
        while iterations < max_iter and not converged:
            sums = _newton_pass(tf, xs, ys, beta, regressors, y)
            step = _solve(tf, sums.hessian, sums.gradient[:, None], iterations)[:, 0]
            beta = beta + step
            iterations += 1
            scale = max(1.0, float(tf.reduce_max(tf.abs(beta)).numpy()))
            converged = float(tf.reduce_max(tf.abs(step)).numpy()) <= tol * scale
        final = _newton_pass(tf, xs, ys, beta, regressors, y)
        se = _standard_errors(tf, xs, beta)
        z = beta / se
        p = normal_two_sided(tf, z)
        # The intercept-only model's maximum is at p = ȳ, in closed form.
        mean_y = tf.constant(positives / n, tf.float64)
        ll_null = float(
            (n * (mean_y * tf.math.log(mean_y) + (1.0 - mean_y) * tf.math.log1p(-mean_y))).numpy()
        )
        ll = float(final.log_likelihood.numpy())
        values = [v.numpy() for v in (beta, se, z, p)]
    return LogitResult(
        y=y,
        columns=tuple(names),
        intercept=add_intercept,
        coefficients=tuple(float(v) for v in values[0]),
        standard_errors=tuple(float(v) for v in values[1]),
        z_values=tuple(float(v) for v in values[2]),
        p_values=tuple(float(v) for v in values[3]),
        log_likelihood=ll,
        null_log_likelihood=ll_null,
        pseudo_r_squared=1.0 - ll / ll_null,
        converged=converged,
        iterations=iterations,
        n=n,
        df_model=k - 1 if add_intercept else k,
        df_resid=n - k,
    )


def _check_labels(kept: list[Block], y: str) -> int:
    """Refuse labels other than 0 and 1; return how many are 1."""
    offset = 0
    positives = 0
    for block in kept:
        labels = block[:, -1]
        bad = (labels != 0.0) & (labels != 1.0)
        if bad.any():
            row = int(np.argmax(bad))
            raise InvalidRequestError(
                f"logit: column {y!r} must hold only 0 and 1, found {float(labels[row])!r} "
                f"at row {offset + row}"
            )
        positives += int(np.count_nonzero(labels))
        offset += block.shape[0]
    return positives


def _newton_pass(
    tf: Any, xs: list[Any], ys: list[Any], beta: Any, regressors: list[str], y: str
) -> _Pass:
    k = int(beta.shape[0])
    gradient = tf.zeros([k], tf.float64)
    hessian = tf.zeros([k, k], tf.float64)
    log_likelihood = tf.constant(0.0, tf.float64)
    worst = tf.constant(0.0, tf.float64)
    for x, label in zip(xs, ys, strict=True):
        eta = tf.linalg.matvec(x, beta)
        # p and 1-p each from its own sigmoid: no cancellation when p is near 0 or 1.
        p = tf.sigmoid(eta)
        q = tf.sigmoid(-eta)
        residual = label * q - (1.0 - label) * p  # y - p
        gradient += tf.linalg.matvec(x, residual, transpose_a=True)
        hessian += tf.matmul(x, x * (p * q)[:, None], transpose_a=True)
        log_likelihood -= tf.reduce_sum(
            label * tf.math.softplus(-eta) + (1.0 - label) * tf.math.softplus(eta)
        )
        worst = tf.maximum(worst, tf.reduce_max(tf.abs(residual)))
    if not bool(tf.reduce_all(tf.math.is_finite(beta)).numpy()):
        raise InvalidRequestError("logit: the Newton iteration diverged")
    if float(worst.numpy()) < SEPARATION_TOL:
        raise InvalidRequestError(
            f"logit: perfect separation, {', '.join(repr(r) for r in regressors)} predict "
            f"{y!r} exactly; the maximum-likelihood coefficients do not exist"
        )
    hessian = 0.5 * (hessian + tf.transpose(hessian))
    return _Pass(gradient, hessian, log_likelihood)


def _standard_errors(tf: Any, xs: list[Any], beta: Any) -> Any:
    """sqrt(diag(H⁻¹)) with H = XᵀWX, through the R factor of W^½X rather than H itself.

    Inverting H squares its condition number's effect on rounding; R has the
    conditioning of W^½X, as in `ols`, and keeps the standard errors (and the
    p values in the far tail, which amplify their errors by z²) stable.
    """
    k = int(beta.shape[0])
    qr = StreamingR(tf, k)
    for x in xs:
        eta = tf.linalg.matvec(x, beta)
        qr.add(x * tf.sqrt(tf.sigmoid(eta) * tf.sigmoid(-eta))[:, None])
    r_inv = tf.linalg.triangular_solve(qr.r, tf.eye(k, dtype=tf.float64), lower=False)
    return tf.sqrt(tf.reduce_sum(tf.square(r_inv), axis=1))


def _solve(tf: Any, hessian: Any, rhs: Any, iteration: int) -> Any:
    return spd_solve(
        tf,
        hessian,
        rhs,
        f"logit: the information matrix became singular after {iteration} Newton steps; "
        "the classes are quasi-separated (some rows are predicted exactly)",
    )
