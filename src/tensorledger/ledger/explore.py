"""Read-side views of a channel's ledger for people: block summaries, decoded transactions.

Pure reads of a `ChannelStore`; the CLI prints these and the REST explorer
will serve them. A transaction the committer marked invalid, or one that
does not even decode, still gets a view: an explorer must show what is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from fabric_protos.common import common_pb2
from google.protobuf.message import DecodeError

from tensorledger.crypto.msp import Identity
from tensorledger.errors import (
    IntegrityError,
    InvalidRequestError,
    NotFoundError,
    TensorLedgerError,
)
from tensorledger.ledger.block import assemble_block, header_hash
from tensorledger.ledger.checks import VALID, code_name
from tensorledger.ledger.lifecycle import LIFECYCLE, ChaincodeDefinition, definition_key
from tensorledger.ledger.rwset import decode_rwset
from tensorledger.ledger.store import ChannelStore, TxRecord
from tensorledger.ledger.transaction import ParsedTransaction, parse_envelope

#: arguments, values and payloads longer than this are cut in views
PREVIEW_CHARS = 80


class Read(NamedTuple):
    """A key read during endorsement and the version seen; None: the key did not exist."""

    namespace: str
    key: str
    version: tuple[int, int] | None


class Write(NamedTuple):
    """A key written by the transaction: a preview of the value, or deleted."""

    namespace: str
    key: str
    value: str | None
    deleted: bool


@dataclass(frozen=True, slots=True)
class BlockSummary:
    """One block at a glance: its hashes, how many transactions, how many valid, when."""

    number: int
    hash_hex: str
    previous_hash_hex: str
    data_hash_hex: str
    tx_count: int
    valid_count: int
    first_timestamp: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "number": self.number,
            "hash": self.hash_hex,
            "previous_hash": self.previous_hash_hex,
            "data_hash": self.data_hash_hex,
            "tx_count": self.tx_count,
            "valid_count": self.valid_count,
            "first_timestamp": self.first_timestamp,
        }


@dataclass(frozen=True, slots=True)
class TransactionInfo:
    """A transaction decoded for reading: who, what, which keys, and the committer's verdict.

    Fields that could not be decoded (a transaction rejected as BAD_PAYLOAD)
    are empty rather than missing, so every transaction has a view.
    """

    tx_id: str
    block: int
    index: int
    code: str
    type: str
    creator_msp: str
    creator_cn: str
    chaincode: str
    function: str
    args: tuple[str, ...]
    endorsers: tuple[str, ...]
    reads: tuple[Read, ...]
    writes: tuple[Write, ...]
    event: str | None
    timestamp: str | None
    response_status: int
    response_payload: str
    leaf: int | None

    @property
    def valid(self) -> bool:
        """Whether the committer accepted it (only valid transactions change state)."""
        return self.code == "VALID"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with reads and writes as objects rather than positional tuples."""
        return {
            "tx_id": self.tx_id,
            "block": self.block,
            "index": self.index,
            "code": self.code,
            "type": self.type,
            "creator": {"msp_id": self.creator_msp, "cn": self.creator_cn},
            "chaincode": self.chaincode,
            "function": self.function,
            "args": list(self.args),
            "endorsers": list(self.endorsers),
            "reads": [
                {
                    "namespace": r.namespace,
                    "key": r.key,
                    "version": None if r.version is None else list(r.version),
                }
                for r in self.reads
            ],
            "writes": [w._asdict() for w in self.writes],
            "event": self.event,
            "timestamp": self.timestamp,
            "response": {"status": self.response_status, "payload": self.response_payload},
            "leaf": self.leaf,
        }


def preview(data: bytes, limit: int = PREVIEW_CHARS) -> str:
    """Bytes as text for a person: UTF-8 with replacement, long values elided with their size."""
    text = data.decode("utf-8", "replace")
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(data)} bytes)"


