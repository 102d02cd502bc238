"""Shared fixtures for the statistics tests: TensorFlow loaded once, the real data sets."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from tensorledger.stats import _backend


@pytest.fixture(scope="session", autouse=True)
def tensorflow_loaded() -> None:
    """Import TensorFlow once per session (several seconds) rather than in the first test."""
    _backend.tensorflow()


@pytest.fixture(scope="session")
def diabetes() -> pd.DataFrame:
    """scikit-learn's diabetes data: 442 rows, ten standardised features and `target`."""
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame


@pytest.fixture(scope="session")
def diabetes_features(diabetes: pd.DataFrame) -> list[str]:
    return [c for c in diabetes.columns if c != "target"]


@pytest.fixture(scope="session")
def cancer() -> pd.DataFrame:
    """scikit-learn's breast-cancer data: 569 rows, 30 features, `target` (1 = benign)."""
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame


def batches(frame: pd.DataFrame, size: int) -> Iterator[dict[str, np.ndarray]]:
    """The frame as a stream of column batches of `size` rows (the last one shorter)."""
    for start in range(0, len(frame), size):
        part = frame.iloc[start : start + size]
        yield {str(c): part[c].to_numpy() for c in part.columns}
