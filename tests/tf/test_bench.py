"""Benchmarks as slow tests: anchoring vs `save_weights`, verified vs plain tf.data throughput.

Each prints one JSON line with our figure, its peer from the same run, the
ratio (medians of interleaved rounds, so that a noisy machine hits both
alike) and the issue's target. Speed is reported, never asserted: timings on
a shared machine are not a pass/fail signal.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tensorledger.tf as tltf
from tensorledger.registry import add_dataset
from tests.tf.diabetes_ledger import Ledger, seed_model

# Benchmarks, not tests: `make bench` runs them; `make test` leaves them out.
pytestmark = pytest.mark.bench

ROUNDS = 7


def interleaved(ours: Callable[[], float], peer: Callable[[], float]) -> tuple[float, float]:
    """Median seconds of ``ours`` and ``peer``, measured in alternating rounds after a warm-up."""
    ours(), peer()
    mine, theirs = [], []
    for _ in range(ROUNDS):
        mine.append(ours())
        theirs.append(peer())
    return statistics.median(mine), statistics.median(theirs)


def report(name: str, ours: float, peer: float, **extra: object) -> float:
    ratio = ours / peer
    print(
        "\n"
        + json.dumps({"benchmark": name, "ours_s": ours, "peer_s": peer, "ratio": ratio, **extra})
    )
    return ratio


def medium_model() -> object:
    import keras

    model = keras.Sequential(
        [keras.layers.Dense(1024, activation="relu") for _ in range(3)] + [keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mean_squared_error")
    model.build((None, 1024))
    return model


@pytest.mark.parametrize("kind", ["seed", "medium"])
def test_anchoring_holds_training_up_at_most_1_3_times_save_weights(
    ledger: Ledger, tmp_path: Path, kind: str
) -> None:
    """The step is what the training thread waits for; the whole anchoring is reported beside it."""
    model = seed_model() if kind == "seed" else medium_model()
    if kind == "seed":
        model.build((None, 10))
    rng = np.random.default_rng(0)
    anchor = tltf.LedgerCheckpoint(ledger.gw, f"bench-{kind}", datasets=["diabetes-csv@1"])
    anchor.set_model(model)
    anchor.on_train_begin()
    epoch = 0
    whole: list[float] = []

    def fresh_weights() -> None:
        # new weights every round: the chunk store would otherwise find them already stored
        model.set_weights([rng.standard_normal(w.shape).astype(w.dtype) for w in model.weights])

    def ours() -> float:
        nonlocal epoch
        fresh_weights()
        started = time.perf_counter()
        anchor.on_epoch_end(epoch, {"loss": 1.0})
        anchor.wait()  # not part of the step: done here so that rounds do not overlap
        whole.append(time.perf_counter() - started)
        epoch += 1
        return anchor.seconds[-1]

    def peer() -> float:
        fresh_weights()
        started = time.perf_counter()
        model.save_weights(tmp_path / "plain.weights.h5")
        return time.perf_counter() - started

    step, plain = interleaved(ours, peer)
    anchor.on_train_end()
    assert [r.version for r in anchor.records] == list(range(1, ROUNDS + 2))
    size = sum(int(np.prod(w.shape)) * 4 for w in model.weights)
    report(
        f"anchor-step-vs-save_weights[{kind}]",
        step,
        plain,
        weight_bytes=size,
        anchoring_whole_s=statistics.median(whole[1:]),
        anchoring_whole_ratio=statistics.median(whole[1:]) / plain,
        target_ratio=1.3,
    )


@pytest.fixture(scope="module")
def large_tables(ledger: Ledger, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The diabetes rows repeated to 221,000 rows, in both formats (about 20 MB of Parquet).

    Each copy is jittered, so that Parquet cannot shrink the repeats away and
    both pipelines really move the bytes.
    """
    base = tmp_path_factory.mktemp("bench")
    rng = np.random.default_rng(1)
    frame = pd.concat([ledger.frame] * 500, ignore_index=True)
    frame += rng.normal(scale=1e-6, size=frame.shape)
    paths = {"csv": base / "large.csv", "parquet": base / "large.parquet"}
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False)
    for fmt, path in paths.items():
        add_dataset(ledger.gw, path, f"large-{fmt}")
    return paths


def count_rows(ds: tf.data.Dataset) -> int:
    """Consume a batched (x, y) dataset inside TensorFlow, as `fit` does."""
    zero = tf.constant(0, tf.int64)
    return int(ds.reduce(zero, lambda n, batch: n + tf.shape(batch[0], out_type=tf.int64)[0]))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_verified_pipeline_throughput_within_5_percent_of_plain(
    ledger: Ledger, large_tables: dict[str, Path], fmt: str
) -> None:
    path = large_tables[fmt]
    batch = 256

    def plain() -> float:
        started = time.perf_counter()
        frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
        x = frame.drop(columns="target").to_numpy(np.float32)
        y = frame["target"].to_numpy(np.float32)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).prefetch(tf.data.AUTOTUNE)
        assert count_rows(ds) == 221_000
        return time.perf_counter() - started

    def verified() -> float:
        started = time.perf_counter()
        ds = tltf.dataset(ledger.gw, f"large-{fmt}", 1, label="target", batch_size=batch)
        assert count_rows(ds) == 221_000
        return time.perf_counter() - started

    def streamed() -> float:
        """The same streaming shape as ours, straight from the file, nothing verified."""
        started = time.perf_counter()
        ds = tf.data.Dataset.from_generator(
            lambda: unverified_blocks(path, fmt),
            output_signature=(
                tf.TensorSpec((None, 10), tf.float32),
                tf.TensorSpec((None,), tf.float32),
            ),
        )
        assert count_rows(ds.rebatch(batch).prefetch(tf.data.AUTOTUNE)) == 221_000
        return time.perf_counter() - started

    mine, theirs = interleaved(verified, plain)
    mine_again, unverified = interleaved(verified, streamed)
    size = path.stat().st_size
    report(
        f"verified-vs-plain-tf.data[{fmt}]",
        mine,
        theirs,
        file_bytes=size,
        unverified_streaming_s=unverified,
        ratio_vs_unverified_streaming=mine_again / unverified,
        target_ratio=1.05,
    )


def unverified_blocks(path: Path, fmt: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Row blocks read by pyarrow straight from the file: what verification is measured against."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    batches = (
        pq.ParquetFile(path).iter_batches(batch_size=8192)
        if fmt == "parquet"
        else pacsv.open_csv(path)
    )
    for part in batches:
        frame = part.to_pandas()
        yield (
            frame.drop(columns="target").to_numpy(np.float32),
            frame["target"].to_numpy(np.float32),
        )
