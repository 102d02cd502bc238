"""One channel of an embedded network: its store, endorsing peers, orderer and committer.

`Channel.submit` runs Fabric's execute-order-validate flow in-process:
the client's proposal is endorsed by the peers the chaincode's policy needs,
assembled and signed by the client, broadcast to the orderer, cut into a
block, validated and committed; it returns once the block is durable.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2

from tensorledger.crypto import merkle
from tensorledger.crypto.checkpoint import Checkpoint, NoteSigner, parse_checkpoint
from tensorledger.crypto.msp import MSP, MembershipRegistry, SigningIdentity
from tensorledger.errors import (
    CommitError,
    EndorsementError,
    InvalidRequestError,
    MVCCConflictError,
    NotFoundError,
)
from tensorledger.ledger import block as blocks
from tensorledger.ledger import policy
from tensorledger.ledger.checks import VALID, code_name
from tensorledger.ledger.committer import Committer
from tensorledger.ledger.config import ChannelConfig
from tensorledger.ledger.endorser import (
    ChaincodeRegistry,
    Endorser,
    lookup_definition,
    raise_for_response,
)
from tensorledger.ledger.lifecycle import LIFECYCLE, validation_policy
from tensorledger.ledger.orderer import OrderingService
from tensorledger.ledger.proof import ConsistencyProof, TransactionProof
from tensorledger.ledger.proposal import build_proposal
from tensorledger.ledger.store import ChannelStore
from tensorledger.ledger.transaction import assemble


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """A committed transaction: its id, block, and the contract's response payload."""

    tx_id: str
    block: int
    payload: bytes
    code: str = "VALID"


#: how often endorsement is retried when peers' results differ because a block landed between
ENDORSE_ATTEMPTS = 3


@functools.lru_cache(maxsize=64)
def _layout(
    policy_text: str, channel_orgs: tuple[str, ...], peers: tuple[str, ...]
) -> tuple[str, ...]:
    """Endorsing organisations for a policy, once per policy (Fabric's discovery layout)."""
    rule = policy.parse(policy_text, channel_orgs)
    return tuple(policy.endorsing_orgs(rule, list(peers)))


def membership_for(config: ChannelConfig) -> MembershipRegistry:
    """The channel's MSPs (application orgs and the orderer org) from its configuration."""
    registry = MembershipRegistry()
    for org in (*config.orgs, config.orderer):
        registry.add(MSP(org.msp_id, [org.ca_cert.encode()]))
    return registry


def checkpoint_origin(network_id: str, channel: str) -> str:
    """The log origin line: names which ledger a checkpoint is about."""
    return f"tensorledger/{network_id}/{channel}"


