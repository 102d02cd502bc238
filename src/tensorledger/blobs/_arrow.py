"""Re-batching pyarrow tables into fixed-size numpy batches, for the CSV and Parquet readers.

Owns the one conversion from Arrow columns to numpy arrays, so both formats
hand out the same dtypes: numbers as themselves (nulls as NaN), strings as
object arrays of Python str.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]


def batches(
    tables: Iterator[Any], names: list[str], batch_rows: int
) -> Iterator[dict[str, npt.NDArray[Any]]]:
    """Exactly ``batch_rows`` rows per batch (the last may be shorter), across table edges.

    Slicing and concatenating Arrow tables copies nothing; rows are held back
    only until a batch is full, so memory stays at one table and one batch.
    """
    pending: list[Any] = []
    rows = 0
    for table in tables:
        if table.num_rows == 0:
            continue
        pending.append(table)
        rows += table.num_rows
        while rows >= batch_rows:
            joined = pending[0] if len(pending) == 1 else pa.concat_tables(pending)
            yield to_numpy(joined.slice(0, batch_rows), names)
            rest = joined.slice(batch_rows)
            pending = [rest] if rest.num_rows else []
            rows = rest.num_rows
    if rows:
        joined = pending[0] if len(pending) == 1 else pa.concat_tables(pending)
        yield to_numpy(joined, names)


def to_numpy(table: Any, names: list[str]) -> dict[str, npt.NDArray[Any]]:
    """{column: numpy array} in ``names`` order."""
    return {name: column_to_numpy(table.column(name)) for name in names}


def column_to_numpy(column: Any) -> npt.NDArray[Any]:
    """One Arrow column as numpy: zero-copy where Arrow allows, object arrays for strings."""
    return np.asarray(column.to_numpy(zero_copy_only=False))


__all__ = ["batches", "column_to_numpy", "to_numpy"]
