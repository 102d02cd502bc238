"""Linear algebra the regressions share: a streamed R factor (TSQR), rank, SPD solves.

Regressions solve through R rather than through X'X: RᵀR = X'X, but R has the
condition number of X, not its square, and stacking the previous R on each new
block keeps memory at O(k²) whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tensorledger.errors import InvalidRequestError

#: A column whose part orthogonal to the columns before it is smaller than this
#: fraction of its norm is treated as a linear combination of them: past this
#: point the coefficients carry fewer than ~6 significant digits.
COLLINEAR_RTOL = 1e-10


class StreamingR:
    """R of the QR factorisation of the row blocks added so far, ``k`` columns."""

    def __init__(self, tf: Any, k: int) -> None:
        self._tf = tf
        self.rows = 0
        self.r: Any = tf.zeros([0, k], tf.float64)

    def add(self, block: Any) -> None:
        """Append a float64 tensor of shape (m, k): R ← R of [R; block]."""
        tf = self._tf
        _, self.r = tf.linalg.qr(tf.concat([self.r, block], axis=0), full_matrices=False)
        self.rows += int(block.shape[0])


def check_full_rank(r: npt.NDArray[np.float64], names: Sequence[str]) -> None:
    """Refuse a design whose R factor shows a (numerically) dependent column, naming it.

    ``|R[j, j]|`` is the norm of column j's part orthogonal to columns 0..j-1
    and ``‖R[:j+1, j]‖`` the norm of the whole column, both exactly as in X.
    """
    for j, name in enumerate(names):
        norm = float(np.linalg.norm(r[: j + 1, j]))
        if norm == 0.0:
            raise InvalidRequestError(f"singular design matrix: column {name!r} is all zeros")
        if abs(float(r[j, j])) > COLLINEAR_RTOL * norm:
            continue
        partners = _partners(r, names, j, norm)
        raise InvalidRequestError(
            f"singular design matrix: column {name!r} is a linear combination of "
            + ", ".join(repr(p) for p in partners)
        )


def _partners(r: npt.NDArray[np.float64], names: Sequence[str], j: int, norm: float) -> list[str]:
    # Columns 0..j-1 are independent (they passed), so X_j ≈ Σ c_i X_i has a
    # unique solution; name the columns that contribute visibly to it.
    coef = np.linalg.solve(r[:j, :j], r[:j, j])
    sizes = [abs(c) * float(np.linalg.norm(r[: i + 1, i])) for i, c in enumerate(coef)]
    return [names[i] for i, size in enumerate(sizes) if size > 1e-8 * norm] or list(names[:j])


def spd_solve(tf: Any, matrix: Any, rhs: Any, failure: str) -> Any:
    """Solve ``matrix · x = rhs`` for a symmetric positive definite `matrix` by Cholesky.

    TensorFlow's CPU kernel does not raise on a matrix that is not positive
    definite: it logs a warning and returns NaNs. This is the one place that
    turns that into `InvalidRequestError(failure)`.
    """
    chol = tf.linalg.cholesky(matrix)
    if not bool(tf.reduce_all(tf.math.is_finite(chol)).numpy()):
        raise InvalidRequestError(failure)
    return tf.linalg.cholesky_solve(chol, rhs)
