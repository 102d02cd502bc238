"""Channel configuration: member organisations, their CAs, the orderer and block cutting.

It is the content of the channel's genesis block (a CONFIG transaction), so
every copy of the ledger carries the trust roots it is verified against.
Fabric encodes this as `common.Config`; we carry the same facts as canonical
JSON inside the CONFIG envelope's payload.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from tensorledger.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """Block cutting, as Fabric's orderer BatchSize / BatchTimeout.

    Fabric's default timeout is 2 s. An embedded ordering service sits next to
    its committer, so by default it cuts as soon as the queue is drained
    (`timeout_ms` 0): a lone transaction does not wait, and under load the
    transactions that arrive while a block is being committed form the next
    block, so many share one fsync.
    """

    max_message_count: int = 500
    absolute_max_bytes: int = 10 * 1024 * 1024
    timeout_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class OrgConfig:
    """A member organisation: its name, MSP id and CA certificate (PEM)."""

    name: str
    msp_id: str
    ca_cert: str


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """Everything a peer needs to validate a channel's transactions."""

    channel: str
    orgs: tuple[OrgConfig, ...]
    orderer: OrgConfig
    batch: BatchConfig = field(default_factory=BatchConfig)
    #: who must endorse a chaincode definition commit (Fabric's LifecycleEndorsement)
    lifecycle_policy: str = "MAJORITY"
    #: largest envelope the orderer accepts (a check at broadcast, as Fabric's)
    max_envelope_bytes: int = 8 * 1024 * 1024

    @property
    def msp_ids(self) -> list[str]:
        """MSP ids of the application organisations, in configuration order."""
        return [o.msp_id for o in self.orgs]

    def org(self, name_or_msp: str) -> OrgConfig:
        """An organisation by name or MSP id."""
        for o in self.orgs:
            if name_or_msp in (o.name, o.msp_id):
                return o
        raise ConfigError(
            f"no organisation {name_or_msp!r} on channel {self.channel} "
            f"(members: {', '.join(o.name for o in self.orgs)})"
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON: sorted keys, no spaces, so every copy hashes the same."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ChannelConfig:
        """Parse the genesis block's configuration; ConfigError if it is malformed."""
        try:
            raw = json.loads(data)
            return cls(
                channel=raw["channel"],
                orgs=tuple(OrgConfig(**o) for o in raw["orgs"]),
                orderer=OrgConfig(**raw["orderer"]),
                batch=BatchConfig(**raw["batch"]),
                lifecycle_policy=raw["lifecycle_policy"],
                max_envelope_bytes=raw["max_envelope_bytes"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"malformed channel configuration: {exc}") from None