def iso_time(seconds: int, nanos: int = 0) -> str:
    """A protobuf timestamp as ISO-8601 UTC with microseconds, e.g. 2026-01-02T03:04:05.123456Z.

    A timestamp no calendar can hold (a forged or damaged header) is shown as
    raw seconds rather than failing the whole view.
    """
    try:
        moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanos // 1000)
    except (OverflowError, OSError, ValueError):
        return f"{seconds}.{nanos:09d}s since 1970"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def block_summary(store: ChannelStore, number: int) -> BlockSummary:
    """The summary of one block; NotFoundError if the chain is shorter."""
    rows = list(store.block_rows(number, number + 1))
    if not rows:
        raise NotFoundError(_no_block(store, number))
    return _summary(store, *rows[0])


def blocks(
    store: ChannelStore, start: int = 0, limit: int | None = None, *, newest_first: bool = True
) -> list[BlockSummary]:
    """Summaries of blocks numbered `start` and up, newest first unless told otherwise.

    `limit` caps how many; newest first, those are the newest ones, which is
    what a person scanning a ledger (or a paging explorer) wants to see.
    """
    if limit is not None and limit <= 0:
        return []
    with store.snapshot():
        height = store.height()
        if newest_first:
            low = start if limit is None else max(start, height - limit)
            rows = list(store.block_rows(low, height))
            rows.reverse()
        else:
            high = height if limit is None else min(height, start + limit)
            rows = list(store.block_rows(start, high))
        return [_summary(store, *row) for row in rows]


def block(store: ChannelStore, number: int) -> common_pb2.Block:
    """A complete `common.Block` with data and metadata, as Fabric's deliver service returns it.

    Its bytes are what Fabric's own tools read
    (`configtxlator proto_decode --type common.Block`).
    """
    with store.snapshot():
        rows = list(store.block_rows(number, number + 1))
        if not rows:
            raise NotFoundError(_no_block(store, number))
        _, header, metadata = rows[0]
        envelopes = store.block_envelopes(number)
    try:
        assembled = assemble_block(
            common_pb2.BlockHeader.FromString(header),
            envelopes,
            common_pb2.BlockMetadata.FromString(metadata),
        )
    except DecodeError:
        raise IntegrityError(
            f"block {number}", "stored header or metadata does not decode"
        ) from None
    return assembled


def transaction(store: ChannelStore, tx_id: str) -> TransactionInfo:
    """A transaction by id (its valid occurrence if a replay was also ordered)."""
    record = store.tx(tx_id)
    if record is None:
        raise NotFoundError(f"no transaction {tx_id} on channel {_channel(store)}")
    return describe(record)


def transactions_in_block(store: ChannelStore, number: int) -> list[TransactionInfo]:
    """Every transaction of a block, in order, with its validation code."""
    with store.snapshot():
        records = store.txs_in_block(number)
        if not records and number >= store.height():
            raise NotFoundError(_no_block(store, number))
    return [describe(r) for r in records]


def contracts(store: ChannelStore) -> list[ChaincodeDefinition]:
    """The chaincodes committed on the channel through `_lifecycle`, in name order."""
    prefix = definition_key("")
    # The key after every 'namespaces/...' key: the prefix with its last character bumped.
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    found = []
    for _, value, _ in store.range_state(LIFECYCLE, prefix, end):
        try:
            found.append(ChaincodeDefinition.from_json(value))
        except ValueError:  # a damaged row is verify's to report, not the explorer's
            continue
    return found


