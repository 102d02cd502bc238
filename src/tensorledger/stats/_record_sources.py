"""The dataset versions a recorded analysis reads, opened so that only verified rows come out.

Owns the path chain record → manifest → chunks for `run_analysis` and
`verify_analysis`: the manifest must hash to the digest the chain records and
agree with the record's root, size, type, key id, rows and columns; every
chunk is hashed against the manifest before a row of it reaches a statistic.

Key problems (no key, the wrong key) raise `ConfigError` before anything is
read: they say the reader cannot check the data, not that the data is bad, so
they must not look like a failed verification. What is wrong with the stored
data itself raises `IntegrityError` naming the dataset version and the chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from tensorledger import blobs
from tensorledger.blobs.encryption import check_key
from tensorledger.errors import ConfigError, IntegrityError, InvalidRequestError
from tensorledger.gateway import Gateway
from tensorledger.registry import DatasetRecord, manifests, resolve_dataset
from tensorledger.registry.manifests import checked_manifest

#: What `key=` may be: one data key for every encrypted input, or keys by
#: dataset id (or 'id@v') when an analysis reads several encrypted datasets.
KeyArg: TypeAlias = "bytes | Mapping[str, bytes] | None"

#: rows per batch read from the chunk store; the statistics re-cut batches
#: into their own fixed blocks, so this changes speed, never a result
BATCH_ROWS = 8192


@dataclass(frozen=True)
class Source:
    """A registered dataset version opened for reading; its manifest already matches the chain."""

    record: DatasetRecord
    manifest: blobs.Manifest
    store: blobs.ChunkStore
    key: bytes | None

    @property
    def ref(self) -> str:
        """'id@version'."""
        return self.record.ref

    @property
    def where(self) -> str:
        """How errors name this version: ``"dataset <id> v<version>"``, as in `tensorledger.tf`."""
        return f"dataset {self.record.id} v{self.record.version}"

    @property
    def numeric_columns(self) -> list[str]:
        """The columns whose recorded dtype holds numbers, in table order."""
        return [c for c in self.record.columns if _numeric(self.record.dtypes.get(c))]

    def batches(self, columns: Sequence[str]) -> Iterator[dict[str, npt.NDArray[Any]]]:
        """Verified batches of `columns`; the row count is held to the record's as they pass.

        Every chunk a batch is built from was hashed against the manifest
        first (a bad one raises `IntegrityError` naming it, and nothing of it
        is yielded). The count check is defence in depth: a manifest that
        matches the record cannot hold other rows, but a reader that parsed
        the bytes differently would be caught here rather than in a result.
        """
        if not columns:
            raise InvalidRequestError(f"{self.where}: name at least one column to read")
        expected = self.record.rows
        seen = 0
        for batch in blobs.iter_batches(
            self.store,
            self.manifest,
            key=self.key,
            where=self.where,
            columns=list(columns),
            batch_rows=BATCH_ROWS,
        ):
            seen += len(next(iter(batch.values())))
            if seen > expected:
                raise IntegrityError(self.where, f"holds more than the {expected} rows recorded")
            yield batch
        if seen != expected:
            raise IntegrityError(self.where, f"holds {seen} rows; the ledger records {expected}")

    def values(self, column: str) -> npt.NDArray[Any]:
        """One whole column, verified (for a two-sample test across datasets)."""
        parts = [batch[column] for batch in self.batches([column])]
        return np.concatenate(parts) if parts else np.empty(0)

    def verify(self) -> int:
        """Re-hash every chunk and the Merkle root; return the number of chunks checked.

        Streaming a statistic touches only the chunks it needs (a Parquet
        column projection may skip some), so verification reads them all.
        """
        blobs.verify_object(self.store, self.manifest, key=self.key, where=self.where)
        return len(self.manifest.chunks)


def open_source(gw: Gateway, ref: str, *, key: KeyArg, channel: str) -> Source:
    """Look a dataset version up on the chain and check its manifest and key; read nothing yet.

    NotFoundError when `ref` is not registered; IntegrityError when the
    manifest is missing, altered or disagrees with the record; ConfigError
    when the dataset is encrypted and no matching key is at hand.
    """
    record = resolve_dataset(gw, ref, channel=channel)
    where = f"dataset {record.id} v{record.version}"
    store = blobs.store_for(gw.root)
    manifest = checked_manifest(store, record, where)
    data_key = _key_for(gw, record, key, where) if manifest.encryption is not None else None
    data_key = manifests.data_key(manifest, record, data_key, gw.key_dir, where)
    return Source(record, manifest, store, data_key)


def _key_for(gw: Gateway, record: DatasetRecord, key: KeyArg, where: str) -> bytes:
    """The data key for an encrypted version: the one given, else the organisation's own."""
    if isinstance(key, bytes):
        return check_key(key)
    if key is not None:
        chosen = key.get(record.ref, key.get(record.id))
        if chosen is not None:
            return check_key(chosen)
    if blobs.key_path(gw.key_dir, record.id).exists():
        return blobs.load_key(gw.key_dir, record.id)
    raise ConfigError(
        f"{where} is encrypted and {gw.msp_id} holds no key for it (looked in {gw.key_dir}); "
        f"ask {record.owner} for the data key, which never goes on the ledger, and pass it as key"
    )


def _numeric(dtype: str | None) -> bool:
    """Whether a recorded column dtype (numpy's name, or "string") holds numbers."""
    try:
        return dtype is not None and np.dtype(dtype).kind in "biuf"
    except TypeError:
        return False
