"""An embedded network on disk: organisations' crypto material, channels, deployed contracts.

Layout of a ledger directory (Fabric's cryptogen layout for the material)::

    network.json                      organisations, orderer, channels
    organizations/peerOrganizations/<domain>/...     per-org CA, peers, users
    organizations/ordererOrganizations/<domain>/...  the orderer
    channels/<channel>.db             one SQLite ledger per channel

`init_network` creates it atomically (in a temporary sibling directory that
is renamed into place), so an interrupted init leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tensorledger.crypto.cryptogen import generate_orderer_org, generate_org, load_signing_identity
from tensorledger.crypto.msp import SigningIdentity
from tensorledger.crypto.pem import read_certificate_pem
from tensorledger.errors import ConfigError
from tensorledger.ledger.channel import Channel, read_genesis_config
from tensorledger.ledger.config import BatchConfig, ChannelConfig, OrgConfig
from tensorledger.ledger.endorser import ChaincodeRegistry
from tensorledger.ledger.lifecycle import APPROVE, COMMIT, LIFECYCLE, ChaincodeDefinition
from tensorledger.ledger.store import ChannelStore

NETWORK_FILE = "network.json"
FORMAT = 1
DEFAULT_CHANNEL = "mychannel"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")
_CHANNEL = re.compile(r"^[a-z][a-z0-9.-]{0,248}$")  # Fabric's channel name rule


@dataclass(frozen=True, slots=True)
class OrgInfo:
    """An organisation of the network: display name, MSP id, domain."""

    name: str
    msp_id: str
    domain: str

    @classmethod
    def for_name(cls, name: str) -> OrgInfo:
        """Conventional ids for an organisation name, as Fabric's samples use them."""
        if not _NAME.match(name):
            raise ConfigError(
                f"organisation name {name!r} must start with a letter and hold only "
                "letters, digits and '-'"
            )
        return cls(name, f"{name}MSP", f"{name.lower()}.example.com")


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """A contract to deploy at init: chaincode name, import reference, policy."""

    name: str
    contract: str
    policy: str = "MAJORITY"
    version: str = "1.0"


DEFAULT_CONTRACTS = (
    ContractSpec("datacontract", "tensorledger.contracts.data:DataContract"),
    ContractSpec("datasets", "tensorledger.contracts.datasets:DatasetContract"),
    ContractSpec("models", "tensorledger.contracts.models:ModelContract"),
    ContractSpec("analyses", "tensorledger.contracts.analyses:AnalysisContract"),
    ContractSpec("secagg", "tensorledger.contracts.secagg:SecureAggregationContract"),
    ContractSpec("budgets", "tensorledger.contracts.budgets:PrivacyBudgetContract"),
    ContractSpec("governance", "tensorledger.contracts.governance:GovernanceContract"),
    ContractSpec("rounds", "tensorledger.contracts.rounds:RoundContract"),
)
ORDERER = OrgInfo("Orderer", "OrdererMSP", "example.com")


