"""Tamper trials: change what a channel's database stores; `verify` must notice and name where.

A ledger of a few hundred varied transactions is built once and copied; each
trial starts from that copy, changes one stored value (one byte or bit, same
storage class), deletes or forges a row, or flips a byte of the raw file, and
runs `verify_channel`. A value or row change must give ok=False with a first
finding that names the changed place. A raw byte flip must give ok=False or a
TensorLedgerError, unless the logical content did not change (free space).

Every tamper verify once missed (meta, txs.tx_id, history times and flags,
older checkpoints, index entries, damaged pages and schema text, codes outside
the enum) has a regression test below named after it.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _rows import ROW_CHANGES, Place, pick
from _tamper import (
    CHANNEL,
    TABLES,
    Dump,
    build_ledger,
    cell_changes,
    columns,
    expected_place,
    logical_dump,
    open_db,
    tamper_value,
)

from tensorledger.errors import TensorLedgerError
from tensorledger.ledger.verify import VerifyReport, verify_channel

# -- the ledger and its copy ----------------------------------------------------------------


@dataclass
class Ledger:
    network: Path  # the copy every trial runs verify on
    db: Path
    image: bytes = field(repr=False)  # the untampered database file, WAL checkpointed into it
    dump: Dump = field(repr=False)
    height: int

    def write(self, image: bytes) -> Path:
        """Put this image in place, with no WAL or shared memory left from an earlier trial."""
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        self.db.write_bytes(image)
        return self.db

    def reset(self) -> Path:
        return self.write(self.image)

    def raw(self) -> sqlite3.Connection:
        """A fresh copy, opened to read and write TEXT as raw bytes."""
        return open_db(self.reset())

    def plain(self) -> sqlite3.Connection:
        """A fresh copy, opened as usual (TEXT as str, BLOB as bytes)."""
        return sqlite3.connect(self.reset(), isolation_level=None)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    root = tmp_path_factory.mktemp("tamper")
    built = build_ledger(root / "built")
    with closing(sqlite3.connect(built / "channels" / f"{CHANNEL}.db")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # Trials run on a copy: connections the build left to the garbage collector stay
    # on the original file, never on the one we overwrite.
    copy = root / "copy"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
    db = copy / "channels" / f"{CHANNEL}.db"
    with closing(sqlite3.connect(db)) as conn:
        (height,) = conn.execute("SELECT COUNT(*) FROM blocks").fetchone()
    return Ledger(copy, db, db.read_bytes(), logical_dump(db), height)


def verify(ledger: Ledger) -> VerifyReport:
    return verify_channel(ledger.network, CHANNEL)


def test_untampered_copy_verifies_and_is_varied(ledger: Ledger) -> None:
    """The control: without a tamper verify passes, and the ledger holds what the trials need."""
    report = verify(ledger)
    assert report.ok, report.findings
    assert report.transactions >= 300
    assert report.transactions - report.valid >= 4  # MVCC and endorsement-policy failures
    with closing(ledger.plain()) as conn:
        (multi,) = conn.execute(
            "SELECT COUNT(*) FROM (SELECT block FROM txs GROUP BY block HAVING COUNT(*) > 1)"
        ).fetchone()
        (deletes,) = conn.execute("SELECT COUNT(*) FROM history WHERE is_delete").fetchone()
        (overwrites,) = conn.execute(
            "SELECT COUNT(*) FROM (SELECT key FROM history GROUP BY ns, key HAVING COUNT(*) > 2)"
        ).fetchone()
    assert multi >= 5 and deletes >= 20 and overwrites >= 1, (multi, deletes, overwrites)
    # The reset really restores: a tamper does not leak into the next trial.
    with closing(ledger.plain()) as conn:
        conn.execute("DELETE FROM state")
    assert not verify(ledger).ok
    ledger.reset()
    assert verify(ledger).ok


# -- one value changed ------------------------------------------------------------------------


def judge(ledger: Ledger, place: str, named: Callable[[str], bool]) -> str | None:
    """None if verify catches the tamper and names the place, else what went wrong."""
    try:
        report = verify(ledger)
    except Exception as exc:  # any exception is a result to report
        return f"verify raised {exc!r}"
    if report.ok:
        return "NOT DETECTED (verify ok)"
    assert report.first is not None
    if not named(report.first.where):
        return f"first finding '{report.first}' does not name {place}"
    return None


def value_trials(ledger: Ledger, table: str, column: str, n: int, seed: int) -> None:
    rng = random.Random(f"{seed}/{table}.{column}")
    failures, done = [], []
    for _ in range(n):
        with closing(ledger.raw()) as conn:
            t = tamper_value(conn, table, column, rng)
        done.append(str(t))
        place, named = expected_place(t)
        problem = judge(ledger, place, named)
        if problem is not None:
            failures.append(f"{t}: {problem}")
    print(f"{table}.{column}: {n} trials: {done}")
    assert not failures, f"TL_DURABILITY_SEED={seed}:\n" + "\n".join(failures)


def _value_cases() -> list[object]:
    with closing(sqlite3.connect(":memory:")) as conn:
        from tensorledger.ledger.store import SCHEMA

        conn.executescript(SCHEMA)
        cases = []
        for table in TABLES:
            for column, _, _ in columns(conn, table):
                cases.append(pytest.param(table, column, id=f"{table}.{column}"))
    return cases


VALUE_CASES = _value_cases()


@pytest.mark.parametrize(("table", "column"), VALUE_CASES)
def test_changed_value_is_detected_and_named(
    ledger: Ledger, table: str, column: str, seed: int
) -> None:
    value_trials(ledger, table, column, 1, seed)


@pytest.mark.slow
@pytest.mark.parametrize(("table", "column"), VALUE_CASES)
def test_changed_value_is_detected_and_named_many(
    ledger: Ledger, table: str, column: str, seed: int
) -> None:
    value_trials(ledger, table, column, 8, seed + 1)


# -- rows deleted or forged -------------------------------------------------------------------

ROW_CASES = [pytest.param(f, id=f.__name__) for f in ROW_CHANGES]
RowChange = Callable[[sqlite3.Connection, random.Random, int], Place]


def row_trials(ledger: Ledger, change: RowChange, n: int, seed: int) -> None:
    rng = random.Random(f"{seed}/{change.__name__}")
    failures = []
    for _ in range(n):
        with closing(ledger.plain()) as conn:
            before = conn.total_changes
            place, named = change(conn, rng, ledger.height)
            if conn.total_changes == before:
                pytest.fail(f"{change.__name__} changed nothing")
        problem = judge(ledger, place, named)
        if problem is not None:
            failures.append(problem)
    assert not failures, f"TL_DURABILITY_SEED={seed}: {change.__name__}:\n" + "\n".join(failures)


@pytest.mark.parametrize("change", ROW_CASES)
def test_deleted_or_forged_row_is_detected_and_named(
    ledger: Ledger, change: RowChange, seed: int
) -> None:
    row_trials(ledger, change, 1, seed)


@pytest.mark.slow
@pytest.mark.parametrize("change", ROW_CASES)
def test_deleted_or_forged_row_is_detected_and_named_many(
    ledger: Ledger, change: RowChange, seed: int
) -> None:
    row_trials(ledger, change, 4, seed + 1)


# -- regression tests: tampers verify once missed --------------------------------------------


def _set(ledger: Ledger, sql: str, query: str) -> tuple[object, ...]:
    with closing(ledger.plain()) as conn:
        row = pick(conn, random.Random(0), query)
        if conn.execute(sql, row).rowcount != 1:
            pytest.fail(f"no row changed by {sql} {row}")
    return row


def test_history_delete_flag_kept_non_zero_is_detected(ledger: Ledger) -> None:
    """is_delete was compared by truthiness: a delete entry's 1 -> 3 passed."""
    ns, key, b, i = _set(
        ledger,
        "UPDATE history SET is_delete=3 WHERE ns=? AND key=? AND block=? AND tx=?",
        "SELECT ns, key, block, tx FROM history WHERE is_delete=1",
    )
    report = verify(ledger)
    assert not report.ok
    assert report.first is not None
    assert report.first.where == f"history {ns}/{key} block {b} tx {i}"


