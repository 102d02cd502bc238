"""The Fabric connection profile (`network.json` written by `tensorledger fabric up`).

Only what a client needs: the orderer's and each organisation's peer address
and TLS CA, MSP ids, and where the organisation's user and admin MSPs are.
Relative paths resolve against the profile's own directory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tensorledger.crypto.cryptogen import load_signing_identity
from tensorledger.crypto.msp import SigningIdentity
from tensorledger.errors import ConfigError

PROFILE_FILE = "network.json"


@dataclass(frozen=True, slots=True)
class Node:
    """A peer or orderer: `host:port` and the PEM of the CA its TLS certificate chains to."""

    address: str
    tls_ca: bytes


@dataclass(frozen=True, slots=True)
class OrgProfile:
    """One organisation: its MSP id, its peer, and its client identities' MSP folders."""

    name: str
    msp_id: str
    peer: Node
    user_msp: Path
    admin_msp: Path


@dataclass(frozen=True, slots=True)
class FabricProfile:
    """A whole network as a client sees it."""

    path: Path
    orderer: Node
    #: PEM of the orderer organisation's signing CA: verifies block signatures
    orderer_ca: bytes
    orgs: tuple[OrgProfile, ...]
    channel: str

    @property
    def root(self) -> Path:
        """The network directory holding the profile."""
        return self.path.parent

    def org(self, name: str) -> OrgProfile:
        """An organisation by name (`Org1`) or MSP id (`Org1MSP`), case-insensitive."""
        for org in self.orgs:
            if name.lower() in (org.name.lower(), org.msp_id.lower()):
                return org
        known = ", ".join(o.name for o in self.orgs)
        raise ConfigError(f"{self.path}: no organisation {name!r} (known: {known})")

    def identity(self, who: str) -> SigningIdentity:
        """'Org1' (its user), 'Org1/Admin', 'Org1/User1' or 'User1@org1.example.com'."""
        if "@" in who and "/" not in who:
            for org in self.orgs:
                for msp in (org.user_msp, org.admin_msp):
                    if msp.parent.name.lower() == who.lower():
                        return load_signing_identity(msp, org.msp_id)
            raise ConfigError(f"{self.path}: no identity {who!r}")
        org_name, _, role = who.partition("/")
        org = self.org(org_name)
        if role.lower() == "admin":
            return load_signing_identity(org.admin_msp, org.msp_id)
        if role and not org.user_msp.parent.name.lower().startswith(role.lower() + "@"):
            raise ConfigError(f"{self.path}: {org.name} has no identity {role!r}")
        return load_signing_identity(org.user_msp, org.msp_id)


def _read(file: Path) -> object:
    try:
        return json.loads(file.read_text())
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read connection profile: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{file}: connection profile is not JSON: {exc}") from None


def is_profile(path: Path) -> bool:
    """True if `path` is (or is a directory holding) a Fabric connection profile.

    An embedded ledger directory also holds a `network.json`; a Fabric profile
    says ``"backend": "fabric"``.
    """
    file = path / PROFILE_FILE if path.is_dir() else path
    if not file.is_file():
        return False
    try:
        raw = _read(file)
    except ConfigError:
        return False
    return isinstance(raw, dict) and raw.get("backend") == "fabric"


def _pem(base: Path, entry: Mapping[str, Any], *keys: str) -> bytes:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, str) and value:
            if value.startswith("-----BEGIN"):
                return value.encode()
            path = base / value
            try:
                return path.read_bytes()
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read {key}: {exc.strerror}") from None
    raise ConfigError(f"connection profile entry {dict(entry)!r} has none of {', '.join(keys)}")


def _node(base: Path, entry: object, what: str) -> Node:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("address"), str):
        raise ConfigError(f"connection profile: {what} has no address")
    return Node(str(entry["address"]), _pem(base, entry, "tls_ca"))


def _msp_dirs(base: Path, entry: Mapping[str, Any]) -> tuple[Path, Path]:
    """(user MSP, admin MSP): `users` maps names (User1, Admin) to MSP folders."""
    users = entry.get("users")
    if not isinstance(users, Mapping) or not users:
        raise ConfigError(f"connection profile: organisation {entry.get('name')!r} has no users")
    admin = users.get("Admin")
    clients = sorted(k for k in users if k != "Admin")
    if not isinstance(admin, str) or not clients:
        raise ConfigError(
            f"connection profile: organisation {entry.get('name')!r} needs an Admin and a user"
        )
    return base / str(users[clients[0]]), base / admin


def load_profile(target: Path) -> FabricProfile:
    """Read a connection profile (the file, or the directory holding network.json)."""
    file = target / PROFILE_FILE if target.is_dir() else target
    raw = _read(file)
    if not isinstance(raw, dict) or raw.get("backend") != "fabric":
        raise ConfigError(f'{file}: not a Fabric connection profile (no "backend": "fabric")')
    base = file.parent
    orderer_entry = raw.get("orderer")
    orderer = _node(base, orderer_entry, "orderer")
    assert isinstance(orderer_entry, Mapping)  # _node checked it
    ca = orderer_entry.get("ca")
    orderer_ca = _pem(base, orderer_entry, "ca") if isinstance(ca, str) and ca else b""
    orgs = []
    entries = raw.get("organizations")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"{file}: an organisation entry has no name")
        name = str(entry["name"])
        user_msp, admin_msp = _msp_dirs(base, entry)
        orgs.append(
            OrgProfile(
                name=name,
                msp_id=str(entry.get("msp_id") or f"{name}MSP"),
                peer=_node(base, entry.get("peer"), f"peer of {name}"),
                user_msp=user_msp,
                admin_msp=admin_msp,
            )
        )
    if not orgs:
        raise ConfigError(f"{file}: connection profile lists no organisations")
    return FabricProfile(
        path=file,
        orderer=orderer,
        orderer_ca=orderer_ca,
        orgs=tuple(orgs),
        channel=str(raw.get("channel", "mychannel")),
    )


__all__ = ["PROFILE_FILE", "FabricProfile", "Node", "OrgProfile", "is_profile", "load_profile"]
