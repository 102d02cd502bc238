"""`tltf.dataset`: the verified pipeline yields exactly the source's rows, typed as documented."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tensorledger as tl
import tensorledger.tf as tltf
from tests.tf.diabetes_ledger import Ledger, read_source

FORMATS = ["csv", "parquet"]


def rows_of(ds: tf.data.Dataset) -> np.ndarray:
    return np.stack(list(ds.as_numpy_iterator()))


@pytest.mark.parametrize("fmt", FORMATS)
def test_rows_are_exactly_the_source_rows(ledger: Ledger, fmt: str) -> None:
    registered = ledger.by_format(fmt)
    source = read_source(registered.path)  # pandas: an independent reader of the same file
    ds = tltf.dataset(ledger.gw, registered.record.id, 1, dtype="float64")
    got = rows_of(ds)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, source.to_numpy(np.float64), strict=True)
    assert len(registered.manifest.chunks) > 10  # the table really spans many chunks


@pytest.mark.parametrize("fmt", FORMATS)
def test_label_gives_pairs_in_float32(ledger: Ledger, fmt: str) -> None:
    registered = ledger.by_format(fmt)
    source = read_source(registered.path)
    ds = tltf.dataset(ledger.gw, registered.record.id, label="target")
    assert ds.element_spec == (
        tf.TensorSpec(shape=(10,), dtype=tf.float32),
        tf.TensorSpec(shape=(), dtype=tf.float32),
    )
    xs, ys = zip(*ds.as_numpy_iterator(), strict=True)
    np.testing.assert_array_equal(np.stack(xs), source.drop(columns="target").to_numpy(np.float32))
    np.testing.assert_array_equal(np.array(ys), source["target"].to_numpy(np.float32))


def test_features_are_chosen_and_ordered(ledger: Ledger) -> None:
    source = read_source(ledger.csv.path)
    ds = tltf.dataset(ledger.gw, ledger.csv.record.id, 1, features=["s5", "bmi"], label="age")
    xs, ys = zip(*ds.as_numpy_iterator(), strict=True)
    np.testing.assert_array_equal(np.stack(xs), source[["s5", "bmi"]].to_numpy(np.float32))
    np.testing.assert_array_equal(np.array(ys), source["age"].to_numpy(np.float32))


def test_batches_have_known_cardinality(ledger: Ledger) -> None:
    ds = tltf.dataset(ledger.gw, ledger.parquet.record.id, 1, label="target", batch_size=100)
    assert len(ds) == 5
    sizes = [int(x.shape[0]) for x, _ in ds]
    assert sizes == [100, 100, 100, 100, 42]
    assert len(tltf.dataset(ledger.gw, ledger.csv.record.id)) == 442


def test_ref_with_version_is_accepted(ledger: Ledger) -> None:
    ds = tltf.dataset(ledger.gw, f"{ledger.csv.record.id}@1", batch_size=442)
    assert next(iter(ds)).shape == (442, 11)


def test_shuffle_with_seed_is_a_repeatable_permutation(ledger: Ledger) -> None:
    source = read_source(ledger.csv.path).to_numpy(np.float32)
    first = rows_of(tltf.dataset(ledger.gw, ledger.csv.record.id, shuffle=True, seed=3))
    again = rows_of(tltf.dataset(ledger.gw, ledger.csv.record.id, shuffle=True, seed=3))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, source)
    order = np.lexsort(first.T)
    np.testing.assert_array_equal(first[order], source[np.lexsort(source.T)])


def test_every_pass_reads_the_rows_again(ledger: Ledger) -> None:
    ds = tltf.dataset(ledger.gw, ledger.csv.record.id, batch_size=64)
    first = np.concatenate(list(ds.as_numpy_iterator()))
    second = np.concatenate(list(ds.as_numpy_iterator()))
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label": "nope"}, "no label column 'nope'"),
        ({"features": ["age", "nope"]}, "no column 'nope'"),
        ({"features": "age"}, "features must be a list"),
        ({"features": ["age", "target"], "label": "target"}, "both a feature and the label"),
        ({"features": ["age", "age"]}, "named twice"),
        ({"features": []}, "no feature columns"),
        ({"dtype": "int32"}, "dtype must be one of"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
    ],
)
def test_bad_arguments_are_refused_before_any_reading(
    ledger: Ledger, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(tl.InvalidRequestError, match=message):
        tltf.dataset(ledger.gw, ledger.csv.record.id, 1, **kwargs)  # type: ignore[arg-type]


def test_unregistered_versions_are_not_found(ledger: Ledger) -> None:
    with pytest.raises(tl.NotFoundError, match="diabetes-csv@9"):
        tltf.dataset(ledger.gw, ledger.csv.record.id, 9)
    with pytest.raises(tl.NotFoundError):
        tltf.dataset(ledger.gw, "no-such-dataset")


def test_text_columns_are_refused_with_the_column_named(ledger: Ledger, tmp_path) -> None:
    from tests.tf.diabetes_ledger import register_file

    path = tmp_path / "people.csv"
    path.write_text("name,age,score\nann,31,1.5\nbob,42,2.5\n")
    register_file(ledger.gw, path, "people", 16)
    with pytest.raises(tl.InvalidRequestError, match="column 'name' is string, not numeric"):
        tltf.dataset(ledger.gw, "people")
    got = rows_of(tltf.dataset(ledger.gw, "people", features=["age", "score"]))
    np.testing.assert_array_equal(got, np.array([[31, 1.5], [42, 2.5]], np.float32))


def test_other_organisations_read_the_same_rows(ledger: Ledger) -> None:
    mine = rows_of(tltf.dataset(ledger.gw, ledger.parquet.record.id))
    theirs = rows_of(tltf.dataset(ledger.gw2, ledger.parquet.record.id))
    np.testing.assert_array_equal(mine, theirs)
