"""Encrypted datasets: read with the organisation's key or a handed-over one; wrong keys fail."""

from __future__ import annotations

import numpy as np
import pytest

import tensorledger as tl
import tensorledger.tf as tltf
from tensorledger import blobs
from tensorledger.registry import DatasetRecord, add_dataset
from tests.tf.diabetes_ledger import Ledger, altered_file, flip, read_source

DATASET = "cohort-2026"


@pytest.fixture(scope="module")
def encrypted(ledger: Ledger) -> DatasetRecord:
    return add_dataset(
        ledger.gw, ledger.parquet.path, DATASET, tags={"consent": "research-only"}, encrypt=True
    )


def rows(ds: object) -> np.ndarray:
    return np.stack(list(ds.as_numpy_iterator()))  # type: ignore[attr-defined]


def test_the_owner_reads_with_the_key_it_keeps(ledger: Ledger, encrypted: DatasetRecord) -> None:
    assert encrypted.encrypted
    source = read_source(ledger.parquet.path).to_numpy(np.float64)
    np.testing.assert_array_equal(rows(tltf.dataset(ledger.gw, DATASET, dtype="float64")), source)


def test_a_partner_reads_with_a_key_handed_over(ledger: Ledger, encrypted: DatasetRecord) -> None:
    with pytest.raises(tl.ConfigError, match="no data key"):
        tltf.dataset(ledger.gw2, DATASET)  # Org2 keeps no key for it
    key = blobs.load_key(ledger.gw.key_dir, DATASET)  # handed over outside the ledger
    got = rows(tltf.dataset(ledger.gw2, DATASET, key=key, dtype="float64"))
    np.testing.assert_array_equal(got, read_source(ledger.parquet.path).to_numpy(np.float64))


def test_a_wrong_key_is_refused_before_reading(ledger: Ledger, encrypted: DatasetRecord) -> None:
    # ConfigError, not IntegrityError: the reader cannot check the data; the data is fine
    with pytest.raises(tl.ConfigError, match=f"dataset {DATASET} v1: the key given .* is not"):
        tltf.dataset(ledger.gw2, DATASET, key=blobs.new_key())
    with pytest.raises(tl.InvalidRequestError, match="32 bytes"):
        tltf.dataset(ledger.gw2, DATASET, key=b"short")


def test_an_altered_sealed_chunk_is_named(ledger: Ledger, encrypted: DatasetRecord) -> None:
    manifest = blobs.get_manifest(ledger.store, encrypted.manifest)
    path = ledger.store.path(manifest.chunks[0].stored)
    with altered_file(path, lambda data: flip(data, 20)), pytest.raises(tl.IntegrityError) as err:
        for _ in tltf.iterate(tltf.dataset(ledger.gw, DATASET)):
            pass
    assert err.value.where == f"dataset {DATASET} v1 chunk 0"
