"""Tamper trials' tools: build a varied ledger, change one stored value, say what verify must name.

A tamper keeps the stored type of the value (BLOB stays BLOB, TEXT stays TEXT,
INTEGER stays INTEGER) so that it is a change of content that only the
ledger's own hashes and signatures can reveal, not a type error.
"""

from __future__ import annotations

import random
import re
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import tensorledger as tl
from tensorledger.ledger.network import EmbeddedNetwork

CHANNEL = "mychannel"
CHAINCODE = "datacontract"
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 -_/\\\"'é€ü😀"


def value(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 300)))


def build_ledger(root: Path) -> Path:
    """~340 transactions: stores, overwrites, deletes, invalidated ones, multi-tx blocks."""
    path = tl.init(root, orgs=("Org1", "Org2"))
    rng = random.Random(20240601)
    live: list[str] = []
    with tl.connect(path, "Org1") as g1, tl.connect(path, "Org2") as g2:
        c1 = g1.network(CHANNEL).contract(CHAINCODE)
        c2 = g2.network(CHANNEL).contract(CHAINCODE)
        for i in range(100):
            (c2 if i % 3 == 0 else c1).submit("storeData", f"rec-{i:03d}", value(rng))
            live.append(f"rec-{i:03d}")
        # Concurrent clients: blocks with several transactions.
        par = [(f"par-{i:03d}", value(rng)) for i in range(100)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda kv: c1.submit("storeData", *kv), par))
        live += [k for k, _ in par]
        for key in rng.sample(live, 50):  # overwrites
            (c1 if rng.random() < 0.5 else c2).submit("storeData", key, value(rng))
        doomed = rng.sample(live, 30)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda k: c1.submit("deleteData", k), doomed))
        live = [k for k in live if k not in doomed]
    _invalidated(path, rng, live)
    with tl.connect(path, "Org2") as g2:
        c2 = g2.network(CHANNEL).contract(CHAINCODE)
        for i in range(50):
            c2.submit("storeData", f"tail-{i:03d}", value(rng))
    return path


def _invalidated(path: Path, rng: random.Random, live: list[str]) -> None:
    """Transactions the committer marks invalid, so the chain holds them with their codes."""
    network = EmbeddedNetwork(path)
    try:
        ch = network.channel(CHANNEL)
        signer = network.identity("Org1")
        # MVCC across blocks: both endorsed against the same version of the key.
        for key in rng.sample(live, 2):
            first = ch.endorse(signer, CHAINCODE, "deleteData", [key])
            second = ch.endorse(signer, CHAINCODE, "deleteData", [key])
            ch.commit_envelope(first)
            try:
                ch.commit_envelope(second)
            except tl.MVCCConflictError:
                pass
            else:
                raise AssertionError("second delete of the same version was not invalidated")
            live.remove(key)
        # MVCC inside one block: broadcast together, ordered into the same batch if fast enough.
        key = rng.choice(live)
        envs = [ch.endorse(signer, CHAINCODE, "deleteData", [key]) for _ in range(3)]
        barrier = threading.Barrier(3)

        def send(env: object) -> str:
            barrier.wait()
            try:
                ch.commit_envelope(env)  # type: ignore[arg-type]
            except tl.MVCCConflictError as exc:
                return exc.code
            return "VALID"

        with ThreadPoolExecutor(3) as pool:
            codes = sorted(pool.map(send, envs))
        assert codes == ["MVCC_READ_CONFLICT", "MVCC_READ_CONFLICT", "VALID"], codes
        live.remove(key)
        # Endorsed by one org where the policy (MAJORITY of two) needs both.
        env = ch.endorse(
            signer, CHAINCODE, "storeData", ["lonely", "x"], endorsing_orgs=["Org1MSP"]
        )
        try:
            ch.commit_envelope(env)
        except tl.CommitError as exc:
            assert exc.code == "ENDORSEMENT_POLICY_FAILURE", exc.code
        else:
            raise AssertionError("a one-org endorsement passed a two-org policy")
    finally:
        network.close()


# -- tampering ---------------------------------------------------------------

TABLES = ("meta", "blocks", "txs", "state", "history", "events", "merkle", "checkpoints")


def open_db(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.text_factory = bytes  # never decode: we compare and mutate raw bytes
    return conn


def columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, int]]:
    """(name, declared type, position in the primary key: 0 if none) of each column."""
    rows = conn.execute(f"PRAGMA table_info({table})").fetchall()
    return [(_text(r[1]), _text(r[2]), int(r[5])) for r in rows]


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def primary_key(conn: sqlite3.Connection, table: str) -> list[str]:
    cols = sorted((pk, name) for name, _, pk in columns(conn, table) if pk)
    return [name for _, name in cols]


