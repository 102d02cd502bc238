"""Ordinary least squares, streamed: the R factor of [X y] is updated batch by batch.

Why QR and not Cholesky of X'X: the R of [X y] holds everything OLS needs
(RᵀR is the cross-product matrix, its last diagonal entry squared is the
residual sum of squares) with the conditioning of X instead of X'X. On the
diabetes data, whose serum columns are strongly collinear, that is the
difference between ~12 and ~6 trustworthy digits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tensorledger.errors import InvalidRequestError
from tensorledger.stats._backend import compute
from tensorledger.stats._distributions import f_upper, t_two_sided
from tensorledger.stats._linalg import COLLINEAR_RTOL, StreamingR, check_full_rank
from tensorledger.stats._moments import Moments
from tensorledger.stats._source import Data, blocks, check_names, require_rows
from tensorledger.stats.result import JSONValue, StatResult, floats

#: The coefficient name of the intercept, as statsmodels' `add_constant` calls it.
INTERCEPT = "const"


@dataclass(frozen=True)
class OLSResult(StatResult):
    """Coefficients in the order of `columns` (the intercept first, when there is one).

    R² is centred when the model has an intercept and uncentred otherwise, as
    in statsmodels and R; the F test is of all coefficients but the intercept.
    """

    method = "ols"

    y: str
    columns: tuple[str, ...]
    intercept: bool
    coefficients: tuple[float, ...]
    standard_errors: tuple[float, ...]
    t_values: tuple[float, ...]
    p_values: tuple[float, ...]
    r_squared: float
    adj_r_squared: float
    residual_std_error: float
    rss: float
    f_statistic: float
    f_p_value: float
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
            "t_values": floats(self.t_values),
            "p_values": floats(self.p_values),
            "r_squared": self.r_squared,
            "adj_r_squared": self.adj_r_squared,
            "residual_std_error": self.residual_std_error,
            "rss": self.rss,
            "f_statistic": self.f_statistic,
            "f_p_value": self.f_p_value,
            "n": self.n,
            "df_model": self.df_model,
            "df_resid": self.df_resid,
        }


def design_names(y: str, x: Sequence[str], add_intercept: bool, what: str) -> list[str]:
    """The coefficient names of a regression of `y` on `x`; refuses clashes."""
    if not isinstance(y, str):
        raise InvalidRequestError(f"{what}: y must be one column name, got {y!r}")
    names = check_names(x, f"{what} x")
    if y in names:
        raise InvalidRequestError(f"{what}: column {y!r} is both y and a regressor")
    if add_intercept:
        if INTERCEPT in names:
            raise InvalidRequestError(
                f"{what}: a column is called {INTERCEPT!r}, the intercept's name; "
                "rename it or pass add_intercept=False"
            )
        names = [INTERCEPT, *names]
    return names


def with_intercept(tf: Any, x: Any, add_intercept: bool) -> Any:
    """The design block: a leading column of ones when the model has an intercept."""
    if not add_intercept:
        return x
    return tf.concat([tf.ones([tf.shape(x)[0], 1], tf.float64), x], axis=1)


def ols(data: Data, y: str, x: Sequence[str], add_intercept: bool = True) -> OLSResult:
    """Regress column `y` on columns `x` by least squares, with classical inference.

    Refuses a singular design (naming the collinear column), fewer rows than
    coefficients plus one, and a fit that is exact to rounding (residuals
    below 1e-10 of y's spread, the collinearity tolerance): its standard
    errors would be rounding noise.
    """
    names = design_names(y, x, add_intercept, "ols")
    k = len(names)
    regressors = names[1:] if add_intercept else names
    with compute() as tf:
        qr = StreamingR(tf, k + 1)
        y_moments = Moments(tf, 1, cross=False)
        for block in blocks(data, [*regressors, y]):
            xy = tf.constant(block, tf.float64)
            qr.add(tf.concat([with_intercept(tf, xy[:, :-1], add_intercept), xy[:, -1:]], 1))
            y_moments.add(block[:, -1:])
        n = qr.rows
        require_rows(n, k + 1, f"ols with {k} coefficients")
        r = qr.r
        check_full_rank(r.numpy()[:k, :k], names)
        rss = tf.square(r[k, k])
        # Centred with an intercept; otherwise Σ y², the norm of R's last column.
        tss = y_moments.m2[0] if add_intercept else tf.reduce_sum(tf.square(r[:, k]))
        if float(tss.numpy()) == 0.0:
            raise InvalidRequestError(f"ols: column {y!r} is constant")
        if abs(float(r[k, k].numpy())) <= COLLINEAR_RTOL * float(tss.numpy()) ** 0.5:
            raise InvalidRequestError(
                f"ols: {y!r} is an exact linear function of the regressors; "
                "the residual variance is zero and inference is undefined"
            )
        r_xx = r[:k, :k]
        beta = tf.linalg.triangular_solve(r_xx, r[:k, k:], lower=False)[:, 0]
        r_inv = tf.linalg.triangular_solve(r_xx, tf.eye(k, dtype=tf.float64), lower=False)
        xtx_inv_diag = tf.reduce_sum(tf.square(r_inv), axis=1)  # diag((X'X)⁻¹) = diag(R⁻¹R⁻ᵀ)
        df_resid = n - k
        df_model = k - 1 if add_intercept else k
        sigma2 = rss / float(df_resid)
        se = tf.sqrt(sigma2 * xtx_inv_diag)
        t = beta / se
        p = t_two_sided(tf, t, df_resid)
        r2 = 1.0 - rss / tss
        k_const = 1 if add_intercept else 0
        adj_r2 = 1.0 - float(n - k_const) / float(df_resid) * (1.0 - r2)
        f_stat = ((tss - rss) / float(df_model)) / sigma2
        f_p = f_upper(tf, f_stat, df_model, df_resid)
        values = [v.numpy() for v in (beta, se, t, p)]
        scalars = [float(v.numpy()) for v in (r2, adj_r2, tf.sqrt(sigma2), rss, f_stat, f_p)]
    return OLSResult(
        y=y,
        columns=tuple(names),
        intercept=add_intercept,
        coefficients=tuple(float(v) for v in values[0]),
        standard_errors=tuple(float(v) for v in values[1]),
        t_values=tuple(float(v) for v in values[2]),
        p_values=tuple(float(v) for v in values[3]),
        r_squared=scalars[0],
        adj_r_squared=scalars[1],
        residual_std_error=scalars[2],
        rss=scalars[3],
        f_statistic=scalars[4],
        f_p_value=scalars[5],
        n=n,
        df_model=df_model,
        df_resid=df_resid,
    )
