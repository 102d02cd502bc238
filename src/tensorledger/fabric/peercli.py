"""Administering the network through Fabric's own `peer` command, as an organisation's admin.

Channel creation and joining, the chaincode lifecycle (install, approve,
commit) and plain queries and invocations; each call's output goes to
``logs/cli.log`` and a failure raises with the command's last lines.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tensorledger.errors import ContractError, UnavailableError

_TAIL = 8


@dataclass(frozen=True, slots=True)
class PeerOrg:
    """One organisation as the CLI acts for it: its peer, and its admin's MSP."""

    name: str
    msp_id: str
    peer_address: str
    peer_tls_ca: Path
    admin_msp: Path


@dataclass(frozen=True, slots=True)
class PeerCLI:
    """Runs `peer` subcommands against the network's orderer and peers."""

    peer: Path
    config_dir: Path
    orderer_address: str
    orderer_tls_ca: Path
    log: Path

    def env(self, org: PeerOrg) -> dict[str, str]:
        """Environment in which `peer` acts as `org`'s admin on `org`'s peer."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CORE_", "FABRIC_"))}
        env.update(
            FABRIC_CFG_PATH=str(self.config_dir),
            CORE_PEER_LOCALMSPID=org.msp_id,
            CORE_PEER_MSPCONFIGPATH=str(org.admin_msp),
            CORE_PEER_ADDRESS=org.peer_address,
            CORE_PEER_TLS_ENABLED="true",
            CORE_PEER_TLS_ROOTCERT_FILE=str(org.peer_tls_ca),
        )
        return env

    def run(self, org: PeerOrg, args: Sequence[str], what: str, timeout: float = 120) -> str:
        """Run ``peer <args>`` as `org`; its stdout, or UnavailableError with its last lines."""
        try:
            done = subprocess.run(
                [str(self.peer), *args],
                env=self.env(org),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UnavailableError(
                f"{what}: `peer {args[0]}` timed out after {timeout} s"
            ) from None
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as handle:
            handle.write(f"$ [{org.name}] peer {' '.join(args)}\n{done.stdout}{done.stderr}\n")
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-_TAIL:])
            raise UnavailableError(f"{what} failed for {org.name}:\n{tail}")
        return done.stdout + done.stderr

    def _orderer(self) -> list[str]:
        return ["-o", self.orderer_address, "--tls", "--cafile", str(self.orderer_tls_ca)]

    @staticmethod
    def _targets(orgs: Sequence[PeerOrg]) -> list[str]:
        args: list[str] = []
        for org in orgs:
            args += [
                "--peerAddresses",
                org.peer_address,
                "--tlsRootCertFiles",
                str(org.peer_tls_ca),
            ]
        return args

    def create_channel(self, org: PeerOrg, channel: str, tx: Path, block: Path) -> None:
        """Submit the channel creation transaction; the genesis block lands at `block`."""
        args = ["channel", "create", "-c", channel, "-f", str(tx), "--outputBlock", str(block)]
        self.run(org, [*args, *self._orderer()], f"creating channel {channel}")

    def join(self, org: PeerOrg, block: Path) -> None:
        """Join `org`'s peer to the channel whose genesis block is `block`."""
        self.run(org, ["channel", "join", "-b", str(block)], "joining the channel")

    def height(self, org: PeerOrg, channel: str) -> int:
        """The peer's block height on `channel`."""
        out = self.run(org, ["channel", "getinfo", "-c", channel], "reading the height", 30)
        match = re.search(r"Blockchain info: (\{.*\})", out)
        if match is None:
            raise UnavailableError(f"unexpected `peer channel getinfo` output: {out[-200:]}")
        return int(json.loads(match.group(1))["height"])

    def install(self, org: PeerOrg, package: Path) -> None:
        """Install a chaincode package on `org`'s peer (already installed is fine)."""
        try:
            self.run(org, ["lifecycle", "chaincode", "install", str(package)], "installing")
        except UnavailableError as exc:
            if "already successfully installed" not in str(exc):
                raise

    def approve(
        self,
        org: PeerOrg,
        channel: str,
        definition: Sequence[str],
        package_id: str,
    ) -> None:
        """Approve a chaincode definition for `org` (waits for the approval to commit)."""
        args = ["lifecycle", "chaincode", "approveformyorg", "-C", channel, *definition]
        self.run(org, [*args, "--package-id", package_id, *self._orderer()], "approving")

    def commit(
        self, org: PeerOrg, channel: str, definition: Sequence[str], orgs: Sequence[PeerOrg]
    ) -> None:
        """Commit a definition, endorsed by every organisation's peer."""
        args = ["lifecycle", "chaincode", "commit", "-C", channel, *definition]
        self.run(org, [*args, *self._targets(orgs), *self._orderer()], "committing")

    def query(self, org: PeerOrg, channel: str, name: str, call: Sequence[str]) -> str:
        """Evaluate `call` (function, then arguments) on `org`'s peer; the payload."""
        ctor = json.dumps({"Args": list(call)})
        args = ["chaincode", "query", "-C", channel, "-n", name, "-c", ctor]
        try:
            return self.run(org, args, f"querying {name}").strip()
        except UnavailableError as exc:
            raise _contract_error(exc) from None

    def invoke(
        self, org: PeerOrg, channel: str, name: str, call: Sequence[str], orgs: Sequence[PeerOrg]
    ) -> str:
        """Submit `call` endorsed by `orgs`' peers and wait for its commit; the CLI's report."""
        ctor = json.dumps({"Args": list(call)})
        args = ["chaincode", "invoke", "-C", channel, "-n", name, "-c", ctor, "--waitForEvent"]
        try:
            return self.run(
                org, [*args, *self._targets(orgs), *self._orderer()], f"invoking {name}"
            )
        except UnavailableError as exc:
            raise _contract_error(exc) from None


def _contract_error(exc: UnavailableError) -> Exception:
    """A chaincode's refusal as ContractError with its message; anything else unchanged."""
    text = str(exc)
    if "chaincode response 500" not in text and "status:500" not in text:
        return exc
    match = re.search(r"message:\s*(?P<m>.+?)\s*$", text, re.MULTILINE)
    message = (match.group("m") if match else text).strip().strip('"')
    if message.startswith("error in simulation"):
        # The peer's own failure (e.g. it cannot reach the chaincode server), not the contract's.
        return exc
    return ContractError(message)


__all__ = ["PeerCLI", "PeerOrg"]
