"""Client-side clipping and noise: the norm bound, the noise scale, seeding, bad settings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tensorledger.errors import InvalidRequestError
from tensorledger.federated.dp import ClipNoise, clip_and_noise


def delta(scale: float) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.normal(size=(30, 4)).astype(np.float32) * scale, np.ones(4, np.float32) * scale]


def norm(ts: list[np.ndarray]) -> float:
    return math.sqrt(sum(float(np.sum(t.astype(np.float64) ** 2)) for t in ts))


def test_a_large_update_is_scaled_to_the_clip_norm_and_keeps_its_direction() -> None:
    d = delta(10.0)
    out = clip_and_noise(d, ClipNoise(1.0), np.random.default_rng(0))
    assert norm(out) == pytest.approx(1.0, rel=1e-6)
    for a, b in zip(out, d, strict=True):
        np.testing.assert_allclose(a, b / norm(d), rtol=1e-5, atol=1e-7)
        assert a.dtype == np.float32


def test_a_small_update_passes_unchanged_without_noise() -> None:
    d = delta(1e-3)
    out = clip_and_noise(d, ClipNoise(5.0), np.random.default_rng(0))
    assert [a.tobytes() for a in out] == [b.tobytes() for b in d]


def test_noise_has_standard_deviation_sigma_times_clip() -> None:
    zeros = [np.zeros((200, 200), np.float32)]
    out = clip_and_noise(zeros, ClipNoise(0.5, 2.0), np.random.default_rng(1))
    assert float(np.std(out[0])) == pytest.approx(1.0, rel=0.02)
    assert abs(float(np.mean(out[0]))) < 0.02


def test_the_same_seed_gives_the_same_noise_and_another_seed_does_not() -> None:
    d = delta(1.0)
    mech = ClipNoise(1.0, 0.5)
    a = clip_and_noise(d, mech, np.random.default_rng(3))
    b = clip_and_noise(d, mech, np.random.default_rng(3))
    c = clip_and_noise(d, mech, np.random.default_rng(4))
    assert [x.tobytes() for x in a] == [y.tobytes() for y in b]
    assert [x.tobytes() for x in a] != [y.tobytes() for y in c]


@pytest.mark.parametrize(
    ("clip", "sigma"), [(0.0, 1.0), (-1.0, 0.0), (math.inf, 0.0), (1.0, -0.1), (1.0, math.nan)]
)
def test_bad_settings_are_refused(clip: float, sigma: float) -> None:
    with pytest.raises(InvalidRequestError, match="DP"):
        ClipNoise(clip, sigma)


def test_from_a_job_record() -> None:
    assert ClipNoise.from_record({}) is None
    assert ClipNoise.from_record({"delta": 1e-5}) is None
    assert ClipNoise.from_record({"clip": 1.0, "noiseMultiplier": 0.5}) == ClipNoise(1.0, 0.5)
    with pytest.raises(InvalidRequestError):
        ClipNoise.from_record({"clip": "1"})
