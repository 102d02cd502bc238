"""Stateless transaction checks: decoding, transaction id, creator and endorser signatures.

They need only the envelope and the channel's MSPs, so they run in parallel
over a block's transactions (`cryptography` releases the GIL while
verifying) before the sequential, state-dependent validation.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabric_protos.common import common_pb2
from fabric_protos.peer import transaction_pb2
from google.protobuf.message import DecodeError

from tensorledger.crypto.msp import MembershipRegistry
from tensorledger.errors import IdentityError, InvalidRequestError
from tensorledger.ledger.config import ChannelConfig
from tensorledger.ledger.proposal import compute_tx_id
from tensorledger.ledger.rwset import NamespaceRWSet, decode_rwset
from tensorledger.ledger.transaction import ParsedTransaction, parse_envelope

Code = transaction_pb2.TxValidationCode
VALID = Code.Value("VALID")


def code_name(code: int) -> str:
    """Fabric's name of a validation code (or UNKNOWN(n) for a number outside the enum)."""
    try:
        return str(Code.Name(code))
    except ValueError:
        return f"UNKNOWN({code})"


@dataclass(slots=True)
class Checked:
    """A transaction after the stateless checks (signatures), before MVCC."""

    envelope: bytes
    parsed: ParsedTransaction | None
    code: int
    endorsers: tuple[tuple[str, str], ...] = ()
    rwset: list[NamespaceRWSet] | None = None


def stateless_check(
    envelope: bytes, config: ChannelConfig, membership: MembershipRegistry
) -> Checked:
    """Checks that need no world state: parse, tx id, creator and endorser signatures.

    Run in parallel over a block's transactions; `cryptography` releases the
    GIL while verifying.
    """
    try:
        tx = parse_envelope(envelope)
    except (InvalidRequestError, DecodeError):
        return Checked(envelope, None, Code.Value("BAD_PAYLOAD"))
    if tx.header_type != common_pb2.ENDORSER_TRANSACTION:
        return Checked(envelope, tx, Code.Value("UNKNOWN_TX_TYPE"))
    if tx.channel != config.channel:
        return Checked(envelope, tx, Code.Value("TARGET_CHAIN_NOT_FOUND"))
    if compute_tx_id(tx.nonce, tx.creator) != tx.tx_id:
        return Checked(envelope, tx, Code.Value("BAD_PROPOSAL_TXID"))
    try:
        creator = membership.verify_signature(tx.creator, tx.payload, tx.signature)
    except (IdentityError, InvalidRequestError):
        return Checked(envelope, tx, Code.Value("BAD_CREATOR_SIGNATURE"))
    if creator.msp_id not in config.msp_ids:
        # The orderer organisation signs blocks, it does not write application data.
        return Checked(envelope, tx, Code.Value("BAD_CREATOR_SIGNATURE"))
    # The endorsers signed a hash of this very proposal: endorsements cannot be moved
    # onto another transaction's header or arguments.
    if tx.proposal_hash != tx.endorsed_proposal_hash:
        return Checked(envelope, tx, Code.Value("BAD_RESPONSE_PAYLOAD"))
    try:
        rwset = decode_rwset(tx.rwset)
    except (DecodeError, InvalidRequestError):
        return Checked(envelope, tx, Code.Value("BAD_RWSET"))
    # Reads of called chaincodes are fine (and MVCC-checked); writes belong to the invoked
    # chaincode alone, whose endorsement policy is the one evaluated.
    if any(ns.namespace != tx.chaincode and ns.writes for ns in rwset):
        return Checked(envelope, tx, Code.Value("ILLEGAL_WRITESET"))
    endorsers: dict[bytes, tuple[str, str]] = {}
    for e in tx.endorsements:
        try:
            ident = membership.verify_signature(
                e.endorser, tx.proposal_response_payload + e.endorser, e.signature
            )
        except (IdentityError, InvalidRequestError):
            # Fabric ignores endorsements that do not verify; the policy decides.
            continue
        endorsers[e.endorser] = (ident.msp_id, str(ident.role))
    return Checked(envelope, tx, VALID, tuple(endorsers.values()), rwset)
