"""The endorsing peer: checks a proposal, simulates the contract, signs the result.

One `Endorser` per organisation's peer. It never writes state: its signed
proposal response carries the read/write set for the orderer and committer.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable
from typing import Any

from fabric_protos.peer import chaincode_event_pb2, proposal_pb2, proposal_response_pb2

from tensorledger.crypto.msp import MembershipRegistry, SigningIdentity
from tensorledger.errors import (
    ConfigError,
    ContractError,
    IdentityError,
    InvalidRequestError,
    NotFoundError,
)
from tensorledger.ledger.config import ChannelConfig
from tensorledger.ledger.lifecycle import (
    LIFECYCLE,
    ChaincodeDefinition,
    LifecycleContract,
    definition_key,
)
from tensorledger.ledger.proposal import ParsedProposal, parse_proposal
from tensorledger.ledger.rwset import encode_rwset
from tensorledger.ledger.serializer import FastJSONSerializer
from tensorledger.ledger.shim import ContractChaincode
from tensorledger.ledger.simulator import simulate, surplus_arguments
from tensorledger.ledger.store import ChannelStore
from tensorledger.ledger.transaction import endorse_response


class ChaincodeRegistry:
    """Chaincode instances by contract reference ("module:Class"), created once per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_ref: dict[str, ContractChaincode] = {}

    def get(self, ref: str) -> ContractChaincode:
        """The chaincode for a contract reference, importing it on first use."""
        with self._lock:
            cc = self._by_ref.get(ref)
            if cc is None:
                cc = new_chaincode(load_contract(ref)())
                self._by_ref[ref] = cc
            return cc


def new_chaincode(contract: object) -> ContractChaincode:
    """A chaincode for a contract instance, with the fast argument serializer.

    Its `invoke` refuses calls with more arguments than the function takes,
    which the Python contract API would silently drop. Both backends run
    chaincodes made here (the embedded endorser and, on Fabric, the chaincode
    server), so they refuse such a call alike, as Fabric's Go and Node APIs do.
    """
    cc = ContractChaincode.new_chaincode(contract)
    cc.TransactionSerializer = FastJSONSerializer()
    invoke = cc.invoke

    async def strict_invoke(stub: Any) -> Any:
        surplus = surplus_arguments(cc, stub.cc_input)
        if surplus is not None:
            return proposal_response_pb2.Response(status=500, message=surplus)
        return await invoke(stub)

    cc.invoke = strict_invoke
    return cc


def load_contract(ref: str) -> Callable[[], object]:
    """Import the contract class named by 'module:Class'."""
    module_name, _, cls_name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, cls_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load contract {ref!r}: {exc}") from None
    return cls  # type: ignore[no-any-return]


def lookup_definition(store: ChannelStore, name: str) -> ChaincodeDefinition:
    """The committed definition of a chaincode; NotFoundError when there is none."""
    entry = store.get_state(LIFECYCLE, definition_key(name))
    if entry is None:
        raise NotFoundError(f"chaincode {name!r} is not defined on channel")
    return _parse_definition(entry.value)


@functools.lru_cache(maxsize=256)
def _parse_definition(raw: bytes) -> ChaincodeDefinition:
    # Keyed by the stored bytes: a new definition is a new key, so no invalidation needed.
    return ChaincodeDefinition.from_json(raw)


class Endorser:
    """An organisation's endorsing peer for one channel."""

    def __init__(
        self,
        peer: SigningIdentity,
        config: ChannelConfig,
        membership: MembershipRegistry,
        store: ChannelStore,
        chaincodes: ChaincodeRegistry,
    ) -> None:
        self.peer = peer
        self.config = config
        self.membership = membership
        self.store = store
        self.chaincodes = chaincodes
        self._lifecycle = new_chaincode(LifecycleContract(config))

    @property
    def msp_id(self) -> str:
        """The organisation this peer endorses for."""
        return self.peer.msp_id

    def _resolve(self, name: str) -> ContractChaincode:
        """The chaincode a contract calls by name (inside an open snapshot)."""
        if name == LIFECYCLE:
            raise ContractError("the _lifecycle system chaincode cannot be called by a contract")
        return self.chaincodes.get(lookup_definition(self.store, name).contract)

    def check(self, signed: proposal_pb2.SignedProposal | bytes) -> ParsedProposal:
        """Decode the proposal and check channel, creator signature and replay."""
        proposal = parse_proposal(signed)
        if proposal.channel != self.config.channel:
            raise InvalidRequestError(
                f"proposal is for channel {proposal.channel!r}, this peer serves "
                f"{self.config.channel!r}"
            )
        creator = self.membership.verify_signature(
            proposal.creator, proposal.proposal_bytes, proposal.signature
        )
        require_application_member(creator.msp_id, self.config)
        return proposal

    def endorse(
        self, signed: proposal_pb2.SignedProposal | bytes, *, read_only: bool = False
    ) -> proposal_response_pb2.ProposalResponse:
        """Simulate and, when the contract succeeds, sign the result.

        A contract error comes back as a response with status 500 and the
        contract's message and no endorsement, as a Fabric peer answers.
        """
        proposal = self.check(signed)
        for n, arg in enumerate(proposal.args, 1):
            try:
                arg.decode("utf-8")
            except UnicodeDecodeError:
                # The Python contract runtime passes arguments as text (as Fabric's
                # Python shim does); say so instead of letting the shim misreport it.
                raise InvalidRequestError(
                    f"argument {n} is not valid UTF-8 text; encode binary values (e.g. base64)"
                ) from None
        if not read_only and self.store.tx(proposal.tx_id) is not None:
            raise InvalidRequestError(f"duplicate transaction id {proposal.tx_id}")
        with self.store.snapshot():
            if proposal.chaincode == LIFECYCLE:
                chaincode, version = self._lifecycle, "system"
            else:
                definition = lookup_definition(self.store, proposal.chaincode)
                chaincode = self.chaincodes.get(definition.contract)
                version = definition.version
            result = simulate(
                chaincode,
                self.store,
                namespace=proposal.chaincode,
                channel=proposal.channel,
                tx_id=proposal.tx_id,
                chaincode_input=proposal.chaincode_input,
                signed_proposal=signed
                if isinstance(signed, proposal_pb2.SignedProposal)
                else proposal_pb2.SignedProposal.FromString(signed),
                read_only=read_only,
                resolve=self._resolve,
            )
        if result.response.status >= 400:
            return proposal_response_pb2.ProposalResponse(version=1, response=result.response)
        event = (
            chaincode_event_pb2.ChaincodeEvent(
                chaincode_id=proposal.chaincode,
                tx_id=proposal.tx_id,
                event_name=result.event.name,
                payload=result.event.payload,
            )
            if result.event is not None
            else None
        )
        return endorse_response(
            proposal,
            result.response,
            encode_rwset(result.rwsets),
            event,
            version,
            self.peer,
        )


def require_application_member(msp_id: str, config: ChannelConfig) -> None:
    """Fabric's /Channel/Application/Writers: only application organisations transact.

    The orderer organisation is a member of the channel (it signs blocks) but
    may not propose or submit transactions.
    """
    if msp_id not in config.msp_ids:
        raise IdentityError(
            f"{msp_id} is not an application organisation of channel {config.channel} "
            "and may not submit transactions"
        )


def raise_for_response(response: proposal_response_pb2.ProposalResponse) -> None:
    """Turn a failed proposal response into our error with the contract's message."""
    if response.response.status >= 400:
        raise ContractError(response.response.message, status=response.response.status)
    if not response.endorsement.signature:
        raise IdentityError("proposal response carries no endorsement")
