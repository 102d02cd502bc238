"""Row-level tampers: delete a stored row or forge one, and say what verify must name.

Each change takes a connection to a fresh copy, a random source and the
chain's height, makes its change and returns (description, test of `where`).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable

Place = tuple[str, Callable[[str], bool]]


def pick(conn: sqlite3.Connection, rng: random.Random, sql: str) -> tuple[object, ...]:
    rows = conn.execute(sql).fetchall()
    if not rows:
        raise RuntimeError(f"nothing to pick: {sql}")
    return tuple(rng.choice(rows))


def _block(n: object) -> Place:
    return f"block {n}", lambda w: w == f"block {n}" or w.startswith(f"block {n} ")


def _prefix(p: str) -> Place:
    return f"{p}...", lambda w: w.startswith(p)


def del_block(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    n = rng.randrange(1, height - 1)
    c.execute("DELETE FROM blocks WHERE number=?", (n,))
    return _block(n)


def del_last_block(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    # The chain up to the new tip is sound; what betrays it is everything it left behind.
    c.execute("DELETE FROM blocks WHERE number=?", (height - 1,))
    return "anything", lambda w: True


def del_tx(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    b, i = pick(c, rng, "SELECT block, idx FROM txs")
    c.execute("DELETE FROM txs WHERE block=? AND idx=?", (b, i))
    return _block(b)


def del_state(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    ns, key = pick(c, rng, "SELECT ns, key FROM state")
    c.execute("DELETE FROM state WHERE ns=? AND key=?", (ns, key))
    return f"state {ns}/{key}", lambda w: w == f"state {ns}/{key}"


def del_history(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    row = pick(c, rng, "SELECT ns, key, block, tx FROM history")
    c.execute("DELETE FROM history WHERE ns=? AND key=? AND block=? AND tx=?", row)
    return _prefix("history")


def del_event(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    row = pick(c, rng, "SELECT block, tx FROM events")
    c.execute("DELETE FROM events WHERE block=? AND tx=?", row)
    return _prefix("event")


def del_merkle(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    row = pick(c, rng, "SELECT level, idx FROM merkle")
    c.execute("DELETE FROM merkle WHERE level=? AND idx=?", row)
    return _prefix("merkle")


def del_newest_checkpoint(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    (size,) = c.execute("SELECT MAX(size) FROM checkpoints").fetchone()
    c.execute("DELETE FROM checkpoints WHERE size=?", (size,))
    return f"checkpoint size {size}", lambda w: w == f"checkpoint size {size}"


def del_older_checkpoint(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    (size,) = pick(c, rng, "SELECT size FROM checkpoints WHERE size < (SELECT MAX(size) - 1 "
                    "FROM checkpoints)")  # fmt: skip
    c.execute("DELETE FROM checkpoints WHERE size=?", (size,))
    return f"checkpoint size {size}", lambda w: w == f"checkpoint size {size}"


def del_meta(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    c.execute("DELETE FROM meta")
    return "database (network id)", lambda w: w == "database"


def forge_state(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    b, i = pick(c, rng, "SELECT block, idx FROM txs WHERE leaf IS NOT NULL AND block > 0")
    key = f"forged-{rng.randrange(10**6)}"
    c.execute("INSERT INTO state VALUES ('datacontract', ?, ?, ?, ?)", (key, b"forged", b, i))
    return f"state datacontract/{key}", lambda w: w == f"state datacontract/{key}"


def resurrect_state(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    """Bring a deleted key back with the value and version it had before its delete."""
    ns, key, value, b, i = pick(
        c,
        rng,
        "SELECT h.ns, h.key, CAST(h.value AS BLOB), h.block, h.tx FROM history h "
        "WHERE NOT h.is_delete AND NOT EXISTS (SELECT 1 FROM state s WHERE s.ns=h.ns AND "
        "s.key=h.key) AND h.block = (SELECT MAX(block) FROM history g WHERE g.ns=h.ns AND "
        "g.key=h.key AND NOT g.is_delete)",
    )
    c.execute("INSERT INTO state VALUES (?, ?, ?, ?, ?)", (ns, key, value, b, i))
    return f"state {ns}/{key}", lambda w: w == f"state {ns}/{key}"


def forge_history(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    ns, key, b, i, tx_id, value = pick(
        c, rng, "SELECT ns, key, block, tx, tx_id, value FROM history WHERE NOT is_delete"
    )
    # The same change recorded once more, one transaction later in the same block.
    c.execute(
        "INSERT OR IGNORE INTO history VALUES (?, ?, ?, ?, ?, ?, 0, 1, 2)",
        (ns, key, b, int(i) + 1000, tx_id, value),
    )
    return _prefix("history")


def forge_event(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    b, i = pick(
        c,
        rng,
        "SELECT t.block, t.idx FROM txs t WHERE t.leaf IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM events e WHERE e.block=t.block AND e.tx=t.idx)",
    )
    c.execute(
        "INSERT INTO events SELECT ?, ?, chaincode, name, tx_id, payload FROM events LIMIT 1",
        (b, i),
    )
    return _prefix("event")


def forge_tx(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    (b,) = pick(c, rng, "SELECT number FROM blocks WHERE number > 0")
    c.execute(
        "INSERT INTO txs SELECT ?, (SELECT COUNT(*) FROM txs WHERE block=?), tx_id, code, NULL, "
        "envelope FROM txs WHERE block > 0 LIMIT 1",
        (b, b),
    )
    return _block(b)


def forge_block(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    c.execute(
        "INSERT INTO blocks SELECT number + 1, header, metadata FROM blocks WHERE number=?",
        (height - 1,),
    )
    return _block(height)


def forge_merkle(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    c.execute("INSERT INTO merkle VALUES (0, 1000000, ?)", (rng.randbytes(32),))
    return _prefix("merkle")


def forge_checkpoint(c: sqlite3.Connection, rng: random.Random, height: int) -> Place:
    (size,) = pick(c, rng, "SELECT size FROM checkpoints")
    c.execute(
        "INSERT INTO checkpoints SELECT size + 100000, block, note FROM checkpoints WHERE size=?",
        (size,),
    )
    return _prefix("checkpoint size")


ROW_CHANGES = [
    del_block,
    del_last_block,
    del_tx,
    del_state,
    del_history,
    del_event,
    del_merkle,
    del_newest_checkpoint,
    del_older_checkpoint,
    del_meta,
    forge_state,
    resurrect_state,
    forge_history,
    forge_event,
    forge_tx,
    forge_block,
    forge_merkle,
    forge_checkpoint,
]
