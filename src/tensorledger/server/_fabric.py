"""The server's view of a real Fabric network: blocks, transactions, keys and proofs via peers.

Fabric exposes no store to read, so every read is a query to the caller's
organisation's peer, signed as the caller: qscc for the chain (GetChainInfo,
GetBlockByNumber, GetBlockByTxID), `_lifecycle` for deployed chaincodes, the
DataContract's own functions for its keys. Committed blocks never change, so
their decoded views are cached; heights and deployments are asked each time.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fabric_protos.common import common_pb2, configtx_pb2, ledger_pb2
from fabric_protos.msp import msp_config_pb2
from fabric_protos.peer import policy_pb2
from fabric_protos.peer.lifecycle import lifecycle_pb2
from google.protobuf.message import DecodeError

import tensorledger as tl
from tensorledger.errors import ContractError, IntegrityError, NotFoundError
from tensorledger.gateway._fabric_profile import FabricProfile, OrgProfile, load_profile
from tensorledger.ledger import explore
from tensorledger.ledger.block import header_hash
from tensorledger.ledger.checks import VALID
from tensorledger.ledger.fabric_proof import FabricBlockProof, find_transaction
from tensorledger.ledger.store import TxRecord
from tensorledger.server._errors import HTTPError

_CHANNEL = re.compile(r"^[a-z][a-z0-9.-]{0,248}$")
#: decoded blocks kept in memory (they never change once committed)
BLOCK_CACHE = 512
#: how long the list of deployed chaincodes is reused before the peer is asked again
DEPLOYED_TTL = 2.0
#: the chaincode whose keys the state and history endpoints can read (through its functions)
DATA_CONTRACT = "datacontract"


def not_on_fabric(what: str, why: str) -> HTTPError:
    """501 for an endpoint Fabric has no equivalent of; says what to use instead."""
    return HTTPError(501, f"{what} is not available on the fabric backend: {why}")


@dataclass(frozen=True, slots=True)
class FabricNetworkInfo:
    """What `/info` shows of a Fabric network: an id derived from its orderer's TLS CA."""

    network_id: str


@dataclass(frozen=True, slots=True)
class Definition:
    """A chaincode committed on a channel, as `_lifecycle` reports it."""

    name: str
    version: str
    sequence: int
    policy: str


@dataclass(frozen=True, slots=True)
class BlockView:
    """A committed block decoded for the API: its summary and its transactions."""

    summary: explore.BlockSummary
    transactions: tuple[explore.TransactionInfo, ...]


def _tx_id(envelope: bytes) -> str:
    try:
        payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(envelope).payload)
        return str(common_pb2.ChannelHeader.FromString(payload.header.channel_header).tx_id)
    except DecodeError:
        return ""


def decode_block(block: common_pb2.Block) -> BlockView:
    """The same summary and transaction views as the embedded ledger's (explore.py).

    Fabric keeps no Merkle log, so every transaction's `leaf` is null; its
    validation code is the peer's, from the block's TRANSACTIONS_FILTER.
    """
    number = int(block.header.number)
    md = block.metadata.metadata
    codes = bytes(md[common_pb2.TRANSACTIONS_FILTER]) if len(md) > 2 else b""
    envelopes = [bytes(e) for e in block.data.data]
    txs = tuple(
        explore.describe(
            TxRecord(_tx_id(env), number, i, codes[i] if i < len(codes) else VALID, None, env)
        )
        for i, env in enumerate(envelopes)
    )
    summary = explore.BlockSummary(
        number=number,
        hash_hex=header_hash(block.header).hex(),
        previous_hash_hex=block.header.previous_hash.hex(),
        data_hash_hex=block.header.data_hash.hex(),
        tx_count=len(envelopes),
        valid_count=sum(1 for t in txs if t.valid),
        first_timestamp=txs[0].timestamp if txs else None,
    )
    return BlockView(summary, txs)


def _policy_text(raw: bytes) -> str:
    try:
        policy = policy_pb2.ApplicationPolicy.FromString(raw)
    except DecodeError:
        return "?"
    if policy.WhichOneof("Type") == "channel_config_policy_reference":
        return str(policy.channel_config_policy_reference)
    return "signature policy"


