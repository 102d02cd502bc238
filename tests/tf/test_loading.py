"""Loading anchored checkpoints: round trips, and tampered weights refused with the tensor named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

import tensorledger as tl
import tensorledger.tf as tltf
from tensorledger import blobs
from tensorledger.registry import ModelRecord
from tests.tf.diabetes_ledger import Ledger, altered_file, features_of, flip, seed_model

MODEL = "loaded-model"


@dataclass(frozen=True)
class Trained:
    model: object
    records: list[ModelRecord]


@pytest.fixture(scope="module")
def trained(ledger: Ledger) -> Trained:
    ds = tltf.dataset(ledger.gw, ledger.csv.record.id, 1, label="target", batch_size=32)
    model = seed_model()
    anchor = tltf.LedgerCheckpoint(ledger.gw, MODEL, datasets=["diabetes-csv@1"])
    model.fit(ds, epochs=2, verbose=0, callbacks=[anchor])
    return Trained(model, anchor.records)


def fresh_model() -> object:
    model = seed_model()
    model.build((None, 10))
    return model


def weights_file(ledger: Ledger, record: ModelRecord) -> tuple[blobs.Manifest, bytes]:
    manifest = blobs.get_manifest(ledger.store, record.weights)
    return manifest, b"".join(ledger.store.get(c.stored) for c in manifest.chunks)


def tensor_bytes(blob: bytes) -> Iterator[tuple[str, int, int]]:
    """(name, start, end) of each tensor's data in a safetensors file, read from its header."""
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + size])
    for name, entry in header.items():
        if name != "__metadata__":
            start, end = entry["data_offsets"]
            yield name, 8 + size + start, 8 + size + end


def test_load_model_predicts_exactly_as_the_trained_model(ledger: Ledger, trained: Trained) -> None:
    x = features_of(ledger.frame)
    loaded = tltf.load_model(ledger.gw, MODEL)  # the newest version
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), trained.model.predict(x, verbose=0))
    older = tltf.load_model(ledger.gw, MODEL, version=1)
    assert not np.array_equal(older.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_load_weights_into_a_model_built_elsewhere(ledger: Ledger, trained: Trained) -> None:
    model = fresh_model()  # Keras names its layers dense_N here; tensor names do not depend on it
    record = tltf.load_weights(ledger.gw, model, MODEL, 2)
    assert record == trained.records[1]
    for a, b in zip(model.get_weights(), trained.model.get_weights(), strict=True):
        assert a.tobytes() == b.tobytes()


def test_each_altered_tensor_is_named_and_nothing_is_assigned(
    ledger: Ledger, trained: Trained
) -> None:
    record = trained.records[-1]
    manifest, blob = weights_file(ledger, record)
    assert len(manifest.chunks) == 1
    path = ledger.store.path(manifest.chunks[0].stored)
    model = fresh_model()
    before = [w.copy() for w in model.get_weights()]
    for name, start, end in tensor_bytes(blob):
        for position in (start, (start + end) // 2, end - 1):
            with altered_file(path, lambda data, p=position: flip(data, p)):
                with pytest.raises(tl.IntegrityError) as caught:
                    tltf.load_weights(ledger.gw, model, MODEL)
            assert caught.value.where == f"model {MODEL} v{record.version} tensor {name}"
            assert "also altered" not in caught.value.detail
            for a, b in zip(model.get_weights(), before, strict=True):
                assert a.tobytes() == b.tobytes()


def test_any_altered_byte_of_the_weights_file_is_refused(ledger: Ledger, trained: Trained) -> None:
    """Header and padding too: what is not a tensor is caught by the chunk hash."""
    record = trained.records[0]
    manifest, blob = weights_file(ledger, record)
    path = ledger.store.path(manifest.chunks[0].stored)
    header_end = 8 + int.from_bytes(blob[:8], "little")
    model = fresh_model()
    for position in range(header_end + 2):
        with altered_file(path, lambda data, p=position: flip(data, p)):
            with pytest.raises(tl.IntegrityError, match=f"model {MODEL} v1"):
                tltf.load_weights(ledger.gw, model, MODEL, 1)


def test_missing_weights_and_architecture_are_integrity_errors(
    ledger: Ledger, trained: Trained
) -> None:
    record = trained.records[0]
    manifest, _ = weights_file(ledger, record)
    model = fresh_model()
    with altered_file(ledger.store.path(manifest.chunks[0].stored), lambda data: None):
        with pytest.raises(tl.IntegrityError, match=r"weights chunk 0: missing"):
            tltf.load_weights(ledger.gw, model, MODEL, 1)
    with altered_file(ledger.store.path(record.weights), lambda data: None):
        with pytest.raises(tl.IntegrityError, match=r"weights manifest"):
            tltf.load_weights(ledger.gw, model, MODEL, 1)
    with altered_file(ledger.store.path(record.architecture), lambda data: flip(data, 30)):
        with pytest.raises(tl.IntegrityError) as caught:
            tltf.load_model(ledger.gw, MODEL, 1)
    assert caught.value.where == f"model {MODEL} v1 architecture"


def test_a_model_of_another_shape_is_refused_by_name(ledger: Ledger, trained: Trained) -> None:
    import keras

    wider = keras.Sequential([keras.layers.Dense(11, activation="relu"), keras.layers.Dense(1)])
    wider.build((None, 10))
    before = [w.copy() for w in wider.get_weights()]
    with pytest.raises(tl.InvalidRequestError, match=r"tensor dense/kernel has shape \[10, 10\]"):
        tltf.load_weights(ledger.gw, wider, MODEL)
    for a, b in zip(wider.get_weights(), before, strict=True):
        assert a.tobytes() == b.tobytes()
    deeper = keras.Sequential(
        [keras.layers.Dense(10), keras.layers.Dense(10), keras.layers.Dense(1)]
    )
    deeper.build((None, 10))
    with pytest.raises(tl.InvalidRequestError, match="does not fit this model"):
        tltf.load_weights(ledger.gw, deeper, MODEL)
    with pytest.raises(tl.InvalidRequestError, match="no weights yet"):
        tltf.load_weights(ledger.gw, seed_model(), MODEL)


def test_unregistered_checkpoints_are_not_found(ledger: Ledger, trained: Trained) -> None:
    with pytest.raises(tl.NotFoundError):
        tltf.load_model(ledger.gw, MODEL, 99)
    with pytest.raises(tl.NotFoundError):
        tltf.load_weights(ledger.gw, fresh_model(), "never-anchored")
