"""What a gateway backend must provide; the embedded ledger and a Fabric network both do."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tensorledger.ledger.channel import SubmitResult
from tensorledger.ledger.fabric_proof import FabricBlockProof
from tensorledger.ledger.proof import ConsistencyProof, TransactionProof


@dataclass(frozen=True, slots=True)
class ChaincodeEvent:
    """An event a committed, valid transaction emitted."""

    block: int
    tx_id: str
    chaincode: str
    name: str
    payload: bytes


class Backend(Protocol):
    """The narrow interface behind `Gateway`: one method per thing a client does."""

    identity_name: str
    msp_id: str
    root: Path

    def submit(
        self,
        channel: str,
        chaincode: str,
        function: str,
        args: Sequence[bytes | str],
        transient: Mapping[str, bytes] | None,
        endorsing_orgs: Sequence[str] | None,
    ) -> SubmitResult:
        """Endorse, order, commit; return once committed (raise if invalidated)."""
        ...

    def evaluate(
        self,
        channel: str,
        chaincode: str,
        function: str,
        args: Sequence[bytes | str],
        transient: Mapping[str, bytes] | None,
    ) -> bytes:
        """Run a query at a peer; nothing is ordered."""
        ...

    def events(
        self, channel: str, chaincode: str | None, start_block: int, timeout: float | None
    ) -> Iterator[ChaincodeEvent]:
        """Chaincode events from `start_block` on, waiting for new ones up to `timeout` seconds."""
        ...

    def prove(self, channel: str, tx_id: str) -> TransactionProof | FabricBlockProof:
        """An offline-verifiable inclusion proof of a transaction."""
        ...

    def consistency(self, channel: str, old_size: int, new_size: int | None) -> ConsistencyProof:
        """Proof that an older checkpoint's log is a prefix of a newer one's."""
        ...

    def checkpoint(self, channel: str) -> str:
        """The newest signed checkpoint."""
        ...

    def verifier_key(self, channel: str) -> str:
        """The key checkpoints of the channel are signed with."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...


__all__ = ["Backend", "ChaincodeEvent", "SubmitResult"]
