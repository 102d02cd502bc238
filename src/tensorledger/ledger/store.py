"""The channel's SQLite database: blocks, transactions, world state, history, events, Merkle log.

One database per channel in WAL mode with synchronous=FULL: a block whose
commit returned is on disk and survives SIGKILL or power loss. SQLite's write
lock (taken with BEGIN IMMEDIATE) is the single-writer lock across threads and
processes; readers never block the writer and see a consistent snapshot.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tensorledger.errors import ConfigError, UnavailableError
from tensorledger.ledger.rwset import Version

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks(
    number INTEGER PRIMARY KEY,
    header BLOB NOT NULL,      -- common.BlockHeader bytes
    metadata BLOB NOT NULL     -- common.BlockMetadata bytes
);
CREATE TABLE IF NOT EXISTS txs(
    block INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    tx_id TEXT NOT NULL,
    code INTEGER NOT NULL,     -- Fabric TxValidationCode
    leaf INTEGER,              -- index in the Merkle log when valid
    envelope BLOB NOT NULL,    -- common.Envelope bytes, exactly as ordered
    PRIMARY KEY(block, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS txs_by_id ON txs(tx_id);
CREATE TABLE IF NOT EXISTS state(
    ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    block INTEGER NOT NULL, tx INTEGER NOT NULL,
    PRIMARY KEY(ns, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history(
    ns TEXT NOT NULL, key TEXT NOT NULL, block INTEGER NOT NULL, tx INTEGER NOT NULL,
    tx_id TEXT NOT NULL, value BLOB, is_delete INTEGER NOT NULL,
    seconds INTEGER NOT NULL, nanos INTEGER NOT NULL,
    PRIMARY KEY(ns, key, block, tx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events(
    block INTEGER NOT NULL, tx INTEGER NOT NULL, chaincode TEXT NOT NULL,
    name TEXT NOT NULL, tx_id TEXT NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY(block, tx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS merkle(
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
    PRIMARY KEY(level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints(
    size INTEGER PRIMARY KEY, block INTEGER NOT NULL, note TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class StateEntry:
    """A key's committed value and the version that wrote it."""

    value: bytes
    version: Version


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One modification of a key, as Fabric's history database reports it."""

    tx_id: str
    value: bytes
    is_delete: bool
    seconds: int
    nanos: int
    version: Version


@dataclass(frozen=True, slots=True)
class TxRecord:
    """Where a transaction sits in the chain and how it was judged."""

    tx_id: str
    block: int
    index: int
    code: int
    leaf: int | None
    envelope: bytes


