"""Block-based inclusion proofs for a real Fabric network, checkable offline.

Fabric keeps no Merkle log of transactions; what it does keep is a hash-chained
block whose header the orderer signs. A `FabricBlockProof` therefore carries the
whole block holding the transaction and the previous block's header: the
envelope must be in the block's data, the data must hash to the header's
data_hash, the previous header must hash to its previous_hash, and an orderer
whose certificate the verifier's orderer CA issued must have signed the header.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from fabric_protos.common import common_pb2, configtx_pb2
from fabric_protos.msp import msp_config_pb2
from google.protobuf.message import DecodeError

from tensorledger.crypto.msp import Identity
from tensorledger.errors import IntegrityError, InvalidRequestError
from tensorledger.ledger.block import data_hash, header_hash, signed_bytes

#: index of the orderer's signatures and of the peer's validation codes in block metadata
SIGNATURES = common_pb2.SIGNATURES
TRANSACTIONS_FILTER = common_pb2.TRANSACTIONS_FILTER

_TYPE = "tensorledger.FabricBlockProof/v1"


def _orderer_cas(verifier_key: str | bytes | Sequence[bytes]) -> list[x509.Certificate]:
    """Orderer-organisation CA certificates from PEM text (one or several concatenated)."""
    pems = [verifier_key] if isinstance(verifier_key, str | bytes) else list(verifier_key)
    certs: list[x509.Certificate] = []
    for pem in pems:
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            certs.extend(x509.load_pem_x509_certificates(data))
        except ValueError as exc:
            raise InvalidRequestError(f"orderer CA certificate is not PEM: {exc}") from None
    if not certs:
        raise InvalidRequestError("no orderer CA certificate to verify the block signature with")
    return certs


def _signed_by_orderer(block: common_pb2.Block, cas: Sequence[x509.Certificate]) -> str:
    """The name of an orderer, issued by one of `cas`, whose signature on the header verifies."""
    where = f"block {block.header.number}"
    if len(block.metadata.metadata) <= SIGNATURES:
        raise IntegrityError(where, "has no orderer signature metadata")
    try:
        metadata = common_pb2.Metadata.FromString(block.metadata.metadata[SIGNATURES])
    except DecodeError:
        raise IntegrityError(where, "orderer signature metadata does not decode") from None
    for i, sig in enumerate(metadata.signatures):
        try:
            shdr = common_pb2.SignatureHeader.FromString(sig.signature_header)
            signer = Identity.deserialize(shdr.creator)
        except (DecodeError, InvalidRequestError):
            continue
        for ca in cas:
            try:
                signer.certificate.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            if signer.verify(signed_bytes(metadata, block.header, i), sig.signature):
                return str(signer)
    raise IntegrityError(where, "header is not signed by an orderer of the trusted orderer CA")


@dataclass(frozen=True, slots=True)
class FabricBlockProof:
    """Proof that transaction `tx_id` is envelope `index` of an orderer-signed Fabric block."""

    tx_id: str
    channel: str
    block_number: int
    index: int
    #: the serialized `common.Block` holding the transaction
    block_bytes: bytes
    #: the serialized `common.BlockHeader` of the block before it
    previous_header: bytes

    @property
    def envelope(self) -> bytes:
        """The transaction's envelope bytes (unverified until `verify` passes)."""
        return bytes(common_pb2.Block.FromString(self.block_bytes).data.data[self.index])

    def verify(self, verifier_key: str | bytes | Sequence[bytes]) -> str:
        """Check everything offline; IntegrityError names the first thing that fails.

        `verifier_key` is the PEM of the orderer organisation's CA. Returns the
        name of the orderer whose signature verified. The validation code in
        metadata is written by the peer and is not covered by the orderer's
        signature; it is checked as the peer reported it.
        """
        where = f"transaction {self.tx_id}"
        cas = _orderer_cas(verifier_key)
        try:
            block = common_pb2.Block.FromString(self.block_bytes)
            previous = common_pb2.BlockHeader.FromString(self.previous_header)
        except DecodeError:
            raise IntegrityError(where, "block or previous header does not decode") from None
        number = block.header.number
        if number != self.block_number or number == 0:
            raise IntegrityError(where, f"block is number {number}, not {self.block_number}")
        if data_hash(block.data.data) != block.header.data_hash:
            raise IntegrityError(f"block {number}", "data does not match the header's data_hash")
        if previous.number != number - 1 or header_hash(previous) != block.header.previous_hash:
            raise IntegrityError(
                f"block {number}", f"previous_hash does not match the header of block {number - 1}"
            )
        if not 0 <= self.index < len(block.data.data):
            raise IntegrityError(where, f"position {self.index} is not in block {number}")
        self._check_envelope(block.data.data[self.index], where)
        filter_ = (
            block.metadata.metadata[TRANSACTIONS_FILTER]
            if len(block.metadata.metadata) > TRANSACTIONS_FILTER
            else b""
        )
        if len(filter_) != len(block.data.data) or filter_[self.index] != 0:
            raise IntegrityError(where, f"is not marked VALID in block {number}")
        return _signed_by_orderer(block, cas)

    def _check_envelope(self, envelope: bytes, where: str) -> None:
        try:
            payload = common_pb2.Payload.FromString(
                common_pb2.Envelope.FromString(envelope).payload
            )
            chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        except DecodeError:
            raise IntegrityError(where, "envelope does not decode") from None
        if chdr.tx_id != self.tx_id or chdr.channel_id != self.channel:
            raise IntegrityError(
                where, f"envelope is transaction {chdr.tx_id!r} on channel {chdr.channel_id!r}"
            )

    def to_json(self) -> str:
        """A self-contained JSON document another organisation can verify."""
        return json.dumps(
            {
                "type": _TYPE,
                "tx_id": self.tx_id,
                "channel": self.channel,
                "block": self.block_number,
                "index": self.index,
                "block_bytes": base64.b64encode(self.block_bytes).decode(),
                "previous_header": base64.b64encode(self.previous_header).decode(),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> FabricBlockProof:
        """Parse `to_json` output; InvalidRequestError names what is malformed."""
        try:
            raw = json.loads(text)
            if raw.get("type") != _TYPE:
                raise InvalidRequestError("not a tensorledger Fabric block proof")
            return cls(
                tx_id=str(raw["tx_id"]),
                channel=str(raw["channel"]),
                block_number=int(raw["block"]),
                index=int(raw["index"]),
                block_bytes=base64.b64decode(raw["block_bytes"], validate=True),
                previous_header=base64.b64decode(raw["previous_header"], validate=True),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequestError(f"malformed proof: {exc}") from None


def find_transaction(block: common_pb2.Block, tx_id: str) -> int:
    """Position of `tx_id` in the block's data; IntegrityError if it is not there."""
    for i, envelope in enumerate(block.data.data):
        try:
            payload = common_pb2.Payload.FromString(
                common_pb2.Envelope.FromString(envelope).payload
            )
            chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        except DecodeError:
            continue
        if chdr.tx_id == tx_id:
            return i
    raise IntegrityError(f"block {block.header.number}", f"does not contain transaction {tx_id}")


def orderer_root_certs(config_block: common_pb2.Block) -> bytes:
    """PEM root CAs of every orderer organisation in a channel configuration block.

    For a client whose profile names no orderer CA: the channel's own
    configuration is what Fabric's peers check orderer signatures against.
    """
    where = f"config block {config_block.header.number}"
    try:
        envelope = common_pb2.Envelope.FromString(config_block.data.data[0])
        payload = common_pb2.Payload.FromString(envelope.payload)
        config = configtx_pb2.ConfigEnvelope.FromString(payload.data).config
        orderer = config.channel_group.groups["Orderer"]
        pems = []
        for org in orderer.groups.values():
            msp = msp_config_pb2.MSPConfig.FromString(org.values["MSP"].value)
            pems.extend(msp_config_pb2.FabricMSPConfig.FromString(msp.config).root_certs)
    except (DecodeError, IndexError, KeyError):
        raise IntegrityError(where, "is not a channel configuration with an orderer") from None
    if not pems:
        raise IntegrityError(where, "names no orderer root CA")
    return b"".join(pems)


__all__ = ["FabricBlockProof", "find_transaction", "orderer_root_certs"]
