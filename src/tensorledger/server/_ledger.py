"""The ledger a server serves: its network description, a reader, and one gateway per identity.

Reads of blocks, state and proofs go through one `EmbeddedNetwork` opened for
reading; contract calls go through `tl.connect(ledger, identity=...)`, one
gateway per identity, so a write is signed by the identity its token names.
Proofs are returned as the ledger makes them, unverified: a client that
checks them itself must be able to see a tampered ledger fail.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import tensorledger as tl
from tensorledger.errors import NotFoundError
from tensorledger.ledger.channel import Channel, read_genesis_config
from tensorledger.ledger.network import EmbeddedNetwork, OrgInfo
from tensorledger.ledger.store import ChannelStore

_CHANNEL = re.compile(r"^[a-z][a-z0-9.-]{0,248}$")


class ServedLedger:
    """One embedded ledger directory opened for a server's lifetime; thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.network = EmbeddedNetwork(self.root)
        self._lock = threading.Lock()
        self._gateways: dict[str, tl.Gateway] = {}
        self._members: dict[str, frozenset[str]] = {}

    @property
    def orgs(self) -> tuple[OrgInfo, ...]:
        """The network's organisations."""
        return self.network.orgs

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels of the network."""
        return self.network.channel_names

    @property
    def default_identity(self) -> str:
        """Who anonymous reads are made as: the first organisation's User1."""
        return self.network.orgs[0].name

    def msp_of(self, identity: str) -> str:
        """The MSP id of an identity's organisation ('Org1/Admin' -> 'Org1MSP')."""
        return self.network.org(identity.partition("/")[0]).msp_id

    def channel(self, name: str) -> Channel:
        """A channel by name; NotFoundError (not ConfigError) if the network has none such."""
        if not _CHANNEL.match(name) or name not in self.network.channel_names:
            raise NotFoundError(
                f"no channel {name!r} (channels: {', '.join(self.network.channel_names)})"
            )
        return self.network.channel(name)

    def store(self, channel: str) -> ChannelStore:
        """The channel's store, for reads."""
        return self.channel(channel).store

    def members(self, channel: str) -> frozenset[str]:
        """MSP ids of the channel's member organisations (from its genesis config)."""
        with self._lock:
            known = self._members.get(channel)
        if known is None:
            known = frozenset(read_genesis_config(self.store(channel)).msp_ids)
            with self._lock:
                self._members[channel] = known
        return known

    def gateway(self, identity: str) -> tl.Gateway:
        """A gateway signing as `identity`, opened once and kept."""
        with self._lock:
            gw = self._gateways.get(identity)
            if gw is None:
                gw = tl.connect(self.root, identity=identity, backend="embedded")
                self._gateways[identity] = gw
            return gw

    def close(self) -> None:
        """Close every gateway (their queued commits drain) and the reader."""
        with self._lock:
            gateways, self._gateways = list(self._gateways.values()), {}
        for gw in gateways:
            gw.close()
        self.network.close()
