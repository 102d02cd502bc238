"""Deploying contracts as external chaincode services: package, serve, install, approve, commit.

Each contract gets its own ``python -m tensorledger.fabric.chaincode``
server (the Node DataContract: ``fabric-chaincode-node server``); its
package holds only metadata.json (type "ccaas") and a connection.json
naming that server. The lifecycle steps of all contracts run
side by side, so their approvals and commits share the orderer's blocks.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tensorledger.errors import ConfigError
from tensorledger.fabric import process
from tensorledger.fabric.builder import PACKAGE_TYPE
from tensorledger.fabric.node_chaincode import server_command
from tensorledger.fabric.peercli import PeerCLI, PeerOrg
from tensorledger.fabric.process import HOST, ProcessInfo
from tensorledger.ledger import policy as policies
from tensorledger.ledger.network import ContractSpec

#: starts a named process with a command line and a log file; records it for `down`
Starter = Callable[[str, list[str], Path], ProcessInfo]
_T = TypeVar("_T")
#: concurrent `peer` commands; each waits mostly on the orderer's next block
_WORKERS = 8


def signature_policy(text: str, msp_ids: Sequence[str]) -> str:
    """A policy as Fabric's signature-policy text; ConfigError for an unknown organisation.

    MAJORITY and ANY become explicit OutOf/OR over the peers, so that the
    contract's policy does not silently follow later changes of the channel's.
    """
    rule = policies.parse(text, msp_ids)
    unknown = sorted({p.msp_id for p in policies.principals(rule)} - set(msp_ids))
    if unknown:
        raise ConfigError(f"policy {text!r} names {', '.join(unknown)}, not on this network")
    return str(rule)


def build_package(label: str, address: str) -> bytes:
    """A chaincode package: metadata.json (type ccaas) and code.tar.gz with connection.json.

    Deterministic bytes (fixed mtimes), so the same contract and address give
    the same package id on every peer.
    """

    def tar(files: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.USTAR_FORMAT) as archive:
            for name, data in files.items():
                entry = tarfile.TarInfo(name)
                entry.size, entry.mode, entry.mtime = len(data), 0o644, 0
                archive.addfile(entry, io.BytesIO(data))
        return buffer.getvalue()

    connection = {"address": address, "dial_timeout": "10s", "tls_required": False}
    code = tar({"connection.json": json.dumps(connection).encode()})
    metadata = json.dumps({"type": PACKAGE_TYPE, "label": label}).encode()
    return tar({"metadata.json": metadata, "code.tar.gz": code})


def package_id(label: str, package: bytes) -> str:
    """Fabric's package id: the label, ':', and the SHA-256 of the package file."""
    return f"{label}:{hashlib.sha256(package).hexdigest()}"


@dataclass(frozen=True, slots=True)
class _Chaincode:
    spec: ContractSpec
    rule: str
    address: str
    package: Path
    package_id: str

    @property
    def definition(self) -> list[str]:
        return [
            *("--name", self.spec.name, "--version", self.spec.version, "--sequence", "1"),
            *("--signature-policy", self.rule),
        ]


def _all(pool: ThreadPoolExecutor, jobs: Sequence[Callable[[], _T]]) -> list[_T]:
    """Run jobs side by side; the first failure is raised once all have finished."""
    futures = [pool.submit(job) for job in jobs]
    return [f.result() for f in futures]


def deploy(
    artifacts: Path,
    cli: PeerCLI,
    orgs: Sequence[PeerOrg],
    channel: str,
    chaincodes: Sequence[tuple[ContractSpec, str, int]],
    start: Starter,
) -> list[dict[str, Any]]:
    """Serve, install, approve (every org) and commit each (spec, policy, port); their records."""
    planned = []
    for spec, rule, port in chaincodes:
        label, address = f"{spec.name}_{spec.version}", f"{HOST}:{port}"
        package = build_package(label, address)
        path = artifacts / f"{spec.name}.tgz"
        path.write_bytes(package)
        planned.append(_Chaincode(spec, rule, address, path, package_id(label, package)))
    servers = [
        start(
            f"chaincode {c.spec.name}",
            server_command(c.spec.contract, c.address, c.package_id),
            Path(f"chaincode-{c.spec.name}.log"),
        )
        for c in planned
    ]
    for server, c in zip(servers, planned, strict=True):
        process.wait_listening(server, int(c.address.rsplit(":", 1)[1]))
    with ThreadPoolExecutor(_WORKERS) as pool:
        _all(pool, [_bind(cli.install, o, c.package) for c in planned for o in orgs])
        _all(
            pool,
            [
                _bind(cli.approve, o, channel, c.definition, c.package_id)
                for c in planned
                for o in orgs
            ],
        )
        _all(pool, [_bind(cli.commit, orgs[0], channel, c.definition, orgs) for c in planned])
    return [
        {
            "name": c.spec.name,
            "contract": c.spec.contract,
            "version": c.spec.version,
            "sequence": 1,
            "policy": c.rule,
            "package_id": c.package_id,
            "address": c.address,
            "log": server.log,
            "pid": server.pid,
        }
        for c, server in zip(planned, servers, strict=True)
    ]


def _bind(function: Callable[..., None], *args: Any) -> Callable[[], None]:
    return lambda: function(*args)


def chaincode_env() -> dict[str, str]:
    """Environment of a chaincode server: ours, unbuffered so its log is current."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


__all__ = ["build_package", "chaincode_env", "deploy", "package_id", "signature_policy"]
