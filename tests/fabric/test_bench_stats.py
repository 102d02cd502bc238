"""The Fabric benchmark's statistics against numpy, and `bench --fabric`'s refusal of bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from tensorledger.cli import app
from tensorledger.errors import InvalidRequestError
from tensorledger.fabric_bench import percentile, ratio, run

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(finite, min_size=1, max_size=200), st.floats(min_value=0, max_value=100))
def test_percentile_matches_numpy(values: list[float], q: float) -> None:
    expected = float(np.percentile(np.array(values), q))
    assert percentile(values, q) == pytest.approx(expected, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("q", [0, 1, 50, 99, 100])
def test_percentile_of_latencies_like_the_benchmark(q: float) -> None:
    rng = np.random.default_rng(5)
    latencies = rng.lognormal(mean=-3, sigma=0.7, size=401)
    assert percentile(latencies.tolist(), q) == pytest.approx(float(np.percentile(latencies, q)))


def test_percentile_does_not_reorder_its_input() -> None:
    values = [3.0, 1.0, 2.0]
    assert percentile(values, 50) == 2.0
    assert values == [3.0, 1.0, 2.0]


@pytest.mark.parametrize(
    ("values", "q"), [([], 50), ([1.0], -0.1), ([1.0], 100.5), ([1.0, 2.0], math.nan)]
)
def test_percentile_refuses_what_has_none(values: list[float], q: float) -> None:
    with pytest.raises(InvalidRequestError):
        percentile(values, q)


@given(finite, st.floats(min_value=1e-6, max_value=1e6))
def test_ratio_matches_numpy(ours: float, peer: float) -> None:
    assert ratio(ours, peer) == pytest.approx(float(np.divide(ours, peer)))


@pytest.mark.parametrize(
    ("ours", "peer"), [(1.0, 0.0), (1.0, -2.0), (1.0, math.inf), (1.0, math.nan), (math.nan, 1.0)]
)
def test_ratio_refuses_a_meaningless_peer_figure(ours: float, peer: float) -> None:
    with pytest.raises(InvalidRequestError):
        ratio(ours, peer)


@pytest.mark.parametrize("field", ["orgs", "processes", "threads", "per_thread", "solo"])
def test_run_refuses_sizes_below_one_before_any_work(field: str) -> None:
    # refused before looking for Fabric or creating anything, so no installation is needed
    with pytest.raises(InvalidRequestError, match=field):
        run(**{field: 0})


def test_cli_refuses_proof_size_with_fabric() -> None:
    result = CliRunner().invoke(app, ["bench", "--fabric", "--proof-size", "10"])
    assert result.exit_code == InvalidRequestError.exit_code
    assert "--proof-size does not apply to --fabric" in result.output
