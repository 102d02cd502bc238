"""Fabric's failures as our errors, in one place: gRPC statuses, refusals, validation codes.

Every message names the node (peer or orderer address) and keeps Fabric's own
reason, so a user can tell a down peer from a refused signature.
"""

from __future__ import annotations

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_response_pb2

from tensorledger.errors import (
    CommitError,
    ContractError,
    EndorsementError,
    IdentityError,
    InvalidRequestError,
    MVCCConflictError,
    NotFoundError,
    TensorLedgerError,
    UnavailableError,
)
from tensorledger.ledger.checks import code_name


def map_rpc_error(exc: grpc.RpcError, what: str, timeout: float | None) -> TensorLedgerError:
    """Our error for a failed call to `what` (e.g. 'peer 127.0.0.1:7051'), with its message."""
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = (exc.details() if isinstance(exc, grpc.Call) else None) or str(exc)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return UnavailableError(f"timed out after {timeout}s waiting for {what}")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, None):
        return UnavailableError(f"{what} is unavailable: {details}")
    if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
        return IdentityError(f"{what} refused the caller: {details}")
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
        return InvalidRequestError(f"{what} rejected the request: {details}")
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(f"{what}: {details}")
    return UnavailableError(f"{what} failed ({code.name}): {details}")


def status_error(status: int, info: str, what: str) -> TensorLedgerError:
    """Our error for a non-SUCCESS `common.Status` from a deliver or broadcast stream."""
    name = common_pb2.Status.Name(status) if status in common_pb2.Status.values() else str(status)
    message = f"{what} answered {name}" + (f": {info}" if info else "")
    if status == common_pb2.FORBIDDEN:
        return IdentityError(message)
    if status == common_pb2.BAD_REQUEST:
        return InvalidRequestError(message)
    if status == common_pb2.NOT_FOUND:
        return NotFoundError(message)
    return UnavailableError(message)


#: wrappers a Fabric 2.x peer puts around a chaincode's own message
_FABRIC_PREFIXES = (
    "error in simulation: ",
    "transaction returned with failure: ",
    "chaincode response 500, ",
)


def chaincode_message(message: str) -> str:
    """The chaincode's own message, without the text a peer wraps it in."""
    changed = True
    while changed:
        changed = False
        for prefix in _FABRIC_PREFIXES:
            if message.startswith(prefix):
                message = message[len(prefix) :]
                changed = True
    return message


def check_response(response: proposal_response_pb2.ProposalResponse, peer: str) -> None:
    """Raise our error if the peer did not endorse.

    A chaincode that ran and failed comes back with a proposal-response
    payload: ContractError with the chaincode's own message. A proposal the
    peer refused before running any chaincode (unknown channel or chaincode,
    access denied, bad signature) has none: the peer's reason, classified.
    """
    status, message = response.response.status, response.response.message
    if status >= 400:
        if response.payload:
            raise ContractError(chaincode_message(message), status=status)
        raise refusal_error(message, peer)
    if not response.endorsement.signature:
        raise IdentityError(f"peer {peer} returned no endorsement")


def refusal_error(message: str, peer: str) -> TensorLedgerError:
    """Our error for a proposal a peer refused without running the chaincode."""
    text = f"peer {peer} refused the proposal: {message}"
    lowered = message.lower()
    if "access denied" in lowered or "signature" in lowered or "creator" in lowered:
        return IdentityError(text)
    if "not found" in lowered or "successfully defined" in lowered:
        return NotFoundError(text)
    return EndorsementError(text)


def validation_error(tx_id: str, code: int, block: int) -> TensorLedgerError:
    """Our error for a transaction the committing peer marked invalid with `code`."""
    name = code_name(code)
    if name in ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"):
        return MVCCConflictError(tx_id, name, block)
    if name == "ENDORSEMENT_POLICY_FAILURE":
        return EndorsementError(
            f"transaction {tx_id} invalid in block {block}: ENDORSEMENT_POLICY_FAILURE "
            "(the endorsements do not satisfy the chaincode's endorsement policy)"
        )
    return CommitError(tx_id, name, block)


__all__ = [
    "chaincode_message",
    "check_response",
    "map_rpc_error",
    "refusal_error",
    "status_error",
    "validation_error",
]