@dataclass(frozen=True)
class Tamper:
    """One changed stored value: which row (by its old primary key), what it was and became."""

    table: str
    column: str
    row: dict[str, object]  # primary key before the change; TEXT as str
    kind: str  # SQLite storage class: 'blob', 'text' or 'integer'
    old: object
    new: object

    def __str__(self) -> str:
        if self.kind == "integer":
            change = f"{self.old} -> {self.new}"
        else:
            old, new = bytes(self.old), bytes(self.new)  # type: ignore[call-overload]
            pos = next(i for i in range(len(old)) if old[i] != new[i])
            change = f"byte {pos}/{len(old)}: {old[pos]:#04x} -> {new[pos]:#04x}"
        return f"{self.table}.{self.column} {self.kind} at {self.row}: {change}"


def _match(pk: list[str], key: list[object]) -> str:
    """WHERE clause for a primary key; raw TEXT bytes are compared as TEXT."""
    return " AND ".join(
        f"{c}=CAST(? AS TEXT)" if isinstance(k, bytes) else f"{c}=?"
        for c, k in zip(pk, key, strict=True)
    )


def _decode(v: object) -> object:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def tamper_value(conn: sqlite3.Connection, table: str, column: str, rng: random.Random) -> Tamper:
    """Change one random byte (or bit) of `column` in a random row, keeping its type."""
    pk = primary_key(conn, table)
    cols = ", ".join(pk)
    rows = conn.execute(
        f"SELECT {cols}, typeof({column}), CAST({column} AS BLOB), {column} FROM {table} "
        f"WHERE {column} IS NOT NULL AND length(CAST({column} AS BLOB)) > 0 ORDER BY {cols}"
    ).fetchall()
    if not rows:
        raise RuntimeError(f"no {table}.{column} to tamper with")
    for _ in range(100):
        *key, kind, raw, current = rng.choice(rows)
        kind = kind.decode()
        where = _match(pk, key)
        if kind == "integer":
            bit = rng.randrange(8) if rng.random() < 0.8 else rng.randrange(8, 48)
            new: object = current ^ (1 << bit)
            sql, param = f"UPDATE {table} SET {column}=? WHERE {where}", new
            old: object = current
        else:
            if kind not in ("blob", "text"):
                raise RuntimeError(f"{table}.{column}: unexpected storage class {kind}")
            data = bytearray(raw)
            pos = rng.randrange(len(data))
            data[pos] ^= (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(1, 256)
            new, old = bytes(data), bytes(raw)
            cast = "CAST(? AS TEXT)" if kind == "text" else "?"
            sql, param = f"UPDATE {table} SET {column}={cast} WHERE {where}", new
        try:
            n = conn.execute(sql, (param, *key)).rowcount
        except sqlite3.IntegrityError:
            continue  # a primary key changed into one that exists: draw again
        if n != 1:
            raise RuntimeError(f"{sql} changed {n} rows")
        moved = [new if c == column else k for c, k in zip(pk, key, strict=True)]
        got = conn.execute(
            f"SELECT typeof({column}), CAST({column} AS BLOB) FROM {table} "
            f"WHERE {_match(pk, moved)}",
            moved,
        ).fetchone()
        if got is None or got[0].decode() != kind:
            raise RuntimeError(f"{table}.{column}: the change did not keep the type: {got}")
        return Tamper(
            table, column, {c: _decode(k) for c, k in zip(pk, key, strict=True)}, kind, old, new
        )
    raise RuntimeError(f"could not change {table}.{column} without a key collision")


# -- where verify must point -------------------------------------------------

_BLOCK = re.compile(r"^block (\d+)(?: |$)")


def block_named(where: str) -> int | None:
    m = _BLOCK.match(where)
    return int(m.group(1)) if m else None


def expected_place(t: Tamper) -> tuple[str, Callable[[str], bool]]:
    """What the first finding's `where` must name for this tamper: description and test."""
    r = t.row
    if t.table == "blocks":
        n = r["number"]
        return f"block {n}", lambda w: block_named(w) == n
    if t.table == "txs":
        n, i = r["block"], r["idx"]
        if t.column == "block":
            # The transaction moved to another block; the lower of the two is hit first.
            m = min(n, t.new)  # type: ignore[type-var]
            return f"block {m}", lambda w: block_named(w) == m
        if t.column in ("code", "leaf", "tx_id"):
            return f"block {n} tx {i}", lambda w: w.startswith(f"block {n} tx {i} ")
        return f"block {n}", lambda w: block_named(w) == n
    if t.table == "state":
        ns, key = r["ns"], r["key"]
        places = {f"state {ns}/{key}"}
        if t.column in ("ns", "key"):
            new_ns = _decode(t.new) if t.column == "ns" else ns
            new_key = _decode(t.new) if t.column == "key" else key
            places.add(f"state {new_ns}/{new_key}")
        return " or ".join(sorted(places)), lambda w: w in places
    if t.table == "history":
        place = f"history {r['ns']}/{r['key']} block {r['block']} tx {r['tx']}"
        if t.column in ("ns", "key", "block", "tx"):
            # The entry moved in the history's order; the first difference may be a neighbour.
            return "history ...", lambda w: w.startswith("history")
        return place, lambda w: w == place
    if t.table == "events":
        place = f"event block {r['block']} tx {r['tx']}"
        if t.column in ("block", "tx"):
            return "event ...", lambda w: w.startswith("event")
        return place, lambda w: w == place
    if t.table == "merkle":
        place = f"merkle node level {r['level']} index {r['idx']}"
        if t.column in ("level", "idx"):
            return "merkle ...", lambda w: w.startswith("merkle")
        return place, lambda w: w == place
    if t.table == "checkpoints":
        place = f"checkpoint size {r['size']}"
        if t.column == "size":
            return "checkpoint size ...", lambda w: w.startswith("checkpoint size ")
        return place, lambda w: w == place
    # meta holds the network id; verify compares it with network.json as a database finding.
    return "database (network id)", lambda w: w == "database"


# -- logical content of a database file ---------------------------------------

Rows = dict[tuple[object, ...], tuple[tuple[str, bytes], ...]]


@dataclass
class Dump:
    """Every row of every table, values as (storage class, raw bytes); a string if unreadable."""

    tables: dict[str, Rows | str]
    columns: dict[str, list[str]]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dump) and self.tables == other.tables


