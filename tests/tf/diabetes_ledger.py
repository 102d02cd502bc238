"""The diabetes data on a ledger, and ways to alter what is stored, for the TensorFlow tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import tensorledger as tl
from tensorledger import blobs
from tensorledger.registry import DatasetRecord, register_dataset

CSV_ID = "diabetes-csv"
PARQUET_ID = "diabetes-parquet"
#: small chunks, so the 442-row table spans many of them
CSV_CHUNK = 4096
PARQUET_CHUNK = 2048
PARQUET_ROW_GROUP = 32


@dataclass(frozen=True)
class Registered:
    """One registered dataset version and the local file it came from."""

    record: DatasetRecord
    manifest: blobs.Manifest
    path: Path


@dataclass(frozen=True)
class Ledger:
    """The session's ledger: a gateway for Org1 and Org2, the chunk store, the datasets."""

    gw: tl.Gateway
    gw2: tl.Gateway
    store: blobs.LocalChunkStore
    csv: Registered
    parquet: Registered
    frame: pd.DataFrame

    def by_format(self, fmt: str) -> Registered:
        return self.csv if fmt == "csv" else self.parquet


def register_file(
    gw: tl.Gateway, path: Path, dataset_id: str, chunk_size: int, key: bytes | None = None
) -> Registered:
    """Put a table file into the chunk store in small chunks and register it.

    `registry.add_dataset` always uses the default 4 MiB chunks; these tests
    need many chunks, so they use the blobs and registry primitives it is
    built from, in the same order (chunks first, then the transaction).
    """
    store = blobs.store_for(gw.root)
    media, metadata = blobs.describe_table(path)
    manifest, digest = blobs.put_object(
        store, path, media_type=media, metadata=metadata, chunk_size=chunk_size, key=key
    )
    record = register_dataset(
        gw,
        dataset_id,
        manifest=digest,
        root=manifest.root,
        size=manifest.size,
        media_type=media,
        columns=metadata["columns"],
        dtypes=metadata["dtypes"],
        rows=metadata["rows"],
        encrypted=key is not None,
        key_id=manifest.key_id,
    )
    return Registered(record, manifest, path)


def read_source(path: Path) -> pd.DataFrame:
    """The file as an independent reader sees it (pandas; exact float parsing for CSV)."""
    if path.suffix == ".csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


@contextmanager
def altered_file(path: Path, change: Any) -> Iterator[None]:
    """Replace a stored file's bytes with ``change(bytes)`` (None removes it); then restore."""
    original = path.read_bytes()
    try:
        changed = change(original)
        if changed is None:
            path.unlink()
        else:
            path.write_bytes(changed)
        yield
    finally:
        path.write_bytes(original)


def flip(data: bytes, position: int) -> bytes:
    """``data`` with one bit of the byte at ``position`` inverted."""
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


@contextmanager
def deterministic(seed: int = 7) -> Iterator[None]:
    """Seed Python, numpy, TF and Keras, with op determinism on; switched back off after."""
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config

    was_on = config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        if not was_on:
            config.disable_op_determinism()


def seed_model() -> Any:
    """The blog post's model: Dense(10, relu) → Dense(1), adam, MSE."""
    import keras

    model = keras.Sequential([keras.layers.Dense(10, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mean_squared_error")
    return model


def features_of(frame: pd.DataFrame) -> np.ndarray:
    return frame.drop(columns="target").to_numpy(np.float32)
