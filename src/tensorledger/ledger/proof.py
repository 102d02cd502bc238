"""Offline proofs: a transaction is in the ledger; a later ledger extends an earlier one.

A `TransactionProof` carries the transaction envelope, its block and position
(both bound into the log entry), its leaf in the channel's RFC 9162 Merkle
log, the audit path and the orderer-signed checkpoint; anyone holding the
orderer's note verifier key can check it with no access to the ledger. A
`ConsistencyProof` shows that the log at one checkpoint is a prefix of the log
at a later one: nothing recorded was rewritten or dropped.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from fabric_protos.common import common_pb2
from google.protobuf.message import DecodeError

from tensorledger.crypto import merkle
from tensorledger.crypto.checkpoint import Checkpoint, NoteVerifier, verify_checkpoint
from tensorledger.errors import IntegrityError, InvalidRequestError
from tensorledger.ledger.block import log_entry


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidRequestError(f"proof field {what} must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise InvalidRequestError(f"proof field {what} is not valid base64") from None


def _verifier(key: str | NoteVerifier) -> NoteVerifier:
    return key if isinstance(key, NoteVerifier) else NoteVerifier.from_verifier_key(key)


@dataclass(frozen=True, slots=True)
class TransactionProof:
    """Proof that one transaction envelope is in a channel's log at a signed checkpoint."""

    tx_id: str
    channel: str
    block: int
    index: int
    leaf_index: int
    envelope: bytes
    path: tuple[bytes, ...]
    checkpoint: str

    def verify(self, verifier_key: str | NoteVerifier) -> Checkpoint:
        """Check everything offline; IntegrityError names the first thing that fails."""
        cp = verify_checkpoint(self.checkpoint, _verifier(verifier_key))
        try:
            payload = common_pb2.Payload.FromString(
                common_pb2.Envelope.FromString(self.envelope).payload
            )
            chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        except DecodeError:
            raise IntegrityError(f"transaction {self.tx_id}", "envelope does not decode") from None
        if chdr.tx_id != self.tx_id or chdr.channel_id != self.channel:
            raise IntegrityError(
                f"transaction {self.tx_id}",
                f"envelope is transaction {chdr.tx_id!r} on channel {chdr.channel_id!r}",
            )
        if not (0 <= self.block < 1 << 63 and 0 <= self.index < 1 << 31):
            raise IntegrityError(f"transaction {self.tx_id}", "block or position out of range")
        entry = log_entry(self.block, self.index, self.envelope)
        if not merkle.verify_inclusion(entry, self.leaf_index, cp.size, list(self.path), cp.root):
            raise IntegrityError(
                f"transaction {self.tx_id}",
                f"inclusion proof for block {self.block} position {self.index} (leaf "
                f"{self.leaf_index}) does not match the root of checkpoint size {cp.size}",
            )
        return cp

    def to_json(self) -> str:
        """A self-contained JSON document another organisation can verify."""
        return json.dumps(
            {
                "type": "tensorledger.TransactionProof/v1",
                "tx_id": self.tx_id,
                "channel": self.channel,
                "block": self.block,
                "index": self.index,
                "leaf_index": self.leaf_index,
                "envelope": _b64(self.envelope),
                "path": [_b64(h) for h in self.path],
                "checkpoint": self.checkpoint,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> TransactionProof:
        """Parse `to_json` output; InvalidRequestError names the malformed field."""
        try:
            raw = json.loads(text)
            if raw.get("type") != "tensorledger.TransactionProof/v1":
                raise InvalidRequestError("not a tensorledger transaction proof")
            return cls(
                tx_id=str(raw["tx_id"]),
                channel=str(raw["channel"]),
                block=int(raw["block"]),
                index=int(raw["index"]),
                leaf_index=int(raw["leaf_index"]),
                envelope=_unb64(raw["envelope"], "envelope"),
                path=tuple(_unb64(h, "path") for h in raw["path"]),
                checkpoint=str(raw["checkpoint"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequestError(f"malformed proof: {exc}") from None


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Proof that the log at `old_checkpoint` is a prefix of the log at `new_checkpoint`."""

    old_checkpoint: str
    new_checkpoint: str
    path: tuple[bytes, ...]

    def verify(self, verifier_key: str | NoteVerifier) -> tuple[Checkpoint, Checkpoint]:
        """Check both signatures and the RFC 9162 consistency path."""
        verifier = _verifier(verifier_key)
        old = verify_checkpoint(self.old_checkpoint, verifier)
        new = verify_checkpoint(self.new_checkpoint, verifier, origin=old.origin)
        if not merkle.verify_consistency(old.size, new.size, old.root, new.root, list(self.path)):
            raise IntegrityError(
                "checkpoint",
                f"log at size {new.size} is not an extension of the log at size {old.size}",
            )
        return old, new

    def to_json(self) -> str:
        """JSON form for handing to another party."""
        return json.dumps(
            {
                "type": "tensorledger.ConsistencyProof/v1",
                "old_checkpoint": self.old_checkpoint,
                "new_checkpoint": self.new_checkpoint,
                "path": [_b64(h) for h in self.path],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> ConsistencyProof:
        """Parse `to_json` output."""
        try:
            raw = json.loads(text)
            if raw.get("type") != "tensorledger.ConsistencyProof/v1":
                raise InvalidRequestError("not a tensorledger consistency proof")
            return cls(
                str(raw["old_checkpoint"]),
                str(raw["new_checkpoint"]),
                tuple(_unb64(h, "path") for h in raw["path"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequestError(f"malformed proof: {exc}") from None