def logical_dump(db: Path) -> Dump:
    """The logical content of a database file, read-only.

    Like `iterdump()`, but it never decodes TEXT (a flipped byte may leave invalid
    UTF-8, on which iterdump gives up) and a table that cannot be read is marked
    so instead of ending the dump.
    """
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.text_factory = bytes
    dump = Dump({}, {})
    try:
        try:
            master = conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
            ).fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            # A damaged schema's error message can quote invalid UTF-8 from the file.
            dump.tables["sqlite_master"] = f"unreadable: {exc!r}"
            return dump
        dump.tables["sqlite_master"] = {
            (r[1],): tuple(("raw", v or b"") for v in r) for r in master
        }
        for kind, name_raw, _, _ in master:
            if kind != b"table":
                continue
            name = name_raw.decode()
            try:
                cols = [c for c, _, _ in columns(conn, name)]
                pk = primary_key(conn, name) or ["rowid"]
                sel = ", ".join([*pk, *(f"typeof({c}), CAST({c} AS BLOB)" for c in cols)])
                rows = conn.execute(f"SELECT {sel} FROM {name}").fetchall()
            except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
                dump.tables[name] = f"unreadable: {exc!r}"
                continue
            table: Rows = {}
            for row in rows:
                key, rest = tuple(row[: len(pk)]), row[len(pk) :]
                table[key] = tuple((rest[i].decode(), rest[i + 1]) for i in range(0, len(rest), 2))
            dump.tables[name] = table
            dump.columns[name] = cols
    finally:
        conn.close()
    return dump


def cell_changes(before: Dump, after: Dump) -> list[Tamper] | str:
    """The single values that differ between two dumps, or why the difference is more than that."""
    changes: list[Tamper] = []
    for name in sorted(set(before.tables) | set(after.tables)):
        b, a = before.tables.get(name), after.tables.get(name)
        if isinstance(a, str) or a is None or isinstance(b, str) or b is None:
            return f"table {name}: {a if isinstance(a, str) else 'missing'}"
        if set(a) != set(b):
            return f"rows of {name} added or removed"
        for key in sorted(b, key=repr):
            if a[key] == b[key]:
                continue
            if name == "sqlite_master":
                return "schema changed"
            for col, old, new in zip(before.columns[name], b[key], a[key], strict=True):
                if old == new:
                    continue
                if old[0] != new[0]:
                    return f"{name}.{col} changed storage class {old[0]} -> {new[0]}"
                integer = old[0] == "integer"
                changes.append(
                    Tamper(
                        name,
                        col,
                        {f"key{i}": _decode(k) for i, k in enumerate(key)},
                        old[0],
                        int(old[1]) if integer else old[1],
                        int(new[1]) if integer else new[1],
                    )
                )
    return changes
