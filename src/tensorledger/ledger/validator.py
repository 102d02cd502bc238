"""Validation of a block's transactions against world state: the "validate" phase.

Shared by the committer, which reads committed state from SQLite, and by
`verify`, which replays the chain into memory and must reach the same
decision for every transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from tensorledger.crypto.msp import MembershipRegistry
from tensorledger.errors import TensorLedgerError
from tensorledger.ledger import policy
from tensorledger.ledger.checks import VALID, Checked, Code
from tensorledger.ledger.config import ChannelConfig
from tensorledger.ledger.lifecycle import (
    LIFECYCLE,
    ChaincodeDefinition,
    definition_key,
    validation_policy,
)
from tensorledger.ledger.rwset import Version
from tensorledger.ledger.store import StateEntry
from tensorledger.ledger.transaction import ParsedTransaction

_Updates = dict[tuple[str, str], tuple[Version | None, bytes | None]]


class ValidationState(Protocol):
    """The committed state a validator reads."""

    def get_state(self, ns: str, key: str) -> StateEntry | None:
        """A key's committed value and version."""
        ...

    def get_versions(self, ns: str, keys: Sequence[str]) -> dict[str, Version]:
        """Committed versions of many keys."""
        ...

    def range_state(self, ns: str, start: str, end: str) -> Iterable[tuple[str, bytes, Version]]:
        """Keys in [start, end) in order."""
        ...

    def tx_ids_seen(self, tx_ids: Sequence[str]) -> set[str]:
        """Which ids are already committed."""
        ...


class BlockValidator:
    """Decides the validation code of each transaction of one block."""

    def __init__(
        self, config: ChannelConfig, membership: MembershipRegistry, state: ValidationState
    ) -> None:
        self.config = config
        self.membership = membership
        self.state = state

    def validate(self, number: int, checked: list[Checked]) -> list[int]:
        """Codes for the block's transactions, given their stateless check results."""
        return self._validate_state(number, checked)

    def _validate_state(self, number: int, checked: list[Checked]) -> list[int]:
        codes = [c.code for c in checked]
        ids = [c.parsed.tx_id for c in checked if c.parsed is not None and c.code == VALID]
        seen = self.state.tx_ids_seen(ids)
        in_block: set[str] = set()
        # (version, value) written by earlier valid transactions of this block; None = deleted.
        updated: _Updates = {}
        definitions: dict[str, ChaincodeDefinition | None] = {}
        for i, c in enumerate(checked):
            if codes[i] != VALID:
                continue
            tx = c.parsed
            assert tx is not None and c.rwset is not None
            if tx.tx_id in seen or tx.tx_id in in_block:
                codes[i] = Code.Value("DUPLICATE_TXID")
                continue
            in_block.add(tx.tx_id)
            codes[i] = self._validate_one(number, i, tx, c, updated, definitions)
            if codes[i] == VALID:
                for ns in c.rwset:
                    for key, value in ns.writes.items():
                        updated[(ns.namespace, key)] = (
                            None if value is None else Version(number, i),
                            value,
                        )
                    if ns.namespace == LIFECYCLE:
                        definitions.clear()
        return codes

    def _validate_one(
        self,
        number: int,
        index: int,
        tx: ParsedTransaction,
        c: Checked,
        updated: _Updates,
        definitions: dict[str, ChaincodeDefinition | None],
    ) -> int:
        try:
            rule = self._policy_for(tx, updated, definitions)
        except (TensorLedgerError, ValueError):
            return int(Code.Value("INVALID_CHAINCODE"))
        if rule is None:
            return int(Code.Value("INVALID_CHAINCODE"))
        if not policy.satisfied(rule, c.endorsers):
            return int(Code.Value("ENDORSEMENT_POLICY_FAILURE"))
        assert c.rwset is not None
        for ns in c.rwset:
            committed = self.state.get_versions(ns.namespace, list(ns.reads))
            for key, version in ns.reads.items():
                pending = updated.get((ns.namespace, key))
                current = pending[0] if pending is not None else committed.get(key)
                if current != version:
                    return int(Code.Value("MVCC_READ_CONFLICT"))
            for rng in ns.ranges:
                now = [
                    (k, v) for k, _, v in self.state.range_state(ns.namespace, rng.start, rng.end)
                ]
                now = self._overlay_range(ns.namespace, rng.start, rng.end, now, updated)
                if now != rng.reads:
                    return int(Code.Value("PHANTOM_READ_CONFLICT"))
        return int(VALID)

    @staticmethod
    def _overlay_range(
        ns: str,
        start: str,
        end: str,
        committed: list[tuple[str, Version]],
        updated: _Updates,
    ) -> list[tuple[str, Version]]:
        merged = dict(committed)
        for (n, key), (version, _) in updated.items():
            if n == ns and key >= start and (not end or key < end):
                if version is None:
                    merged.pop(key, None)
                else:
                    merged[key] = version
        return sorted(merged.items())

    def _policy_for(
        self,
        tx: ParsedTransaction,
        updated: _Updates,
        definitions: dict[str, ChaincodeDefinition | None],
    ) -> policy.Rule | None:
        if tx.chaincode == LIFECYCLE:
            creator_msp = self.membership.deserialize_and_validate(tx.creator).msp_id
            return validation_policy(self.config, tx.function, creator_msp)
        if tx.chaincode not in definitions:
            # A definition committed earlier in this block counts, as it would on a Fabric peer.
            entry = self._definition_entry(tx.chaincode, updated)
            definitions[tx.chaincode] = (
                ChaincodeDefinition.from_json(entry) if entry is not None else None
            )
        definition = definitions[tx.chaincode]
        if definition is None:
            return None
        return policy.parse(definition.policy, self.config.msp_ids)

    def _definition_entry(self, name: str, updated: _Updates) -> bytes | None:
        key = definition_key(name)
        if (LIFECYCLE, key) in updated:
            return updated[(LIFECYCLE, key)][1]
        entry = self.state.get_state(LIFECYCLE, key)
        return None if entry is None else entry.value
