"""Parquet tables: describing a file, and reading a stored one row group by row group.

Owns the Parquet side of `tensorledger.blobs.tables`. pyarrow reads through
a `VerifiedReader`, so the footer and every column chunk it touches come
from verified chunks; a row group is yielded only once all of it was read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tensorledger.blobs.reader import VerifiedReader
from tensorledger.errors import InvalidRequestError

if TYPE_CHECKING:
    from tensorledger.blobs.manifest import Manifest
    from tensorledger.blobs.store import ChunkStore


def describe(path: Path) -> dict[str, Any]:
    """Columns, dtypes and the row count, from the Parquet footer alone."""
    try:
        with pq.ParquetFile(path) as parquet:
            schema = parquet.schema_arrow
            rows = parquet.metadata.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidRequestError(f"{path}: not a Parquet file ({exc})") from None
    names = list(schema.names)
    if len(set(names)) != len(names):
        raise InvalidRequestError(f"{path}: Parquet schema names a column twice: {names}")
    dtypes = {field.name: dtype_name(field.type) for field in schema}
    return {"columns": names, "dtypes": dtypes, "rows": int(rows)}


def dtype_name(arrow_type: Any) -> str:
    """A dtype name shared with the CSV reader: numpy's for numbers, "string" for text."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    try:
        name = np.dtype(arrow_type.to_pandas_dtype()).name
    except (NotImplementedError, TypeError):
        return str(arrow_type)
    return str(arrow_type) if name == "object" else name


def tables(
    store: ChunkStore,
    manifest: Manifest,
    *,
    key: bytes | None,
    where: str,
    columns: list[str],
) -> Iterator[Any]:
    """One Arrow table of the selected columns per row group, in file order."""
    with VerifiedReader(store, manifest, key=key, where=where) as source:
        try:
            parquet = pq.ParquetFile(source)
        except pa.ArrowInvalid as exc:
            raise InvalidRequestError(f"{where}: not a Parquet file ({exc})") from None
        with parquet:
            for group in range(parquet.num_row_groups):
                yield parquet.read_row_group(group, columns=columns)


__all__ = ["describe", "dtype_name", "tables"]