class ChannelStore:
    """Connections to one channel's database: a per-thread reader and the writer."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        if not create and not path.exists():
            raise ConfigError(f"no ledger database at {path}")
        self.path = path
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._generation = 0
        conn = self._connect()
        with conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=60.0, isolation_level=None, check_same_thread=False
            )
            # A tampered row can hold text where bytes belong; decode leniently and let
            # `verify` report it instead of failing inside sqlite3.
            conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: fsync the WAL on every commit, so "committed" means durable.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=OFF")
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            # UnicodeDecodeError: sqlite3 fails to decode an error message quoting damaged SQL.
            raise ConfigError(f"cannot open ledger database {self.path}: {exc}") from None
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections must not be shared across threads)."""
        held: tuple[int, sqlite3.Connection] | None = getattr(self._local, "conn", None)
        if held is not None and held[0] == self._generation:
            return held[1]
        conn = self._connect()
        with self._conns_lock:
            self._conns.append(conn)
        self._local.conn = (self._generation, conn)
        return conn

    def close(self) -> None:
        """Close every connection any thread opened; call once no thread uses the store.

        A thread that touches the store afterwards transparently opens a new one.
        """
        with self._conns_lock:
            conns, self._conns = self._conns, []
            self._generation += 1
        for conn in conns:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's single-writer lock."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise UnavailableError(f"ledger database is locked: {exc}") from None
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    # -- meta --------------------------------------------------------------

    def get_meta(self, key: str) -> bytes | None:
        """A value from the meta table (channel config, origin, ...)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else _blob(row[0])

    # -- chain -------------------------------------------------------------

    def height(self) -> int:
        """Number of blocks in the chain."""
        row = self.conn.execute("SELECT MAX(number) FROM blocks").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def block_rows(
        self, start: int = 0, end: int | None = None
    ) -> Iterator[tuple[int, bytes, bytes]]:
        """(number, header bytes, metadata bytes) for blocks in [start, end)."""
        cur = self.conn.execute(
            "SELECT number, header, metadata FROM blocks WHERE number>=? AND number<? "
            "ORDER BY number",
            (start, end if end is not None else 1 << 62),
        )
        for number, header, metadata in cur:
            yield int(number), _blob(header), _blob(metadata)

    def block_envelopes(self, number: int) -> list[bytes]:
        """The envelopes of one block, in order."""
        cur = self.conn.execute("SELECT envelope FROM txs WHERE block=? ORDER BY idx", (number,))
        return [bytes(r[0]) for r in cur]

    def tx(self, tx_id: str) -> TxRecord | None:
        """The first (and only valid) record of a transaction id."""
        row = self.conn.execute(
            "SELECT tx_id, block, idx, code, leaf, envelope FROM txs WHERE tx_id=? "
            "ORDER BY block, idx LIMIT 1",
            (tx_id,),
        ).fetchone()
        return None if row is None else _tx_record(row)

    def txs_in_block(self, number: int) -> list[TxRecord]:
        """Every transaction of a block with its validation code."""
        cur = self.conn.execute(
            "SELECT tx_id, block, idx, code, leaf, envelope FROM txs WHERE block=? ORDER BY idx",
            (number,),
        )
        return [_tx_record(r) for r in cur]

    def tx_by_leaf(self, leaf: int) -> TxRecord | None:
        """The valid transaction at a Merkle log position."""
        row = self.conn.execute(
            "SELECT tx_id, block, idx, code, leaf, envelope FROM txs WHERE leaf=?", (leaf,)
        ).fetchone()
        return None if row is None else _tx_record(row)

    def tx_ids_seen(self, tx_ids: Sequence[str]) -> set[str]:
        """Which of these transaction ids are already in the chain (for DUPLICATE_TXID)."""
        seen: set[str] = set()
        for i in range(0, len(tx_ids), 500):
            part = tx_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            cur = self.conn.execute(f"SELECT tx_id FROM txs WHERE tx_id IN ({marks})", part)  # noqa: S608
            seen.update(r[0] for r in cur)
        return seen

    # -- world state -------------------------------------------------------

    def get_state(self, ns: str, key: str) -> StateEntry | None:
        """The committed value of a key, or None."""
        row = self.conn.execute(
            "SELECT value, block, tx FROM state WHERE ns=? AND key=?", (ns, key)
        ).fetchone()
        if row is None:
            return None
        return StateEntry(_blob(row[0]), Version(int(row[1]), int(row[2])))

    def get_versions(self, ns: str, keys: Sequence[str]) -> dict[str, Version]:
        """Committed versions of many keys at once (MVCC check of a whole block)."""
        found: dict[str, Version] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            cur = self.conn.execute(
                f"SELECT key, block, tx FROM state WHERE ns=? AND key IN ({marks})",  # noqa: S608
                (ns, *part),
            )
            for key, block, tx in cur:
                found[key] = Version(int(block), int(tx))
        return found

    def range_state(self, ns: str, start: str, end: str) -> Iterator[tuple[str, bytes, Version]]:
        """Keys in [start, end) of a namespace in key order; empty end means unbounded."""
        if end:
            cur = self.conn.execute(
                "SELECT key, value, block, tx FROM state WHERE ns=? AND key>=? AND key<? "
                "ORDER BY key",
                (ns, start, end),
            )
        else:
            cur = self.conn.execute(
                "SELECT key, value, block, tx FROM state WHERE ns=? AND key>=? ORDER BY key",
                (ns, start),
            )
        for key, value, block, tx in cur:
            yield str(key), _blob(value), Version(int(block), int(tx))

    def state_rows(self) -> Iterator[tuple[str, str, bytes, int, int]]:
        """Every world-state row (for verify)."""
        cur = self.conn.execute("SELECT ns, key, value, block, tx FROM state ORDER BY ns, key")
        for ns, key, value, block, tx in cur:
            yield str(ns), str(key), _blob(value), int(block), int(tx)

    def history(self, ns: str, key: str) -> list[HistoryEntry]:
        """Every committed modification of a key, oldest first."""
        cur = self.conn.execute(
            "SELECT tx_id, value, is_delete, seconds, nanos, block, tx FROM history "
            "WHERE ns=? AND key=? ORDER BY block, tx",
            (ns, key),
        )
        return [
            HistoryEntry(str(t), _blob(v or b""), bool(d), int(s), int(n), Version(int(b), int(x)))
            for t, v, d, s, n, b, x in cur
        ]

    def events_from(
        self, block: int, chaincode: str | None = None
    ) -> Iterator[tuple[int, int, str, str, str, bytes]]:
        """Events of valid transactions from a block on: (block, tx, cc, name, tx_id, payload)."""
        cur = self.conn.execute(
            "SELECT block, tx, chaincode, name, tx_id, payload FROM events WHERE block>=? "
            "ORDER BY block, tx",
            (block,),
        )
        for b, t, cc, name, tx_id, payload in cur:
            if chaincode is None or cc == chaincode:
                yield int(b), int(t), str(cc), str(name), str(tx_id), _blob(payload)

    # -- Merkle log --------------------------------------------------------

    def log_size(self) -> int:
        """Number of leaves (valid transactions) in the Merkle log."""
        row = self.conn.execute("SELECT MAX(idx) FROM merkle WHERE level=0").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def get_node(self, level: int, index: int) -> bytes:
        """A stored complete-subtree hash (NodeStore protocol)."""
        row = self.conn.execute(
            "SELECT hash FROM merkle WHERE level=? AND idx=?", (level, index)
        ).fetchone()
        if row is None:
            raise KeyError((level, index))
        return _blob(row[0])

    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        """Store new subtree hashes; must run inside `write()`."""
        self.conn.executemany("INSERT INTO merkle(level, idx, hash) VALUES (?,?,?)", nodes)

    def latest_checkpoint(self) -> str | None:
        """The newest signed checkpoint note."""
        row = self.conn.execute(
            "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    def checkpoint_at(self, size: int) -> str | None:
        """The signed checkpoint for exactly this log size, if one was made."""
        row = self.conn.execute("SELECT note FROM checkpoints WHERE size=?", (size,)).fetchone()
        return None if row is None else str(row[0])

    def checkpoint_notes(self) -> list[tuple[int, int, str]]:
        """(size, block, note) of every checkpoint, oldest first."""
        cur = self.conn.execute("SELECT size, block, note FROM checkpoints ORDER BY size")
        return [(int(s), int(b), str(n)) for s, b, n in cur]


def _blob(value: object) -> bytes:
    """A BLOB column's bytes, also when a tampered row stored it as text."""
    return value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[call-overload]


def _tx_record(row: tuple[object, ...]) -> TxRecord:
    tx_id, block, idx, code, leaf, envelope = row
    return TxRecord(
        str(tx_id),
        int(block),  # type: ignore[call-overload]
        int(idx),  # type: ignore[call-overload]
        int(code),  # type: ignore[call-overload]
        None if leaf is None else int(leaf),  # type: ignore[call-overload]
        _blob(envelope),
    )
