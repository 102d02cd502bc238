"""Tail probabilities of the t, F and normal distributions, in TensorFlow float64.

Computed from the regularised incomplete beta function and `erfc` directly,
never as ``1 - cdf``, so that tiny p values keep their relative precision.
"""

from __future__ import annotations

import math
from typing import Any


def t_two_sided(tf: Any, t: Any, df: Any) -> Any:
    """P(|T| ≥ |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2)."""
    t = tf.convert_to_tensor(t, tf.float64)
    df = tf.cast(df, tf.float64) * tf.ones_like(t)
    return tf.math.betainc(0.5 * df, 0.5 * tf.ones_like(t), df / (df + tf.square(t)))


def f_upper(tf: Any, f: Any, df1: Any, df2: Any) -> Any:
    """P(F ≥ f) for the F distribution: I_{d2/(d2+d1·f)}(d2/2, d1/2)."""
    f = tf.convert_to_tensor(f, tf.float64)
    d1 = tf.cast(df1, tf.float64) * tf.ones_like(f)
    d2 = tf.cast(df2, tf.float64) * tf.ones_like(f)
    return tf.math.betainc(0.5 * d2, 0.5 * d1, d2 / (d2 + d1 * f))


def normal_two_sided(tf: Any, z: Any) -> Any:
    """P(|Z| ≥ |z|) for the standard normal: erfc(|z|/√2)."""
    z = tf.convert_to_tensor(z, tf.float64)
    return tf.math.erfc(tf.abs(z) / math.sqrt(2.0))
