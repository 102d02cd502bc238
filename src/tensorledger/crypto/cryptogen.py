"""Organisations' crypto material on disk, in the folder layout `cryptogen` writes.

Writing whole organisations (CA, TLS CA, peers, orderers, users) and loading
signing identities and verifying MSPs back from those folders, so a real
Fabric network can use the files unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tensorledger.crypto.ca import KEY_FILE, CertificateAuthority
from tensorledger.crypto.msp import MSP, Identity, Role, SigningIdentity
from tensorledger.crypto.pem import check_name, read_certificate_pem, read_private_key, write_file
from tensorledger.errors import ConfigError, IdentityError, InvalidRequestError

_DEFAULT_SANS = ("127.0.0.1", "localhost")


def _files(folder: Path, suffix: str = "") -> list[Path]:
    """Regular files in `folder` ending in `suffix`, sorted so loading is deterministic."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: MSP folder missing")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))


def load_signing_identity(msp_dir: Path, msp_id: str) -> SigningIdentity:
    """Load the identity in a local MSP folder: ``signcerts/`` and ``keystore/*_sk``.

    The key is the one in the keystore that matches the certificate, as Fabric
    looks it up; ConfigError naming the file for anything missing or corrupt.
    """
    certs = _files(msp_dir / "signcerts")
    if not certs:
        raise ConfigError(f"{msp_dir / 'signcerts'}: no certificate")
    cert_pem = read_certificate_pem(certs[0])
    try:
        identity = Identity(msp_id=msp_id, cert_pem=cert_pem)
    except InvalidRequestError as exc:
        raise ConfigError(f"{certs[0]}: {exc}") from exc
    keys = _files(msp_dir / "keystore", "_sk")
    if not keys:
        raise ConfigError(f"{msp_dir / 'keystore'}: no private key (*_sk)")
    for key_path in keys:
        key = read_private_key(key_path)
        if key.public_key() == identity.public_key:
            return SigningIdentity(identity=identity, private_key=key)
    raise ConfigError(f"{msp_dir / 'keystore'}: no private key matches {certs[0]}")


def load_msp(msp_dir: Path, msp_id: str) -> MSP:
    """Load a verifying MSP from ``cacerts/`` (and ``tlscacerts/`` when present)."""
    ca_certs = [read_certificate_pem(p) for p in _files(msp_dir / "cacerts")]
    tls_dir = msp_dir / "tlscacerts"
    tls_certs = [read_certificate_pem(p) for p in _files(tls_dir)] if tls_dir.is_dir() else []
    try:
        return MSP(msp_id, ca_certs, tls_ca_certs=tls_certs)
    except ConfigError as exc:
        raise ConfigError(f"{msp_dir}: {exc}") from exc


def _config_yaml(ca_name: str) -> bytes:
    # What cryptogen writes with EnableNodeOUs: each role is recognised by its
    # OU on a certificate issued by this CA.
    ca_file = f"cacerts/{ca_name}-cert.pem"
    lines = ["NodeOUs:", "  Enable: true"]
    for key, role in (
        ("ClientOUIdentifier", Role.CLIENT),
        ("PeerOUIdentifier", Role.PEER),
        ("AdminOUIdentifier", Role.ADMIN),
        ("OrdererOUIdentifier", Role.ORDERER),
    ):
        lines += [
            f"  {key}:",
            f"    Certificate: {ca_file}",
            f"    OrganizationalUnitIdentifier: {role.value}",
        ]
    return ("\n".join(lines) + "\n").encode()


def write_msp_dir(
    msp_dir: Path, ca: CertificateAuthority, signer: SigningIdentity | None = None
) -> Path:
    """Write an MSP folder as cryptogen does and return it.

    Always ``cacerts/``, ``tlscacerts/``, ``config.yaml`` (NodeOUs on) and an
    empty ``admincerts/``; with a `signer` (a local MSP) also
    ``signcerts/<cn>-cert.pem`` and ``keystore/priv_sk`` (mode 0600).
    """
    if signer is not None and signer.msp_id != ca.msp_id:
        raise IdentityError(f"{signer.identity} does not belong to MSP {ca.msp_id}")
    (msp_dir / "admincerts").mkdir(parents=True, exist_ok=True)
    write_file(msp_dir / "cacerts" / f"{ca.name}-cert.pem", ca.cert_pem)
    write_file(msp_dir / "tlscacerts" / f"{ca.tls_name}-cert.pem", ca.tls_cert_pem)
    write_file(msp_dir / "config.yaml", _config_yaml(ca.name))
    if signer is not None:
        check_name(signer.identity.common_name)
        write_file(
            msp_dir / "signcerts" / f"{signer.identity.common_name}-cert.pem",
            signer.identity.cert_pem,
        )
        write_file(msp_dir / "keystore" / KEY_FILE, signer.private_key_pem(), private=True)
    return msp_dir


