"""The `_lifecycle` system contract: chaincode definitions approved by orgs, then committed.

The embedded equivalent of Fabric's lifecycle: each organisation's admin
approves a definition (name, version, sequence, contract, endorsement policy);
once the channel's lifecycle policy (MAJORITY by default) of organisations
approved the identical definition, anyone may commit it, and from then on
the contract can be invoked under that endorsement policy. Everything is
recorded by ordinary transactions, so `verify` checks it like any other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from tensorledger.crypto.msp import Identity
from tensorledger.ledger import policy
from tensorledger.ledger.config import ChannelConfig
from tensorledger.ledger.shim import Contract, TransactionContext

LIFECYCLE = "_lifecycle"
APPROVE = "ApproveChaincodeDefinitionForMyOrg"
COMMIT = "CommitChaincodeDefinition"
QUERY = "QueryChaincodeDefinition"


@dataclass(frozen=True, slots=True)
class ChaincodeDefinition:
    """A chaincode as the channel agreed on it.

    `contract` is the import reference of the contract class
    ("package.module:Class"), the embedded counterpart of a package id.
    """

    name: str
    version: str
    sequence: int
    contract: str
    policy: str

    def to_json(self) -> str:
        """Canonical JSON, so approvals of the same definition compare equal byte for byte."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ChaincodeDefinition:
        """Parse and check a definition; ValueError with the reason when malformed."""
        try:
            raw = json.loads(text)
            definition = cls(
                name=str(raw["name"]),
                version=str(raw["version"]),
                sequence=int(raw["sequence"]),
                contract=str(raw["contract"]),
                policy=str(raw["policy"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"malformed chaincode definition: {exc}") from None
        if not definition.name or definition.name.startswith("_"):
            raise ValueError(f"invalid chaincode name {definition.name!r}")
        if definition.sequence < 1:
            raise ValueError("sequence must be at least 1")
        if ":" not in definition.contract:
            raise ValueError(f"contract {definition.contract!r} must be 'module:Class'")
        return definition


def definition_key(name: str) -> str:
    """World-state key of a committed definition in the `_lifecycle` namespace."""
    return f"namespaces/{name}"


def approval_key(name: str, sequence: int, msp_id: str) -> str:
    """World-state key of one organisation's approval."""
    return f"approvals/{name}/{sequence:020d}/{msp_id}"


class LifecycleContract(Contract):
    """Approve and commit chaincode definitions on one channel."""

    Name = LIFECYCLE

    def __init__(self, config: ChannelConfig) -> None:
        super().__init__()
        self._config = config

    async def ApproveChaincodeDefinitionForMyOrg(
        self, ctx: TransactionContext, definition: str
    ) -> str:
        """Record the caller's organisation's approval; only an org admin may approve."""
        creator = ctx.get_stub().get_creator()
        identity = Identity(msp_id=creator["mspid"], cert_pem=bytes(creator["idBytes"]))
        if identity.role != "admin":
            raise ValueError(f"only an admin of {identity.msp_id} may approve a definition")
        parsed = ChaincodeDefinition.from_json(definition)
        policy.parse(parsed.policy, self._config.msp_ids)
        current = await ctx.get_stub().get_state(definition_key(parsed.name))
        expected = 1 if not current else ChaincodeDefinition.from_json(current).sequence + 1
        if parsed.sequence != expected:
            raise ValueError(
                f"requested sequence is {parsed.sequence}, "
                f"but new definition must be sequence {expected}"
            )
        await ctx.get_stub().put_state(
            approval_key(parsed.name, parsed.sequence, identity.msp_id), parsed.to_json().encode()
        )
        return f"{identity.msp_id} approved {parsed.name} sequence {parsed.sequence}"

    async def CommitChaincodeDefinition(self, ctx: TransactionContext, definition: str) -> str:
        """Make a definition live once enough organisations approved exactly it."""
        parsed = ChaincodeDefinition.from_json(definition)
        current = await ctx.get_stub().get_state(definition_key(parsed.name))
        expected = 1 if not current else ChaincodeDefinition.from_json(current).sequence + 1
        if parsed.sequence != expected:
            raise ValueError(
                f"requested sequence is {parsed.sequence}, "
                f"but new definition must be sequence {expected}"
            )
        approvals = []
        for msp_id in self._config.msp_ids:
            approved = await ctx.get_stub().get_state(
                approval_key(parsed.name, parsed.sequence, msp_id)
            )
            if approved and bytes(approved).decode() == parsed.to_json():
                approvals.append((msp_id, "admin"))
        rule = policy.parse(self._config.lifecycle_policy, self._config.msp_ids)
        if not policy.satisfied(policy.as_members(rule), approvals):
            got = ", ".join(m for m, _ in approvals) or "none"
            raise ValueError(
                f"chaincode definition for {parsed.name} sequence {parsed.sequence} lacks "
                f"approvals required by {self._config.lifecycle_policy} (approved: {got})"
            )
        await ctx.get_stub().put_state(definition_key(parsed.name), parsed.to_json().encode())
        return f"committed {parsed.name} version {parsed.version} sequence {parsed.sequence}"

    async def QueryChaincodeDefinition(self, ctx: TransactionContext, name: str) -> str:
        """The committed definition of a chaincode as JSON."""
        current = await ctx.get_stub().get_state(definition_key(name))
        if not current:
            raise ValueError(f"namespace {name} is not defined")
        return bytes(current).decode()


def validation_policy(config: ChannelConfig, function: str, creator_msp: str) -> policy.Rule:
    """Endorsement policy for a `_lifecycle` transaction.

    An approval is the approving organisation's own act, so its own peer must
    endorse it; a commit needs the channel's lifecycle policy.
    """
    if function == APPROVE:
        return policy.Principal(creator_msp, "peer")
    return policy.parse(config.lifecycle_policy, config.msp_ids)
