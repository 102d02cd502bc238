"""Training on the verified pipeline: the same weights as plain tf.data, checkpoints anchored."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tensorledger.tf as tltf
from tensorledger.registry import get_model, model_versions
from tensorledger.tf import weights as tlw
from tests.tf.diabetes_ledger import Ledger, deterministic, read_source, seed_model

EPOCHS = 3
BATCH = 32


def plain_pipeline(frame: pd.DataFrame, *, shuffle_seed: int | None) -> tf.data.Dataset:
    """The same data the way the blog post would build it: pandas → from_tensor_slices."""
    x = frame.drop(columns="target").to_numpy(np.float32)
    y = frame["target"].to_numpy(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(frame), seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(BATCH)


def trained(make_dataset: Callable[[], tf.data.Dataset]) -> list[np.ndarray]:
    # The pipeline is built inside the seeded block: a shuffle's seeds are its own
    # and TF's global seed at creation, which earlier tests in the process may have set.
    with deterministic(seed=11):
        ds = make_dataset()
        model = seed_model()
        model.fit(ds, epochs=EPOCHS, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("shuffle_seed", [None, 5])
def test_verified_training_gives_the_same_weights_as_plain_tf_data(
    ledger: Ledger, fmt: str, shuffle_seed: int | None
) -> None:
    registered = ledger.by_format(fmt)
    frame = read_source(registered.path)
    plain = trained(lambda: plain_pipeline(frame, shuffle_seed=shuffle_seed))
    verified = trained(
        lambda: tltf.dataset(
            ledger.gw,
            registered.record.id,
            1,
            label="target",
            batch_size=BATCH,
            shuffle=shuffle_seed is not None,
            seed=shuffle_seed,
        )
    )
    assert len(plain) == len(verified) == 4
    for a, b in zip(plain, verified, strict=True):
        assert a.dtype == b.dtype == np.float32
        assert a.tobytes() == b.tobytes()  # bit for bit, not merely close


def test_checkpoints_are_anchored_every_epoch_with_metrics_and_lineage(ledger: Ledger) -> None:
    ds = tltf.dataset(ledger.gw, ledger.csv.record.id, 1, label="target", batch_size=BATCH)
    anchor = tltf.LedgerCheckpoint(
        ledger.gw,
        "seed-model",
        datasets=[f"{ledger.csv.record.id}@1"],
        hyperparameters={"batch_size": BATCH, "epochs": EPOCHS},
    )
    model = seed_model()
    weights_after: list[list[np.ndarray]] = []

    class Snapshot(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            weights_after.append(self.model.get_weights())

    history = model.fit(ds, epochs=EPOCHS, verbose=0, callbacks=[anchor, Snapshot()])

    records = anchor.records
    assert [r.version for r in records] == [1, 2, 3]
    assert [r.epoch for r in records] == [1, 2, 3]
    assert [r.parent for r in records] == [None, "seed-model@1", "seed-model@2"]
    assert len(anchor.seconds) == 3
    for record, loss, snapshot in zip(records, history.history["loss"], weights_after, strict=True):
        assert record == get_model(ledger.gw, "seed-model", record.version)  # as on the chain
        assert record.datasets == ("diabetes-csv@1",)
        assert record.metrics["loss"] == pytest.approx(loss, rel=1e-7)
        assert record.hyperparameters["optimizer"]["class"] == "Adam"
        assert record.hyperparameters["optimizer"]["beta_1"] == pytest.approx(0.9)
        assert record.hyperparameters["loss"] == "mean_squared_error"
        assert record.hyperparameters["batch_size"] == BATCH
        assert record.owner == "Org1MSP"
        assert record.framework.startswith("tensorflow 2.")
        names = ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
        assert [t.name for t in record.tensors] == names
        assert [t.sha256 for t in record.tensors] == [tlw.tensor_sha256(a) for a in snapshot]
        assert [list(t.shape) for t in record.tensors] == [list(a.shape) for a in snapshot]
        assert record.weights_root == tlw.weights_root([(t.name, t.sha256) for t in record.tensors])
    assert len({r.weights for r in records}) == 3  # the weights moved every epoch

    # A second fit continues the chain of versions.
    model.fit(ds, epochs=1, verbose=0, callbacks=[anchor])
    assert anchor.records[-1].version == 4
    assert anchor.records[-1].parent == "seed-model@3"


def test_every_n_epochs_and_a_new_callback_continues_from_the_newest(ledger: Ledger) -> None:
    ds = tltf.dataset(ledger.gw, ledger.parquet.record.id, 1, label="target", batch_size=BATCH)
    model = seed_model()
    first = tltf.LedgerCheckpoint(ledger.gw, "every-two", datasets=["diabetes-parquet"], every=2)
    model.fit(ds, epochs=5, verbose=0, callbacks=[first])
    assert [(r.version, r.epoch) for r in first.records] == [(1, 2), (2, 4)]
    assert first.records[0].datasets == ("diabetes-parquet@1",)  # bare id resolved to a version
    later = tltf.LedgerCheckpoint(ledger.gw, "every-two", datasets=["diabetes-parquet@1"])
    model.fit(ds, epochs=1, verbose=0, callbacks=[later])
    assert later.records[0].parent == "every-two@2"
    assert [r.version for r in model_versions(ledger.gw, "every-two")] == [1, 2, 3]


def test_unknown_training_data_stops_fit_before_the_first_epoch(ledger: Ledger) -> None:
    from tensorledger.errors import NotFoundError

    ds = tltf.dataset(ledger.gw, ledger.csv.record.id, 1, label="target", batch_size=BATCH)
    model = seed_model()
    anchor = tltf.LedgerCheckpoint(ledger.gw, "typo", datasets=["diabetes-csv@7"])
    with pytest.raises(NotFoundError, match="diabetes-csv@7"):
        model.fit(ds, epochs=1, verbose=0, callbacks=[anchor])
    assert not anchor.records


def test_callback_arguments_are_checked() -> None:
    from tensorledger.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="every"):
        tltf.LedgerCheckpoint(None, "m", datasets=[], every=0)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="list"):
        tltf.LedgerCheckpoint(None, "m", datasets="d@1")  # type: ignore[arg-type]


def test_non_finite_metrics_are_kept_as_tags(ledger: Ledger) -> None:
    model = seed_model()
    model.build((None, 10))
    record = tltf.anchor_checkpoint(
        ledger.gw,
        model,
        "nan-loss",
        datasets=[],
        metrics={"loss": float("nan"), "mae": np.float32(2.5)},
        hyperparameters={"lr": np.float64(0.01), "clip": float("inf")},
    )
    assert record.metrics == {"mae": 2.5}
    assert record.tags == {"metric.loss": "nan"}
    assert record.hyperparameters["lr"] == 0.01
    assert record.hyperparameters["clip"] == "inf"


def test_a_refused_checkpoint_stops_training_with_the_contract_error(ledger: Ledger) -> None:
    from tensorledger.errors import ContractError

    ds = tltf.dataset(ledger.gw, ledger.csv.record.id, 1, label="target", batch_size=BATCH)
    model = seed_model()
    mine = tltf.LedgerCheckpoint(ledger.gw, "owned-by-org1", datasets=["diabetes-csv@1"])
    model.fit(ds, epochs=1, verbose=0, callbacks=[mine])
    # Org2 may not add versions to Org1's model: refused on the worker thread, raised in fit
    theirs = tltf.LedgerCheckpoint(ledger.gw2, "owned-by-org1", datasets=["diabetes-csv@1"])
    with pytest.raises(ContractError, match="belongs to Org1MSP"):
        model.fit(ds, epochs=3, verbose=0, callbacks=[theirs])
    assert theirs.records == []
    assert [r.version for r in model_versions(ledger.gw, "owned-by-org1")] == [1]
