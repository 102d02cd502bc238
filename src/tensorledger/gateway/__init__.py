"""The client API: `connect()` → `Gateway` → `network(channel)` → `contract(name)`.

The same calls run against the embedded ledger (a directory) or, through the
`fabric` backend, a real Hyperledger Fabric network; which one is hidden here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from tensorledger.errors import ConfigError
from tensorledger.gateway import _fabric_profile
from tensorledger.gateway._backend import Backend, ChaincodeEvent
from tensorledger.ledger.channel import SubmitResult
from tensorledger.ledger.fabric_proof import FabricBlockProof
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.ledger.proof import ConsistencyProof, TransactionProof


class Contract:
    """A chaincode on a channel, as seen by the gateway's identity."""

    def __init__(self, backend: Backend, channel: str, name: str) -> None:
        self._backend = backend
        self.channel = channel
        self.name = name

    def submit(
        self,
        function: str,
        *args: str | bytes,
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> SubmitResult:
        """Run a transaction and wait until it is committed (Fabric's submit_transaction).

        Returns the transaction id, block number and the contract's payload.
        Raises ContractError with the contract's message if it fails,
        EndorsementError if endorsement fails, CommitError (MVCCConflictError)
        if the committer invalidates it.
        """
        return self._backend.submit(
            self.channel, self.name, function, args, transient, endorsing_orgs
        )

    def evaluate(
        self, function: str, *args: str | bytes, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Run a query at a peer and return its payload; nothing is written."""
        return self._backend.evaluate(self.channel, self.name, function, args, transient)

    # The seed's names, for code written against the Fabric SDKs.
    def submit_transaction(self, function: str, *args: str | bytes) -> bytes:
        """Submit and return the payload only, as Fabric's SDKs do."""
        return self.submit(function, *args).payload

    def evaluate_transaction(self, function: str, *args: str | bytes) -> bytes:
        """Alias of `evaluate`, as Fabric's SDKs name it."""
        return self.evaluate(function, *args)

    def events(
        self, start_block: int = 0, *, timeout: float | None = None
    ) -> Iterator[ChaincodeEvent]:
        """This chaincode's events from `start_block` on; see `Network.chaincode_events`."""
        return self._backend.events(self.channel, self.name, start_block, timeout)


class Network:
    """A channel as the gateway sees it."""

    def __init__(self, backend: Backend, channel: str) -> None:
        self._backend = backend
        self.name = channel

    def contract(self, name: str) -> Contract:
        """A chaincode deployed on this channel."""
        return Contract(self._backend, self.name, name)

    def chaincode_events(
        self, chaincode: str | None = None, *, start_block: int = 0, timeout: float | None = None
    ) -> Iterator[ChaincodeEvent]:
        """Events of valid transactions from `start_block` on, waiting for new blocks.

        With `timeout`, the iterator ends after that many seconds without a new
        block; without it, it waits for ever (close it to stop).
        """
        return self._backend.events(self.name, chaincode, start_block, timeout)

    def checkpoint(self) -> str:
        """The newest orderer-signed checkpoint (C2SP signed note text)."""
        return self._backend.checkpoint(self.name)

    def verifier_key(self) -> str:
        """The orderer's key that signs this channel's checkpoints (note verifier key)."""
        return self._backend.verifier_key(self.name)

    def prove(self, tx_id: str) -> TransactionProof | FabricBlockProof:
        """Offline proof that the transaction is in the ledger, checked before it is returned.

        A Merkle-log `TransactionProof` on the embedded backend; an orderer-signed
        block with its chain link, `FabricBlockProof`, on Fabric.
        """
        proof = self._backend.prove(self.name, tx_id)
        proof.verify(self.verifier_key())
        return proof

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that the log at checkpoint `old_size` is a prefix of the newest (or `new_size`)."""
        proof = self._backend.consistency(self.name, old_size, new_size)
        proof.verify(self.verifier_key())
        return proof


class Gateway:
    """A connection to a ledger as one identity. Use as a context manager or call `close()`."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    @property
    def identity(self) -> str:
        """The identity this gateway signs as."""
        return self._backend.identity_name

    @property
    def msp_id(self) -> str:
        """The identity's organisation (MSP id)."""
        return self._backend.msp_id

    @property
    def root(self) -> Path:
        """Local directory of this connection: the ledger directory for the embedded backend.

        Off-chain data lives beside it: `root/blobs` (content-addressed chunks) and
        `root/keys/<MSP id>` (the organisation's data keys, never on the ledger).
        """
        return self._backend.root

    @property
    def key_dir(self) -> Path:
        """Where this organisation keeps its dataset encryption keys."""
        return self.root / "keys" / self.msp_id

    def network(self, channel: str = DEFAULT_CHANNEL) -> Network:
        """A channel of the ledger."""
        return Network(self._backend, channel)

    def prove(
        self, tx_id: str, channel: str = DEFAULT_CHANNEL
    ) -> TransactionProof | FabricBlockProof:
        """Shortcut for `network(channel).prove(tx_id)`."""
        return self.network(channel).prove(tx_id)

    def close(self) -> None:
        """Release the backend's connections and threads (waits for queued commits)."""
        self._backend.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(target: str | Path, identity: str = "Org1", *, backend: str = "auto") -> Gateway:
    """Connect to a ledger: an embedded ledger directory, or a Fabric network's profile.

    The embedded backend opens a directory made by `tensorledger init`; the
    `fabric` backend reads a connection profile (`network.json` written by
    `tensorledger fabric up`, or the directory holding it).

    `identity` is 'Org1' (its User1), 'Org1/Admin' or 'User1@org1.example.com'.
    """
    path = Path(target)
    if backend == "fabric" or (backend == "auto" and _fabric_profile.is_profile(path)):
        from tensorledger.gateway._fabric import FabricBackend

        return Gateway(FabricBackend(path, identity))
    if backend in ("auto", "embedded") and (path.is_dir() or backend == "embedded"):
        from tensorledger.gateway._embedded import EmbeddedBackend

        return Gateway(EmbeddedBackend(path, identity))
    if backend == "auto" and not path.exists():
        raise ConfigError(
            f"{target}: no ledger there; create one with `tensorledger init {target}`"
        )
    if backend == "auto":
        raise ConfigError(f"{target}: neither a ledger directory nor a Fabric network.json")
    raise ConfigError(f"unknown backend {backend!r}: use 'embedded', 'fabric' or 'auto'")


__all__ = [
    "ChaincodeEvent",
    "Contract",
    "Gateway",
    "Network",
    "SubmitResult",
    "connect",
]
