"""The committing peer: validates each ordered transaction and applies the valid ones.

For each transaction of a block it records Fabric's validation code:
creator signature and certificate (BAD_CREATOR_SIGNATURE), transaction id
(BAD_PROPOSAL_TXID, DUPLICATE_TXID), endorsements against the chaincode's
endorsement policy (ENDORSEMENT_POLICY_FAILURE), read versions and range
queries against state including earlier transactions of the same block
(MVCC_READ_CONFLICT, PHANTOM_READ_CONFLICT). Valid write sets go to world
state, key history and the event index; valid envelopes are appended to the
Merkle log; the orderer signs a checkpoint of the log. All in one SQLite
transaction: a block is committed whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fabric_protos.common import common_pb2

from tensorledger.crypto import merkle
from tensorledger.crypto.checkpoint import Checkpoint, NoteSigner
from tensorledger.crypto.msp import MembershipRegistry, SigningIdentity
from tensorledger.errors import TensorLedgerError
from tensorledger.ledger import block as blocks
from tensorledger.ledger.checks import VALID, Checked, stateless_check
from tensorledger.ledger.config import ChannelConfig
from tensorledger.ledger.store import ChannelStore
from tensorledger.ledger.validator import BlockValidator


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    """What the committer reports back for each transaction of a block."""

    number: int
    tx_ids: tuple[str, ...]
    codes: tuple[int, ...]
    checkpoint: str


class Committer:
    """Validates and commits blocks of one channel."""

    def __init__(
        self,
        config: ChannelConfig,
        membership: MembershipRegistry,
        store: ChannelStore,
        orderer: SigningIdentity,
        note_signer: NoteSigner,
        origin: str,
        workers: int = 2,
    ) -> None:
        self.config = config
        self.membership = membership
        self.store = store
        self.orderer = orderer
        self.note_signer = note_signer
        self.origin = origin
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="validate")

    def close(self) -> None:
        """Stop the validation threads."""
        self._pool.shutdown(wait=True)

    def check_all(self, envelopes: Sequence[bytes]) -> list[Checked]:
        """The stateless checks of a whole block, spread over the worker threads."""
        if len(envelopes) < 8:
            return [stateless_check(e, self.config, self.membership) for e in envelopes]
        return list(
            self._pool.map(lambda e: stateless_check(e, self.config, self.membership), envelopes)
        )

    def commit(self, envelopes: Sequence[bytes]) -> CommittedBlock:
        """Cut, validate and durably commit one block holding `envelopes`."""
        checked = self.check_all(envelopes)
        with self.store.write() as conn:
            number = self.store.height()
            prev_hash, prev_commit = self._tip(number)
            header = blocks.make_header(number, prev_hash, envelopes)
            codes = BlockValidator(self.config, self.membership, self.store).validate(
                number, checked
            )
            tx_ids = tuple(c.parsed.tx_id if c.parsed else "" for c in checked)
            log = merkle.MerkleTree(self.store, size=self.store.log_size())
            leaves: list[bytes] = []
            valid_rwsets: list[tuple[str, bytes]] = []
            rows = []
            for i, c in enumerate(checked):
                leaf = None
                if codes[i] == VALID:
                    assert c.parsed is not None
                    leaf = log.size + len(leaves)
                    leaves.append(merkle.leaf_hash(blocks.log_entry(number, i, c.envelope)))
                    valid_rwsets.append((c.parsed.tx_id, c.parsed.rwset))
                rows.append((number, i, tx_ids[i], codes[i], leaf, c.envelope))
            conn.executemany(
                "INSERT INTO txs(block, idx, tx_id, code, leaf, envelope) VALUES (?,?,?,?,?,?)",
                rows,
            )
            self._apply(conn, number, checked, codes)
            if leaves:
                log.extend_hashes(leaves)
            checkpoint = Checkpoint(self.origin, log.size, log.root())
            note = self.note_signer.sign(checkpoint).to_text()
            conn.execute(
                "INSERT OR REPLACE INTO checkpoints(size, block, note) VALUES (?,?,?)",
                (log.size, number, note),
            )
            commit = blocks.commit_hash(prev_commit, valid_rwsets)
            metadata = blocks.build_metadata(
                blocks.orderer_signature(header, self.orderer), codes, commit
            )
            conn.execute(
                "INSERT INTO blocks(number, header, metadata) VALUES (?,?,?)",
                (number, header.SerializeToString(), metadata.SerializeToString()),
            )
        return CommittedBlock(number, tx_ids, tuple(codes), note)

    def _tip(self, number: int) -> tuple[bytes, bytes]:
        """Previous block hash and commit hash (empty for the genesis block)."""
        if number == 0:
            return b"", b""
        rows = list(self.store.block_rows(number - 1, number))
        if not rows:
            raise TensorLedgerError(f"block {number - 1} missing while committing {number}")
        _, header_raw, metadata_raw = rows[0]
        header = common_pb2.BlockHeader.FromString(header_raw)
        metadata = common_pb2.BlockMetadata.FromString(metadata_raw)
        commit = common_pb2.Metadata.FromString(metadata.metadata[common_pb2.COMMIT_HASH]).value
        return blocks.header_hash(header), commit

    def _apply(
        self,
        conn: object,
        number: int,
        checked: list[Checked],
        codes: list[int],
    ) -> None:
        import sqlite3

        assert isinstance(conn, sqlite3.Connection)
        upserts = []
        deletes = []
        history = []
        events = []
        for i, c in enumerate(checked):
            if codes[i] != VALID:
                continue
            tx = c.parsed
            assert tx is not None and c.rwset is not None
            for ns in c.rwset:
                for key, value in ns.writes.items():
                    if value is None:
                        deletes.append((ns.namespace, key))
                    else:
                        upserts.append((ns.namespace, key, value, number, i))
                    history.append(
                        (
                            ns.namespace, key, number, i, tx.tx_id, value,
                            int(value is None), tx.timestamp_seconds, tx.timestamp_nanos,
                        )
                    )  # fmt: skip
            if tx.event is not None:
                events.append(
                    (number, i, tx.chaincode, tx.event.event_name, tx.tx_id, tx.event.payload)
                )
        conn.executemany(
            "INSERT INTO state(ns, key, value, block, tx) VALUES (?,?,?,?,?) "
            "ON CONFLICT(ns, key) DO UPDATE SET value=excluded.value, block=excluded.block, "
            "tx=excluded.tx",
            upserts,
        )
        conn.executemany("DELETE FROM state WHERE ns=? AND key=?", deletes)
        conn.executemany(
            "INSERT INTO history(ns, key, block, tx, tx_id, value, is_delete, seconds, nanos) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            history,
        )
        conn.executemany(
            "INSERT INTO events(block, tx, chaincode, name, tx_id, payload) VALUES (?,?,?,?,?,?)",
            events,
        )
