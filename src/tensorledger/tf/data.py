"""Verified `tf.data` pipelines over datasets registered on the ledger.

Owns `dataset()`: on-chain record → manifest (checked against the record) →
chunks verified one by one → rows as tensors. Nothing of a chunk reaches
TensorFlow before its SHA-256 matched the manifest the chain commits to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorledger import blobs
from tensorledger.errors import (
    IntegrityError,
    InvalidRequestError,
    TensorLedgerError,
)
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry import DatasetRecord, manifests, resolve_dataset
from tensorledger.registry.manifests import checked_manifest
from tensorledger.tf._errors import remember
from tensorledger.tf._runtime import tensorflow

#: element dtypes `dataset` produces; float32 by default because that is what
#: Keras layers compute in, so a pipeline feeds a model without a cast op
ELEMENT_DTYPES = ("float32", "float64")
#: rows handed from Python to TensorFlow at a time: large enough that the
#: per-call cost of a Python generator vanishes, small enough to stream
BLOCK_ROWS = 8192
#: largest shuffle buffer; smaller tables are shuffled whole (a uniform shuffle)
MAX_SHUFFLE_BUFFER = 1 << 17


@dataclass(frozen=True)
class VerifiedSource:
    """A registered dataset version opened for reading: its record, manifest, key and columns.

    Everything that can be checked without reading chunks has been checked
    when one of these exists: the manifest hashes to the record's digest and
    agrees with it, the key (if any) is the dataset's, the columns exist and
    are numeric.
    """

    record: DatasetRecord
    manifest: blobs.Manifest
    store: blobs.ChunkStore
    key: bytes | None
    features: tuple[str, ...]
    label: str | None

    @property
    def where(self) -> str:
        """How errors name this dataset version: ``"dataset <id> v<version>"``."""
        return f"dataset {self.record.id} v{self.record.version}"

    def blocks(self, dtype: str, block_rows: int | None = None) -> Iterator[Any]:
        """Row blocks ``x`` (rows by features) or ``(x, y)``, each from verified chunks only.

        Blocks hold ``block_rows`` rows (default `BLOCK_ROWS`, read when the
        pass starts), the last one fewer. The row count is held to the
        record's as blocks go by, so a table with extra rows is refused
        before they are yielded.
        """
        columns = [*self.features, self.label] if self.label is not None else list(self.features)
        expected = self.record.rows
        seen = 0
        for batch in blobs.iter_batches(
            self.store,
            self.manifest,
            key=self.key,
            where=self.where,
            columns=columns,
            batch_rows=BLOCK_ROWS if block_rows is None else block_rows,
        ):
            count = len(batch[columns[0]])
            seen += count
            if seen > expected:
                raise IntegrityError(self.where, f"holds more than the {expected} rows recorded")
            x = np.empty((count, len(self.features)), dtype=dtype)
            for position, name in enumerate(self.features):
                x[:, position] = batch[name]
            if self.label is None:
                yield x
            else:
                yield x, np.asarray(batch[self.label], dtype=dtype)
        if seen != expected:
            raise IntegrityError(self.where, f"holds {seen} rows; the ledger records {expected}")


def open_source(
    gw: Gateway,
    dataset_id: str,
    version: int | None = None,
    *,
    features: Sequence[str] | None = None,
    label: str | None = None,
    key: bytes | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> VerifiedSource:
    """Look a dataset version up on the ledger and check all that can be checked before reading.

    ``version=None`` means the newest version (``"id@v"`` is accepted as the
    id). An encrypted dataset's key is ``key`` or, by default, the one the
    organisation keeps in ``gw.key_dir``; a key for an unencrypted dataset is
    ignored. No key, or a key that is not the dataset's, raises `ConfigError`.
    """
    ref = dataset_id if version is None else f"{dataset_id}@{version}"
    record = resolve_dataset(gw, ref, channel=channel)
    where = f"dataset {record.id} v{record.version}"
    store = blobs.store_for(gw.root)
    manifest = checked_manifest(store, record, where)
    data_key = manifests.data_key(manifest, record, key, gw.key_dir, where)
    chosen_features, chosen_label = _columns(record, features, label, where)
    return VerifiedSource(record, manifest, store, data_key, chosen_features, chosen_label)


def _columns(
    record: DatasetRecord, features: Sequence[str] | None, label: str | None, where: str
) -> tuple[tuple[str, ...], str | None]:
    """Checked (features, label): features default to every column but the label."""
    if isinstance(features, str):
        raise InvalidRequestError(f"{where}: features must be a list of column names, not a str")
    known = list(record.columns)
    if label is not None and label not in known:
        raise InvalidRequestError(f"{where}: no label column {label!r}; columns are {known}")
    chosen = [c for c in known if c != label] if features is None else list(features)
    if not chosen:
        raise InvalidRequestError(f"{where}: no feature columns to read")
    for name in chosen:
        if name not in known:
            raise InvalidRequestError(f"{where}: no column {name!r}; columns are {known}")
        if name == label:
            raise InvalidRequestError(f"{where}: column {name!r} is both a feature and the label")
    if len(set(chosen)) != len(chosen):
        raise InvalidRequestError(f"{where}: a feature column is named twice in {chosen}")
    for name in [*chosen, *([label] if label is not None else [])]:
        if not _numeric(record.dtypes.get(name)):
            raise InvalidRequestError(
                f"{where}: column {name!r} is {record.dtypes.get(name)}, not numeric; "
                "choose numeric columns with features=[...]"
            )
    return tuple(chosen), label


def _numeric(dtype: str | None) -> bool:
    """Whether a recorded column dtype (numpy's name, or "string") holds numbers."""
    try:
        return dtype is not None and np.dtype(dtype).kind in "biuf"
    except TypeError:
        return False


def dataset(
    gw: Gateway,
    dataset_id: str,
    version: int | None = None,
    *,
    features: Sequence[str] | None = None,
    label: str | None = None,
    batch_size: int | None = None,
    key: bytes | None = None,
    shuffle: bool = False,
    seed: int | None = None,
    dtype: str = "float32",
    channel: str = DEFAULT_CHANNEL,
) -> Any:
    """A `tf.data.Dataset` streaming a registered dataset version, every chunk verified first.

    Elements: ``x``, one ``dtype`` vector of the ``features`` columns per row
    (all columns but the label by default; float32 unless ``dtype="float64"``),
    or ``(x, y)`` when ``label`` names a column, ``y`` a scalar of the same
    dtype. Rows come in file order; ``shuffle`` shuffles them (buffer: the
    whole table up to 131,072 rows, reshuffled each epoch, ``seed`` for a
    repeatable order); ``batch_size`` batches them (last batch shorter).

    Each pass over the dataset (each epoch) reads and verifies the chunks
    again, so a chunk altered during training is caught too. A bad or missing
    chunk raises `IntegrityError` naming ``"dataset <id> v<n> chunk <i>"``
    before any row built from it is produced; TensorFlow reports it as an op
    error quoting ours, so wrap the consumer in `ledger_errors()` (or loop
    with `iterate()`) to get the `IntegrityError` itself. The record,
    manifest, key and columns are checked here, before anything is returned.
    """
    if dtype not in ELEMENT_DTYPES:
        raise InvalidRequestError(f"dtype must be one of {ELEMENT_DTYPES}, not {dtype!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise InvalidRequestError(f"batch_size must be a positive integer, not {batch_size!r}")
    source = open_source(
        gw, dataset_id, version, features=features, label=label, key=key, channel=channel
    )
    tf = tensorflow()
    width = len(source.features)
    block_spec = tf.TensorSpec(shape=(None, width), dtype=dtype)
    signature: Any = block_spec
    if source.label is not None:
        signature = (block_spec, tf.TensorSpec(shape=(None,), dtype=dtype))
    blocks: Any = tf.data.Dataset.from_generator(
        _generator(source, dtype), output_signature=signature
    )
    count = tf.data.experimental.assert_cardinality
    rows = source.record.rows
    if shuffle:
        shuffled = blocks.unbatch().apply(count(rows))
        buffer = max(1, min(rows, MAX_SHUFFLE_BUFFER))
        shuffled = shuffled.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        out = shuffled if batch_size is None else shuffled.batch(batch_size)
    elif batch_size is not None:
        # rebatch cuts the verified blocks into batches in C++ without going
        # through single rows: the same batches as unbatch().batch(), faster
        out = blocks.rebatch(batch_size).apply(count(-(-rows // batch_size)))
    else:
        out = blocks.unbatch().apply(count(rows))
    return out.prefetch(tf.data.AUTOTUNE)


def _generator(source: VerifiedSource, dtype: str) -> Callable[[], Iterator[Any]]:
    """The callable `from_generator` calls once per pass; it notes our errors for recovery."""

    def generate() -> Iterator[Any]:
        try:
            yield from source.blocks(dtype)
        except TensorLedgerError as exc:
            remember(exc)
            raise

    return generate


__all__ = ["BLOCK_ROWS", "ELEMENT_DTYPES", "VerifiedSource", "dataset", "open_source"]
