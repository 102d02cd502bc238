"""Library errors as HTTP answers: one table from error class to status, one JSON shape.

Every failure becomes `{"error": "<one line>"}` with the status the API
documents (docs/design/server.md); a traceback never reaches a client.
"""

from __future__ import annotations

from tensorledger.errors import (
    CommitError,
    ConfigError,
    ContractError,
    EndorsementError,
    IdentityError,
    IntegrityError,
    InvalidRequestError,
    NotFoundError,
    TensorLedgerError,
    UnavailableError,
)

#: error class -> HTTP status, most specific first (the first isinstance match wins)
STATUS: tuple[tuple[type[TensorLedgerError], int], ...] = (
    (NotFoundError, 404),
    (InvalidRequestError, 400),
    (ConfigError, 400),
    (IdentityError, 403),
    (ContractError, 409),
    (EndorsementError, 409),
    (CommitError, 409),
    (UnavailableError, 503),
    # The ledger itself is damaged: the server's fault, said plainly.
    (IntegrityError, 500),
)


class HTTPError(TensorLedgerError):
    """An error the API raises itself, with its status (401, 403, 413, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def status_of(exc: TensorLedgerError) -> int:
    """The HTTP status of a library error."""
    if isinstance(exc, HTTPError):
        return exc.status
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(message: str) -> dict[str, str]:
    """The one JSON shape of every error: its message on one line."""
    return {"error": " ".join(message.split()) or "error"}
