"""The one error root of tensorledger and its specific subclasses.

Every failure a user can cause or meet surfaces as a `TensorLedgerError`; the
CLI maps each class to an exit code and prints its message as one line.
"""

from __future__ import annotations


class TensorLedgerError(Exception):
    """Root of every error tensorledger raises on purpose."""

    #: process exit code the CLI uses for this class of error
    exit_code: int = 1


class ConfigError(TensorLedgerError):
    """A ledger directory, identity, channel or option is missing or wrong."""

    exit_code = 2


class InvalidRequestError(TensorLedgerError):
    """Malformed input: bad protobuf, oversize payload, wrong arguments."""

    exit_code = 3


class IdentityError(TensorLedgerError):
    """A signature or certificate does not verify, or an identity is not who it claims."""

    exit_code = 4


class EndorsementError(TensorLedgerError):
    """Endorsement failed or the endorsement policy is not satisfied."""

    exit_code = 5


class ContractError(TensorLedgerError):
    """The smart contract returned an error; carries the contract's own message.

    The message is exactly what the contract raised, e.g.
    ``Data with ID x does not exist.``, so clients can match on it.
    """

    exit_code = 6

    def __init__(self, message: str, *, status: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class CommitError(TensorLedgerError):
    """The transaction was ordered but marked invalid by the committer.

    ``code`` is Fabric's `TxValidationCode` name, e.g. ``MVCC_READ_CONFLICT``.
    """

    exit_code = 7

    def __init__(self, tx_id: str, code: str, block: int | None = None) -> None:
        where = f" in block {block}" if block is not None else ""
        super().__init__(f"transaction {tx_id} invalid{where}: {code}")
        self.tx_id = tx_id
        self.code = code
        self.block = block


class MVCCConflictError(CommitError):
    """A key read during endorsement changed before the transaction committed."""


class NotFoundError(TensorLedgerError):
    """A block, transaction, channel or contract that does not exist was asked for."""

    exit_code = 8


class IntegrityError(TensorLedgerError):
    """Stored or received data does not match what was recorded.

    ``where`` names the failing object (block, transaction, chunk, tensor,
    checkpoint) so a user can go and look at exactly that thing.
    """

    exit_code = 9

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.detail = detail


class UnavailableError(TensorLedgerError):
    """A backend (peer, orderer, database) cannot be reached right now."""

    exit_code = 10


__all__ = [
    "CommitError",
    "ConfigError",
    "ContractError",
    "EndorsementError",
    "IdentityError",
    "IntegrityError",
    "InvalidRequestError",
    "MVCCConflictError",
    "NotFoundError",
    "TensorLedgerError",
    "UnavailableError",
]