def describe(record: TxRecord) -> TransactionInfo:
    """Decode a stored transaction into a view; undecodable parts stay empty."""
    code = _code(record.code)
    leaf = record.leaf if record.code == VALID else None
    try:
        parsed = parse_envelope(record.envelope)
    except (InvalidRequestError, DecodeError):
        return TransactionInfo(
            record.tx_id, record.block, record.index, code, "UNDECODABLE", "", "", "", "",
            (), (), (), (), None, None, 0, "", leaf,
        )  # fmt: skip
    creator_msp, creator_cn = _who(parsed.creator)
    reads, writes = _rwset(parsed)
    return TransactionInfo(
        tx_id=record.tx_id,
        block=record.block,
        index=record.index,
        code=code,
        type=_header_type(parsed.header_type),
        creator_msp=creator_msp,
        creator_cn=creator_cn,
        chaincode=parsed.chaincode,
        function=parsed.function,
        args=tuple(preview(a) for a in parsed.args),
        endorsers=tuple(":".join(_who(e.endorser)) for e in parsed.endorsements),
        reads=reads,
        writes=writes,
        event=parsed.event.event_name if parsed.event is not None else None,
        timestamp=iso_time(parsed.timestamp_seconds, parsed.timestamp_nanos),
        response_status=int(parsed.response.status),
        response_payload=preview(bytes(parsed.response.payload)),
        leaf=leaf,
    )


def _summary(store: ChannelStore, number: int, header: bytes, metadata: bytes) -> BlockSummary:
    try:
        parsed = common_pb2.BlockHeader.FromString(header)
        md = common_pb2.BlockMetadata.FromString(metadata)
    except DecodeError:
        raise IntegrityError(
            f"block {number}", "stored header or metadata does not decode"
        ) from None
    records = store.txs_in_block(number)
    first = None
    if records:
        try:
            tx = parse_envelope(records[0].envelope)
            first = iso_time(tx.timestamp_seconds, tx.timestamp_nanos)
        except (TensorLedgerError, DecodeError):
            first = None
    # TRANSACTIONS_FILTER (metadata index 2) is Fabric's record of each verdict.
    codes = md.metadata[2] if len(md.metadata) > 2 else bytes(r.code for r in records)
    return BlockSummary(
        number=number,
        hash_hex=header_hash(parsed).hex(),
        previous_hash_hex=parsed.previous_hash.hex(),
        data_hash_hex=parsed.data_hash.hex(),
        tx_count=len(records),
        valid_count=sum(1 for c in codes if c == VALID),
        first_timestamp=first,
    )


# A block names the same few certificates over and over, and parsing one (X.509, then
# the MSP checks) costs more than the rest of describing a transaction; keyed by the
# bytes themselves, so a changed certificate is parsed afresh.
@lru_cache(maxsize=1024)
def _who(serialized: bytes) -> tuple[str, str]:
    try:
        ident = Identity.deserialize(serialized)
    except TensorLedgerError:
        return "?", "?"
    return ident.msp_id, ident.common_name


def _rwset(parsed: ParsedTransaction) -> tuple[tuple[Read, ...], tuple[Write, ...]]:
    if not parsed.rwset:
        return (), ()
    try:
        namespaces = decode_rwset(parsed.rwset)
    except DecodeError:
        return (), ()
    reads = tuple(
        Read(ns.namespace, key, None if v is None else (v.block, v.tx))
        for ns in namespaces
        for key, v in ns.reads.items()
    )
    writes = tuple(
        Write(ns.namespace, key, None if value is None else preview(value), value is None)
        for ns in namespaces
        for key, value in ns.writes.items()
    )
    return reads, writes


def _code(value: int) -> str:
    try:
        return code_name(value)
    except ValueError:  # a tampered row; say what is there rather than fail the view
        return str(value)


def _header_type(value: int) -> str:
    try:
        return str(common_pb2.HeaderType.Name(value))
    except ValueError:
        return str(value)


def _channel(store: ChannelStore) -> str:
    # A channel's database is channels/<channel>.db; the store knows only its path.
    return store.path.stem


def _no_block(store: ChannelStore, number: int) -> str:
    return f"no block {number} on channel {_channel(store)} (height {store.height()})"


__all__ = [
    "BlockSummary",
    "Read",
    "TransactionInfo",
    "Write",
    "block",
    "block_summary",
    "blocks",
    "contracts",
    "describe",
    "iso_time",
    "preview",
    "transaction",
    "transactions_in_block",
]
