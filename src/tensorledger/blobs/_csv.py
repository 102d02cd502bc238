"""CSV tables: describing a file, and parsing a stored one from verified chunks only.

Owns the record-boundary logic that lets a CSV be parsed chunk by chunk: a
record that spans two chunks is parsed only once both are verified.

Parsing is pyarrow's (C++, multithreaded); the column types are fixed from
the manifest (float64 or string), so every block parses alike whatever it
happens to contain.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]

from tensorledger.blobs.objects import iter_chunks
from tensorledger.errors import InvalidRequestError

if TYPE_CHECKING:
    from tensorledger.blobs.manifest import Manifest
    from tensorledger.blobs.store import ChunkStore

# Quoted values may hold newlines (pandas writes them so); the splitter below
# keeps such records whole, and the parser must accept them.
_PARSE = pacsv.ParseOptions(newlines_in_values=True)
_QUOTE = b'"'
_NEWLINE = b"\n"
#: parse at least this much at once: each parser call has a fixed cost
_MIN_BLOCK = 64 * 1024


def describe(path: Path) -> dict[str, Any]:
    """Columns, float64/string dtypes and the row count of a CSV file with a header row."""
    try:
        with pacsv.open_csv(path, parse_options=_PARSE) as probe:
            names = list(probe.schema.names)
        _check_names(names, str(path))
        # Read every value as text (missing ones as null) and try each column
        # as float64: only a column where every value parses is numeric.
        convert = pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
        )
        numeric = dict.fromkeys(names, True)
        rows = 0
        with pacsv.open_csv(path, parse_options=_PARSE, convert_options=convert) as reader:
            for batch in reader:
                rows += batch.num_rows
                for position, name in enumerate(names):
                    if numeric[name]:
                        numeric[name] = _parses_as_float(batch.column(position))
    except pa.ArrowInvalid as exc:
        raise InvalidRequestError(f"{path}: not a CSV file with a header row ({exc})") from None
    dtypes = {name: "float64" if numeric[name] else "string" for name in names}
    return {"columns": names, "dtypes": dtypes, "rows": rows}


def _parses_as_float(column: Any) -> bool:
    try:
        pc.cast(column, pa.float64())
    except pa.ArrowInvalid:
        return False
    return True


def _check_names(names: list[str], where: str) -> None:
    if not names or any(not name for name in names):
        raise InvalidRequestError(f"{where}: every CSV column needs a name in the header row")
    if len(set(names)) != len(names):
        raise InvalidRequestError(f"{where}: CSV header names a column twice: {names}")


def tables(
    store: ChunkStore,
    manifest: Manifest,
    *,
    key: bytes | None,
    where: str,
    columns: list[str],
) -> Iterator[Any]:
    """Arrow tables of the selected columns, from the complete records of verified chunks.

    Chunks are gathered until at least _MIN_BLOCK bytes wait, so small chunks
    do not cost one parser call each; a record is parsed only once every
    chunk it lies in has been verified.
    """
    names = list(manifest.metadata["columns"])
    dtypes = manifest.metadata.get("dtypes", {})
    types = {n: pa.float64() if dtypes.get(n) == "float64" else pa.string() for n in names}
    convert = pacsv.ConvertOptions(
        column_types=types, include_columns=columns, strings_can_be_null=False
    )
    read = pacsv.ReadOptions(column_names=names)
    header_done = False
    pieces: list[bytes] = []
    waiting = 0
    for chunk in iter_chunks(store, manifest, key=key, where=where):
        pieces.append(chunk)
        waiting += len(chunk)
        if waiting < _MIN_BLOCK:
            continue
        data = b"".join(pieces)
        view = memoryview(data)
        start = 0
        if not header_done:
            start = _header_end(data)
            if start == 0:
                pieces = [data]
                continue
            _check_header(view[:start], names, where)
            header_done = True
        cut = _records_end(data, start)
        if cut > start:
            table = _parse(view[start:cut], read, convert, where)
            if table is not None:
                yield table
        carry = bytes(view[cut:])
        pieces = [carry] if carry else []
        waiting = len(carry)
    yield from _last_records(b"".join(pieces), header_done, names, read, convert, where)


def _last_records(
    data: bytes, header_done: bool, names: list[str], read: Any, convert: Any, where: str
) -> Iterator[Any]:
    """Records left after the last chunk; the very last may have no newline after it."""
    view = memoryview(data)
    start = 0
    if not header_done:
        start = _header_end(data) or len(data)
        if not data:
            raise InvalidRequestError(f"{where}: empty CSV, no header row")
        _check_header(view[:start], names, where)
    if start < len(data):
        table = _parse(view[start:], read, convert, where)
        if table is not None:
            yield table


def _records_end(data: bytes, start: int) -> int:
    """The end of the last complete record in ``data[start:]`` (``start`` if none).

    ``start`` is a record boundary, so a newline ends a record exactly when
    the quotes before it are balanced ("" inside a value counts twice); the
    scan moves back over unbalanced newlines, counting each byte once.
    """
    cut = data.rfind(_NEWLINE, start) + 1
    if cut <= start:
        return start
    quotes = data.count(_QUOTE, start, cut)
    while quotes % 2:
        previous = data.rfind(_NEWLINE, start, cut - 1) + 1
        if previous <= start:
            return start
        quotes -= data.count(_QUOTE, previous, cut)
        cut = previous
    return cut


def _header_end(data: bytes) -> int:
    """The end of the first complete record (the header), or 0 if it is not all here yet."""
    cut = 0
    quotes = 0
    while True:
        newline = data.find(_NEWLINE, cut)
        if newline < 0:
            return 0
        quotes += data.count(_QUOTE, cut, newline + 1)
        cut = newline + 1
        if quotes % 2 == 0:
            return cut


def _check_header(header: memoryview, names: list[str], where: str) -> None:
    """The stored header must name the manifest's columns, in order."""
    try:
        found = pacsv.read_csv(pa.py_buffer(header), parse_options=_PARSE).column_names
    except pa.ArrowInvalid as exc:
        raise InvalidRequestError(f"{where}: unreadable CSV header ({exc})") from None
    if list(found) != names:
        raise InvalidRequestError(f"{where}: CSV header {found} is not the manifest's {names}")


def _parse(block: memoryview, read: Any, convert: Any, where: str) -> Any | None:
    """Parse complete records; None for a block of blank lines, which Arrow calls empty."""
    try:
        return pacsv.read_csv(
            pa.py_buffer(block),
            read_options=read,
            parse_options=_PARSE,
            convert_options=convert,
        )
    except pa.ArrowInvalid as exc:
        if not bytes(block).strip():
            return None
        raise InvalidRequestError(
            f"{where}: CSV does not match its manifest's columns and types ({exc})"
        ) from None


__all__ = ["describe", "tables"]
