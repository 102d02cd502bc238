"""The `fabric` backend: our client API over a real Fabric 2.x network, without its Gateway.

Fabric 2.1 has no Gateway service, so this speaks the protocol Fabric's SDKs
spoke before it: ProcessProposal to endorsing peers, Broadcast to the
orderer, Deliver from the caller's peer to learn the commit outcome. The
proposal and the envelope are built by the same code as the embedded ledger's.
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2_grpc
from fabric_protos.peer import events_pb2, events_pb2_grpc, peer_pb2_grpc, proposal_response_pb2

from tensorledger.errors import (
    ContractError,
    EndorsementError,
    IntegrityError,
    InvalidRequestError,
    NotFoundError,
    TensorLedgerError,
    UnavailableError,
)
from tensorledger.gateway._backend import ChaincodeEvent
from tensorledger.gateway._fabric_errors import check_response, status_error, validation_error
from tensorledger.gateway._fabric_profile import FabricProfile, Node, OrgProfile, load_profile
from tensorledger.gateway._fabric_rpc import Connections, Stream, call, seek_envelope
from tensorledger.ledger.channel import SubmitResult
from tensorledger.ledger.checks import code_name
from tensorledger.ledger.fabric_proof import (
    FabricBlockProof,
    find_transaction,
    orderer_root_certs,
)
from tensorledger.ledger.proof import ConsistencyProof
from tensorledger.ledger.proposal import SignedProposal, build_proposal
from tensorledger.ledger.transaction import assemble, parse_envelope

#: how often endorsement is retried when peers simulated on different heights
ENDORSE_ATTEMPTS = 3


class FabricBackend:
    """A connection to a Fabric network described by a connection profile, as one identity."""

    def __init__(
        self,
        target: Path | FabricProfile,
        identity: str,
        *,
        endorse_timeout: float = 30.0,
        commit_timeout: float = 60.0,
        evaluate_timeout: float = 30.0,
    ) -> None:
        self.profile = target if isinstance(target, FabricProfile) else load_profile(target)
        self.signer = self.profile.identity(identity)
        self.identity_name = identity
        self.msp_id = self.signer.msp_id
        self.root = self.profile.root
        self.own_org = self.profile.org(self.msp_id)
        self.endorse_timeout = endorse_timeout
        self.commit_timeout = commit_timeout
        self.evaluate_timeout = evaluate_timeout
        self._connections = Connections()
        self._orderer_cas: dict[str, str] = {}
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fabric-endorse")

    # -- endorsement -------------------------------------------------------

    def _process(
        self, node: Node, proposal: SignedProposal, timeout: float
    ) -> proposal_response_pb2.ProposalResponse:
        stub = peer_pb2_grpc.EndorserStub(self._connections.channel(node))
        response: proposal_response_pb2.ProposalResponse = call(
            lambda: stub.ProcessProposal(proposal.proto, timeout=timeout),
            f"peer {node.address}",
            timeout,
        )
        return response

    def _endorsers(self, endorsing_orgs: Sequence[str] | None) -> list[OrgProfile]:
        if endorsing_orgs is None:
            return list(self.profile.orgs)
        if not endorsing_orgs:
            raise InvalidRequestError("endorsing_orgs is empty: name at least one organisation")
        try:
            return [self.profile.org(o) for o in endorsing_orgs]
        except TensorLedgerError as exc:
            raise EndorsementError(f"no endorsing peer: {exc}") from None

    def endorse(
        self,
        channel: str,
        chaincode: str,
        function: str,
        args: Sequence[bytes | str],
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> tuple[str, common_pb2.Envelope]:
        """Collect endorsements from one peer per organisation; the signed envelope."""
        proposal = build_proposal(
            self.signer, channel, chaincode, function, args, transient=transient
        )
        orgs = self._endorsers(endorsing_orgs)
        responses: list[proposal_response_pb2.ProposalResponse] = []
        for _ in range(ENDORSE_ATTEMPTS):
            futures = [
                self._pool.submit(self._process, o.peer, proposal, self.endorse_timeout)
                for o in orgs
            ]
            responses = [f.result() for f in futures]
            for org, response in zip(orgs, responses, strict=True):
                check_response(response, org.peer.address)
            if len({r.payload for r in responses}) == 1:
                break
            # A block landed between the peers' simulations: ask again, as Fabric's SDKs do.
        return proposal.tx_id, assemble(proposal, responses, self.signer)

    # -- ordering and commit -------------------------------------------------

    def _deliver(
        self, channel: str, start: int | None, *, filtered: bool, node: Node | None = None
    ) -> Stream[object]:
        """A deliver stream from `node` (the caller's own peer by default)."""
        node = node or self.own_org.peer
        stub = events_pb2_grpc.DeliverStub(self._connections.channel(node))
        request = seek_envelope(self.signer, channel, start)
        method = stub.DeliverFiltered if filtered else stub.Deliver
        rpc = call(lambda: method(iter([request])), f"peer {node.address}", None)
        return Stream(rpc, rpc, f"deliver service of peer {node.address}")

    @staticmethod
    def _next_block(stream: Stream[object], timeout: float | None) -> events_pb2.DeliverResponse:
        response = stream.next_within(timeout)
        assert isinstance(response, events_pb2.DeliverResponse)
        if response.WhichOneof("Type") == "status":
            raise status_error(response.status, "", stream.what)
        return response

    def _broadcast(self, envelope: common_pb2.Envelope) -> None:
        node = self.profile.orderer
        stub = ab_pb2_grpc.AtomicBroadcastStub(self._connections.channel(node))
        what = f"orderer {node.address}"
        answers = call(
            lambda: list(stub.Broadcast(iter([envelope]), timeout=self.commit_timeout)),
            what,
            self.commit_timeout,
        )
        if not answers:
            raise UnavailableError(f"{what} closed the broadcast stream without an answer")
        if answers[0].status != common_pb2.SUCCESS:
            raise status_error(answers[0].status, answers[0].info, what)

    def commit(
        self,
        channel: str,
        tx_id: str,
        envelope: common_pb2.Envelope,
        also_at: Sequence[OrgProfile] = (),
    ) -> int:
        """Order `envelope` and wait for its block; the block number if VALID, else raise.

        The caller's own peer decides. The peers of `also_at` (the other
        endorsers) are waited for too, so that a read there right after the
        submit sees the write; one of them failing meanwhile is not an error
        (it catches up from the orderer). Waits `commit_timeout` seconds in all.
        """
        deadline = time.monotonic() + self.commit_timeout
        others = [o.peer for o in also_at if o.peer.address != self.own_org.peer.address]
        # Listen before broadcasting, so the block cannot be committed unseen.
        streams = [self._deliver(channel, None, filtered=True)]
        try:
            self._timed(streams[0], deadline)  # the current newest block: the seek is in place
            for node in others:
                stream = self._deliver(channel, None, filtered=True, node=node)
                try:
                    self._timed(stream, deadline)
                    streams.append(stream)
                except UnavailableError:
                    stream.close()
            self._broadcast(envelope)
            code, number = self._await_tx(streams[0], tx_id, deadline)
            for stream in streams[1:]:
                with contextlib.suppress(UnavailableError):
                    self._await_tx(stream, tx_id, deadline)
        finally:
            for stream in streams:
                stream.close()
        if code != 0:
            raise validation_error(tx_id, code, number)
        return number

    def _await_tx(self, stream: Stream[object], tx_id: str, deadline: float) -> tuple[int, int]:
        """(validation code, block number) of `tx_id` as the stream's peer committed it."""
        while True:
            block = self._timed(stream, deadline).filtered_block
            for tx in block.filtered_transactions:
                if tx.txid == tx_id:
                    return int(tx.tx_validation_code), int(block.number)

    def _timed(self, stream: Stream[object], deadline: float) -> events_pb2.DeliverResponse:
        try:
            return self._next_block(stream, max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise UnavailableError(
                f"timed out after {self.commit_timeout}s waiting for the commit at {stream.what}"
            ) from None
        except StopIteration:
            raise UnavailableError(f"{stream.what} closed the stream") from None

    def submit(
        self,
        channel: str,
        chaincode: str,
        function: str,
        args: Sequence[bytes | str],
        transient: Mapping[str, bytes] | None,
        endorsing_orgs: Sequence[str] | None,
    ) -> SubmitResult:
        """Endorse at one peer per organisation, order, and wait for the commit."""
        tx_id, envelope = self.endorse(
            channel, chaincode, function, args, transient, endorsing_orgs
        )
        block = self.commit(channel, tx_id, envelope, self._endorsers(endorsing_orgs))
        parsed = parse_envelope(envelope.SerializeToString())
        return SubmitResult(tx_id, block, bytes(parsed.response.payload))

    def evaluate(
        self,
        channel: str,
        chaincode: str,
        function: str,
        args: Sequence[bytes | str],
        transient: Mapping[str, bytes] | None,
    ) -> bytes:
        """Simulate at the caller's organisation's peer; nothing is ordered."""
        proposal = build_proposal(
            self.signer, channel, chaincode, function, args, transient=transient
        )
        peer = self.own_org.peer
        response = self._process(peer, proposal, self.evaluate_timeout)
        check_response(response, peer.address)
        return bytes(response.response.payload)

    # -- events --------------------------------------------------------------

    def events(
        self, channel: str, chaincode: str | None, start_block: int, timeout: float | None
    ) -> Iterator[ChaincodeEvent]:
        """Chaincode events of valid transactions from full blocks, from `start_block` on."""
        stream = self._deliver(channel, start_block, filtered=False)
        try:
            while True:
                try:
                    response = self._next_block(stream, timeout)
                except (queue.Empty, StopIteration):
                    return
                yield from block_events(response.block, chaincode)
        finally:
            stream.close()

    # -- proofs ----------------------------------------------------------------

    def _qscc_block(self, channel: str, function: str, arg: str) -> common_pb2.Block:
        try:
            raw = self.evaluate(channel, "qscc", function, [channel, arg], None)
        except ContractError as exc:
            raise NotFoundError(f"{function}({arg}) on channel {channel}: {exc.message}") from None
        return common_pb2.Block.FromString(raw)

    def prove(self, channel: str, tx_id: str) -> FabricBlockProof:
        """The block holding `tx_id` (through qscc) and the previous header, checked."""
        block = self._qscc_block(channel, "GetBlockByTxID", tx_id)
        index = find_transaction(block, tx_id)
        filter_ = block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER]
        if index < len(filter_) and filter_[index] != 0:
            raise NotFoundError(
                f"transaction {tx_id} was invalidated ({code_name(filter_[index])}) "
                "and is not part of the state"
            )
        number = block.header.number
        if number == 0:
            raise IntegrityError(f"transaction {tx_id}", "claims to be in the genesis block")
        previous = self._qscc_block(channel, "GetBlockByNumber", str(number - 1))
        proof = FabricBlockProof(
            tx_id,
            channel,
            int(number),
            index,
            block.SerializeToString(),
            previous.header.SerializeToString(),
        )
        proof.verify(self.verifier_key(channel))
        return proof

    def verifier_key(self, channel: str) -> str:
        """PEM of the orderer organisations' CAs: what block signatures are checked with.

        From the profile when it names one (`orderer.ca`); otherwise from the
        channel's configuration block, as the channel's peers trust it.
        """
        if self.profile.orderer_ca:
            return self.profile.orderer_ca.decode()
        if channel not in self._orderer_cas:
            config = self._qscc_block(channel, "GetBlockByNumber", "0")
            self._orderer_cas[channel] = orderer_root_certs(config).decode()
        return self._orderer_cas[channel]

    def consistency(self, channel: str, old_size: int, new_size: int | None) -> ConsistencyProof:
        """Fabric keeps no Merkle log, so there are no consistency proofs."""
        raise InvalidRequestError(
            "not available on the fabric backend: Fabric keeps no Merkle log of transactions; "
            "use prove(tx_id) for a block-chain inclusion proof"
        )

    def checkpoint(self, channel: str) -> str:
        """Fabric signs blocks, not log checkpoints."""
        raise InvalidRequestError(
            "not available on the fabric backend: Fabric signs each block instead of "
            "log checkpoints; use prove(tx_id)"
        )

    def close(self) -> None:
        """Close the gRPC channels and the endorsement threads."""
        self._pool.shutdown(wait=True)
        self._connections.close()


def block_events(block: common_pb2.Block, chaincode: str | None) -> Iterator[ChaincodeEvent]:
    """The chaincode events of a block's VALID transactions, in block order."""
    filter_ = (
        block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER]
        if len(block.metadata.metadata) > common_pb2.TRANSACTIONS_FILTER
        else b""
    )
    for i, envelope in enumerate(block.data.data):
        if i >= len(filter_) or filter_[i] != 0:
            continue
        try:
            tx = parse_envelope(envelope)
        except InvalidRequestError:
            continue
        event = tx.event
        if event is None or not event.event_name:
            continue
        if chaincode is not None and event.chaincode_id != chaincode:
            continue
        yield ChaincodeEvent(
            int(block.header.number), tx.tx_id, event.chaincode_id, event.event_name, event.payload
        )


__all__ = ["FabricBackend", "block_events"]
