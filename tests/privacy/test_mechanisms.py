"""DP mechanisms against theory: noise scales from ε and sensitivity, computed here by hand.

OpenDP draws its noise from the operating system's CSPRNG, which cannot be
seeded, so the empirical checks use enough samples that a tolerance of about
five standard errors is far from flaky while a wrong scale (off by √2, or a
sensitivity off by a factor of n) fails by a wide margin.
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from tensorledger.errors import InvalidRequestError
from tensorledger.privacy import clip_and_noise, epsilon_of, gaussian_epsilon, plan
from tests.privacy.conftest import diabetes_frame

SAMPLES = 4000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return diabetes_frame()


@pytest.fixture(scope="module")
def age(frame: pd.DataFrame) -> np.ndarray:
    return frame["age"].to_numpy()


def draws(p: object, values: np.ndarray, n: int = SAMPLES) -> np.ndarray:
    data = values.tolist()
    return np.array([p.measurement(data) for _ in range(n)], dtype=np.float64)  # type: ignore[attr-defined]


def gaussian_delta(epsilon: float, sigma: float, sensitivity: float) -> float:
    """The exact δ(ε) of the Gaussian mechanism (Balle & Wang 2018, Theorem 8)."""
    a = sensitivity / (2 * sigma)
    b = epsilon * sigma / sensitivity
    return float(special.ndtr(a - b) - math.exp(epsilon) * special.ndtr(-a - b))


def zcdp_bound(rho: float, delta: float) -> float:
    """The classic rho-zCDP → (ε, δ) conversion (Bun & Steinke 2016, Proposition 1.3)."""
    return rho + 2 * math.sqrt(rho * math.log(1 / delta))


# -- scales from ε and sensitivity ----------------------------------------------------------


@pytest.mark.parametrize("eps", ["0.1", "0.5", "1", "2.25"])
def test_laplace_sum_scale_is_sensitivity_over_epsilon(eps: str, age: np.ndarray) -> None:
    p = plan("sum", column="age", epsilon=eps, bounds=(0, 100))
    assert p.parameters["scale"] == pytest.approx(100 / float(eps), rel=1e-6)
    assert p.parameters["openDPEpsilon"] <= float(eps)


def test_laplace_mean_with_public_n_scale_is_range_over_n_epsilon(age: np.ndarray) -> None:
    p = plan("mean", column="age", epsilon="0.5", bounds=(10, 90), size=len(age))
    assert p.parameters["scale"] == pytest.approx(80 / (len(age) * 0.5), rel=1e-6)
    assert p.parameters["n"] == len(age)


def test_private_n_mean_splits_epsilon_between_sum_and_count() -> None:
    p = plan("mean", column="age", epsilon="1", bounds=(0, 100))
    # each half-ε: the sum's scale is 100 / 0.5, the count's 1 / 0.5
    assert p.parameters["scale"] == pytest.approx(200, rel=1e-6)
    assert p.parameters["countScale"] == pytest.approx(2, rel=1e-6)
    assert p.parameters["n"] == "private"


@pytest.mark.parametrize("delta", [1e-5, 1e-7])
def test_gaussian_scale_meets_the_exact_privacy_profile(delta: float) -> None:
    eps = 0.8
    p = plan(
        "sum", column="age", epsilon=str(eps), bounds=(0, 100), mechanism="gaussian", delta=delta
    )
    sigma = p.parameters["scale"]
    # private: the Gaussian mechanism's exact δ at the claimed ε is within the claimed δ
    assert gaussian_delta(eps, sigma, 100.0) <= delta
    # not wasteful: OpenDP's conversion is at least as tight as the classic bound
    assert zcdp_bound(100.0**2 / (2 * sigma**2), delta) >= eps


# -- empirical noise ------------------------------------------------------------------------


def test_laplace_sum_noise_has_variance_two_b_squared(age: np.ndarray) -> None:
    p = plan("sum", column="age", epsilon="1", bounds=(0, 100))
    b = 100.0
    noise = draws(p, age) - float(np.clip(age, 0, 100).sum())
    assert abs(noise.mean()) < 5 * math.sqrt(2) * b / math.sqrt(SAMPLES)
    assert noise.var() == pytest.approx(2 * b * b, rel=0.15)
    assert stats.kstest(noise, stats.laplace(scale=b).cdf).pvalue > 1e-4


def test_gaussian_mean_noise_has_the_planned_standard_deviation(age: np.ndarray) -> None:
    p = plan(
        "mean", column="age", epsilon="1", bounds=(0, 100), mechanism="gaussian",
        delta=1e-6, size=len(age),
    )  # fmt: skip
    sigma = p.parameters["scale"]
    noise = draws(p, age) - float(age.mean())
    assert noise.std() == pytest.approx(sigma, rel=0.08)
    assert stats.kstest(noise, stats.norm(scale=sigma).cdf).pvalue > 1e-4


def test_count_noise_is_discrete_laplace(age: np.ndarray) -> None:
    p = plan("count", column="age", epsilon="0.5")
    noise = draws(p, age.astype(str)) - len(age)  # a count reads its column as text
    assert np.all(noise == np.round(noise))
    q = math.exp(-0.5)  # discrete Laplace with scale 1/ε = 2: P(k) ∝ q^|k|
    assert np.mean(noise == 0) == pytest.approx((1 - q) / (1 + q), abs=0.035)
    assert noise.var() == pytest.approx(2 * q / (1 - q) ** 2, rel=0.15)


def test_private_n_mean_releases_average_to_the_true_mean(age: np.ndarray) -> None:
    p = plan("mean", column="age", epsilon="1", bounds=(0, 100))
    values = np.array([p.run(age).value for _ in range(800)])
    se = values.std() / math.sqrt(len(values))
    assert abs(values.mean() - age.mean()) < 5 * se


def test_histogram_releases_average_to_the_true_counts(age: np.ndarray) -> None:
    edges = [20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]
    truth = [int(((age >= lo) & (age < hi)).sum()) for lo, hi in itertools.pairwise(edges)]
    other = len(age) - sum(truth)
    p = plan("histogram", column="age", epsilon="0.5", bins=edges)
    runs = [p.run(age).value for _ in range(400)]
    counts = np.array([r["counts"] + [r["other"]] for r in runs], dtype=float)
    se = math.sqrt(2 * 2.0**2 / len(runs))  # discrete Laplace, scale 2, variance < 2b²
    assert np.all(np.abs(counts.mean(axis=0) - np.array([*truth, other])) < 5 * se)


def test_categorical_histogram_counts_text_values(frame: pd.DataFrame) -> None:
    labels = frame["sexLabel"].to_numpy()
    p = plan("histogram", column="sexLabel", epsilon="1", bins=["F", "M", "X"])
    runs = np.array(
        [[*p.run(labels).value["counts"], p.run(labels).value["other"]] for _ in range(300)]
    )
    truth = [int((labels == "F").sum()), int((labels == "M").sum()), 0, 0]
    assert np.all(np.abs(runs.mean(axis=0) - truth) < 5 * math.sqrt(2 / 300))


# -- gaussian_epsilon -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sigma", "delta", "steps"),
    [(1.0, 1e-5, 1), (1.1, 1e-5, 100), (4.0, 1e-6, 1000), (0.7, 1e-3, 30)],
)
def test_gaussian_epsilon_is_within_the_zcdp_bound_and_private(
    sigma: float, delta: float, steps: int
) -> None:
    eps = gaussian_epsilon(sigma, delta, steps)
    rho = steps / (2 * sigma**2)
    assert 0 < eps <= zcdp_bound(rho, delta) * (1 + 1e-9)
    # composed Gaussians = one Gaussian of scale sigma/√steps: its exact δ at that ε is ≤ δ
    assert gaussian_delta(eps, sigma / math.sqrt(steps), 1.0) <= delta * (1 + 1e-9)


def test_gaussian_epsilon_matches_opendp_composition_of_each_step() -> None:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    space = dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float)
    steps = [dp.m.make_gaussian(*space, scale=1.3) for _ in range(3)]
    composed = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(dp.c.make_composition(steps)), 1e-5)
    assert gaussian_epsilon(1.3, 1e-5, 3) == pytest.approx(composed.map(1.0)[0], rel=1e-6)


def test_gaussian_epsilon_grows_with_steps_and_shrinks_with_noise() -> None:
    assert gaussian_epsilon(1.0, 1e-5, 10) < gaussian_epsilon(1.0, 1e-5, 20)
    assert gaussian_epsilon(2.0, 1e-5, 10) < gaussian_epsilon(1.0, 1e-5, 10)


@pytest.mark.parametrize(
    ("sigma", "delta", "steps"),
    [(0, 1e-5, 1), (-1, 1e-5, 1), (math.nan, 1e-5, 1), (1, 0, 1), (1, 1, 1), (1, 1e-5, 0),
     (1, 1e-5, 1.5), (1, 1e-5, True)],
)  # fmt: skip
def test_gaussian_epsilon_refuses_bad_arguments(sigma: float, delta: float, steps: int) -> None:
    with pytest.raises(InvalidRequestError):
        gaussian_epsilon(sigma, delta, steps)


# -- clip_and_noise -------------------------------------------------------------------------


def test_clip_scales_the_whole_update_to_the_clip_norm() -> None:
    rng = np.random.default_rng(7)
    update = [rng.normal(size=(20, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)]
    norm = math.sqrt(sum(float(np.sum(t.astype(np.float64) ** 2)) for t in update))
    out = clip_and_noise(update, 1.0, 0.0, np.random.default_rng(0))
    for got, given in zip(out, update, strict=False):
        assert got.dtype == np.float32 and got.shape == given.shape
        np.testing.assert_allclose(got, given / norm, rtol=1e-6)
    small = clip_and_noise(update, 10 * norm, 0.0, np.random.default_rng(0))
    for got, given in zip(small, update, strict=False):
        np.testing.assert_array_equal(got, given)


def test_noise_is_gaussian_with_sigma_times_clip_and_repeats_with_its_seed() -> None:
    update = [np.zeros((400, 250)), np.zeros(1000)]
    out = clip_and_noise(update, 2.0, 0.75, np.random.default_rng(3))
    noise = np.concatenate([t.ravel() for t in out])
    assert noise.std() == pytest.approx(1.5, rel=0.01)
    assert abs(noise.mean()) < 5 * 1.5 / math.sqrt(noise.size)
    again = clip_and_noise(update, 2.0, 0.75, np.random.default_rng(3))
    assert all(np.array_equal(a, b) for a, b in zip(out, again, strict=False))


@pytest.mark.parametrize(
    ("update", "clip", "sigma"),
    [([np.ones(3)], 0.0, 1.0), ([np.ones(3)], 1.0, -0.1), ([np.array([1.0, np.nan])], 1.0, 1.0),
     ([np.array([1, 2])], 1.0, 1.0), ([np.ones(3)], math.inf, 1.0)],
)  # fmt: skip
def test_clip_and_noise_refuses_bad_input(
    update: list[np.ndarray], clip: float, sigma: float
) -> None:
    with pytest.raises(InvalidRequestError):
        clip_and_noise(update, clip, sigma, np.random.default_rng(0))


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statistic", "options", "fragment"),
    [
        ("median", {}, "is not one of count, sum, mean, histogram"),
        ("sum", {}, "needs bounds"),
        ("sum", {"bounds": (5, 5)}, "low < high"),
        ("sum", {"bounds": (0, math.inf)}, "two numbers"),
        ("mean", {"bounds": (0, 1), "bins": [0, 1]}, "takes no bins"),
        ("count", {"bounds": (0, 1)}, "takes no bounds"),
        ("histogram", {"bins": [1.0]}, "at least two, strictly increasing"),
        ("histogram", {"bins": [2.0, 1.0]}, "at least two, strictly increasing"),
        ("histogram", {"bins": ["a", "a"]}, "distinct"),
        ("histogram", {"bins": ["a", 1.0]}, "all numbers"),
        ("histogram", {}, "needs bins"),
        ("sum", {"bounds": (0, 1), "mechanism": "laplace", "delta": 1e-6}, "δ must be 0"),
        ("sum", {"bounds": (0, 1), "mechanism": "gaussian"}, "0 < δ < 1"),
        ("sum", {"bounds": (0, 1), "mechanism": "exponential"}, "laplace, gaussian"),
        ("mean", {"bounds": (0, 1), "size": 0}, "integer ≥ 1"),
    ],
)
def test_plan_refuses_what_it_cannot_make_private(
    statistic: str, options: dict[str, object], fragment: str
) -> None:
    with pytest.raises(InvalidRequestError, match=fragment):
        plan(statistic, column="age", epsilon="1", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "exact"),
    [("0.1", "0.1"), (Decimal("0.30"), "0.3"), (0.1, "0.1"), (2, "2.0"), ("1000", "1000.0")],
)
def test_epsilon_is_read_exactly(given: object, exact: str) -> None:
    assert epsilon_of(given) == Decimal(exact)  # type: ignore[arg-type]


@pytest.mark.parametrize("given", ["0", "-1", "1e-3", 1e-10, math.nan, True, "0.1234567891", None])
def test_epsilon_refuses_what_the_ledger_would(given: object) -> None:
    with pytest.raises(InvalidRequestError, match="ε must be"):
        epsilon_of(given)  # type: ignore[arg-type]


def test_a_release_refuses_non_numeric_or_non_finite_columns() -> None:
    p = plan("sum", column="x", epsilon="1", bounds=(0, 1))
    with pytest.raises(InvalidRequestError, match="is not numeric"):
        p.run(np.array(["a", "b"]))
    with pytest.raises(InvalidRequestError, match="non-finite value at row 1"):
        p.run(np.array([0.5, np.inf]))
