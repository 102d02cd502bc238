"""Real tables for the format tests: scikit-learn's bundled diabetes and breast-cancer data."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes

FORMATS = ("csv", "parquet", "npy")


@cache
def diabetes() -> pd.DataFrame:
    """442 rows, 11 float64 columns."""
    return load_diabetes(as_frame=True).frame


@cache
def breast_cancer() -> pd.DataFrame:
    """569 rows: 30 float64 features, an int target, and two text columns.

    ``note`` holds commas, quotes and line breaks, so CSV records span lines
    and, with small chunks, chunk boundaries.
    """
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.copy()
    frame["diagnosis"] = [str(data.target_names[t]) for t in frame["target"]]
    frame["note"] = [
        f'case {i}, "seen"\ntwice' if i % 7 == 0 else f"case {i}" for i in range(len(frame))
    ]
    return frame


def numeric(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.select_dtypes("number")


def write(frame: pd.DataFrame, directory: Path, fmt: str) -> Path:
    """The frame as a CSV, Parquet (row groups of 64 rows) or C-ordered float64 .npy file."""
    path = directory / f"table.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False, row_group_size=64)
    else:
        np.save(path, np.ascontiguousarray(numeric(frame).to_numpy(dtype=np.float64)))
    return path


def reference(path: Path, fmt: str, columns: list[str]) -> dict[str, np.ndarray]:
    """The file read by pandas or numpy, not by the code under test."""
    if fmt == "csv":
        frame = pd.read_csv(path)
    elif fmt == "parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.DataFrame(np.load(path), columns=columns)
    return {c: frame[c].to_numpy() for c in frame.columns}
