"""A Fabric 2.1 network on this machine: `up`, `status` and `down`, with no Docker.

`up` writes crypto material (our cryptogen), configtx.yaml and the system
channel's genesis block, starts one Raft orderer and one peer per
organisation on free loopback ports (TLS everywhere), creates and joins the
channel, and deploys each contract as an external chaincode service: one
``python -m tensorledger.fabric.chaincode`` server per contract (and, when
asked, the Node.js DataContract as ``datacontract-node``), installed,
approved by every organisation and committed. ``network.json`` is the
connection profile; it also records every pid so `down` stops exactly those.

Layout: ``network.json``, ``crypto/``, ``config/`` (core.yaml, orderer.yaml,
configtx.yaml), ``builder/``, ``artifacts/`` (blocks, transactions,
packages), ``data/`` (ledgers), ``logs/``.

``network.json`` (all paths absolute)::

    {"backend": "fabric", "fabric_version", "channel",
     "orderer": {"address", "msp_id", "tls_ca", "operations", "log"},
     "organizations": [{"name", "msp_id", "domain", "msp_dir",
                        "peer": {"address", "tls_ca", "host", "operations", "log"},
                        "users": {"User1": <msp dir>, "Admin": <msp dir>}}],
     "chaincodes": [{"name", "contract", "version", "sequence", "policy",
                     "package_id", "address", "pid", "log"}],
     "processes": [{"name", "pid", "start_time", "log", "command"}]}
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tensorledger.crypto.cryptogen import generate_orderer_org, generate_org
from tensorledger.errors import ConfigError, NotFoundError, UnavailableError
from tensorledger.fabric import config as cfg
from tensorledger.fabric import node_chaincode as node_cc
from tensorledger.fabric import nodes, process
from tensorledger.fabric.builder import write_builder
from tensorledger.fabric.deploy import chaincode_env, deploy, signature_policy
from tensorledger.fabric.install import FABRIC_VERSION, Installation, find_installation
from tensorledger.fabric.peercli import PeerCLI, PeerOrg
from tensorledger.fabric.process import HOST, ProcessInfo
from tensorledger.ledger.network import DEFAULT_CONTRACTS, ORDERER, ContractSpec, OrgInfo

PROFILE_FILE = "network.json"
FORMAT = 1
Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    """Progress sink that drops messages."""


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """One process of the network and whether it still runs."""

    name: str
    pid: int
    alive: bool
    log: str


@dataclass(frozen=True, slots=True)
class NetworkStatus:
    """What `status` found: every process, and each peer's height on the channel."""

    channel: str
    processes: tuple[ProcessStatus, ...]
    heights: dict[str, int | None]

    @property
    def healthy(self) -> bool:
        """Every recorded process runs and every peer answered."""
        return all(p.alive for p in self.processes) and all(
            h is not None for h in self.heights.values()
        )


class _Recorder:
    """The profile being written, saved after every started process so `down` can stop it."""

    def __init__(self, root: Path, profile: dict[str, Any]) -> None:
        self.root = root
        self.profile = profile

    def started(self, info: ProcessInfo) -> ProcessInfo:
        self.profile["processes"].append(info.to_json())
        self.save()
        return info

    def save(self) -> None:
        path = self.root / PROFILE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.profile, indent=2) + "\n")
        tmp.replace(path)


def _ports(orgs: int, contracts: int, base_port: int | None) -> dict[str, int]:
    names = ["orderer", "orderer operations"]
    for i in range(1, orgs + 1):
        names += [f"Org{i} peer", f"Org{i} peer chaincode", f"Org{i} peer operations"]
    names += [f"chaincode server {i}" for i in range(contracts)]
    if base_port is None:
        return dict(zip(names, process.free_ports(len(names)), strict=True))
    if not 1024 <= base_port <= 65535 - len(names):
        raise ConfigError(f"--base-port {base_port} must lie in 1024..{65535 - len(names)}")
    ports = {name: base_port + i for i, name in enumerate(names)}
    process.check_ports_free(ports)
    return ports


