"""Property tests: OLS against numpy's SVD least squares on random well-conditioned data."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tensorledger.stats import covariance, ols


@st.composite
def designs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """n rows, p regressors at drawn scales and offsets, y = Xβ + noise; batch size too."""
    p = draw(st.integers(1, 5))
    n = draw(st.integers(p + 3, 80))
    seed = draw(st.integers(0, 2**32 - 1))
    scales = np.array(draw(st.lists(st.floats(1e-3, 1e3), min_size=p, max_size=p)))
    offsets = np.array(draw(st.lists(st.floats(-1e2, 1e2), min_size=p, max_size=p)))
    noise = draw(st.floats(1e-3, 1.0))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) * scales + offsets * scales
    beta = rng.standard_normal(p + 1) * 10
    signal = beta[0] + x @ beta[1:]
    # Noise relative to the signal's size: the RSS is only determined to about
    # eps·‖y‖/‖residual‖ relative, by any solver, so it must not vanish next to y.
    y = signal + noise * np.sqrt(np.mean(signal**2)) * rng.standard_normal(n)
    design = np.column_stack([np.ones(n), x])
    # Well-conditioned once the columns are scaled: cond(X·D) bounds the error
    # of every backward-stable solver, ours and numpy's alike.
    assume(np.linalg.cond(design / np.linalg.norm(design, axis=0)) < 1e4)
    return x, y, draw(st.integers(1, n))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs())
def test_ols_matches_lstsq(case: tuple[np.ndarray, np.ndarray, int]) -> None:
    x, y, batch = case
    n, p = x.shape
    names = [f"x{i}" for i in range(p)]
    stream = (
        {**{names[i]: x[s : s + batch, i] for i in range(p)}, "y": y[s : s + batch]}
        for s in range(0, n, batch)
    )
    result = ols(stream, "y", names)
    design = np.column_stack([np.ones(n), x])
    beta, rss, _, _ = np.linalg.lstsq(design, y, rcond=None)
    # A coefficient can be ~0 next to large ones; its error is relative to the
    # largest coefficient times the design's condition (< 1e4), hence the atol.
    np.testing.assert_allclose(
        result.coefficients, beta, rtol=1e-8, atol=1e-10 * np.abs(beta).max()
    )
    np.testing.assert_allclose(result.rss, rss[0], rtol=1e-8)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 60),
    st.floats(-1e6, 1e6),
    st.floats(1e-3, 1e3),
)
def test_covariance_matches_numpy_far_from_zero(
    seed: int, n: int, offset: float, scale: float
) -> None:
    """Large offsets are where one-pass formulas lose their digits; Chan's merges must not."""
    rng = np.random.default_rng(seed)
    data = offset + scale * rng.standard_normal((n, 3))
    result = covariance(data, ["c0", "c1", "c2"])
    np.testing.assert_allclose(
        result.as_array(), np.cov(data, rowvar=False), rtol=1e-8, atol=1e-12 * scale**2
    )
