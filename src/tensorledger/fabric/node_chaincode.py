"""The seed's Node.js DataContract as a second chaincode: its npm packages, and how to serve it.

The JavaScript source lives in the repository's ``chaincode/node-datacontract``
(package.json, package-lock.json, index.js, lib/). `prepare` copies it into
the Fabric cache and runs ``npm ci --omit=dev`` there once per version of the
source, so a network never depends on a ``node_modules`` in the working tree
and repeated `up`s cost nothing. The server is fabric-shim's own
``fabric-chaincode-node server``, which a peer dials like our Python servers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tensorledger.errors import ConfigError, UnavailableError
from tensorledger.fabric.install import Installation
from tensorledger.ledger.network import ContractSpec

#: the chaincode's name on the channel
NAME = "datacontract-node"
#: prefix of ContractSpec.contract naming a prepared Node chaincode directory
NODE_PREFIX = "node:"
#: the JavaScript source, from the repository root (src/tensorledger/fabric/ is three below)
SOURCE = Path(__file__).resolve().parents[3] / "chaincode" / "node-datacontract"
_FILES = ("package.json", "package-lock.json", "index.js")
_SERVER = Path("node_modules") / ".bin" / "fabric-chaincode-node"
_READY = ".tensorledger-ready"
_TAIL = 12


def _sources(source: Path) -> list[Path]:
    missing = [name for name in _FILES if not (source / name).is_file()]
    if missing:
        raise ConfigError(f"Node chaincode source {source} lacks {', '.join(missing)}")
    return [source / name for name in _FILES] + sorted((source / "lib").rglob("*.js"))


def _digest(source: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(source)}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def prepare(fabric: Installation, source: Path = SOURCE) -> Path:
    """The chaincode's directory with its npm packages installed; runs ``npm ci`` only once.

    Built in a private directory and renamed into place, so concurrent
    callers (parallel test workers) never see half a ``node_modules``.
    ConfigError when node or npm is missing, UnavailableError when npm fails.
    """
    files = _sources(source)
    target = fabric.home / "chaincode" / f"{NAME}-{_digest(source, files)}"
    if (target / _READY).exists():
        return target
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ConfigError("the Node chaincode needs `node` and `npm` on PATH")
    work = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    for path in files:
        copy = work / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    done = subprocess.run(
        [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not (work / _SERVER).exists():
        shutil.rmtree(work, ignore_errors=True)
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-_TAIL:])
        raise UnavailableError(f"`npm ci` for the Node chaincode failed in {work}:\n{tail}")
    (work / _READY).touch()
    try:
        work.rename(target)
    except OSError:  # another process finished first; its copy is as good as ours
        shutil.rmtree(work, ignore_errors=True)
    return target


def spec(directory: Path, policy: str = "MAJORITY") -> ContractSpec:
    """The deployment of the prepared chaincode in `directory`."""
    return ContractSpec(NAME, f"{NODE_PREFIX}{directory}", policy)


def server_command(contract: str, address: str, package_id: str) -> list[str]:
    """The command line serving `contract`: a Node chaincode directory or a Python contract."""
    if contract.startswith(NODE_PREFIX):
        directory = Path(contract.removeprefix(NODE_PREFIX))
        return [
            *(str(directory / _SERVER), "server"),
            *("--chaincode-address", address, "--chaincode-id", package_id),
            *("--module-path", str(directory)),
        ]
    return [
        *(sys.executable, "-m", "tensorledger.fabric.chaincode", contract),
        *("--address", address, "--id", package_id),
    ]


__all__ = ["NAME", "NODE_PREFIX", "SOURCE", "prepare", "server_command", "spec"]
