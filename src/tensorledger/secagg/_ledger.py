"""The `secagg` chaincode seen from a client: typed session state and the wire calls."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tensorledger.errors import InvalidRequestError
from tensorledger.gateway import Contract, Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL

#: chaincode name of the secure-aggregation contract
SECAGG = "secagg"


@dataclass(frozen=True)
class SessionState:
    """A session as GetSession shows it: who takes part, and what is on the ledger so far."""

    id: str
    parties: tuple[str, ...]
    vector_length: int
    scale_bits: int
    description: str
    owner: str
    keys: Mapping[str, str]  # msp -> X25519 public key hex
    masked_hashes: Mapping[str, str]  # msp -> SHA-256 of its masked vector
    aggregate: tuple[int, ...] | None  # signed sum in Z/2^128, once recorded
    aggregator: str | None  # MSP that recorded the aggregate
    aggregate_tx: str | None
    status: str  # keys | masking | ready | aggregated

    @classmethod
    def from_json(cls, data: bytes | str) -> SessionState:
        """Parse GetSession's answer; InvalidRequestError when it is not one."""
        try:
            raw: dict[str, Any] = json.loads(data)
            aggregate = raw["aggregate"]
            return cls(
                id=str(raw["id"]),
                parties=tuple(str(p) for p in raw["parties"]),
                vector_length=int(raw["vectorLength"]),
                scale_bits=int(raw["scale"]),
                description=str(raw["description"]),
                owner=str(raw["owner"]),
                keys=MappingProxyType(dict(raw["keys"])),
                masked_hashes=MappingProxyType(dict(raw["maskedHashes"])),
                aggregate=None
                if aggregate is None
                else tuple(int(v) for v in aggregate["aggregate"]),
                aggregator=None if aggregate is None else str(aggregate["owner"]),
                aggregate_tx=None if aggregate is None else str(aggregate["txId"]),
                status=str(raw["status"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequestError(f"not a secagg session record: {exc}") from None


def open_session(
    gw: Gateway,
    session_id: str,
    parties: Sequence[str],
    vector_length: int,
    *,
    scale_bits: int,
    description: str,
    channel: str,
) -> SessionState:
    """OpenSession; ContractError names what the contract refused."""
    record: dict[str, Any] = {
        "id": session_id,
        "parties": list(parties),
        "vectorLength": vector_length,
        "scale": scale_bits,
    }
    if description:
        record["description"] = description
    _contract(gw, channel).submit("OpenSession", json.dumps(record))
    return get_session(gw, session_id, channel=channel)


def get_session(gw: Gateway, session_id: str, *, channel: str = DEFAULT_CHANNEL) -> SessionState:
    """GetSession; ContractError "Session <id> does not exist." when there is none."""
    return SessionState.from_json(_contract(gw, channel).evaluate("GetSession", session_id))


def register_key(gw: Gateway, session_id: str, public_key_hex: str, *, channel: str) -> str:
    """RegisterKey by `gw`'s organisation; returns the transaction id."""
    return _contract(gw, channel).submit("RegisterKey", session_id, public_key_hex).tx_id


def record_masked(gw: Gateway, session_id: str, masked_hash: str, *, channel: str) -> str:
    """RecordMasked by `gw`'s organisation; returns the transaction id."""
    return _contract(gw, channel).submit("RecordMasked", session_id, masked_hash).tx_id


def record_aggregate(
    gw: Gateway,
    session_id: str,
    masked_hashes: Mapping[str, str],
    aggregate: Sequence[int],
    *,
    channel: str,
) -> str:
    """RecordAggregate; returns the transaction id."""
    record = {
        "session": session_id,
        "maskedHashes": dict(masked_hashes),
        "aggregate": [str(v) for v in aggregate],
    }
    return _contract(gw, channel).submit("RecordAggregate", json.dumps(record)).tx_id


def _contract(gw: Gateway, channel: str) -> Contract:
    return gw.network(channel).contract(SECAGG)
