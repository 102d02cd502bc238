"""NumPy .npy tables: a 1-D or 2-D numeric C-ordered array, one row per record.

Owns the .npy side of `tensorledger.blobs.tables`: the header is parsed with
numpy's own format functions, then rows are cut out of verified chunks as
they arrive, so a row is built only from bytes already checked.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tensorledger.blobs.objects import iter_chunks
from tensorledger.errors import InvalidRequestError

if TYPE_CHECKING:
    from tensorledger.blobs.manifest import Manifest
    from tensorledger.blobs.store import ChunkStore

_MAGIC = b"\x93NUMPY"
_NUMERIC_KINDS = "biuf"
_VERSIONS = ((1, 0), (2, 0), (3, 0))


@dataclass(frozen=True)
class _Layout:
    offset: int  # where the data starts
    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1] if len(self.shape) == 2 else 1

    @property
    def row_bytes(self) -> int:
        return self.width * self.dtype.itemsize


def _layout(stream: io.BufferedIOBase | io.BytesIO, where: str) -> _Layout:
    """Parse and check an .npy header; the stream is left at the first data byte."""
    try:
        version = np.lib.format.read_magic(stream)
    except ValueError as exc:
        raise InvalidRequestError(f"{where}: not a .npy file ({exc})") from None
    if version not in _VERSIONS:
        raise InvalidRequestError(f"{where}: unknown .npy format version {version}")
    try:
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            # 3.0 differs from 2.0 only in allowing UTF-8 in the header
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    except ValueError as exc:
        raise InvalidRequestError(f"{where}: not a .npy file ({exc})") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.itemsize == 0:
        raise InvalidRequestError(f"{where}: .npy dtype {dtype} is not numeric")
    if len(shape) not in (1, 2):
        raise InvalidRequestError(f"{where}: .npy shape {shape} is not 1-D or 2-D")
    if fortran and len(shape) == 2:
        raise InvalidRequestError(
            f"{where}: .npy array is Fortran-ordered; save np.ascontiguousarray(a) to stream rows"
        )
    return _Layout(offset=stream.tell(), shape=tuple(shape), dtype=dtype)


def describe(path: Path, columns: Sequence[str] | None) -> dict[str, Any]:
    """Columns (given, or c0, c1, ...), dtypes, row count and shape of an .npy file."""
    with Path(path).open("rb") as stream:
        layout = _layout(stream, str(path))
        expected = layout.offset + layout.rows * layout.row_bytes
        size = stream.seek(0, io.SEEK_END)
    if size != expected:
        raise InvalidRequestError(f"{path}: {size} bytes, but its header implies {expected}")
    if columns is None:
        names = [f"c{i}" for i in range(layout.width)]
    else:
        names = list(columns)
        if isinstance(columns, str) or len(names) != layout.width:
            raise InvalidRequestError(f"{path}: {layout.width} columns need {layout.width} names")
        if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise InvalidRequestError(f"{path}: column names must be distinct non-empty strings")
    dtype = layout.dtype.newbyteorder("=").name
    return {
        "columns": names,
        "dtypes": dict.fromkeys(names, dtype),
        "rows": layout.rows,
        "shape": list(layout.shape),
    }


def batches(
    store: ChunkStore,
    manifest: Manifest,
    *,
    key: bytes | None,
    where: str,
    columns: list[str],
    rows: int,
) -> Iterator[dict[str, npt.NDArray[Any]]]:
    """Batches of ``rows`` rows of the selected columns, cut from verified chunks."""
    names = list(manifest.metadata["columns"])
    pending = bytearray()
    layout: _Layout | None = None
    positions: list[int] = []
    emitted = 0
    for chunk in iter_chunks(store, manifest, key=key, where=where):
        pending += chunk
        if layout is None:
            layout = _header_from(pending, where)
            if layout is None:
                continue
            _check_layout(layout, manifest, names, where)
            positions = [names.index(name) for name in columns]
            del pending[: layout.offset]
        used = 0
        while emitted < layout.rows:
            count = min(rows, layout.rows - emitted)
            end = used + count * layout.row_bytes
            if len(pending) < end:
                break
            yield _batch(pending, used, count, layout, columns, positions)
            used = end
            emitted += count
        # one compaction per chunk, not per batch, keeps this linear
        del pending[:used]
    if layout is None:
        raise InvalidRequestError(f"{where}: not a .npy file (header incomplete)")
    if emitted != layout.rows or pending:
        raise InvalidRequestError(f"{where}: .npy data does not match its header's shape")


def _header_from(data: bytearray, where: str) -> _Layout | None:
    """The layout once the whole header is in ``data``; None while it is not."""
    if len(data) < 8:
        return None
    if bytes(data[:6]) != _MAGIC:
        raise InvalidRequestError(f"{where}: not a .npy file (bad magic)")
    length_bytes = 2 if data[6] == 1 else 4
    prefix = 8 + length_bytes
    if len(data) < prefix:
        return None
    header_len = int.from_bytes(data[8:prefix], "little")
    if len(data) < prefix + header_len:
        return None
    return _layout(io.BytesIO(bytes(data[: prefix + header_len])), where)


def _check_layout(layout: _Layout, manifest: Manifest, names: list[str], where: str) -> None:
    if layout.width != len(names) or layout.offset + layout.rows * layout.row_bytes != (
        manifest.size
    ):
        raise InvalidRequestError(
            f"{where}: .npy shape {layout.shape} does not match the manifest ({len(names)} "
            f"columns, {manifest.size} bytes)"
        )


def _batch(
    pending: bytearray,
    start: int,
    count: int,
    layout: _Layout,
    columns: list[str],
    positions: list[int],
) -> dict[str, npt.NDArray[Any]]:
    """``count`` rows of ``pending`` from ``start``, as contiguous native-order columns.

    The bytes are copied out first: ``pending`` is resized afterwards, which
    numpy views of it would forbid.
    """
    with memoryview(pending) as view:
        block = bytes(view[start : start + count * layout.row_bytes])
    matrix = np.frombuffer(block, dtype=layout.dtype).reshape(count, layout.width)
    native = layout.dtype.newbyteorder("=")
    return {
        name: np.ascontiguousarray(matrix[:, position], dtype=native)
        for name, position in zip(columns, positions, strict=True)
    }


__all__ = ["batches", "describe"]
