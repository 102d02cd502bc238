"""Streaming first and second moments, merged batch by batch (Chan, Golub and LeVeque).

Each batch is centred on its own mean before its squares are summed, and batches
are combined with the pairwise update, so that the sums never suffer the
cancellation of `sum(x²) - n·mean²` and the result barely depends on batching.
"""

from __future__ import annotations

from typing import Any

from tensorledger.stats._source import Block


class Moments:
    """Count, mean and centred second moments of `k` columns fed in row blocks.

    With ``cross=True`` the second moment is the full co-moment matrix
    ``Σ (x - mean)(x - mean)ᵀ`` (covariance, correlation); otherwise only its
    diagonal, the sums of squared deviations (variance).
    """

    def __init__(self, tf: Any, k: int, *, cross: bool) -> None:
        self._tf = tf
        self.cross = cross
        self.n = 0
        self.mean: Any = tf.zeros([k], tf.float64)
        self.m2: Any = tf.zeros([k, k] if cross else [k], tf.float64)

    def add(self, block: Block) -> None:
        """Merge one batch (rows by k, float64, at least one row)."""
        tf = self._tf
        x = tf.constant(block, tf.float64)
        nb = int(block.shape[0])
        # Two-pass mean within the batch: the correction term recovers the
        # rounding error of the first pass when the data sit far from zero.
        rough = tf.reduce_mean(x, axis=0)
        mean_b = rough + tf.reduce_mean(x - rough, axis=0)
        centred = x - mean_b
        if self.cross:
            m2_b = tf.matmul(centred, centred, transpose_a=True)
            m2_b = 0.5 * (m2_b + tf.transpose(m2_b))  # exactly symmetric
        else:
            m2_b = tf.reduce_sum(tf.square(centred), axis=0)
        if self.n == 0:
            self.n, self.mean, self.m2 = nb, mean_b, m2_b
            return
        na = self.n
        n = na + nb
        delta = mean_b - self.mean
        weight = float(na) * float(nb) / float(n)
        if self.cross:
            correction = tf.tensordot(delta, delta, axes=0) * weight
        else:
            correction = tf.square(delta) * weight
        self.mean = self.mean + delta * (float(nb) / float(n))
        self.m2 = self.m2 + m2_b + correction
        self.n = n

    def variance(self) -> Any:
        """Unbiased (ddof=1) variances, or the covariance matrix when ``cross``."""
        return self.m2 / float(self.n - 1)
