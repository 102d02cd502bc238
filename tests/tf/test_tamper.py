"""Tampering with stored data: every chunk, the manifest, a missing chunk; caught and named.

Each altered chunk must raise `IntegrityError` naming the dataset, version and
chunk, and no row built from that chunk may come out first. Rows are read in
blocks of a few rows here (`BLOCK_ROWS`), so that the rows before the bad
chunk really do come out and the check has something to check.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

import tensorledger as tl
import tensorledger.tf as tltf
from tensorledger.tf import data as tfdata
from tests.tf.diabetes_ledger import Ledger, Registered, altered_file, flip, read_source, seed_model


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tfdata, "BLOCK_ROWS", 4)


def csv_row_ends(path: Path) -> list[int]:
    """Byte offset just past each data row's newline (the diabetes CSV has no quoted newlines)."""
    data = path.read_bytes()
    ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    return ends[1:]  # the first newline ends the header


def parquet_row_spans(path: Path) -> list[tuple[int, int]]:
    """For each row, the byte span of its row group's column chunks in the file."""
    meta = pq.ParquetFile(path).metadata
    spans = []
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        starts, ends = [], []
        for c in range(group.num_columns):
            column = group.column(c)
            start = column.dictionary_page_offset or column.data_page_offset
            starts.append(start)
            ends.append(start + column.total_compressed_size)
        spans += [(min(starts), max(ends))] * group.num_rows
    return spans


def consume(ledger: Ledger, registered: Registered) -> tuple[list[np.ndarray], tl.IntegrityError]:
    """Read the dataset until it fails; the rows that came out, and the error."""
    rows: list[np.ndarray] = []
    ds = tltf.dataset(ledger.gw, registered.record.id, 1, dtype="float64")
    with pytest.raises(tl.IntegrityError) as caught:
        for row in tltf.iterate(ds):
            rows.append(row.numpy())
    return rows, caught.value


def chunk_files(ledger: Ledger, registered: Registered) -> Iterator[tuple[int, int, int, Path]]:
    for ref in registered.manifest.chunks:
        yield ref.index, ref.offset, ref.offset + ref.size, ledger.store.path(ref.stored)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_altered_chunk_is_named_and_none_of_its_rows_come_out(
    ledger: Ledger, fmt: str
) -> None:
    registered = ledger.by_format(fmt)
    source = read_source(registered.path).to_numpy(np.float64)
    if fmt == "csv":
        ends = csv_row_ends(registered.path)
        spans = [(0 if i == 0 else ends[i - 1], end) for i, end in enumerate(ends)]
    else:
        spans = parquet_row_spans(registered.path)
    consumed_somewhere = False
    for index, start, end, path in chunk_files(ledger, registered):
        with altered_file(path, lambda data: flip(data, len(data) // 2)):
            rows, error = consume(ledger, registered)
        assert error.where == f"dataset {registered.record.id} v1 chunk {index}"
        assert "SHA-256" in error.detail
        # what came out is a prefix of the source, and none of it touches the bad chunk
        np.testing.assert_array_equal(np.array(rows).reshape(-1, 11), source[: len(rows)])
        for row in range(len(rows)):
            row_start, row_end = spans[row]
            assert row_end <= start or row_start >= end, f"row {row} uses chunk {index}"
        consumed_somewhere |= bool(rows)
    # Not vacuous: for the CSV, rows before a late bad chunk do come out. (A Parquet file this
    # small is read whole with its footer, so every altered chunk fails before the first row.)
    assert consumed_somewhere or fmt == "parquet", "no rows ever came out before a bad chunk"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_missing_chunk_is_named(ledger: Ledger, fmt: str) -> None:
    registered = ledger.by_format(fmt)
    index, _, _, path = list(chunk_files(ledger, registered))[3]
    with altered_file(path, lambda data: None):
        _, error = consume(ledger, registered)
    assert error.where == f"dataset {registered.record.id} v1 chunk {index}"
    assert "missing" in error.detail


def test_an_altered_manifest_is_refused_before_reading(ledger: Ledger) -> None:
    path = ledger.store.path(ledger.csv.record.manifest)
    with altered_file(path, lambda data: flip(data, 40)), pytest.raises(tl.IntegrityError) as err:
        tltf.dataset(ledger.gw, ledger.csv.record.id, 1)
    assert err.value.where == f"dataset {ledger.csv.record.id} v1 manifest"


def test_a_missing_manifest_is_an_integrity_error(ledger: Ledger) -> None:
    path = ledger.store.path(ledger.parquet.record.manifest)
    with altered_file(path, lambda data: None), pytest.raises(tl.IntegrityError, match="missing"):
        tltf.dataset(ledger.gw, ledger.parquet.record.id, 1)


def test_training_stops_with_the_integrity_error_itself(ledger: Ledger) -> None:
    ds = tltf.dataset(ledger.gw, ledger.csv.record.id, 1, label="target", batch_size=32)
    model = seed_model()
    _, _, _, path = list(chunk_files(ledger, ledger.csv))[-1]
    with altered_file(path, lambda data: flip(data, 0)):
        with pytest.raises(tl.IntegrityError) as caught, tltf.ledger_errors():
            model.fit(ds, epochs=1, verbose=0)
    last = len(ledger.csv.manifest.chunks) - 1
    assert caught.value.where == f"dataset {ledger.csv.record.id} v1 chunk {last}"


def test_without_the_wrapper_tensorflow_reports_it_quoting_ours(ledger: Ledger) -> None:
    ds = tltf.dataset(ledger.gw, ledger.csv.record.id, 1)
    _, _, _, path = list(chunk_files(ledger, ledger.csv))[2]
    with altered_file(path, lambda data: flip(data, 7)):
        with pytest.raises(tf.errors.OpError, match=r"dataset diabetes-csv v1 chunk 2: SHA-256"):
            for _ in ds:
                pass


def test_other_errors_pass_the_wrapper_untouched() -> None:
    with pytest.raises(ZeroDivisionError), tltf.ledger_errors():
        _ = 1 / 0
    with pytest.raises(tf.errors.InvalidArgumentError), tltf.ledger_errors():
        tf.debugging.assert_equal(1, 2)
