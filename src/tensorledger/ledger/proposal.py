"""Fabric transaction proposals: building, signing and parsing them.

Shared by every backend: the embedded ledger's endorsers and a real Fabric
peer receive byte-for-byte the same `peer.SignedProposal`.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from fabric_protos.common import common_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2
from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError

from tensorledger.errors import InvalidRequestError

#: Fabric's client SDKs use 24 random bytes of nonce.
NONCE_SIZE = 24


class Signer(Protocol):
    """What building a proposal needs from an identity: its bytes and a signature."""

    @property
    def msp_id(self) -> str:
        """The organisation the identity belongs to."""
        ...

    def serialize(self) -> bytes:
        """Fabric `SerializedIdentity` bytes of the identity."""
        ...

    def sign(self, data: bytes) -> bytes:
        """ECDSA signature (DER, low-S) over `data`."""
        ...


def compute_tx_id(nonce: bytes, creator: bytes) -> str:
    """Fabric's transaction id: hex(SHA-256(nonce ‖ serialized creator))."""
    return hashlib.sha256(nonce + creator).hexdigest()


def _timestamp(now_ns: int | None = None) -> timestamp_pb2.Timestamp:
    ns = time.time_ns() if now_ns is None else now_ns
    return timestamp_pb2.Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


@dataclass(frozen=True, slots=True)
class SignedProposal:
    """A signed proposal, its transaction id and the pieces an assembler needs again."""

    tx_id: str
    proto: proposal_pb2.SignedProposal
    header: bytes
    payload: bytes


def build_proposal(
    signer: Signer,
    channel: str,
    chaincode: str,
    function: str,
    args: Sequence[bytes | str],
    *,
    transient: Mapping[str, bytes] | None = None,
    nonce: bytes | None = None,
    timestamp_ns: int | None = None,
) -> SignedProposal:
    """Build and sign an ENDORSER_TRANSACTION proposal as Fabric's Gateway SDK does."""
    creator = signer.serialize()
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    tx_id = compute_tx_id(nonce, creator)
    chaincode_id = chaincode_pb2.ChaincodeID(name=chaincode)
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.ENDORSER_TRANSACTION,
        timestamp=_timestamp(timestamp_ns),
        channel_id=channel,
        tx_id=tx_id,
        epoch=0,
        extension=proposal_pb2.ChaincodeHeaderExtension(
            chaincode_id=chaincode_id
        ).SerializeToString(),
    )
    signature_header = common_pb2.SignatureHeader(creator=creator, nonce=nonce)
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=signature_header.SerializeToString(),
    ).SerializeToString()
    encoded_args = [function.encode()] + [a.encode() if isinstance(a, str) else a for a in args]
    invocation = chaincode_pb2.ChaincodeInvocationSpec(
        chaincode_spec=chaincode_pb2.ChaincodeSpec(
            type=chaincode_pb2.ChaincodeSpec.NODE,
            chaincode_id=chaincode_id,
            input=chaincode_pb2.ChaincodeInput(args=encoded_args),
        )
    )
    payload = proposal_pb2.ChaincodeProposalPayload(
        input=invocation.SerializeToString(), TransientMap=dict(transient or {})
    ).SerializeToString()
    proposal_bytes = proposal_pb2.Proposal(header=header, payload=payload).SerializeToString()
    signed = proposal_pb2.SignedProposal(
        proposal_bytes=proposal_bytes, signature=signer.sign(proposal_bytes)
    )
    return SignedProposal(tx_id=tx_id, proto=signed, header=header, payload=payload)


@dataclass(frozen=True, slots=True)
class ParsedProposal:
    """The fields of a proposal an endorser acts on, decoded once."""

    tx_id: str
    channel: str
    chaincode: str
    function: str
    args: tuple[bytes, ...]
    creator: bytes
    nonce: bytes
    timestamp: timestamp_pb2.Timestamp
    proposal_bytes: bytes
    signature: bytes
    header: bytes
    payload: bytes
    chaincode_input: chaincode_pb2.ChaincodeInput
    transient: Mapping[str, bytes]

    def proposal_hash(self) -> bytes:
        """Fabric's proposal hash: SHA-256 of the headers and the payload without transient data."""
        return proposal_hash(self.header, self.payload)


def proposal_hash(header: bytes, payload: bytes) -> bytes:
    """SHA-256(channel header ‖ signature header ‖ payload stripped of its TransientMap).

    Fabric (protoutil.GetProposalHash1) hashes the proposal so that transient
    data, which never reaches the ledger, is not committed to.
    """
    hdr = common_pb2.Header.FromString(header)
    stripped = strip_transient(payload)
    return hashlib.sha256(hdr.channel_header + hdr.signature_header + stripped).digest()


def strip_transient(payload: bytes) -> bytes:
    """The proposal payload as it goes into the transaction: without the TransientMap."""
    cpp = proposal_pb2.ChaincodeProposalPayload.FromString(payload)
    if not cpp.TransientMap:
        return payload
    stripped: bytes = proposal_pb2.ChaincodeProposalPayload(input=cpp.input).SerializeToString()
    return stripped


def parse_proposal(signed: proposal_pb2.SignedProposal | bytes) -> ParsedProposal:
    """Decode a signed proposal, checking its shape and its transaction id.

    The signature is not checked here: that needs the channel's MSPs, which
    the endorser holds.
    """
    try:
        if isinstance(signed, bytes):
            signed = proposal_pb2.SignedProposal.FromString(signed)
        proposal = proposal_pb2.Proposal.FromString(signed.proposal_bytes)
        header = common_pb2.Header.FromString(proposal.header)
        channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
        signature_header = common_pb2.SignatureHeader.FromString(header.signature_header)
        extension = proposal_pb2.ChaincodeHeaderExtension.FromString(channel_header.extension)
        cpp = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
        invocation = chaincode_pb2.ChaincodeInvocationSpec.FromString(cpp.input)
    except DecodeError as exc:
        raise InvalidRequestError(f"malformed proposal: {exc}") from None
    if channel_header.type != common_pb2.ENDORSER_TRANSACTION:
        raise InvalidRequestError(
            f"malformed proposal: header type {channel_header.type} is not ENDORSER_TRANSACTION"
        )
    if not signature_header.creator or not signature_header.nonce:
        raise InvalidRequestError("malformed proposal: missing creator or nonce")
    expected = compute_tx_id(signature_header.nonce, signature_header.creator)
    if channel_header.tx_id != expected:
        raise InvalidRequestError(
            f"malformed proposal: transaction id {channel_header.tx_id!r} "
            "is not SHA-256(nonce ‖ creator)"
        )
    cc_input = invocation.chaincode_spec.input
    if not cc_input.args:
        raise InvalidRequestError("malformed proposal: no function name")
    name = extension.chaincode_id.name or invocation.chaincode_spec.chaincode_id.name
    if not name:
        raise InvalidRequestError("malformed proposal: no chaincode name")
    try:
        function = cc_input.args[0].decode()
    except UnicodeDecodeError:
        raise InvalidRequestError("malformed proposal: function name is not UTF-8") from None
    return ParsedProposal(
        tx_id=channel_header.tx_id,
        channel=channel_header.channel_id,
        chaincode=name,
        function=function,
        args=tuple(cc_input.args[1:]),
        creator=signature_header.creator,
        nonce=signature_header.nonce,
        timestamp=channel_header.timestamp,
        proposal_bytes=signed.proposal_bytes,
        signature=signed.signature,
        header=proposal.header,
        payload=proposal.payload,
        chaincode_input=cc_input,
        transient=dict(cpp.TransientMap),
    )
