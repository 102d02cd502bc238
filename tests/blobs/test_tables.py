"""Tables: describe and stream CSV, Parquet and .npy on real data, verified, against pandas."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorledger.blobs import (
    LocalChunkStore,
    Manifest,
    _csv,
    describe_table,
    iter_batches,
    iter_rows,
    new_key,
    put_object,
    read_table,
)
from tensorledger.errors import IntegrityError, InvalidRequestError

from ._datasets import FORMATS, breast_cancer, diabetes, numeric, reference, write
from ._files import MemoryChunkStore, flip_byte

DATASETS = {"diabetes": diabetes, "breast_cancer": breast_cancer}


def _add(
    store: Any, path: Path, chunk_size: int = 1024, key: bytes | None = None, **describe: Any
) -> Manifest:
    media, metadata = describe_table(path, **describe)
    manifest, _ = put_object(
        store, path, media_type=media, metadata=metadata, chunk_size=chunk_size, key=key
    )
    return manifest


def _assert_same(table: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert list(table) == list(expected)
    for name, values in expected.items():
        if values.dtype == object:
            assert table[name].tolist() == values.tolist(), name
        else:
            np.testing.assert_array_equal(
                table[name], values.astype(table[name].dtype), err_msg=name
            )


# -- describe ------------------------------------------------------------------------------------


def test_describe_csv_types_numbers_as_float64_and_text_as_string(tmp_path: Path) -> None:
    path = write(breast_cancer(), tmp_path, "csv")
    media, metadata = describe_table(path)
    frame = pd.read_csv(path)
    assert media == "text/csv"
    assert metadata["columns"] == list(frame.columns)
    assert metadata["rows"] == len(frame) == 569
    assert metadata["dtypes"] == {
        c: "float64" if pd.api.types.is_numeric_dtype(frame[c]) else "string" for c in frame.columns
    }
    assert metadata["dtypes"]["note"] == "string" and metadata["dtypes"]["target"] == "float64"


def test_describe_parquet_from_its_schema(tmp_path: Path) -> None:
    frame = numeric(breast_cancer())
    path = write(frame, tmp_path, "parquet")
    media, metadata = describe_table(path)
    assert media == "application/vnd.apache.parquet"
    assert metadata == {
        "columns": list(frame.columns),
        "dtypes": {c: frame[c].dtype.name for c in frame.columns},
        "rows": len(frame),
    }


def test_describe_npy_with_default_and_given_names(tmp_path: Path) -> None:
    path = write(diabetes(), tmp_path, "npy")
    media, metadata = describe_table(path)
    assert media == "application/x-npy"
    assert metadata["columns"] == [f"c{i}" for i in range(11)]
    assert metadata["rows"] == 442 and metadata["shape"] == [442, 11]
    assert set(metadata["dtypes"].values()) == {"float64"}
    named = describe_table(path, columns=list(diabetes().columns))[1]
    assert named["columns"] == list(diabetes().columns)
    with pytest.raises(InvalidRequestError, match="11 columns need 11 names"):
        describe_table(path, columns=["a", "b"])


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.asfortranarray(np.ones((4, 3))), "Fortran"),
        (np.ones((2, 2, 2)), "not 1-D or 2-D"),
        (np.array(["a", "b"]), "not numeric"),
        (np.array([{"a": 1}], dtype=object), "not .*npy|numeric"),
    ],
)
def test_describe_npy_refuses_what_cannot_stream_as_rows(
    tmp_path: Path, array: np.ndarray, message: str
) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array, allow_pickle=True)
    with pytest.raises(InvalidRequestError, match=message):
        describe_table(path)


def test_describe_refuses_unknown_suffixes_truncated_npy_and_names_for_csv(tmp_path: Path) -> None:
    (tmp_path / "t.xlsx").write_bytes(b"x")
    with pytest.raises(InvalidRequestError, match="not a table file"):
        describe_table(tmp_path / "t.xlsx")
    npy = write(diabetes(), tmp_path, "npy")
    npy.write_bytes(npy.read_bytes()[:-8])
    with pytest.raises(InvalidRequestError, match="header implies"):
        describe_table(npy)
    with pytest.raises(InvalidRequestError, match="names its own columns"):
        describe_table(write(diabetes(), tmp_path, "csv"), columns=["a"])


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_equals_an_independent_reader(
    store: LocalChunkStore, tmp_path: Path, fmt: str, dataset: str
) -> None:
    frame = DATASETS[dataset]()
    path = write(frame, tmp_path, fmt)
    manifest = _add(store, path)
    assert len(manifest.chunks) > 30  # many chunks, rows across their edges
    table = read_table(store, manifest, where=dataset)
    _assert_same(table, reference(path, fmt, manifest.metadata["columns"]))
    # and the values are the data scikit-learn shipped
    source = numeric(frame) if fmt == "npy" else frame
    for name, original in zip(table, source.columns, strict=True):
        if source[original].dtype.kind in "fi":
            np.testing.assert_array_equal(table[name], source[original].to_numpy(dtype=np.float64))


@pytest.mark.parametrize("fmt", FORMATS)
def test_batches_are_exact_and_columns_selected_in_order(
    store: LocalChunkStore, tmp_path: Path, fmt: str
) -> None:
    path = write(diabetes(), tmp_path, fmt)
    manifest = (
        _add(store, path, columns=list(diabetes().columns)) if fmt == "npy" else _add(store, path)
    )
    batches = list(
        iter_batches(store, manifest, where="d", columns=["target", "age"], batch_rows=50)
    )
    assert [len(b["target"]) for b in batches] == [50] * 8 + [42]
    assert all(list(b) == ["target", "age"] for b in batches)
    np.testing.assert_array_equal(
        np.concatenate([b["age"] for b in batches]), diabetes()["age"].to_numpy()
    )
    rows = list(iter_rows(store, manifest, where="d", columns=["sex", "bmi"]))
    assert rows == list(diabetes()[["sex", "bmi"]].itertuples(index=False, name=None))


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_encrypted_table_round_trips_with_its_key_only(
    store: LocalChunkStore, tmp_path: Path, fmt: str
) -> None:
    key = new_key()
    path = write(breast_cancer(), tmp_path, fmt)
    manifest = _add(store, path, key=key)
    _assert_same(
        read_table(store, manifest, key=key, where="bc"),
        reference(path, fmt, manifest.metadata["columns"]),
    )
    with pytest.raises(IntegrityError, match="cannot decrypt"):
        read_table(store, manifest, key=new_key(), where="bc")


def test_unknown_columns_and_non_tables_are_refused(store: LocalChunkStore, tmp_path: Path) -> None:
    manifest = _add(store, write(diabetes(), tmp_path, "csv"))
    with pytest.raises(InvalidRequestError, match="no column 'weight'"):
        iter_batches(store, manifest, where="d", columns=["weight"])
    with pytest.raises(InvalidRequestError, match="batch_rows"):
        iter_batches(store, manifest, where="d", batch_rows=0)
    blob, _ = put_object(store, b"{}", media_type="application/json")
    with pytest.raises(InvalidRequestError, match="not a table"):
        read_table(store, blob, where="blob")


# -- tampering: named, and nothing from the bad chunk or after it --------------------------------


def _consume(
    batches: Iterator[dict[str, np.ndarray]],
) -> tuple[list[tuple[float, ...]], IntegrityError | None]:
    """Record every row a consumer received before the stream failed."""
    rows: list[tuple[float, ...]] = []
    try:
        for batch in batches:
            rows.extend(zip(*(batch[c].tolist() for c in batch), strict=True))
    except IntegrityError as exc:
        return rows, exc
    return rows, None


def _csv_row_ends(path: Path) -> list[int]:
    """Byte offset just past each data row (diabetes has no quoted line breaks)."""
    data = path.read_bytes()
    ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    return ends[1:]  # the first line is the header


def _parquet_row_ends(path: Path) -> list[int]:
    """For each row, the end of its row group's bytes: the row is read with the whole group."""
    meta = pq.ParquetFile(path).metadata
    ends: list[int] = []
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        end = 0
        for c in range(group.num_columns):
            column = group.column(c)
            start = column.dictionary_page_offset or column.data_page_offset
            end = max(end, start + column.total_compressed_size)
        ends.extend([end] * group.num_rows)
    return ends


