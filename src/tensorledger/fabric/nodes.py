"""The environment each Fabric process runs in: ``ORDERER_*`` and ``CORE_*`` per node.

Every node shares the one core.yaml/orderer.yaml in ``config/``; what
differs between nodes (ports, MSP, TLS files, ledger folders) is set here.
"""

from __future__ import annotations

import os
from pathlib import Path

from tensorledger.crypto.cryptogen import OrgMaterial
from tensorledger.fabric.process import HOST

#: the only variables a Fabric process inherits from ours
_INHERITED = ("PATH", "HOME", "TMPDIR", "LANG")


def tls_files(node: Path) -> dict[str, str]:
    """A node's TLS certificate, key and CA certificate, as cryptogen lays them out."""
    tls = node / "tls"
    return {
        "cert": str(tls / "server.crt"),
        "key": str(tls / "server.key"),
        "ca": str(tls / "ca.crt"),
    }


def _base_env(root: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
    env.update(FABRIC_CFG_PATH=str(root / "config"), FABRIC_LOGGING_SPEC="INFO")
    return env


def orderer_env(root: Path, node: Path, msp_id: str, port: int, ops_port: int) -> dict[str, str]:
    """The Raft orderer: TLS on, bootstrapped from the system channel's genesis block."""
    tls = tls_files(node)
    data = root / "data" / "orderer"
    return {
        **_base_env(root),
        "ORDERER_GENERAL_LISTENADDRESS": HOST,
        "ORDERER_GENERAL_LISTENPORT": str(port),
        "ORDERER_GENERAL_LOCALMSPID": msp_id,
        "ORDERER_GENERAL_LOCALMSPDIR": str(node / "msp"),
        "ORDERER_GENERAL_TLS_ENABLED": "true",
        "ORDERER_GENERAL_TLS_PRIVATEKEY": tls["key"],
        "ORDERER_GENERAL_TLS_CERTIFICATE": tls["cert"],
        "ORDERER_GENERAL_TLS_ROOTCAS": f"[{tls['ca']}]",
        # Raft shares the main TLS listener; its client identity is the same certificate.
        "ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE": tls["cert"],
        "ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY": tls["key"],
        "ORDERER_GENERAL_CLUSTER_ROOTCAS": f"[{tls['ca']}]",
        "ORDERER_GENERAL_BOOTSTRAPMETHOD": "file",
        "ORDERER_GENERAL_BOOTSTRAPFILE": str(root / "artifacts" / "genesis.block"),
        "ORDERER_FILELEDGER_LOCATION": str(data / "ledger"),
        "ORDERER_CONSENSUS_WALDIR": str(data / "etcdraft" / "wal"),
        "ORDERER_CONSENSUS_SNAPDIR": str(data / "etcdraft" / "snapshot"),
        "ORDERER_OPERATIONS_LISTENADDRESS": f"{HOST}:{ops_port}",
        "ORDERER_METRICS_PROVIDER": "disabled",
    }


def peer_env(
    root: Path, org: OrgMaterial, port: int, chaincode_port: int, ops_port: int
) -> dict[str, str]:
    """An organisation's only peer: TLS on, its own ledger folder, gossip to itself."""
    node = org.nodes[0]
    tls = tls_files(node)
    address = f"{HOST}:{port}"
    chaincode = f"{HOST}:{chaincode_port}"
    return {
        **_base_env(root),
        "CORE_PEER_ID": node.name,
        "CORE_PEER_LOCALMSPID": org.msp_id,
        "CORE_PEER_MSPCONFIGPATH": str(node / "msp"),
        "CORE_PEER_TLS_ENABLED": "true",
        "CORE_PEER_TLS_CERT_FILE": tls["cert"],
        "CORE_PEER_TLS_KEY_FILE": tls["key"],
        "CORE_PEER_TLS_ROOTCERT_FILE": tls["ca"],
        "CORE_PEER_ADDRESS": address,
        "CORE_PEER_LISTENADDRESS": address,
        "CORE_PEER_CHAINCODEADDRESS": chaincode,
        "CORE_PEER_CHAINCODELISTENADDRESS": chaincode,
        "CORE_PEER_GOSSIP_BOOTSTRAP": address,
        "CORE_PEER_GOSSIP_EXTERNALENDPOINT": address,
        # One peer per organisation: it is its org's leader, pulling blocks from the orderer.
        "CORE_PEER_GOSSIP_USELEADERELECTION": "false",
        "CORE_PEER_GOSSIP_ORGLEADER": "true",
        "CORE_PEER_FILESYSTEMPATH": str(root / "data" / node.name),
        "CORE_OPERATIONS_LISTENADDRESS": f"{HOST}:{ops_port}",
    }


__all__ = ["orderer_env", "peer_env", "tls_files"]