def test_tx_code_outside_the_enum_is_reported(ledger: Ledger) -> None:
    """A code outside TxValidationCode made verify raise ValueError from code_name()."""
    b, i = _set(
        ledger,
        "UPDATE txs SET code=64 WHERE block=? AND idx=?",
        "SELECT block, idx FROM txs WHERE code=0 AND block > 0",
    )
    report = verify(ledger)
    assert report.first is not None and report.first.where.startswith(f"block {b} tx {i} ")


def _pages(db: Path, name: str, kind: str) -> list[int]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        try:
            rows = conn.execute(
                "SELECT pageno FROM dbstat WHERE name=? AND pagetype=? ORDER BY pageno",
                (name, kind),
            ).fetchall()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find pages with")
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    assert rows, (name, kind)
    return [(p - 1) * page_size for (p,) in rows]


def test_damaged_btree_page_gives_a_report_or_our_error(ledger: Ledger) -> None:
    """A damaged page made verify raise sqlite3.DatabaseError out of store.snapshot()."""
    db = ledger.reset()
    offset = _pages(db, "blocks", "leaf")[0]
    image = bytearray(ledger.image)
    image[offset + 3] ^= 0x40  # the leaf page's cell count
    ledger.write(bytes(image))
    try:
        report = verify(ledger)
    except TensorLedgerError:
        return
    assert not report.ok


