"""Tables in the chunk store: describing CSV, Parquet and .npy files, and streaming them verified.

Owns the format-independent API: `describe_table`, `iter_batches`,
`iter_rows` and `read_table`; each format's parser sits in a private module.

numpy and pyarrow are imported only when a table is described or read, so
``import tensorledger.blobs`` stays light for the ledger, the contracts and
the CLI. Every byte a batch is built from comes out of a verified chunk:
CSV and .npy through `iter_chunks` (only complete records of verified
chunks are parsed), Parquet through `VerifiedReader`.

Returned arrays are numpy arrays, float64 for CSV numbers, object (Python
str) for strings, the stored dtype otherwise; they may be read-only views.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tensorledger.errors import InvalidRequestError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from tensorledger.blobs.manifest import Manifest
    from tensorledger.blobs.store import ChunkStore

MEDIA_CSV = "text/csv"
MEDIA_PARQUET = "application/vnd.apache.parquet"
MEDIA_NPY = "application/x-npy"

_SUFFIXES = {".csv": MEDIA_CSV, ".parquet": MEDIA_PARQUET, ".pq": MEDIA_PARQUET, ".npy": MEDIA_NPY}

Batch = dict[str, "npt.NDArray[Any]"]


def media_type_for(path: Path) -> str:
    """The media type of a table file, from its suffix."""
    media = _SUFFIXES.get(Path(path).suffix.lower())
    if media is None:
        known = ", ".join(sorted(_SUFFIXES))
        raise InvalidRequestError(f"{path}: not a table file this version reads ({known})")
    return media


def describe_table(
    path: Path, *, columns: Sequence[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """(media type, metadata) of a table file, read once from disk.

    ``metadata`` is ``{"columns": [...], "dtypes": {column: dtype}, "rows": n}``
    (.npy adds its ``shape``). CSV columns are "float64" when every value
    parses as a number (empty and NA count as missing), else "string".
    ``columns`` names the columns of a .npy array (default ``c0, c1, ...``);
    CSV and Parquet name their own.
    """
    path = Path(path)
    media = media_type_for(path)
    if not path.is_file():
        raise InvalidRequestError(f"{path}: no such file")
    if media == MEDIA_NPY:
        from tensorledger.blobs._npy import describe as describe_npy

        return media, describe_npy(path, columns)
    if columns is not None:
        raise InvalidRequestError(f"{path}: a {media} file names its own columns")
    if media == MEDIA_CSV:
        from tensorledger.blobs._csv import describe as describe_csv

        return media, describe_csv(path)
    from tensorledger.blobs._parquet import describe as describe_parquet

    return media, describe_parquet(path)


def selected_columns(manifest: Manifest, columns: Sequence[str] | None, where: str) -> list[str]:
    """The columns to read: all the manifest's by default, else those asked for, checked."""
    known = manifest.metadata.get("columns")
    if not isinstance(known, list) or not all(isinstance(c, str) for c in known):
        raise InvalidRequestError(f"{where}: manifest metadata has no column list; not a table")
    if columns is None:
        return list(known)
    if isinstance(columns, str):
        raise InvalidRequestError(f"{where}: columns must be a list of names, not a string")
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise InvalidRequestError(f"{where}: no column {unknown[0]!r}; columns are {known}")
    if len(set(columns)) != len(columns):
        raise InvalidRequestError(f"{where}: a column is asked for twice in {list(columns)}")
    return list(columns)


def iter_batches(
    store: ChunkStore,
    manifest: Manifest,
    *,
    key: bytes | None = None,
    where: str,
    columns: Sequence[str] | None = None,
    batch_rows: int = 1024,
) -> Iterator[Batch]:
    """Batches of ``batch_rows`` rows (the last may be shorter) as {column: array}.

    Streams: memory stays at a few chunks and a batch whatever the table's
    size. A bad or missing chunk raises `IntegrityError` naming
    ``"<where> chunk <index>"`` before any row built from it is yielded.
    """
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidRequestError(f"{where}: batch_rows must be a positive integer")
    names = selected_columns(manifest, columns, where)
    if manifest.media_type == MEDIA_CSV:
        from tensorledger.blobs._arrow import batches
        from tensorledger.blobs._csv import tables as csv_tables

        tables = csv_tables(store, manifest, key=key, where=where, columns=names)
        return batches(tables, names, batch_rows)
    if manifest.media_type == MEDIA_PARQUET:
        from tensorledger.blobs._arrow import batches
        from tensorledger.blobs._parquet import tables as parquet_tables

        tables = parquet_tables(store, manifest, key=key, where=where, columns=names)
        return batches(tables, names, batch_rows)
    if manifest.media_type == MEDIA_NPY:
        from tensorledger.blobs._npy import batches as npy_batches

        return npy_batches(store, manifest, key=key, where=where, columns=names, rows=batch_rows)
    raise InvalidRequestError(f"{where}: {manifest.media_type} is not a table format")


def iter_rows(
    store: ChunkStore,
    manifest: Manifest,
    *,
    key: bytes | None = None,
    where: str,
    columns: Sequence[str] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Rows as tuples of Python values in column order, streamed like `iter_batches`."""
    names = selected_columns(manifest, columns, where)
    for batch in iter_batches(store, manifest, key=key, where=where, columns=names):
        yield from zip(*(batch[name].tolist() for name in names), strict=True)


def read_table(
    store: ChunkStore,
    manifest: Manifest,
    *,
    key: bytes | None = None,
    where: str,
    columns: Sequence[str] | None = None,
) -> Batch:
    """The whole table in memory as {column: array}; for tables that fit."""
    import numpy as np

    names = selected_columns(manifest, columns, where)
    parts: dict[str, list[npt.NDArray[Any]]] = {name: [] for name in names}
    for batch in iter_batches(
        store, manifest, key=key, where=where, columns=names, batch_rows=1 << 16
    ):
        for name in names:
            parts[name].append(batch[name])
    return {
        name: np.concatenate(arrays) if arrays else _empty(manifest, name)
        for name, arrays in parts.items()
    }


def _empty(manifest: Manifest, name: str) -> npt.NDArray[Any]:
    """A zero-length column of the type the metadata records, so empty tables keep dtypes."""
    import numpy as np

    recorded = manifest.metadata.get("dtypes", {}).get(name, "object")
    dtype: np.dtype[Any]
    try:
        dtype = np.dtype(object if recorded == "string" else recorded)
    except TypeError:
        dtype = np.dtype(object)
    return np.empty(0, dtype=dtype)


__all__ = [
    "MEDIA_CSV",
    "MEDIA_NPY",
    "MEDIA_PARQUET",
    "Batch",
    "describe_table",
    "iter_batches",
    "iter_rows",
    "media_type_for",
    "read_table",
    "selected_columns",
]