class Channel:
    """A channel ledger opened by this process."""

    def __init__(
        self,
        store: ChannelStore,
        config: ChannelConfig,
        peers: Sequence[SigningIdentity],
        orderer: SigningIdentity,
        network_id: str,
        chaincodes: ChaincodeRegistry | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.membership = membership_for(config)
        self.origin = checkpoint_origin(network_id, config.channel)
        self.note_signer = NoteSigner(self.origin, orderer.private_key)
        self.chaincodes = chaincodes or ChaincodeRegistry()
        self.endorsers = {
            p.msp_id: Endorser(p, config, self.membership, store, self.chaincodes) for p in peers
        }
        self.committer = Committer(
            config, self.membership, store, orderer, self.note_signer, self.origin
        )
        self.orderer = OrderingService(
            config,
            self.membership,
            self.committer.commit,
            committed=lambda tx_id: store.tx(tx_id) is not None,
        )
        self._endorse_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="endorse")

    @property
    def name(self) -> str:
        """The channel's name."""
        return self.config.channel

    def close(self) -> None:
        """Drain the orderer and release threads and connections."""
        self.orderer.close()
        self.committer.close()
        self._endorse_pool.shutdown(wait=True)
        self.store.close()

    # -- the flow ----------------------------------------------------------

    def endorsing_orgs(self, chaincode: str, function: str, creator_msp: str) -> list[str]:
        """Which organisations' peers must endorse, from the chaincode's policy."""
        if chaincode == LIFECYCLE:
            rule = validation_policy(self.config, function, creator_msp)
            return policy.endorsing_orgs(rule, list(self.endorsers))
        definition = lookup_definition(self.store, chaincode)
        return list(_layout(definition.policy, tuple(self.config.msp_ids), tuple(self.endorsers)))

    def endorse(
        self,
        signer: SigningIdentity,
        chaincode: str,
        function: str,
        args: Sequence[bytes | str],
        *,
        transient: dict[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> common_pb2.Envelope:
        """Execute phase: a signed proposal endorsed by the required peers, assembled."""
        proposal = build_proposal(signer, self.name, chaincode, function, args, transient=transient)
        orgs = (
            list(endorsing_orgs)
            if endorsing_orgs is not None
            else self.endorsing_orgs(chaincode, function, signer.msp_id)
        )
        missing = [o for o in orgs if o not in self.endorsers]
        if missing:
            raise EndorsementError(f"no endorsing peer for {', '.join(missing)} on {self.name}")
        for _ in range(ENDORSE_ATTEMPTS):
            responses = self._endorse_all(orgs, proposal.proto)
            for r in responses:
                raise_for_response(r)
            if len({r.payload for r in responses}) == 1:
                break
            # Peers simulated on different committed heights (a block landed between
            # them): ask again, as a gateway retries, rather than fail the client.
        return assemble(proposal, responses, signer)

    def _endorse_all(
        self, orgs: Sequence[str], proposal: proposal_pb2.SignedProposal
    ) -> list[proposal_response_pb2.ProposalResponse]:
        # The other peers work in the pool while this thread asks the first one: the
        # peers overlap (signatures release the GIL) with one thread handoff fewer.
        futures = [self._endorse_pool.submit(self.endorsers[o].endorse, proposal) for o in orgs[1:]]
        first = self.endorsers[orgs[0]].endorse(proposal)
        return [first, *(f.result() for f in futures)]

    def submit(
        self,
        signer: SigningIdentity,
        chaincode: str,
        function: str,
        args: Sequence[bytes | str],
        *,
        transient: dict[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
        timeout: float | None = 60.0,
    ) -> SubmitResult:
        """Endorse, order and commit; returns once the transaction's block is durable."""
        envelope = self.endorse(
            signer,
            chaincode,
            function,
            args,
            transient=transient,
            endorsing_orgs=endorsing_orgs,
        )
        return self.commit_envelope(envelope, timeout=timeout)

    def commit_envelope(
        self, envelope: common_pb2.Envelope | bytes, *, timeout: float | None = 60.0
    ) -> SubmitResult:
        """Order and commit an assembled envelope; CommitError if the committer rejects it."""
        raw = envelope if isinstance(envelope, bytes) else envelope.SerializeToString()
        receipt = self.orderer.broadcast(raw).result(timeout=timeout)
        if receipt.code != VALID:
            name = code_name(receipt.code)
            cls = (
                MVCCConflictError
                if name in {"MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"}
                else CommitError
            )
            raise cls(receipt.tx_id, name, receipt.block)
        payload = _response_payload(raw)
        return SubmitResult(receipt.tx_id, receipt.block, payload)

    def evaluate(
        self,
        signer: SigningIdentity,
        chaincode: str,
        function: str,
        args: Sequence[bytes | str],
        *,
        transient: dict[str, bytes] | None = None,
    ) -> bytes:
        """Query: simulate at one peer (preferably the caller's own org) and return the payload."""
        proposal = build_proposal(signer, self.name, chaincode, function, args, transient=transient)
        endorser = self.endorsers.get(signer.msp_id) or next(iter(self.endorsers.values()))
        response = endorser.endorse(proposal.proto, read_only=True)
        raise_for_response(response)
        return bytes(response.response.payload)

    # -- proofs ------------------------------------------------------------

    def verifier_key(self) -> str:
        """The orderer's note verifier key that checkpoints of this channel are signed with."""
        return self.note_signer.verifier.verifier_key()

    def checkpoint(self) -> str:
        """The newest signed checkpoint of the channel's log."""
        note = self.store.latest_checkpoint()
        if note is None:
            raise NotFoundError(f"channel {self.name} has no checkpoint")
        return note

    def prove(self, tx_id: str) -> TransactionProof:
        """Inclusion proof of a valid transaction against the newest checkpoint."""
        with self.store.snapshot():
            record = self.store.tx(tx_id)
            if record is None:
                raise NotFoundError(f"no transaction {tx_id} on channel {self.name}")
            if record.leaf is None:
                raise NotFoundError(
                    f"transaction {tx_id} was invalidated ({code_name(record.code)}) "
                    "and is not in the log"
                )
            note = self.checkpoint()
            size = parse_checkpoint(note).checkpoint.size
            log = merkle.MerkleTree(self.store, size=size)
            path = log.inclusion_proof(record.leaf, size)
        return TransactionProof(
            tx_id,
            self.name,
            record.block,
            record.index,
            record.leaf,
            record.envelope,
            tuple(path),
            note,
        )

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that the log at checkpoint `old_size` is a prefix of the one at `new_size`."""
        with self.store.snapshot():
            new_note = self.checkpoint() if new_size is None else self.store.checkpoint_at(new_size)
            old_note = self.store.checkpoint_at(old_size)
            if old_note is None or new_note is None:
                missing = old_size if old_note is None else new_size
                raise NotFoundError(f"no checkpoint of size {missing} on channel {self.name}")
            new = parse_checkpoint(new_note).checkpoint.size
            if old_size > new:
                raise InvalidRequestError(f"old size {old_size} is larger than new size {new}")
            log = merkle.MerkleTree(self.store, size=new)
            path = log.consistency_proof(old_size, new)
        return ConsistencyProof(old_note, new_note, tuple(path))

    # -- genesis -----------------------------------------------------------

    @staticmethod
    def write_genesis(
        store: ChannelStore, config: ChannelConfig, orderer: SigningIdentity, network_id: str
    ) -> None:
        """Block 0: one CONFIG transaction with the channel configuration, signed by the orderer."""
        ns = time.time_ns()
        from google.protobuf import timestamp_pb2

        chdr = common_pb2.ChannelHeader(
            type=common_pb2.CONFIG,
            channel_id=config.channel,
            timestamp=timestamp_pb2.Timestamp(seconds=ns // 10**9, nanos=ns % 10**9),
        )
        shdr = common_pb2.SignatureHeader(creator=orderer.serialize(), nonce=os.urandom(24))
        payload = common_pb2.Payload(
            header=common_pb2.Header(
                channel_header=chdr.SerializeToString(),
                signature_header=shdr.SerializeToString(),
            ),
            data=config.to_bytes(),
        ).SerializeToString()
        envelope = common_pb2.Envelope(
            payload=payload, signature=orderer.sign(payload)
        ).SerializeToString()
        header = blocks.make_header(0, b"", [envelope])
        origin = checkpoint_origin(network_id, config.channel)
        with store.write() as conn:
            if store.height() != 0:
                return
            log = merkle.MerkleTree(store, size=0)
            log.extend_hashes([merkle.leaf_hash(blocks.log_entry(0, 0, envelope))])
            note = (
                NoteSigner(origin, orderer.private_key)
                .sign(Checkpoint(origin, log.size, log.root()))
                .to_text()
            )
            metadata = blocks.build_metadata(
                blocks.orderer_signature(header, orderer), [VALID], blocks.commit_hash(b"", [])
            )
            conn.execute(
                "INSERT INTO txs(block, idx, tx_id, code, leaf, envelope) VALUES (0,0,'',?,0,?)",
                (VALID, envelope),
            )
            conn.execute(
                "INSERT INTO checkpoints(size, block, note) VALUES (?,0,?)", (log.size, note)
            )
            conn.execute(
                "INSERT INTO blocks(number, header, metadata) VALUES (0,?,?)",
                (header.SerializeToString(), metadata.SerializeToString()),
            )
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('network_id', ?)", (network_id.encode(),)
            )


def read_genesis_config(store: ChannelStore) -> ChannelConfig:
    """The channel configuration carried in block 0."""
    envelopes = store.block_envelopes(0)
    if not envelopes:
        from tensorledger.errors import ConfigError

        raise ConfigError(f"{store.path}: no genesis block")
    env = common_pb2.Envelope.FromString(envelopes[0])
    return ChannelConfig.from_bytes(common_pb2.Payload.FromString(env.payload).data)


def _response_payload(envelope: bytes) -> bytes:
    from tensorledger.ledger.transaction import parse_envelope

    return bytes(parse_envelope(envelope).response.payload)