def _write_node(
    node_dir: Path, ca: CertificateAuthority, name: str, role: Role, tls_sans: Sequence[str]
) -> None:
    # Signing certificates carry no SANs in cryptogen; TLS ones carry the host names.
    write_msp_dir(node_dir / "msp", ca, ca.issue(name, role, sans=()))
    prefix = "client" if role in {Role.CLIENT, Role.ADMIN} else "server"
    cert_pem, key_pem = ca.issue_tls(name, tls_sans)
    write_file(node_dir / "tls" / "ca.crt", ca.tls_cert_pem)
    write_file(node_dir / "tls" / f"{prefix}.crt", cert_pem)
    write_file(node_dir / "tls" / f"{prefix}.key", key_pem, private=True)


@dataclass(frozen=True)
class OrgMaterial:
    """Where an organisation's generated crypto material lies, and its MSP id."""

    org_name: str
    msp_id: str
    domain: str
    org_dir: Path
    #: peers/<host>.<domain> or orderers/<host>.<domain>, each with msp/ and tls/
    nodes: tuple[Path, ...]
    #: users/<Name>@<domain>, each with msp/ and tls/; Admin last, as cryptogen orders them
    users: tuple[Path, ...]

    @property
    def msp_dir(self) -> Path:
        """The organisation's verifying MSP (what channel configuration uses)."""
        return self.org_dir / "msp"

    @property
    def admin_dir(self) -> Path:
        """The ``Admin@<domain>`` user folder."""
        return self.org_dir / "users" / f"Admin@{self.domain}"

    def load_ca(self) -> CertificateAuthority:
        """The organisation's CA, to issue more identities later."""
        return CertificateAuthority.load(self.org_dir, self.msp_id, self.org_name)


def _generate(
    org_dir: Path,
    ca: CertificateAuthority,
    *,
    nodes: tuple[str, Role, Sequence[str]],
    users: Sequence[str],
    sans: Sequence[str],
) -> OrgMaterial:
    folder, node_role, hosts = nodes
    for name in (*hosts, *users):
        check_name(name)  # all before writing anything, so a bad name leaves no half org
    if org_dir.exists() and any(org_dir.iterdir()):
        # A new CA would silently orphan every certificate issued by the old one.
        raise ConfigError(f"{org_dir}: already exists; refusing to replace its CA")
    ca.save(org_dir)
    write_msp_dir(org_dir / "msp", ca)
    node_dirs, user_dirs = [], []
    for host in hosts:
        name = f"{host}.{ca.domain}"
        node_dirs.append(org_dir / folder / name)
        _write_node(node_dirs[-1], ca, name, node_role, (name, host, *sans))
    for user, role in [*((u, Role.CLIENT) for u in users), ("Admin", Role.ADMIN)]:
        user_dirs.append(org_dir / "users" / f"{user}@{ca.domain}")
        _write_node(user_dirs[-1], ca, f"{user}@{ca.domain}", role, ())
    return OrgMaterial(
        ca.org_name, ca.msp_id, ca.domain, org_dir, tuple(node_dirs), tuple(user_dirs)
    )


def generate_org(
    base_dir: Path,
    org_name: str,
    msp_id: str,
    domain: str,
    *,
    peers: int = 1,
    users: Sequence[str] = ("User1",),
    sans: Sequence[str] = _DEFAULT_SANS,
) -> OrgMaterial:
    """Write a peer organisation as ``cryptogen generate`` does with EnableNodeOUs.

    Produces ``peerOrganizations/<domain>/{ca,tlsca,msp,peers/peer<i>.<domain>,
    users/<Name>@<domain>}``, Admin included; each peer's TLS certificate names
    its host and `sans`. ConfigError if the organisation's folder has content.
    """
    ca = CertificateAuthority.create(org_name, msp_id, domain)
    hosts = [f"peer{i}" for i in range(peers)]
    return _generate(
        base_dir / "peerOrganizations" / domain,
        ca,
        nodes=("peers", Role.PEER, hosts),
        users=users,
        sans=sans,
    )


def generate_orderer_org(
    base_dir: Path,
    org_name: str,
    msp_id: str,
    domain: str,
    *,
    orderers: Sequence[str] = ("orderer",),
    sans: Sequence[str] = _DEFAULT_SANS,
) -> OrgMaterial:
    """Write an orderer organisation as ``cryptogen generate`` does with EnableNodeOUs.

    Produces ``ordererOrganizations/<domain>/{ca,tlsca,msp,orderers/<host>.<domain>,
    users/Admin@<domain>}``; ConfigError if the organisation's folder has content.
    """
    ca = CertificateAuthority.create(org_name, msp_id, domain)
    return _generate(
        base_dir / "ordererOrganizations" / domain,
        ca,
        nodes=("orderers", Role.ORDERER, orderers),
        users=(),
        sans=sans,
    )


__all__ = [
    "OrgMaterial",
    "generate_orderer_org",
    "generate_org",
    "load_msp",
    "load_signing_identity",
    "write_msp_dir",
]