def init_network(
    path: Path,
    orgs: Sequence[str] = ("Org1", "Org2"),
    *,
    channels: Sequence[str] = (DEFAULT_CHANNEL,),
    contracts: Sequence[ContractSpec] = DEFAULT_CONTRACTS,
    batch: BatchConfig | None = None,
) -> Path:
    """Create a network: crypto material, genesis blocks and deployed contracts."""
    infos = [OrgInfo.for_name(o) for o in orgs]
    if not infos:
        raise ConfigError("a network needs at least one organisation")
    if len({i.name.lower() for i in infos}) != len(infos):
        raise ConfigError(f"organisation names must be distinct: {list(orgs)}")
    for ch in channels:
        if not _CHANNEL.match(ch):
            raise ConfigError(
                f"channel name {ch!r} must be lower case letters, digits, '.' or '-', "
                "starting with a letter"
            )
    path = Path(path)
    if (path / NETWORK_FILE).exists():
        raise ConfigError(f"{path} already holds a network; refusing to overwrite it")
    if path.exists() and any(path.iterdir()):
        raise ConfigError(f"{path} exists and is not empty")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.init-{secrets.token_hex(4)}"
    try:
        _build(staging, infos, channels, contracts, batch or BatchConfig())
        if path.exists():
            path.rmdir()
        staging.rename(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _build(
    root: Path,
    infos: Sequence[OrgInfo],
    channels: Sequence[str],
    contracts: Sequence[ContractSpec],
    batch: BatchConfig,
) -> None:
    orgs_dir = root / "organizations"
    for info in infos:
        generate_org(orgs_dir, info.name, info.msp_id, info.domain)
    generate_orderer_org(orgs_dir, ORDERER.name, ORDERER.msp_id, ORDERER.domain)
    network_id = secrets.token_hex(8)
    (root / "channels").mkdir()
    (root / NETWORK_FILE).write_text(
        json.dumps(
            {
                "format": FORMAT,
                "network_id": network_id,
                "orgs": [vars_of(i) for i in infos],
                "orderer": vars_of(ORDERER),
                "channels": list(channels),
            },
            indent=2,
        )
        + "\n"
    )
    network = EmbeddedNetwork(root)
    try:
        for ch in channels:
            config = ChannelConfig(
                channel=ch,
                orgs=tuple(OrgConfig(i.name, i.msp_id, network.ca_cert(i).decode()) for i in infos),
                orderer=OrgConfig(ORDERER.name, ORDERER.msp_id, network.ca_cert(ORDERER).decode()),
                batch=batch,
            )
            store = ChannelStore(channel_db(root, ch), create=True)
            Channel.write_genesis(store, config, network.orderer_identity(), network_id)
            store.close()
            for spec in contracts:
                network.deploy(ch, spec)
    finally:
        network.close()


def channel_db(root: Path, channel: str) -> Path:
    """The channel's database file: `channels/<channel>.db`.

    Fabric allows channel names of up to 249 characters, but SQLite's
    side files (`-journal`, `-wal`) must fit the file system's 255-byte name
    limit, so long names are shortened with a hash that keeps them distinct.
    """
    if len(channel) <= 200:
        return root / "channels" / f"{channel}.db"
    digest = hashlib.sha256(channel.encode()).hexdigest()[:16]
    return root / "channels" / f"{channel[:64]}-{digest}.db"


def vars_of(info: OrgInfo) -> dict[str, str]:
    """JSON form of an OrgInfo."""
    return {"name": info.name, "msp_id": info.msp_id, "domain": info.domain}


class EmbeddedNetwork:
    """An embedded network opened from its directory; channels open on first use."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            raw = json.loads((self.root / NETWORK_FILE).read_text())
            if raw.get("format") != FORMAT:
                raise ConfigError(
                    f"{self.root / NETWORK_FILE}: unsupported format {raw.get('format')}"
                )
            self.network_id: str = raw["network_id"]
            self.orgs = tuple(OrgInfo(**o) for o in raw["orgs"])
            self.orderer = OrgInfo(**raw["orderer"])
            self.channel_names: tuple[str, ...] = tuple(raw["channels"])
        except FileNotFoundError:
            raise ConfigError(
                f"{self.root} is not a tensorledger network (no {NETWORK_FILE}); "
                "create one with `tensorledger init`"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{self.root / NETWORK_FILE} is malformed: {exc}") from None
        self._channels: dict[str, Channel] = {}
        self._lock = threading.Lock()
        self._chaincodes = ChaincodeRegistry()

    # -- identities ----------------------------------------------------------

    def org(self, name: str) -> OrgInfo:
        """An organisation by name, MSP id or domain (case-insensitive name)."""
        for o in self.orgs:
            if name.lower() in (o.name.lower(), o.msp_id.lower(), o.domain):
                return o
        known = ", ".join(o.name for o in self.orgs)
        raise ConfigError(f"no organisation {name!r} in this network (organisations: {known})")

    def _org_dir(self, info: OrgInfo) -> Path:
        kind = "ordererOrganizations" if info == self.orderer else "peerOrganizations"
        return self.root / "organizations" / kind / info.domain

    def ca_cert(self, info: OrgInfo) -> bytes:
        """The organisation's CA certificate (PEM)."""
        return read_certificate_pem(
            self._org_dir(info) / "msp" / "cacerts" / f"ca.{info.domain}-cert.pem"
        )

    def identity(self, who: str) -> SigningIdentity:
        """A signing identity: 'Org1' (its User1), 'Org1/Admin' or 'User1@org1.example.com'."""
        if "@" in who:
            user, _, domain = who.partition("@")
            org = self.org(domain)
        else:
            org_name, _, user = who.partition("/")
            org = self.org(org_name)
            user = user or "User1"
        msp_dir = self._org_dir(org) / "users" / f"{user}@{org.domain}" / "msp"
        if not msp_dir.exists():
            raise ConfigError(f"no identity {user!r} in organisation {org.name}")
        return load_signing_identity(msp_dir, org.msp_id)

    def peer_identity(self, info: OrgInfo) -> SigningIdentity:
        """The signing identity of the organisation's endorsing peer."""
        return load_signing_identity(
            self._org_dir(info) / "peers" / f"peer0.{info.domain}" / "msp", info.msp_id
        )

    def orderer_identity(self) -> SigningIdentity:
        """The ordering service node's signing identity."""
        return load_signing_identity(
            self._org_dir(self.orderer) / "orderers" / f"orderer.{self.orderer.domain}" / "msp",
            self.orderer.msp_id,
        )

    # -- channels ------------------------------------------------------------

    def channel(self, name: str = DEFAULT_CHANNEL) -> Channel:
        """The channel's ledger, opened once per process."""
        with self._lock:
            ch = self._channels.get(name)
            if ch is not None:
                return ch
            if name not in self.channel_names:
                raise ConfigError(
                    f"no channel {name!r} in this network "
                    f"(channels: {', '.join(self.channel_names)})"
                )
            store = ChannelStore(channel_db(self.root, name))
            config = read_genesis_config(store)
            peers = [self.peer_identity(o) for o in self.orgs if o.msp_id in config.msp_ids]
            ch = Channel(
                store, config, peers, self.orderer_identity(), self.network_id, self._chaincodes
            )
            self._channels[name] = ch
            return ch

    def deploy(self, channel: str, spec: ContractSpec) -> None:
        """Approve the definition as every organisation's admin, then commit it."""
        ch = self.channel(channel)
        from tensorledger.errors import NotFoundError
        from tensorledger.ledger.endorser import lookup_definition

        try:
            sequence = lookup_definition(ch.store, spec.name).sequence + 1
        except NotFoundError:
            sequence = 1
        definition = ChaincodeDefinition(
            spec.name, spec.version, sequence, spec.contract, spec.policy
        ).to_json()
        for org in self.orgs:
            ch.submit(self.identity(f"{org.name}/Admin"), LIFECYCLE, APPROVE, [definition])
        ch.submit(self.identity(f"{self.orgs[0].name}/Admin"), LIFECYCLE, COMMIT, [definition])

    def close(self) -> None:
        """Close every opened channel (drains their orderers first)."""
        with self._lock:
            for ch in self._channels.values():
                ch.close()
            self._channels.clear()
