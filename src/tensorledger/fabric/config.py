"""The YAML a Fabric 2.1 network reads: configtx.yaml (channels), core.yaml and orderer.yaml.

configtx.yaml is written from scratch (one Raft orderer org, N peer orgs,
V2_0 capabilities); core.yaml and orderer.yaml are Fabric's own samples with
the few keys that cannot be set per process through ``CORE_*``/``ORDERER_*``
environment variables changed: no Docker, and our external builder. Files
are written as JSON, a subset of YAML, so no YAML library is needed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tensorledger.errors import ConfigError

SYSTEM_PROFILE = "TensorLedgerGenesis"
CHANNEL_PROFILE = "TensorLedgerChannel"
SYSTEM_CHANNEL = "system-channel"
CONSORTIUM = "TensorLedgerConsortium"
BUILDER_NAME = "tensorledger-ccaas"
#: time the orderer waits to fill a block: Fabric's sample 2 s (and 500 ms) make every
#: commit on a one-machine network wait; 100 ms keeps blocks batched under load
BATCH_TIMEOUT = "100ms"


@dataclass(frozen=True, slots=True)
class OrgSpec:
    """What configtx.yaml needs of an organisation: ids, MSP folder, anchor peer."""

    msp_id: str
    msp_dir: Path
    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True, slots=True)
class OrdererSpec:
    """The Raft orderer: its org, address and TLS certificate (client and server alike)."""

    org: OrgSpec
    tls_cert: Path


def _policies(msp_id: str, *, peer_org: bool) -> dict[str, Any]:
    def rule(text: str) -> dict[str, str]:
        return {"Type": "Signature", "Rule": text}

    if not peer_org:
        return {
            "Readers": rule(f"OR('{msp_id}.member')"),
            "Writers": rule(f"OR('{msp_id}.member')"),
            "Admins": rule(f"OR('{msp_id}.admin')"),
        }
    return {
        "Readers": rule(f"OR('{msp_id}.admin', '{msp_id}.peer', '{msp_id}.client')"),
        "Writers": rule(f"OR('{msp_id}.admin', '{msp_id}.client')"),
        "Admins": rule(f"OR('{msp_id}.admin')"),
        "Endorsement": rule(f"OR('{msp_id}.peer')"),
    }


def _org(spec: OrgSpec, *, peer_org: bool, orderer_address: str | None = None) -> dict[str, Any]:
    org: dict[str, Any] = {
        "Name": spec.msp_id,
        "ID": spec.msp_id,
        "MSPDir": str(spec.msp_dir),
        "Policies": _policies(spec.msp_id, peer_org=peer_org),
    }
    if peer_org:
        org["AnchorPeers"] = [{"Host": spec.host, "Port": spec.port}]
    if orderer_address is not None:
        org["OrdererEndpoints"] = [orderer_address]
    return org


def _implicit(rule: str) -> dict[str, str]:
    return {"Type": "ImplicitMeta", "Rule": rule}


def configtx(orderer: OrdererSpec, orgs: Sequence[OrgSpec]) -> dict[str, Any]:
    """configtx.yaml as a mapping: a system-channel genesis profile and a channel profile.

    Endorsement and LifecycleEndorsement are MAJORITY of the organisations'
    peers, as in Fabric's samples; the chaincode's own policy is set at approval.
    """
    if not orgs:
        raise ConfigError("a Fabric network needs at least one peer organisation")
    address = f"{orderer.org.host}:{orderer.org.port}"
    orderer_org = _org(orderer.org, peer_org=False, orderer_address=address)
    peer_orgs = [_org(o, peer_org=True) for o in orgs]
    v2 = {"V2_0": True}
    channel_policies = {
        "Readers": _implicit("ANY Readers"),
        "Writers": _implicit("ANY Writers"),
        "Admins": _implicit("MAJORITY Admins"),
    }
    orderer_section = {
        "OrdererType": "etcdraft",
        "Addresses": [address],
        "BatchTimeout": BATCH_TIMEOUT,
        "BatchSize": {
            "MaxMessageCount": 100,
            "AbsoluteMaxBytes": "99 MB",
            "PreferredMaxBytes": "2 MB",
        },
        "EtcdRaft": {
            "Consenters": [
                {
                    "Host": orderer.org.host,
                    "Port": orderer.org.port,
                    "ClientTLSCert": str(orderer.tls_cert),
                    "ServerTLSCert": str(orderer.tls_cert),
                }
            ]
        },
        "Organizations": [orderer_org],
        "Policies": {**channel_policies, "BlockValidation": _implicit("ANY Writers")},
        "Capabilities": v2,
    }
    application = {
        "Organizations": peer_orgs,
        "Policies": {
            **channel_policies,
            "LifecycleEndorsement": _implicit("MAJORITY Endorsement"),
            "Endorsement": _implicit("MAJORITY Endorsement"),
        },
        "Capabilities": v2,
    }
    return {
        "Profiles": {
            SYSTEM_PROFILE: {
                "Policies": channel_policies,
                "Capabilities": v2,
                "Orderer": orderer_section,
                "Consortiums": {CONSORTIUM: {"Organizations": peer_orgs}},
            },
            CHANNEL_PROFILE: {
                "Consortium": CONSORTIUM,
                "Policies": channel_policies,
                "Capabilities": v2,
                "Application": application,
            },
        }
    }


def core_yaml(sample: Path, builder_dir: Path) -> str:
    """Fabric's sample core.yaml with Docker off and our external builder on.

    An empty ``vm.endpoint`` is what turns Docker off in 2.1 (the peer then
    needs at least one external builder, and its /healthz stops checking
    Docker); an empty value in the environment would not override the file.
    The two lines are replaced in the text, so the rest stays Fabric's own.
    """
    builders = json.dumps(
        [{"name": BUILDER_NAME, "path": str(builder_dir), "environmentWhitelist": []}]
    )
    text = sample.read_text()
    for old, new in (
        ("endpoint: unix:///var/run/docker.sock", 'endpoint: ""'),
        ("externalBuilders: []", f"externalBuilders: {builders}"),
    ):
        if text.count(old) != 1:
            raise ConfigError(f"{sample}: expected one line {old!r}; is it Fabric 2.1's?")
        text = text.replace(old, new)
    return text


def write_config(path: Path, data: dict[str, Any] | str) -> Path:
    """Write a configuration file; a mapping is written as JSON, which every YAML reader reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2) + "\n")
    return path


__all__ = [
    "BUILDER_NAME",
    "CHANNEL_PROFILE",
    "SYSTEM_CHANNEL",
    "SYSTEM_PROFILE",
    "OrdererSpec",
    "OrgSpec",
    "configtx",
    "core_yaml",
    "write_config",
]
