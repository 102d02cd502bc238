"""Snapshots of a channel database taken with plain sqlite3, to prove that nothing changed.

Read-only connections of our own, so a rejected request is judged by what is on
disk, not by what the ledger's code reports about itself.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from fabric_protos.common import common_pb2

from tests.ledger.fabric_reference import parse_note

TABLES = ("meta", "blocks", "txs", "state", "history", "events", "merkle", "checkpoints")
#: what a valid transaction changes; an invalidated one may only add a block and a tx row
STATE_TABLES = ("state", "history", "events", "merkle")


def channel_db(ledger: Path, channel: str = "mychannel") -> Path:
    """The SQLite file of a channel."""
    return ledger / "channels" / f"{channel}.db"


@dataclass(frozen=True)
class Snapshot:
    """Digests of every table, the chain height and the newest checkpoint's size and root."""

    height: int
    tables: dict[str, str]
    checkpoint_size: int
    checkpoint_root: bytes
    checkpoint_note: str

    def world(self) -> tuple[object, ...]:
        """What an invalid transaction must leave alone: state, history, events, log, tree head."""
        return (
            tuple(self.tables[t] for t in STATE_TABLES),
            self.checkpoint_size,
            self.checkpoint_root,
        )


def snapshot(ledger: Path, channel: str = "mychannel") -> Snapshot:
    """Read the channel database through a separate read-only connection."""
    conn = sqlite3.connect(f"file:{channel_db(ledger, channel)}?mode=ro", uri=True)
    try:
        tables = {}
        for table in TABLES:
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()
            tables[table] = hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()
        (height,) = conn.execute("SELECT COUNT(*) FROM blocks").fetchone()
        (note,) = conn.execute("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    parsed = parse_note(note)
    return Snapshot(int(height), tables, parsed.size, parsed.root, note)


def tx_codes(ledger: Path, channel: str = "mychannel") -> dict[str, list[int]]:
    """Validation code of every recorded transaction, by tx id (a replay has several rows)."""
    conn = sqlite3.connect(f"file:{channel_db(ledger, channel)}?mode=ro", uri=True)
    try:
        out: dict[str, list[int]] = {}
        for tx_id, code in conn.execute("SELECT tx_id, code FROM txs ORDER BY block, idx"):
            out.setdefault(tx_id, []).append(int(code))
        return out
    finally:
        conn.close()


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` with the SHA-256 of its content (to show a folder untouched)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class StoredBlock:
    """A block as stored: header and metadata bytes and its envelopes in order."""

    number: int
    header: bytes
    metadata: bytes
    envelopes: list[bytes]


def stored_blocks(ledger: Path, channel: str = "mychannel") -> list[StoredBlock]:
    """Every block of the channel, read with plain SQL."""
    conn = sqlite3.connect(f"file:{channel_db(ledger, channel)}?mode=ro", uri=True)
    try:
        out = []
        for number, header, metadata in conn.execute(
            "SELECT number, header, metadata FROM blocks ORDER BY number"
        ).fetchall():
            envelopes = [
                bytes(r[0])
                for r in conn.execute(
                    "SELECT envelope FROM txs WHERE block=? ORDER BY idx", (number,)
                )
            ]
            out.append(StoredBlock(int(number), bytes(header), bytes(metadata), envelopes))
        return out
    finally:
        conn.close()


def stored_envelope(ledger: Path, tx_id: str, channel: str = "mychannel") -> bytes:
    """The first stored envelope with this transaction id."""
    conn = sqlite3.connect(f"file:{channel_db(ledger, channel)}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT envelope FROM txs WHERE tx_id=? ORDER BY block, idx LIMIT 1", (tx_id,)
        ).fetchone()
    finally:
        conn.close()
    assert row is not None, f"no transaction {tx_id}"
    return bytes(row[0])


def signcert(ledger: Path, kind: str, domain: str, name: str) -> bytes:
    """A node's or user's certificate from the cryptogen folder layout."""
    group = "ordererOrganizations" if kind == "orderers" else "peerOrganizations"
    (cert,) = (ledger / "organizations" / group / domain / kind / name / "msp" / "signcerts").glob(
        "*.pem"
    )
    return cert.read_bytes()


def header_of(block: StoredBlock) -> common_pb2.BlockHeader:
    return common_pb2.BlockHeader.FromString(block.header)


def metadata_of(block: StoredBlock) -> common_pb2.BlockMetadata:
    return common_pb2.BlockMetadata.FromString(block.metadata)
