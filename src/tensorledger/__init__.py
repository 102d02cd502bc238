"""tensorledger: TensorFlow statistics and machine learning on a permissioned ledger.

`init` creates an embedded network, `connect` opens it (or a Fabric network)
as one identity; everything else hangs off the returned `Gateway`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tensorledger.errors import (
    CommitError,
    ConfigError,
    ContractError,
    EndorsementError,
    IdentityError,
    IntegrityError,
    InvalidRequestError,
    MVCCConflictError,
    NotFoundError,
    TensorLedgerError,
    UnavailableError,
)
from tensorledger.gateway import ChaincodeEvent, Contract, Gateway, Network, SubmitResult, connect

__version__ = "0.1.0"


def init(
    path: str | Path,
    orgs: Sequence[str] = ("Org1", "Org2"),
    *,
    channels: Sequence[str] = ("mychannel",),
) -> Path:
    """Create an embedded network: one CA per organisation, channels, the seed's DataContract.

    Refuses to touch a directory that already holds a network or anything else.
    """
    from tensorledger.ledger.network import init_network

    return init_network(Path(path), orgs, channels=channels)


__all__ = [
    "ChaincodeEvent",
    "CommitError",
    "ConfigError",
    "Contract",
    "ContractError",
    "EndorsementError",
    "Gateway",
    "IdentityError",
    "IntegrityError",
    "InvalidRequestError",
    "MVCCConflictError",
    "Network",
    "NotFoundError",
    "SubmitResult",
    "TensorLedgerError",
    "UnavailableError",
    "__version__",
    "connect",
    "init",
]
