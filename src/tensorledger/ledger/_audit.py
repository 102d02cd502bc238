"""The comparisons behind `verify`: stored rows against what replaying the chain implies.

World state, key history, events, the Merkle log's nodes and the signed
checkpoints are each rebuilt from the blocks by `verify` and compared here,
row by row, so a changed, missing or forged row is named.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from fabric_protos.common import common_pb2

from tensorledger.crypto import merkle
from tensorledger.crypto.checkpoint import NoteVerifier, parse_checkpoint, verify_checkpoint
from tensorledger.crypto.msp import Identity
from tensorledger.errors import TensorLedgerError
from tensorledger.ledger.channel import checkpoint_origin
from tensorledger.ledger.config import ChannelConfig
from tensorledger.ledger.rwset import Version
from tensorledger.ledger.store import ChannelStore, StateEntry

#: stop collecting findings after this many; the first is what matters
MAX_FINDINGS = 1000


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference between what is stored and what the chain implies."""

    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


class ReplayState:
    """World state rebuilt in memory from valid write sets, readable like the store."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], StateEntry] = {}
        self.tx_ids: set[str] = set()
        self._sorted: dict[str, list[str]] = {}

    def get_state(self, ns: str, key: str) -> StateEntry | None:
        return self.values.get((ns, key))

    def get_versions(self, ns: str, keys: Sequence[str]) -> dict[str, Version]:
        return {k: e.version for k in keys if (e := self.values.get((ns, k))) is not None}

    def range_state(self, ns: str, start: str, end: str) -> Iterable[tuple[str, bytes, Version]]:
        keys = self._sorted.get(ns, [])
        lo = bisect.bisect_left(keys, start)
        hi = bisect.bisect_left(keys, end) if end else len(keys)
        for key in keys[lo:hi]:
            e = self.values[(ns, key)]
            yield key, e.value, e.version

    def tx_ids_seen(self, tx_ids: Sequence[str]) -> set[str]:
        return {t for t in tx_ids if t in self.tx_ids}

    def put(self, ns: str, key: str, value: bytes | None, version: Version) -> None:
        keys = self._sorted.setdefault(ns, [])
        i = bisect.bisect_left(keys, key)
        present = i < len(keys) and keys[i] == key
        if value is None:
            self.values.pop((ns, key), None)
            if present:
                keys.pop(i)
        else:
            self.values[(ns, key)] = StateEntry(value, version)
            if not present:
                keys.insert(i, key)


@dataclass
class Run:
    findings: list[Finding] = field(default_factory=list)

    def add(self, where: str, detail: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(where, detail))


HistoryRow = tuple[str, str, int, int, str, bytes | None, int, int, int]


def check_checkpoints(
    run: Run,
    store: ChannelStore,
    log: merkle.MerkleTree,
    block_of_size: dict[int, int],
    network_id: str,
    channel: str,
    config: ChannelConfig,
) -> int:
    origin = checkpoint_origin(network_id, channel)
    orderer_key = None
    notes = store.checkpoint_notes()
    for size, number, note in notes:
        where = f"checkpoint size {size}"
        try:
            parsed = parse_checkpoint(note)
            if orderer_key is None:
                # The key is the orderer certificate's, as carried in block 0's creator.
                env = common_pb2.Envelope.FromString(store.block_envelopes(0)[0])
                shdr = common_pb2.SignatureHeader.FromString(
                    common_pb2.Payload.FromString(env.payload).header.signature_header
                )
                orderer_key = NoteVerifier(origin, Identity.deserialize(shdr.creator).public_key)
            cp = verify_checkpoint(note, orderer_key, origin=origin)
        except TensorLedgerError as exc:
            run.add(where, f"signed note: {exc}")
            continue
        if cp.size != size or parsed.checkpoint.size != size:
            run.add(where, f"note is for size {cp.size}")
            continue
        if size > log.size:
            run.add(where, f"beyond the rebuilt log of {log.size} transactions")
            continue
        if log.root(size) != cp.root:
            run.add(where, "root differs from the Merkle log rebuilt from the chain")
        if block_of_size.get(size) != number:
            run.add(where, f"recorded for block {number}, the log reached this size at block "
                    f"{block_of_size.get(size)}")  # fmt: skip
    have = {s for s, _, _ in notes}
    for size in sorted(set(block_of_size) - have):
        run.add(
            f"checkpoint size {size}",
            f"missing: block {block_of_size[size]} ended with this log size and was checkpointed",
        )
        break
    return len(notes)


def check_log_nodes(run: Run, store: ChannelStore, log: merkle.MerkleTree) -> None:
    rebuilt = log.store
    count = 0
    for level, index, value in store.conn.execute(
        "SELECT level, idx, hash FROM merkle ORDER BY level, idx"
    ):
        count += 1
        try:
            expected = rebuilt.get_node(int(level), int(index))
        except KeyError:
            run.add(f"merkle node level {level} index {index}", "not part of the rebuilt log")
            return
        if bytes(value) != expected:
            run.add(f"merkle node level {level} index {index}", "differs from the rebuilt log")
            return
    if isinstance(rebuilt, merkle.MemoryNodeStore) and count != len(rebuilt):
        run.add("merkle log", f"{count} nodes stored, {len(rebuilt)} in the rebuilt log")


def compare_state(run: Run, store: ChannelStore, state: ReplayState) -> None:
    for ns, key in store.conn.execute(
        "SELECT ns, key FROM state WHERE typeof(value) != 'blob' LIMIT 1"
    ):
        run.add(f"state {ns}/{key}", "value is not stored as bytes (BLOB)")
    for ns, key, block, tx in store.conn.execute(
        "SELECT ns, key, block, tx FROM history WHERE (is_delete = 0 AND typeof(value) != 'blob') "
        "OR (is_delete != 0 AND value IS NOT NULL) LIMIT 1"
    ):
        run.add(
            f"history {ns}/{key} block {block} tx {tx}",
            "a delete entry holds a value, or a write holds none",
        )
    stored = {(ns, key): (value, Version(b, t)) for ns, key, value, b, t in store.state_rows()}
    for pos in sorted(set(stored) | set(state.values)):
        mine = state.values.get(pos)
        theirs = stored.get(pos)
        where = f"state {pos[0]}/{pos[1]}"
        if mine is None:
            run.add(where, "present in the database but written by no valid transaction")
        elif theirs is None:
            run.add(where, "missing from the database")
        elif theirs != (mine.value, mine.version):
            run.add(where, "value or version differs from the replayed write sets")


def compare_history(run: Run, store: ChannelStore, history: list[HistoryRow]) -> None:
    stored = [
        (
            str(ns), str(key), int(b), int(t), str(tx_id), None if d else _blob(v),
            int(d), int(s), int(n),
        )
        for ns, key, b, t, tx_id, v, d, s, n in store.conn.execute(
            "SELECT ns, key, block, tx, tx_id, value, is_delete, seconds, nanos FROM history "
            "ORDER BY block, tx, ns, key"
        )
    ]  # fmt: skip
    expected = sorted(history, key=lambda h: (h[2], h[3], h[0], h[1]))
    for i, (mine, theirs) in enumerate(zip(expected, stored, strict=False)):
        if mine != theirs:
            where = f"history {mine[0]}/{mine[1]} block {mine[2]} tx {mine[3]}"
            run.add(where, f"entry {i} differs from the transaction that wrote it")
            return
    if len(expected) != len(stored):
        run.add("history", f"{len(stored)} entries stored, {len(expected)} expected")


def _blob(value: object) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value or b"")  # type: ignore[call-overload]


def compare_events(
    run: Run, store: ChannelStore, events: list[tuple[int, int, str, str, str, bytes]]
) -> None:
    stored = list(store.events_from(0))
    for mine, theirs in zip(events, stored, strict=False):
        if mine != theirs:
            run.add(f"event block {mine[0]} tx {mine[1]}", "differs from the transaction's event")
            return
    if len(events) != len(stored):
        run.add("events", f"{len(stored)} stored, {len(events)} expected")
