"""The embedded backend: a ledger directory opened in this process."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tensorledger.gateway._backend import ChaincodeEvent
from tensorledger.ledger.channel import SubmitResult
from tensorledger.ledger.network import EmbeddedNetwork
from tensorledger.ledger.proof import ConsistencyProof, TransactionProof

#: how often an event listener looks for newly committed blocks
POLL_SECONDS = 0.05


class EmbeddedBackend:
    """Runs the whole execute-order-validate flow in-process on a ledger directory."""

    def __init__(self, path: Path, identity: str) -> None:
        self.network = EmbeddedNetwork(path)
        self.root = self.network.root
        self.signer = self.network.identity(identity)
        self.identity_name = identity
        self.msp_id = self.signer.msp_id

    def submit(
        self,
        channel: str,
        chaincode: str,
        function: str,
        args: Sequence[bytes | str],
        transient: Mapping[str, bytes] | None,
        endorsing_orgs: Sequence[str] | None,
    ) -> SubmitResult:
        """Endorse, order and commit in this process."""
        return self.network.channel(channel).submit(
            self.signer,
            chaincode,
            function,
            args,
            transient=dict(transient) if transient else None,
            endorsing_orgs=endorsing_orgs,
        )

    def evaluate(
        self,
        channel: str,
        chaincode: str,
        function: str,
        args: Sequence[bytes | str],
        transient: Mapping[str, bytes] | None,
    ) -> bytes:
        """Simulate at the caller's organisation's peer."""
        return self.network.channel(channel).evaluate(
            self.signer, chaincode, function, args, transient=dict(transient) if transient else None
        )

    def events(
        self, channel: str, chaincode: str | None, start_block: int, timeout: float | None
    ) -> Iterator[ChaincodeEvent]:
        """Poll the event index; other processes may be committing to the same ledger."""
        store = self.network.channel(channel).store
        next_block = start_block
        idle_since = time.monotonic()
        while True:
            height = store.height()
            if height > next_block:
                for block, _, cc, name, tx_id, payload in store.events_from(next_block, chaincode):
                    if block >= height:
                        break
                    yield ChaincodeEvent(block, tx_id, cc, name, payload)
                next_block = height
                idle_since = time.monotonic()
            elif timeout is not None and time.monotonic() - idle_since >= timeout:
                return
            else:
                time.sleep(POLL_SECONDS)

    def prove(self, channel: str, tx_id: str) -> TransactionProof:
        """Inclusion proof against the newest checkpoint."""
        return self.network.channel(channel).prove(tx_id)

    def consistency(self, channel: str, old_size: int, new_size: int | None) -> ConsistencyProof:
        """Consistency proof between two checkpoints."""
        return self.network.channel(channel).consistency(old_size, new_size)

    def checkpoint(self, channel: str) -> str:
        """The newest signed checkpoint."""
        return self.network.channel(channel).checkpoint()

    def verifier_key(self, channel: str) -> str:
        """The orderer's checkpoint verifier key."""
        return self.network.channel(channel).verifier_key()

    def close(self) -> None:
        """Close every channel opened through this backend."""
        self.network.close()
