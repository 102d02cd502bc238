"""The TensorFlow demo: the seed's story, two detections, a PNG, a ledger that still verifies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorflow")
sm = pytest.importorskip("statsmodels.api")

from tensorledger.demo_tf import run_tf_demo  # noqa: E402
from tensorledger.ledger.network import DEFAULT_CHANNEL, EmbeddedNetwork  # noqa: E402
from tensorledger.ledger.verify import verify_channel  # noqa: E402


def test_tf_demo_tells_the_whole_story(tmp_path: Path) -> None:
    r = run_tf_demo(tmp_path, epochs=5)
    assert r.ok
    assert r.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "chunk" in r.chunk_error and "dataset diabetes v1 chunk 0" in r.chunk_error
    assert "tensor" in r.tensor_error and "model diabetes-mlp v1 tensor" in r.tensor_error
    assert r.model_versions == ("diabetes-mlp@1",)
    assert len(r.losses) == 5
    assert r.stat_data == (1.0, 2.0, 3.0, 4.0, 5.0) and r.params_match

    frame = pd.read_csv(tmp_path / "diabetes.csv")
    fit = sm.OLS(frame["target"], sm.add_constant(frame.drop(columns="target"))).fit()
    names = [name for name, _ in r.coefficients]
    assert names == list(fit.params.index)
    ours = np.array([value for _, value in r.coefficients])
    np.testing.assert_allclose(ours, fit.params.to_numpy(), rtol=1e-8, atol=1e-8)
    assert r.analysis_verified

    ledger = EmbeddedNetwork(r.ledger)
    try:
        assert verify_channel(ledger, DEFAULT_CHANNEL).ok
    finally:
        ledger.close()
