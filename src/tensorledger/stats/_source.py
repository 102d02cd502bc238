"""Inputs of every statistic: columns, frames, 2-D arrays or a stream of batches.

Everything becomes a stream of validated float64 row blocks here, so that the
statistics never see a missing column, a string, a NaN or ragged columns.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from tensorledger.errors import InvalidRequestError

Columns: TypeAlias = Mapping[str, npt.ArrayLike]
#: A table of named columns (a mapping, a pandas DataFrame, a 2-D array whose
#: columns are called ``c0, c1, ...``), or an iterable of such batches.
Data: TypeAlias = Columns | npt.NDArray[Any] | Iterable[Columns]
Block: TypeAlias = npt.NDArray[np.float64]

_NUMERIC_KINDS = "biuf"

#: Rows per block that the statistics compute on, whatever the caller's batches.
#: Re-cutting the stream into fixed blocks makes a result bit-for-bit
#: independent of how the data were batched (the recorder and the verifier of an
#: analysis may stream differently) and amortises TensorFlow's per-op overhead
#: over many rows when the caller's batches are small.
BLOCK_ROWS = 8192


def tables(data: object) -> Iterator[Mapping[str, Any]]:
    """The batches of `data`, each as a mapping from column name to column."""
    single = _table(data)
    if single is not None:
        yield single
        return
    if isinstance(data, str | bytes) or not isinstance(data, Iterable):
        raise InvalidRequestError(
            "data must be a mapping of columns, a DataFrame, a 2-D array or an iterable of "
            f"such batches, not {type(data).__name__}"
        )
    for index, batch in enumerate(data):
        table = _table(batch)
        if table is None:
            raise InvalidRequestError(
                f"batch {index} is a {type(batch).__name__}, not a mapping of columns"
            )
        yield table


def _table(data: object) -> Mapping[str, Any] | None:
    if isinstance(data, Mapping):
        return data
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise InvalidRequestError(f"an array of data must be 2-D, got {data.ndim}-D")
        return {f"c{i}": data[:, i] for i in range(data.shape[1])}
    columns = getattr(data, "columns", None)
    if columns is not None and hasattr(data, "__getitem__"):  # a pandas DataFrame
        return {str(name): data[name] for name in columns}
    return None


def peek_columns(data: object) -> tuple[list[str], Iterator[Mapping[str, Any]]]:
    """The numeric columns of the first batch, and the batches with that one put back.

    Used when the caller names no columns: non-numeric columns (identifiers,
    labels) are skipped as pandas' `describe` does.
    """
    stream = tables(data)
    first = next(stream, None)
    if first is None:
        raise InvalidRequestError("the data has no batches")
    names = [
        str(name)
        for name, column in first.items()
        if np.asarray(column).dtype.kind in _NUMERIC_KINDS
    ]
    if not names:
        raise InvalidRequestError("the data has no numeric columns")
    return names, itertools.chain([first], stream)


def check_names(columns: Sequence[str], what: str) -> list[str]:
    """Column names as a list: at least one, all strings, no duplicates."""
    if isinstance(columns, str):
        columns = [columns]
    names = list(columns)
    if not names:
        raise InvalidRequestError(f"{what} needs at least one column")
    for name in names:
        if not isinstance(name, str):
            raise InvalidRequestError(f"column names must be strings, got {name!r}")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidRequestError(f"column {name!r} is named twice")
        seen.add(name)
    return names


def blocks(data: object, columns: Sequence[str]) -> Iterator[Block]:
    """Validated float64 blocks (rows by len(columns)) of the named columns, `BLOCK_ROWS` each.

    Only the last block is shorter; none is empty.
    """
    offset = 0
    chunks = Rechunker()
    for table in tables(data):
        block = numeric_block(table, columns, offset)
        offset += block.shape[0]
        yield from chunks.push(block)
    yield from chunks.flush()


class Rechunker:
    """Regroups row blocks of any sizes into blocks of exactly `BLOCK_ROWS` rows."""

    def __init__(self) -> None:
        self.rows = BLOCK_ROWS
        self._pending: list[Block] = []
        self._count = 0

    def push(self, block: Block) -> list[Block]:
        """Take one block; return the full blocks that are now ready (maybe none)."""
        if block.shape[0]:
            self._pending.append(block)
            self._count += block.shape[0]
        if self._count < self.rows:
            return []
        joined = np.concatenate(self._pending)
        cut = self._count - self._count % self.rows
        ready = [joined[start : start + self.rows] for start in range(0, cut, self.rows)]
        rest = joined[cut:]
        self._pending = [rest] if rest.shape[0] else []
        self._count = rest.shape[0]
        return ready

    def flush(self) -> list[Block]:
        """The last, shorter block, if any rows are left."""
        ready = [np.concatenate(self._pending)] if self._count else []
        self._pending, self._count = [], 0
        return ready


def numeric_block(table: Mapping[str, Any], columns: Sequence[str], offset: int) -> Block:
    """One batch's named columns as a C-contiguous float64 matrix; rows counted from `offset`."""
    arrays = [numeric_column(table, name, offset) for name in columns]
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        sizes = ", ".join(f"{n}: {len(a)}" for n, a in zip(columns, arrays, strict=True))
        raise InvalidRequestError(f"columns have different lengths ({sizes})")
    rows = lengths.pop() if lengths else 0
    out = np.empty((rows, len(arrays)), dtype=np.float64)
    for j, array in enumerate(arrays):
        out[:, j] = array
    return out


def column(table: Mapping[str, Any], name: str) -> npt.NDArray[Any]:
    """A named column as a 1-D array of whatever dtype it has."""
    if name not in table:
        available = ", ".join(repr(str(c)) for c in itertools.islice(table, 20))
        raise InvalidRequestError(f"column {name!r} is not in the data (it has {available})")
    array = np.asarray(table[name])
    if array.ndim != 1:
        raise InvalidRequestError(f"column {name!r} must be 1-D, got shape {array.shape}")
    return array


def numeric_column(table: Mapping[str, Any], name: str, offset: int) -> npt.NDArray[np.float64]:
    """A named column as finite float64 values; refuses strings, objects, NaN and infinities."""
    array = column(table, name)
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise InvalidRequestError(f"column {name!r} is not numeric (dtype {array.dtype})")
    values = array.astype(np.float64)
    return finite(values, name, offset)


def finite(values: npt.NDArray[np.float64], name: str, offset: int) -> npt.NDArray[np.float64]:
    """`values` unchanged if all finite, else an error naming the first bad row."""
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        kind = "NaN" if np.isnan(values[row]) else "an infinite value"
        raise InvalidRequestError(f"column {name!r} has {kind} at row {offset + row}")
    return values


def require_rows(n: int, minimum: int, what: str) -> None:
    """Refuse a statistic computed on fewer rows than it needs."""
    if n < minimum:
        raise InvalidRequestError(f"{what} needs at least {minimum} rows, got {n}")
