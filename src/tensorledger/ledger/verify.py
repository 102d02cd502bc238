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

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fabric_protos.common import common_pb2
from google.protobuf.message import DecodeError

from tensorledger.crypto import merkle
from tensorledger.crypto.msp import MembershipRegistry
from tensorledger.errors import ConfigError, TensorLedgerError
from tensorledger.ledger import block as blocks
from tensorledger.ledger._audit import (
    Finding,
    HistoryRow,
    ReplayState,
    Run,
    check_checkpoints,
    check_log_nodes,
    compare_events,
    compare_history,
    compare_state,
)
from tensorledger.ledger.channel import membership_for
from tensorledger.ledger.checks import VALID, code_name, stateless_check
from tensorledger.ledger.config import ChannelConfig
from tensorledger.ledger.network import EmbeddedNetwork, channel_db
from tensorledger.ledger.rwset import Version
from tensorledger.ledger.store import ChannelStore
from tensorledger.ledger.validator import BlockValidator


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


def _genesis(store: ChannelStore, run: Run) -> ChannelConfig | None:
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
    run = Run()
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
        n_cp = check_checkpoints(
            run, store, replay.log, replay.block_of_size, network_id, channel, config
        )
        check_log_nodes(run, store, replay.log)
        compare_state(run, store, replay.state)
        compare_history(run, store, replay.history)
        compare_events(run, store, replay.events)
    except (sqlite3.Error, ValueError, TypeError, DecodeError) as exc:
        # A row so damaged that it cannot even be read is itself the finding.
        run.add("database", f"unreadable rows: {exc}")
    return VerifyReport(channel, height, replay.n_tx, replay.n_valid, n_cp, tuple(run.findings))


class _Replay:
    """Walks the chain block by block, re-deriving everything the committer stored."""

    def __init__(self, run: Run, store: ChannelStore, config: ChannelConfig) -> None:
        self.run = run
        self.store = store
        self.config = config
        self.membership = membership_for(config)
        self.state = ReplayState()
        self.validator = BlockValidator(config, self.membership, self.state)
        self.log = merkle.MerkleTree()
        self.block_of_size: dict[int, int] = {}
        self.prev_hash = b""
        self.prev_commit = b""
        self.history: list[HistoryRow] = []
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
    run: Run,
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


__all__ = ["Finding", "VerifyReport", "verify_channel", "verify_network"]