def test_damaged_schema_text_gives_a_report_or_our_error(ledger: Ledger) -> None:
    """Invalid UTF-8 in the schema made opening raise UnicodeDecodeError (sqlite3 decodes
    SQLite's error message, which quotes the damaged SQL)."""
    image = bytearray(ledger.image)
    pos = image.find(b"PRIMARY KEY(ns, key)")  # in the state table's CREATE statement
    if not 0 < pos < 65536:
        pytest.fail("the schema text is not where it should be")
    image[pos + 9] = 0xBA  # 'K' of KEY -> a lone UTF-8 continuation byte
    ledger.write(bytes(image))
    try:
        report = verify(ledger)
    except TensorLedgerError:
        return
    assert not report.ok


def test_corrupted_index_entry_is_detected(ledger: Ledger) -> None:
    """A damaged txs_by_id entry passed verify, yet prove() of that transaction failed."""
    db = ledger.reset()
    pages = _pages(db, "txs_by_id", "leaf")
    with closing(sqlite3.connect(db)) as conn:
        (tx_id,) = conn.execute("SELECT tx_id FROM txs WHERE block > 0 LIMIT 1").fetchone()
    image = bytearray(ledger.image)
    needle = tx_id.encode()
    hits = [p + image[p : p + 4096].find(needle) for p in pages if needle in image[p : p + 4096]]
    if not hits:
        pytest.fail("the tx id is in no index page")
    pos = hits[0] + 10
    image[pos] = ord("0") if image[pos] != ord("0") else ord("1")  # still a hex tx id
    ledger.write(bytes(image))
    if logical_dump(db) != ledger.dump:
        pytest.fail("the tables changed, not only the index")
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        if conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]:
            pytest.fail("SQLite sees no damage: the flip missed the index entry")
    ledger.write(bytes(image))  # the checks above opened the file; start clean
    report = verify(ledger)
    assert not report.ok, f"index entry of {tx_id} corrupted, verify passes"


# -- a byte of the raw file -------------------------------------------------------------------


def file_trials(ledger: Ledger, n: int, seed: int) -> None:
    rng = random.Random(f"{seed}/file")
    counted, free, failures = 0, 0, []
    for _ in range(n):
        image = bytearray(ledger.image)
        pos = rng.randrange(len(image))
        image[pos] ^= rng.randrange(1, 256)
        after = logical_dump(ledger.write(bytes(image)))
        if after == ledger.dump:
            free += 1  # free space, or bytes SQLite ignores: nothing to detect
            continue
        counted += 1
        changes = cell_changes(ledger.dump, after)
        what = changes if isinstance(changes, str) else "; ".join(map(str, changes))
        ledger.write(bytes(image))  # the dump opened the file; start clean again
        try:
            report = verify(ledger)
        except TensorLedgerError:
            continue  # an unreadable file may be refused outright, in our words
        except Exception as exc:  # anything else escaping verify is the failure
            failures.append(f"byte {pos} ({what}): verify raised {exc!r}")
            continue
        if report.ok:
            failures.append(f"byte {pos}: NOT DETECTED, {what}")
    print(f"{n} byte flips: {counted} changed the content, {free} did not")
    assert not failures, f"TL_DURABILITY_SEED={seed}:\n" + "\n".join(failures)
    # About one flip in eight lands where SQLite keeps nothing; most must count.
    assert counted >= max(1, n // 4), f"TL_DURABILITY_SEED={seed}: only {counted} flips counted"


def test_flipped_file_byte_is_detected(ledger: Ledger, seed: int) -> None:
    file_trials(ledger, 6, seed)


@pytest.mark.slow
def test_flipped_file_byte_is_detected_many(ledger: Ledger, seed: int) -> None:
    file_trials(ledger, 80, seed + 1)
