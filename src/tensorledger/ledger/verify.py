"""`verify`: a full check of a channel's ledger from its genesis block, trusting nothing stored.

It re-hashes the chain (header hashes, previous-hash links, data hashes),
re-checks the orderer's block signatures, re-validates every transaction
(signatures, endorsement policy, MVCC) against state replayed from scratch and
compares the codes stored, recomputes the commit hashes, rebuilds the Merkle
log and every signed checkpoint, and finally compares the replayed world
state, key history and events with the stored ones. It names the first thing
that differs, and keeps going to count the rest.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fabric_protos.common import common_pb2
from google.protobuf.message import DecodeError

from tensorledger.crypto import merkle
from tensorledger.crypto.checkpoint import NoteVerifier, parse_checkpoint, verify_checkpoint
from tensorledger.crypto.msp import Identity, MembershipRegistry
from tensorledger.errors import ConfigError, TensorLedgerError
from tensorledger.ledger import block as blocks
from tensorledger.ledger.channel import checkpoint_origin, membership_for
from tensorledger.ledger.checks import VALID, code_name, stateless_check
from tensorledger.ledger.config import ChannelConfig
from tensorledger.ledger.network import EmbeddedNetwork, channel_db
from tensorledger.ledger.rwset import Version
from tensorledger.ledger.store import ChannelStore, StateEntry
from tensorledger.ledger.validator import BlockValidator

#: stop collecting findings after this many; the first is what matters
MAX_FINDINGS = 1000


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference between what is stored and what the chain implies."""

    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of verifying one channel."""

    channel: str
    blocks: int
    transactions: int
    valid: int
    checkpoints: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """True when nothing differs."""
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The first difference, in chain order."""
        return self.findings[0] if self.findings else None


class _ReplayState:
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
class _Run:
    findings: list[Finding] = field(default_factory=list)

    def add(self, where: str, detail: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(where, detail))


def verify_network(target: EmbeddedNetwork | Path) -> list[VerifyReport]:
    """Verify every channel of a network."""
    network = target if isinstance(target, EmbeddedNetwork) else EmbeddedNetwork(Path(target))
    return [verify_channel(network, ch) for ch in network.channel_names]