def application_msp_ids(config_block: common_pb2.Block) -> frozenset[str]:
    """MSP ids of the application organisations in a channel configuration block."""
    where = f"config block {config_block.header.number}"
    try:
        envelope = common_pb2.Envelope.FromString(config_block.data.data[0])
        payload = common_pb2.Payload.FromString(envelope.payload)
        config = configtx_pb2.ConfigEnvelope.FromString(payload.data).config
        groups = config.channel_group.groups["Application"].groups
        return frozenset(
            msp_config_pb2.FabricMSPConfig.FromString(
                msp_config_pb2.MSPConfig.FromString(g.values["MSP"].value).config
            ).name
            for g in groups.values()
        )
    except (DecodeError, IndexError, KeyError):
        raise IntegrityError(where, "is not a channel configuration with organisations") from None


class FabricLedger:
    """A Fabric network directory (`tensorledger fabric up`) opened for a server; thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.profile: FabricProfile = load_profile(self.root)
        # Each network's cryptogen run makes its own orderer TLS CA: a stable, unique id.
        digest = hashlib.sha256(self.profile.orderer.tls_ca).hexdigest()[:16]
        self.network = FabricNetworkInfo(f"fabric-{digest}")
        self._lock = threading.Lock()
        self._gateways: dict[str, tl.Gateway] = {}
        self._members: dict[str, frozenset[str]] = {}
        self._blocks: OrderedDict[tuple[str, int], BlockView] = OrderedDict()
        self._deployed: dict[str, tuple[float, tuple[Definition, ...]]] = {}
        self._valid: dict[str, tuple[int, int]] = {}

    # -- what auth and the shared routes ask of any served ledger ---------------

    @property
    def orgs(self) -> tuple[OrgProfile, ...]:
        """The network's organisations."""
        return self.profile.orgs

    @property
    def channels(self) -> tuple[str, ...]:
        """The channel the network was brought up with."""
        return (self.profile.channel,)

    @property
    def default_identity(self) -> str:
        """Who anonymous reads are made as: the first organisation's user."""
        return self.profile.orgs[0].name

    def msp_of(self, identity: str) -> str:
        """The MSP id of an identity's organisation; ConfigError for a stranger."""
        return self.profile.org(identity.partition("/")[0]).msp_id

    def channel(self, name: str) -> str:
        """The channel's name; NotFoundError if the network has none such."""
        if not _CHANNEL.match(name) or name not in self.channels:
            raise NotFoundError(f"no channel {name!r} (channels: {', '.join(self.channels)})")
        return name

    def gateway(self, identity: str) -> tl.Gateway:
        """A Fabric gateway signing as `identity`, opened once and kept."""
        with self._lock:
            gw = self._gateways.get(identity)
            if gw is None:
                gw = tl.connect(self.root, identity=identity, backend="fabric")
                self._gateways[identity] = gw
            return gw

    def members(self, channel: str) -> frozenset[str]:
        """MSP ids of the channel's application organisations (from its genesis block)."""
        with self._lock:
            known = self._members.get(channel)
        if known is None:
            genesis = self._block_proto(channel, 0, self.default_identity)
            known = application_msp_ids(genesis)
            with self._lock:
                self._members[channel] = known
        return known

    def close(self) -> None:
        """Close every gateway's connections."""
        with self._lock:
            gateways, self._gateways = list(self._gateways.values()), {}
        for gw in gateways:
            gw.close()

    # -- chain reads through qscc ------------------------------------------------

    def _qscc(self, channel: str, identity: str, function: str, arg: str | None = None) -> bytes:
        args = [channel] if arg is None else [channel, arg]
        contract = self.gateway(identity).network(channel).contract("qscc")
        return contract.evaluate(function, *args)

    def height(self, channel: str, identity: str) -> int:
        """The channel's height as the caller's peer reports it (qscc GetChainInfo)."""
        raw = self._qscc(channel, identity, "GetChainInfo")
        return int(ledger_pb2.BlockchainInfo.FromString(raw).height)

    def _block_proto(self, channel: str, number: int, identity: str) -> common_pb2.Block:
        try:
            raw = self._qscc(channel, identity, "GetBlockByNumber", str(number))
        except ContractError:
            height = self.height(channel, identity)
            raise NotFoundError(
                f"no block {number} on channel {channel} (height {height})"
            ) from None
        return common_pb2.Block.FromString(raw)

    def block(self, channel: str, number: int, identity: str) -> BlockView:
        """A block's decoded view; NotFoundError past the height."""
        key = (channel, number)
        with self._lock:
            view = self._blocks.get(key)
            if view is not None:
                self._blocks.move_to_end(key)
                return view
        view = decode_block(self._block_proto(channel, number, identity))
        with self._lock:
            self._blocks[key] = view
            while len(self._blocks) > BLOCK_CACHE:
                self._blocks.popitem(last=False)
        return view

    def locate(self, channel: str, tx_id: str, identity: str) -> explore.TransactionInfo:
        """A transaction by id (qscc GetBlockByTxID), with its block, position and code."""
        try:
            raw = self._qscc(channel, identity, "GetBlockByTxID", tx_id)
        except ContractError:
            raise NotFoundError(f"no transaction {tx_id} on channel {channel}") from None
        block = common_pb2.Block.FromString(raw)
        view = self.block(channel, int(block.header.number), identity)
        return view.transactions[find_transaction(block, tx_id)]

    def valid_count(self, channel: str, height: int, identity: str) -> int:
        """Valid transactions in blocks below `height`; each block is counted once, ever."""
        with self._lock:
            counted, total = self._valid.get(channel, (0, 0))
        if height < counted:  # a peer behind the one asked before: count afresh
            counted, total = 0, 0
        for n in range(counted, height):
            total += self.block(channel, n, identity).summary.valid_count
        with self._lock:
            self._valid[channel] = (height, total)
        return total

    # -- chaincodes ----------------------------------------------------------------

    def definitions(self, channel: str, identity: str) -> tuple[Definition, ...]:
        """Chaincodes committed on the channel (`_lifecycle` QueryChaincodeDefinitions)."""
        with self._lock:
            cached = self._deployed.get(channel)
        if cached is not None and time.monotonic() - cached[0] < DEPLOYED_TTL:
            return cached[1]
        args = lifecycle_pb2.QueryChaincodeDefinitionsArgs().SerializeToString()
        contract = self.gateway(identity).network(channel).contract("_lifecycle")
        raw = contract.evaluate("QueryChaincodeDefinitions", args)
        result = lifecycle_pb2.QueryChaincodeDefinitionsResult.FromString(raw)
        found = tuple(
            sorted(
                (
                    Definition(
                        d.name, d.version, int(d.sequence), _policy_text(d.validation_parameter)
                    )
                    for d in result.chaincode_definitions
                ),
                key=lambda d: d.name,
            )
        )
        with self._lock:
            self._deployed[channel] = (time.monotonic(), found)
        return found

    def deployed(self, channel: str, identity: str) -> frozenset[str]:
        """Names of the chaincodes committed on the channel."""
        return frozenset(d.name for d in self.definitions(channel, identity))

    # -- proofs ----------------------------------------------------------------------

    def prove(self, channel: str, tx_id: str, identity: str) -> FabricBlockProof:
        """The orderer-signed block holding `tx_id`, checked before it is served."""
        proof = self.gateway(identity).network(channel).prove(tx_id)
        assert isinstance(proof, FabricBlockProof)  # the fabric backend proves with blocks
        return proof

    def verifier_key(self, channel: str, identity: str) -> str:
        """PEM of the orderer organisations' CAs: what checks a block proof's signature."""
        return self.gateway(identity).network(channel).verifier_key()


def data_history(ledger: FabricLedger, channel: str, key: str, identity: str) -> list[Any]:
    """A DataContract key's changes, newest first, as its `history` function returns them."""
    contract = ledger.gateway(identity).network(channel).contract(DATA_CONTRACT)
    changes = json.loads(contract.evaluate("history", key))
    if not isinstance(changes, list):
        raise IntegrityError(f"history of {key}", "the contract did not answer a list")
    return changes


__all__ = [
    "DATA_CONTRACT",
    "BlockView",
    "Definition",
    "FabricLedger",
    "FabricNetworkInfo",
    "application_msp_ids",
    "data_history",
    "decode_block",
    "not_on_fabric",
]
