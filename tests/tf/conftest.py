"""Fixtures for the TensorFlow tests: TF loaded once, one ledger with the diabetes data registered.

TensorFlow takes seconds to start, and registering data costs transactions,
so the ledger and its datasets are made once per session; tests that alter a
stored file put it back before they finish (`altered_file`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tensorledger as tl
from tensorledger import blobs
from tests.tf.diabetes_ledger import (
    CSV_CHUNK,
    CSV_ID,
    PARQUET_CHUNK,
    PARQUET_ID,
    PARQUET_ROW_GROUP,
    Ledger,
    register_file,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config: pytest.Config) -> None:
    # Keras warns that fit's default shuffle=True does not apply to a tf.data.Dataset;
    # these tests decide the order in the pipeline on purpose.
    config.addinivalue_line("filterwarnings", "ignore:`shuffle=True` was passed:UserWarning")


@pytest.fixture(scope="session", autouse=True)
def tensorflow_loaded() -> None:
    """Import TensorFlow once per session rather than inside the first test."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


@pytest.fixture(scope="session")
def diabetes() -> pd.DataFrame:
    """scikit-learn's diabetes data: 442 rows, ten standardised features and `target`."""
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame


@pytest.fixture(scope="session")
def ledger(tmp_path_factory: pytest.TempPathFactory, diabetes: pd.DataFrame) -> Iterator[Ledger]:
    base = tmp_path_factory.mktemp("tf")
    root = tl.init(base / "ledger", orgs=["Org1", "Org2"])
    csv_path = base / "diabetes.csv"
    parquet_path = base / "diabetes.parquet"
    diabetes.to_csv(csv_path, index=False)
    pq.write_table(
        pa.Table.from_pandas(diabetes, preserve_index=False),
        parquet_path,
        row_group_size=PARQUET_ROW_GROUP,
    )
    gw = tl.connect(root, identity="Org1")
    gw2 = tl.connect(root, identity="Org2")
    try:
        yield Ledger(
            gw=gw,
            gw2=gw2,
            store=blobs.store_for(gw.root),
            csv=register_file(gw, csv_path, CSV_ID, CSV_CHUNK),
            parquet=register_file(gw, parquet_path, PARQUET_ID, PARQUET_CHUNK),
            frame=diabetes,
        )
    finally:
        gw.close()
        gw2.close()