def verify_channel(
    target: EmbeddedNetwork | Path,
    channel: str,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check one channel end to end; see the module docstring."""
    network = target if isinstance(target, EmbeddedNetwork) else EmbeddedNetwork(Path(target))
    if channel not in network.channel_names:
        raise ConfigError(
            f"no channel {channel!r} in this network (channels: {', '.join(network.channel_names)})"
        )
    store = ChannelStore(channel_db(network.root, channel))
    try:
        with store.snapshot():
            return _verify(store, network.network_id, channel, progress)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        # The file itself is damaged beyond what SQLite can read: that is the finding.
        return VerifyReport(channel, 0, 0, 0, 0, (Finding("database", f"unreadable: {exc}"),))
    finally:
        store.close()


def _genesis(store: ChannelStore, run: _Run) -> ChannelConfig | None:
    envelopes = store.block_envelopes(0)
    if len(envelopes) != 1:
        run.add("block 0", f"genesis block holds {len(envelopes)} transactions, expected 1")
        return None
    try:
        env = common_pb2.Envelope.FromString(envelopes[0])
        config = ChannelConfig.from_bytes(common_pb2.Payload.FromString(env.payload).data)
    except (DecodeError, TensorLedgerError) as exc:
        run.add("block 0", f"genesis configuration does not decode: {exc}")
        return None
    membership = membership_for(config)
    shdr = common_pb2.SignatureHeader.FromString(
        common_pb2.Payload.FromString(env.payload).header.signature_header
    )
    try:
        ident = membership.verify_signature(shdr.creator, env.payload, env.signature)
        if ident.msp_id != config.orderer.msp_id:
            run.add("block 0", f"genesis signed by {ident.msp_id}, not the orderer")
    except TensorLedgerError as exc:
        run.add("block 0", f"genesis signature: {exc}")
    return config


def _verify(
    store: ChannelStore,
    network_id: str,
    channel: str,
    progress: Callable[[int, int], None] | None,
) -> VerifyReport:
    run = _Run()
    problems = [str(r[0]) for r in store.conn.execute("PRAGMA integrity_check(5)")]
    if problems != ["ok"]:
        # SQLite's own structures (pages, indexes) disagree: lookups may silently miss rows.
        run.add("database", "SQLite integrity check failed: " + "; ".join(problems))
    if store.get_meta("network_id") != network_id.encode():
        run.add("database", "network id in the channel database differs from network.json")
    height = store.height()
    if height == 0:
        run.add("block 0", "channel has no genesis block")
        return VerifyReport(channel, 0, 0, 0, 0, tuple(run.findings))
    config = _genesis(store, run)
    if config is None:
        return VerifyReport(channel, height, 0, 0, 0, tuple(run.findings))
    replay = _Replay(run, store, config)
    rows = store.block_rows()
    while True:
        try:
            row = next(rows, None)
        except (sqlite3.Error, ValueError, TypeError) as exc:
            run.add(f"block {replay.next_number}", f"unreadable row: {exc}")
            break
        if row is None or not replay.block(*row):
            break
        if progress is not None:
            progress(replay.next_number, height)
    n_cp = 0
    try:
        n_cp = _check_checkpoints(
            run, store, replay.log, replay.block_of_size, network_id, channel, config
        )
        _check_log_nodes(run, store, replay.log)
        _compare_state(run, store, replay.state)
        _compare_history(run, store, replay.history)
        _compare_events(run, store, replay.events)
    except (sqlite3.Error, ValueError, TypeError, DecodeError) as exc:
        # A row so damaged that it cannot even be read is itself the finding.
        run.add("database", f"unreadable rows: {exc}")
    return VerifyReport(channel, height, replay.n_tx, replay.n_valid, n_cp, tuple(run.findings))


_HistoryRow = tuple[str, str, int, int, str, bytes | None, int, int, int]


class _Replay:
    """Walks the chain block by block, re-deriving everything the committer stored."""

    def __init__(self, run: _Run, store: ChannelStore, config: ChannelConfig) -> None:
        self.run = run
        self.store = store
        self.config = config
        self.membership = membership_for(config)
        self.state = _ReplayState()
        self.validator = BlockValidator(config, self.membership, self.state)
        self.log = merkle.MerkleTree()
        self.block_of_size: dict[int, int] = {}
        self.prev_hash = b""
        self.prev_commit = b""
        self.history: list[_HistoryRow] = []
        self.events: list[tuple[int, int, str, str, str, bytes]] = []
        self.n_tx = 0
        self.n_valid = 0
        self.next_number = 0

    def block(self, number: int, header_raw: bytes, metadata_raw: bytes) -> bool:
        """Check one block; False when the chain cannot be followed further."""
        where = f"block {number}"
        if number != self.next_number:
            self.run.add(f"block {self.next_number}", f"missing (next stored block is {number})")
            return False
        self.next_number += 1
        try:
            header = common_pb2.BlockHeader.FromString(header_raw)
            metadata = common_pb2.BlockMetadata.FromString(metadata_raw)
            signatures = common_pb2.Metadata.FromString(metadata.metadata[common_pb2.SIGNATURES])
            stored_commit = common_pb2.Metadata.FromString(
                metadata.metadata[common_pb2.COMMIT_HASH]
            ).value
            stored_filter = bytes(metadata.metadata[common_pb2.TRANSACTIONS_FILTER])
            records = self.store.txs_in_block(number)
        except (DecodeError, IndexError, sqlite3.Error, ValueError, TypeError) as exc:
            self.run.add(where, f"header, metadata or transactions unreadable: {exc}")
            return False
        envelopes = [r.envelope for r in records]
        self._chain(where, number, header, signatures, envelopes)
        if [r.index for r in records] != list(range(len(records))):
            self.run.add(where, "transaction positions are not contiguous")
        codes, leaves, valid_rwsets, tx_ids = self._replay(number, envelopes)
        self.n_tx += len(records)
        self.n_valid += codes.count(VALID)
        for r, code, leaf, tx_id in zip(records, codes, leaves, tx_ids, strict=True):
            if r.tx_id != tx_id:
                self.run.add(
                    f"{where} tx {r.index} ({r.tx_id[:16]})",
                    f"stored transaction id differs from the envelope's ({tx_id[:16]})",
                )
            elif r.code != code:
                self.run.add(
                    f"{where} tx {r.index} ({r.tx_id[:16]})",
                    f"stored code {code_name(r.code)} but re-validation gives {code_name(code)}",
                )
            elif r.leaf != leaf:
                self.run.add(
                    f"{where} tx {r.index} ({r.tx_id[:16]})", "Merkle log position differs"
                )
        if stored_filter != bytes(codes):
            self.run.add(where, "TRANSACTIONS_FILTER metadata differs from re-validation")
        commit = blocks.commit_hash(self.prev_commit, valid_rwsets)
        if stored_commit != commit:
            self.run.add(where, "COMMIT_HASH differs from the replayed state updates")
        self.prev_commit = commit
        self.block_of_size[self.log.size] = number
        return True

    def _chain(
        self,
        where: str,
        number: int,
        header: common_pb2.BlockHeader,
        signatures: common_pb2.Metadata,
        envelopes: list[bytes],
    ) -> None:
        if header.number != number:
            self.run.add(where, f"header says block {header.number}")
        if header.previous_hash != self.prev_hash:
            self.run.add(where, "previous_hash does not match the hash of the block before")
        if header.data_hash != blocks.data_hash(envelopes):
            self.run.add(where, "data_hash does not match its transactions (one was altered)")
        _check_orderer_signature(self.run, where, header, signatures, self.membership, self.config)
        self.prev_hash = blocks.header_hash(header)

    def _replay(
        self, number: int, envelopes: list[bytes]
    ) -> tuple[list[int], list[int | None], list[tuple[str, bytes]], list[str]]:
        if number == 0:
            # The genesis CONFIG transaction is checked by _genesis and is leaf 0.
            self.log.append(blocks.log_entry(0, 0, envelopes[0] if envelopes else b""))
            n = len(envelopes)
            return [VALID] * n, [0] * n, [], [""] * n
        checked = [stateless_check(e, self.config, self.membership) for e in envelopes]
        codes = self.validator.validate(number, checked)
        tx_ids = [c.parsed.tx_id if c.parsed is not None else "" for c in checked]
        leaves: list[int | None] = []
        valid_rwsets: list[tuple[str, bytes]] = []
        for i, c in enumerate(checked):
            if codes[i] != VALID:
                leaves.append(None)
                continue
            assert c.parsed is not None and c.rwset is not None
            tx = c.parsed
            leaves.append(self.log.append(blocks.log_entry(number, i, c.envelope)))
            valid_rwsets.append((tx.tx_id, tx.rwset))
            self.state.tx_ids.add(tx.tx_id)
            for ns in c.rwset:
                for key, value in ns.writes.items():
                    self.state.put(ns.namespace, key, value, Version(number, i))
                    self.history.append(
                        (
                            ns.namespace, key, number, i, tx.tx_id, value, int(value is None),
                            tx.timestamp_seconds, tx.timestamp_nanos,
                        )
                    )  # fmt: skip
            if tx.event is not None:
                self.events.append(
                    (number, i, tx.chaincode, tx.event.event_name, tx.tx_id, tx.event.payload)
                )
        return codes, leaves, valid_rwsets, tx_ids


def _check_orderer_signature(
    run: _Run,
    where: str,
    header: common_pb2.BlockHeader,
    signatures: common_pb2.Metadata,
    membership: MembershipRegistry,
    config: ChannelConfig,
) -> None:
    if not signatures.signatures:
        run.add(where, "no orderer signature")
        return
    try:
        shdr = common_pb2.SignatureHeader.FromString(signatures.signatures[0].signature_header)
        ident = membership.verify_signature(
            shdr.creator,
            blocks.signed_bytes(signatures, header),
            signatures.signatures[0].signature,
        )
    except (TensorLedgerError, DecodeError) as exc:
        run.add(where, f"orderer signature does not verify: {exc}")
        return
    if ident.msp_id != config.orderer.msp_id:
        run.add(where, f"block signed by {ident.msp_id}, not the orderer")


def _check_checkpoints(
    run: _Run,
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


def _check_log_nodes(run: _Run, store: ChannelStore, log: merkle.MerkleTree) -> None:
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


def _compare_state(run: _Run, store: ChannelStore, state: _ReplayState) -> None:
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


def _compare_history(run: _Run, store: ChannelStore, history: list[_HistoryRow]) -> None:
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


def _compare_events(
    run: _Run, store: ChannelStore, events: list[tuple[int, int, str, str, str, bytes]]
) -> None:
    stored = list(store.events_from(0))
    for mine, theirs in zip(events, stored, strict=False):
        if mine != theirs:
            run.add(f"event block {mine[0]} tx {mine[1]}", "differs from the transaction's event")
            return
    if len(events) != len(stored):
        run.add("events", f"{len(stored)} stored, {len(events)} expected")