def _npy_row_ends(path: Path) -> list[int]:
    with path.open("rb") as f:
        np.lib.format.read_magic(f)
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        offset = f.tell()
    row = shape[1] * dtype.itemsize
    return [offset + (r + 1) * row for r in range(shape[0])]


ROW_ENDS: dict[str, Callable[[Path], list[int]]] = {
    "csv": _csv_row_ends,
    "parquet": _parquet_row_ends,
    "npy": _npy_row_ends,
}


def _sample(count: int) -> set[int]:
    """Chunks a fast run tampers with: the first and last two and every tenth."""
    return {0, 1, count - 2, count - 1, *range(0, count, 10)}


@pytest.mark.parametrize(
    "which", ["sample", pytest.param("every", marks=pytest.mark.slow)], ids=["sample", "every"]
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_tampered_chunks_are_named_and_no_row_touching_them_is_yielded(
    store: LocalChunkStore, tmp_path: Path, fmt: str, which: str
) -> None:
    # over 64 KiB, so that pyarrow reads only the Parquet footer up front
    frame = numeric(breast_cancer())
    path = write(frame, tmp_path, fmt)
    manifest = _add(store, path)
    expected = list(frame.itertuples(index=False, name=None))
    row_ends = ROW_ENDS[fmt](path)
    most_streamed = 0
    tampered = _sample(len(manifest.chunks)) if which == "sample" else range(len(manifest.chunks))
    for ref in (manifest.chunks[i] for i in sorted(tampered)):
        chunk_file = store.path(ref.stored)
        original = flip_byte(chunk_file, ref.index * 131)
        rows, error = _consume(iter_batches(store, manifest, where="bc@1", batch_rows=5))
        chunk_file.write_bytes(original)
        assert error is not None, f"chunk {ref.index} tampered, not detected"
        assert error.where == f"bc@1 chunk {ref.index}"
        clean = sum(1 for end in row_ends if end <= ref.offset)
        assert len(rows) <= clean, f"chunk {ref.index}: a row touching the bad chunk was yielded"
        assert rows == expected[: len(rows)]
        most_streamed = max(most_streamed, len(rows))
    assert most_streamed > 100, "rows were not streamed before later chunks were verified"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_chunk_is_named(store: LocalChunkStore, tmp_path: Path, fmt: str) -> None:
    manifest = _add(store, write(diabetes(), tmp_path, fmt))
    store.path(manifest.chunks[7].stored).unlink()
    rows, error = _consume(iter_batches(store, manifest, where="d", batch_rows=5))
    assert error is not None and error.where == "d chunk 7"
    assert rows == list(diabetes().itertuples(index=False, name=None))[: len(rows)]
    assert "missing" in str(error)


# -- CSV record boundaries -----------------------------------------------------------------------

_cells = st.text(alphabet=st.sampled_from('ab ,"\n;é'), max_size=12)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(_cells, min_size=1, max_size=25),
    chunk_size=st.integers(min_value=1, max_value=90),
    trailing_newline=st.booleans(),
    crlf=st.booleans(),
    min_block=st.sampled_from([1, 50, 1 << 16]),
)
def test_csv_records_with_quotes_and_line_breaks_survive_any_chunking(
    texts: list[str], chunk_size: int, trailing_newline: bool, crlf: bool, min_block: int
) -> None:
    frame = pd.DataFrame({"x": np.arange(len(texts), dtype=np.float64) / 3, "text": texts})
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\r\n" if crlf else "\n")
    data = buffer.getvalue().encode()
    if not trailing_newline:
        data = data.rstrip(b"\r\n")
    expected = pd.read_csv(io.BytesIO(data), keep_default_na=False, dtype={"text": str})
    store = MemoryChunkStore()
    manifest, _ = put_object(
        store,
        data,
        media_type="text/csv",
        chunk_size=chunk_size,
        metadata={"columns": ["x", "text"], "dtypes": {"x": "float64", "text": "string"}},
    )
    # how much the reader gathers before parsing decides where blocks are cut
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_csv, "_MIN_BLOCK", min_block)
        table = read_table(store, manifest, where="t")
    np.testing.assert_array_equal(table["x"], expected["x"].to_numpy())
    assert table["text"].tolist() == expected["text"].tolist()


def test_a_header_only_csv_gives_empty_columns_of_the_recorded_types(
    store: LocalChunkStore, tmp_path: Path
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("a,b\n")
    media, metadata = describe_table(path)
    # no value contradicts a number, so an empty column is float64, as CSV numbers are
    assert metadata == {
        "columns": ["a", "b"],
        "dtypes": {"a": "float64", "b": "float64"},
        "rows": 0,
    }
    manifest, _ = put_object(
        store,
        path,
        media_type=media,
        metadata={**metadata, "dtypes": {"a": "float64", "b": "string"}},
    )
    table = read_table(store, manifest, where="empty")
    assert table["a"].dtype == np.float64 and len(table["a"]) == 0
    assert table["b"].dtype == object and len(table["b"]) == 0


def test_a_csv_whose_header_is_not_the_manifests_is_refused() -> None:
    store = MemoryChunkStore()
    manifest, _ = put_object(
        store, b"a,b\n1,2\n", media_type="text/csv", metadata={"columns": ["b", "a"], "dtypes": {}}
    )
    with pytest.raises(InvalidRequestError, match="header"):
        read_table(store, manifest, where="t")
