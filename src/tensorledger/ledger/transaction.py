"""Endorsed transactions: proposal responses, assembling the envelope, parsing it back.

Mirrors Fabric's protoutil: an endorsement signs
`proposal_response_payload ‖ endorser identity`; the client wraps the payload
and the endorsements in a `Transaction` inside a signed `Envelope`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from fabric_protos.common import common_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from google.protobuf.message import DecodeError

from tensorledger.errors import EndorsementError, InvalidRequestError
from tensorledger.ledger.proposal import ParsedProposal, SignedProposal, Signer, strip_transient


def endorse_response(
    proposal: ParsedProposal,
    response: proposal_response_pb2.Response,
    rwset: bytes,
    event: chaincode_event_pb2.ChaincodeEvent | None,
    chaincode_version: str,
    endorser: Signer,
) -> proposal_response_pb2.ProposalResponse:
    """The endorsing peer's signed answer to a proposal, as Fabric's endorser builds it."""
    action = proposal_pb2.ChaincodeAction(
        results=rwset,
        events=event.SerializeToString() if event is not None else b"",
        response=response,
        chaincode_id=chaincode_pb2.ChaincodeID(name=proposal.chaincode, version=chaincode_version),
    )
    prp = proposal_response_pb2.ProposalResponsePayload(
        proposal_hash=proposal.proposal_hash(), extension=action.SerializeToString()
    ).SerializeToString()
    identity = endorser.serialize()
    return proposal_response_pb2.ProposalResponse(
        version=1,
        response=response,
        payload=prp,
        endorsement=proposal_response_pb2.Endorsement(
            endorser=identity, signature=endorser.sign(prp + identity)
        ),
    )


def assemble(
    proposal: SignedProposal,
    responses: Sequence[proposal_response_pb2.ProposalResponse],
    signer: Signer,
) -> common_pb2.Envelope:
    """The client's signed transaction envelope (protoutil.CreateSignedTx).

    All endorsers must have produced the same payload (same read/write set and
    response); otherwise Fabric's client refuses to assemble, and so do we.
    """
    if not responses:
        raise EndorsementError("no endorsements to assemble")
    payload = responses[0].payload
    for r in responses:
        if r.response.status >= 400:
            raise EndorsementError(f"endorsement failed: {r.response.message}")
        if r.payload != payload:
            raise EndorsementError(
                "endorsers returned different results (non-deterministic contract or state skew)"
            )
    header = common_pb2.Header.FromString(proposal.header)
    action_payload = transaction_pb2.ChaincodeActionPayload(
        chaincode_proposal_payload=strip_transient(proposal.payload),
        action=transaction_pb2.ChaincodeEndorsedAction(
            proposal_response_payload=payload,
            endorsements=[r.endorsement for r in responses],
        ),
    )
    tx = transaction_pb2.Transaction(
        actions=[
            transaction_pb2.TransactionAction(
                header=header.signature_header, payload=action_payload.SerializeToString()
            )
        ]
    )
    payload_bytes = common_pb2.Payload(
        header=header, data=tx.SerializeToString()
    ).SerializeToString()
    return common_pb2.Envelope(payload=payload_bytes, signature=signer.sign(payload_bytes))


@dataclass(frozen=True, slots=True)
class ParsedTransaction:
    """An endorser transaction decoded once for validation."""

    tx_id: str
    channel: str
    header_type: int
    creator: bytes
    nonce: bytes
    payload: bytes
    signature: bytes
    chaincode: str
    chaincode_version: str
    function: str
    args: tuple[bytes, ...]
    response: proposal_response_pb2.Response
    rwset: bytes
    event: chaincode_event_pb2.ChaincodeEvent | None
    proposal_response_payload: bytes
    endorsements: tuple[proposal_response_pb2.Endorsement, ...]
    timestamp_seconds: int
    timestamp_nanos: int
    #: SHA-256 over the transaction's headers and proposal payload (GetProposalHash2)
    proposal_hash: bytes = b""
    #: the proposal hash the endorsers signed, from the proposal response payload
    endorsed_proposal_hash: bytes = b""


def parse_envelope(envelope: bytes) -> ParsedTransaction:
    """Decode an endorser-transaction envelope; InvalidRequestError names what is malformed."""
    try:
        env = common_pb2.Envelope.FromString(envelope)
        payload = common_pb2.Payload.FromString(env.payload)
        chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
        if chdr.type != common_pb2.ENDORSER_TRANSACTION:
            return ParsedTransaction(
                chdr.tx_id, chdr.channel_id, chdr.type, shdr.creator, shdr.nonce, env.payload,
                env.signature, "", "", "", (), proposal_response_pb2.Response(), b"", None,
                b"", (), chdr.timestamp.seconds, chdr.timestamp.nanos,
            )  # fmt: skip
        tx = transaction_pb2.Transaction.FromString(payload.data)
        if len(tx.actions) != 1:
            raise InvalidRequestError(f"transaction has {len(tx.actions)} actions, expected 1")
        cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
        prp = proposal_response_pb2.ProposalResponsePayload.FromString(
            cap.action.proposal_response_payload
        )
        action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
        cpp = proposal_pb2.ChaincodeProposalPayload.FromString(cap.chaincode_proposal_payload)
        spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(cpp.input).chaincode_spec
        event = (
            chaincode_event_pb2.ChaincodeEvent.FromString(action.events) if action.events else None
        )
    except DecodeError as exc:
        raise InvalidRequestError(f"malformed transaction envelope: {exc}") from None
    args = tuple(spec.input.args)
    return ParsedTransaction(
        tx_id=chdr.tx_id,
        channel=chdr.channel_id,
        header_type=chdr.type,
        creator=shdr.creator,
        nonce=shdr.nonce,
        payload=env.payload,
        signature=env.signature,
        chaincode=action.chaincode_id.name,
        chaincode_version=action.chaincode_id.version,
        function=args[0].decode("utf-8", "replace") if args else "",
        args=args[1:],
        response=action.response,
        rwset=action.results,
        event=event,
        proposal_response_payload=cap.action.proposal_response_payload,
        endorsements=tuple(cap.action.endorsements),
        timestamp_seconds=chdr.timestamp.seconds,
        timestamp_nanos=chdr.timestamp.nanos,
        proposal_hash=hashlib.sha256(
            payload.header.channel_header
            + payload.header.signature_header
            + cap.chaincode_proposal_payload
        ).digest(),
        endorsed_proposal_hash=prp.proposal_hash,
    )