def _configtxgen(fabric: Installation, root: Path, args: Sequence[str]) -> None:
    done = subprocess.run(
        [str(fabric.binary("configtxgen")), "-configPath", str(root / "config"), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    with (root / "logs" / "configtxgen.log").open("a") as log:
        log.write(f"$ configtxgen {' '.join(args)}\n{done.stderr}\n")
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise ConfigError(f"configtxgen {args[1]} failed:\n{tail}")


def up(
    directory: Path,
    orgs: int = 2,
    channel: str = "mychannel",
    contracts: Sequence[ContractSpec] = DEFAULT_CONTRACTS,
    *,
    policy: str | None = None,
    base_port: int | None = None,
    node_chaincode: bool = False,
    fabric: Installation | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Start a network in `directory` (new or empty) and return its connection profile.

    `policy` overrides every contract's endorsement policy (MAJORITY, ANY or a
    signature policy such as ``AND('Org1MSP.peer','Org2MSP.peer')``). Ports
    are chosen free, or consecutive from `base_port` (ConfigError naming any
    that is taken). `node_chaincode` also deploys the seed's Node.js
    DataContract as ``datacontract-node`` (its npm packages installed into
    the Fabric cache on first use). Fails with the log's tail of any process
    that does not come up; everything started by then is stopped again.
    """
    if not 1 <= orgs <= 16:
        raise ConfigError(f"--orgs must be between 1 and 16, not {orgs}")
    root = Path(directory).resolve()
    if (root / PROFILE_FILE).exists():
        raise ConfigError(f"{root} already holds a network; run `tensorledger fabric down` first")
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"{root} exists and is not empty")
    fabric = fabric or find_installation()
    for name in ("peer", "orderer", "configtxgen"):
        fabric.binary(name)
    if node_chaincode:
        progress("preparing the Node chaincode (npm ci on first use)")
        contracts = [*contracts, node_cc.spec(node_cc.prepare(fabric))]
    infos = [OrgInfo.for_name(f"Org{i}") for i in range(1, orgs + 1)]
    msp_ids = [i.msp_id for i in infos]
    rules = {c.name: signature_policy(policy or c.policy, msp_ids) for c in contracts}
    ports = _ports(orgs, len(contracts), base_port)
    for sub in ("config", "artifacts", "logs", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    profile: dict[str, Any] = {
        "format": FORMAT,
        "backend": "fabric",
        "fabric_version": FABRIC_VERSION,
        "channel": channel,
        "processes": [],
    }
    recorder = _Recorder(root, profile)
    recorder.save()
    try:
        _bring_up(root, fabric, infos, channel, contracts, rules, ports, recorder, progress)
    except BaseException:
        down(root)
        raise
    return profile


def _bring_up(
    root: Path,
    fabric: Installation,
    infos: Sequence[OrgInfo],
    channel: str,
    contracts: Sequence[ContractSpec],
    rules: dict[str, str],
    ports: dict[str, int],
    recorder: _Recorder,
    progress: Progress,
) -> None:
    profile = recorder.profile
    progress("writing crypto material")
    crypto = root / "crypto"
    orderer_org = generate_orderer_org(crypto, ORDERER.name, ORDERER.msp_id, ORDERER.domain)
    materials = [generate_org(crypto, i.name, i.msp_id, i.domain) for i in infos]
    orderer_node = orderer_org.nodes[0]
    orderer_address = f"{HOST}:{ports['orderer']}"
    orderer_ca = orderer_node / "tls" / "ca.crt"

    progress("writing configuration and the genesis block")
    builder = write_builder(root / "builder")
    config = root / "config"
    cfg.write_config(
        config / "core.yaml", cfg.core_yaml(fabric.sampleconfig / "core.yaml", builder)
    )
    shutil.copyfile(fabric.sampleconfig / "orderer.yaml", config / "orderer.yaml")
    orderer_spec = cfg.OrdererSpec(
        cfg.OrgSpec(ORDERER.msp_id, orderer_org.msp_dir, HOST, ports["orderer"]),
        orderer_node / "tls" / "server.crt",
    )
    org_specs = [
        cfg.OrgSpec(m.msp_id, m.msp_dir, HOST, ports[f"{i.name} peer"])
        for i, m in zip(infos, materials, strict=True)
    ]
    cfg.write_config(config / "configtx.yaml", cfg.configtx(orderer_spec, org_specs))
    artifacts = root / "artifacts"
    _configtxgen(
        fabric,
        root,
        [
            "-profile",
            cfg.SYSTEM_PROFILE,
            "-channelID",
            cfg.SYSTEM_CHANNEL,
            "-outputBlock",
            str(artifacts / "genesis.block"),
        ],
    )
    _configtxgen(
        fabric,
        root,
        [
            "-profile",
            cfg.CHANNEL_PROFILE,
            "-channelID",
            channel,
            "-outputCreateChannelTx",
            str(artifacts / f"{channel}.tx"),
        ],
    )

    progress(f"starting the orderer on {orderer_address}")
    orderer = recorder.started(
        process.start(
            "orderer",
            [str(fabric.binary("orderer"))],
            env=nodes.orderer_env(
                root, orderer_node, ORDERER.msp_id, ports["orderer"], ports["orderer operations"]
            ),
            log=root / "logs" / "orderer.log",
            cwd=root,
        )
    )
    profile["orderer"] = {
        "address": orderer_address,
        "msp_id": ORDERER.msp_id,
        "tls_ca": str(orderer_ca),
        "operations": f"{HOST}:{ports['orderer operations']}",
        "log": orderer.log,
    }
    peer_orgs: list[PeerOrg] = []
    started: list[tuple[ProcessInfo, int]] = []
    profile["organizations"] = []
    for info, material in zip(infos, materials, strict=True):
        address = f"{HOST}:{ports[f'{info.name} peer']}"
        progress(f"starting {info.name}'s peer on {address}")
        peer = recorder.started(
            process.start(
                f"peer {info.name}",
                [str(fabric.binary("peer")), "node", "start"],
                env=nodes.peer_env(
                    root,
                    material,
                    ports[f"{info.name} peer"],
                    ports[f"{info.name} peer chaincode"],
                    ports[f"{info.name} peer operations"],
                ),
                log=root / "logs" / f"peer-{info.name.lower()}.log",
                cwd=root,
            )
        )
        started.append((peer, ports[f"{info.name} peer operations"]))
        tls_ca = material.nodes[0] / "tls" / "ca.crt"
        peer_orgs.append(
            PeerOrg(info.name, info.msp_id, address, tls_ca, material.admin_dir / "msp")
        )
        profile["organizations"].append(
            {
                "name": info.name,
                "msp_id": info.msp_id,
                "domain": info.domain,
                "peer": {
                    "address": address,
                    "tls_ca": str(tls_ca),
                    "host": material.nodes[0].name,
                    "operations": f"{HOST}:{ports[f'{info.name} peer operations']}",
                    "log": peer.log,
                },
                "msp_dir": str(material.msp_dir),
                "users": {u.name.split("@")[0]: str(u / "msp") for u in material.users},
            }
        )
    recorder.save()
    process.wait_healthy(orderer, ports["orderer operations"])
    for peer, ops in started:
        process.wait_healthy(peer, ops)

    cli = PeerCLI(
        fabric.binary("peer"),
        root / "config",
        orderer_address,
        orderer_ca,
        root / "logs" / "cli.log",
    )
    block = artifacts / f"{channel}.block"
    progress(f"creating channel {channel} and joining every peer")
    _retry(lambda: cli.create_channel(peer_orgs[0], channel, artifacts / f"{channel}.tx", block))
    for org in peer_orgs:
        cli.join(org, block)

    names = ", ".join(c.name for c in contracts)
    progress(f"deploying {names} as chaincode services")

    def start(name: str, command: list[str], log: Path) -> ProcessInfo:
        info = process.start(name, command, env=chaincode_env(), log=root / "logs" / log, cwd=root)
        return recorder.started(info)

    planned = [
        (spec, rules[spec.name], ports[f"chaincode server {index}"])
        for index, spec in enumerate(contracts)
    ]
    profile["chaincodes"] = deploy(artifacts, cli, peer_orgs, channel, planned, start)
    recorder.save()
    progress("network is up")


def _retry(action: Callable[[], None], attempts: int = 20, delay: float = 0.5) -> None:
    # Raft elects its leader a moment after /healthz says OK: the first
    # broadcast may meet "no Raft leader" (SERVICE_UNAVAILABLE).
    for attempt in range(attempts):
        try:
            action()
            return
        except UnavailableError as exc:
            if attempt == attempts - 1 or "SERVICE_UNAVAILABLE" not in str(exc):
                raise
            time.sleep(delay)


def load_profile(directory: Path) -> dict[str, Any]:
    """The network's ``network.json``; NotFoundError when there is no network there."""
    path = Path(directory) / PROFILE_FILE
    try:
        profile: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFoundError(f"no Fabric network in {directory} ({PROFILE_FILE} missing)") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    if profile.get("backend") != "fabric":
        raise ConfigError(f"{path} does not describe a Fabric network")
    return profile


def admin_cli(directory: Path, fabric: Installation | None = None) -> tuple[PeerCLI, list[PeerOrg]]:
    """The `peer` CLI and every organisation, as recorded in the network's profile."""
    root = Path(directory).resolve()
    profile = load_profile(root)
    if "orderer" not in profile:
        raise ConfigError(f"the network in {root} never started its orderer")
    fabric = fabric or find_installation()
    orderer = profile["orderer"]
    cli = PeerCLI(
        fabric.binary("peer"),
        root / "config",
        orderer["address"],
        Path(orderer["tls_ca"]),
        root / "logs" / "cli.log",
    )
    orgs = [
        PeerOrg(
            o["name"],
            o["msp_id"],
            o["peer"]["address"],
            Path(o["peer"]["tls_ca"]),
            Path(o["users"]["Admin"]),
        )
        for o in profile.get("organizations", [])
    ]
    return cli, orgs


def status(directory: Path, fabric: Installation | None = None) -> NetworkStatus:
    """Which recorded processes run, and each peer's height (None when it does not answer)."""
    profile = load_profile(directory)
    procs = [ProcessInfo.from_json(p) for p in profile["processes"]]
    found = tuple(ProcessStatus(p.name, p.pid, process.is_alive(p), p.log) for p in procs)
    heights: dict[str, int | None] = {}
    if "orderer" in profile:
        cli, orgs = admin_cli(directory, fabric)
        for org in orgs:
            try:
                heights[org.name] = cli.height(org, profile["channel"])
            except UnavailableError:
                heights[org.name] = None
    return NetworkStatus(profile["channel"], found, heights)


def down(directory: Path) -> list[str]:
    """Stop every process the network started, newest first; the names of those stopped.

    Only the recorded pids are signalled, and only while their start time
    still matches; running it again stops nothing and succeeds.
    """
    profile = load_profile(directory)
    stopped = []
    for raw in reversed(profile["processes"]):
        info = ProcessInfo.from_json(raw)
        if process.stop(info):
            stopped.append(info.name)
    return stopped


__all__ = [
    "PROFILE_FILE",
    "NetworkStatus",
    "ProcessStatus",
    "admin_cli",
    "down",
    "load_profile",
    "status",
    "up",
]
