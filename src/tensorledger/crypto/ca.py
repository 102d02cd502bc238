"""Certificate authorities: issuing CA, TLS CA, member and TLS certificates as cryptogen does.

Whole organisations written to disk in Fabric's layout are `cryptogen`'s job.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tensorledger.crypto import signing
from tensorledger.crypto.msp import MSP, Identity, Role, SigningIdentity
from tensorledger.crypto.pem import check_name, read_certificate_pem, read_private_key, write_file
from tensorledger.errors import ConfigError, InvalidRequestError

# cryptogen's defaults (internal/cryptogen/ca/ca.go): subject locality and a ten-year life.
_COUNTRY, _PROVINCE, _LOCALITY = "US", "California", "San Francisco"
_VALIDITY = timedelta(days=3650)
_DEFAULT_SANS = ("127.0.0.1", "localhost")
KEY_FILE = "priv_sk"


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _ski(public_key: ec.EllipticCurvePublicKey) -> bytes:
    # RFC 7093 section 2 method 4, as cryptogen computes it: SHA-256 of the raw point.
    point = public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return hashlib.sha256(point).digest()


def _not_before() -> datetime:
    # cryptogen rounds to the minute and backdates five minutes to absorb clock skew.
    now = datetime.now(UTC)
    rounded = now.replace(second=0, microsecond=0) + timedelta(minutes=now.second >= 30)
    return rounded - timedelta(minutes=5)


def _name(common_name: str, *, org: str | None = None, units: Sequence[str] = ()) -> x509.Name:
    # Attribute order is Go's pkix.Name order, so subjects read as cryptogen's do.
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, _COUNTRY),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, _PROVINCE),
        x509.NameAttribute(NameOID.LOCALITY_NAME, _LOCALITY),
    ]
    if org is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.extend(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou) for ou in units)
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _key_usage(*, encipherment: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=encipherment or ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _sans(names: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):  # drop repeats, keep order
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def _tz_aware(moment: datetime | None, what: str) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise InvalidRequestError(f"{what} must be timezone-aware")
    return moment


@dataclass(frozen=True, eq=False)
class _Issuer:
    """One self-signed root (the signing CA or the TLS CA) and its key."""

    name: str
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey = field(repr=False)

    @classmethod
    def create(cls, name: str, org: str) -> _Issuer:
        key = signing.generate_key()
        start = _not_before()
        subject = _name(name, org=org)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + _VALIDITY)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier(_ski(key.public_key())), critical=False)
        )
        return cls(name=name, cert=_sign_low_s(builder, key), key=key)

    @property
    def cert_pem(self) -> bytes:
        return _cert_pem(self.cert)

    def issue(
        self,
        common_name: str,
        public_key: ec.EllipticCurvePublicKey,
        *,
        units: Sequence[str] = (),
        sans: Sequence[str] = (),
        tls: bool = False,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> x509.Certificate:
        start = not_before or _not_before()
        end = not_after or start + _VALIDITY
        if not_before is None and end < start:
            start = end - timedelta(days=1)  # an already-expired certificate, for tests
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, units=units))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(_key_usage(encipherment=tls), critical=True)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
        )
        if tls:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_sans(sans)), critical=False
            )
        return _sign_low_s(builder, self.key)


def _sign_low_s(
    builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    # Fabric's MSP rewrites a certificate's signature to low-S before using it
    # (msp/mspimpl.go sanitizeCert), and cryptogen signs low-S so nothing is
    # rewritten. Re-signing until S is low keeps our DER identical to what
    # Fabric sees; each try succeeds with probability 1/2.
    while True:
        cert = builder.sign(key, hashes.SHA256())
        if signing.is_low_s(cert.signature):
            return cert


class CertificateAuthority:
    """An organisation's signing CA and TLS CA, able to issue more identities.

    Build with `create` or `load`; the constructor takes already-made roots.
    """

    def __init__(
        self, org_name: str, msp_id: str, domain: str, ca: _Issuer, tls_ca: _Issuer
    ) -> None:
        self._org_name = org_name
        self._msp_id = msp_id
        self._domain = domain
        self._ca = ca
        self._tls_ca = tls_ca

    @classmethod
    def create(cls, org_name: str, msp_id: str, domain: str) -> CertificateAuthority:
        """Make fresh P-256 roots ``ca.<domain>`` and ``tlsca.<domain>`` (O=<domain>)."""
        check_name(domain)
        return cls(
            org_name,
            msp_id,
            domain,
            _Issuer.create(f"ca.{domain}", domain),
            _Issuer.create(f"tlsca.{domain}", domain),
        )

    @property
    def org_name(self) -> str:
        """The organisation's display name, e.g. ``Org1``."""
        return self._org_name

    @property
    def msp_id(self) -> str:
        """The MSP id its identities claim, e.g. ``Org1MSP``."""
        return self._msp_id

    @property
    def domain(self) -> str:
        """The organisation's domain, e.g. ``org1.example.com``."""
        return self._domain

    @property
    def name(self) -> str:
        """The signing CA's common name and file stem, ``ca.<domain>``."""
        return self._ca.name

    @property
    def tls_name(self) -> str:
        """The TLS CA's common name and file stem, ``tlsca.<domain>``."""
        return self._tls_ca.name

    @property
    def cert_pem(self) -> bytes:
        """The signing CA's certificate (what goes in an MSP's ``cacerts``)."""
        return self._ca.cert_pem

    @property
    def tls_cert_pem(self) -> bytes:
        """The TLS CA's certificate (``tlscacerts`` and every node's ``tls/ca.crt``)."""
        return self._tls_ca.cert_pem

    def msp(self) -> MSP:
        """A verifying MSP that trusts exactly this CA."""
        return MSP(self._msp_id, [self.cert_pem], tls_ca_certs=[self.tls_cert_pem])

    def issue(
        self,
        name: str,
        role: Role,
        *,
        sans: Sequence[str] = _DEFAULT_SANS,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> SigningIdentity:
        """Issue a member identity: CN=name, OU=role (its NodeOU), with a fresh key.

        `not_before`/`not_after` default to cryptogen's window (now - 5 min, ten
        years); they exist so tests can make expired and not-yet-valid members.
        """
        key = signing.generate_key()
        cert = self._ca.issue(
            name,
            key.public_key(),
            units=(role.value,),
            sans=sans,
            not_before=_tz_aware(not_before, "not_before"),
            not_after=_tz_aware(not_after, "not_after"),
        )
        return SigningIdentity(Identity(self._msp_id, _cert_pem(cert)), key)

    def issue_tls(self, name: str, sans: Sequence[str] = _DEFAULT_SANS) -> tuple[bytes, bytes]:
        """Issue a TLS server/client certificate from the TLS CA: (cert PEM, PKCS#8 key PEM)."""
        key = signing.generate_key()
        cert = self._tls_ca.issue(name, key.public_key(), sans=sans, tls=True)
        return _cert_pem(cert), _key_pem(key)

    def save(self, org_dir: Path) -> None:
        """Write both roots as cryptogen does: ``ca/`` and ``tlsca/``, keys mode 0600."""
        for folder, issuer in (("ca", self._ca), ("tlsca", self._tls_ca)):
            target = org_dir / folder
            write_file(target / f"{issuer.name}-cert.pem", issuer.cert_pem)
            write_file(target / KEY_FILE, _key_pem(issuer.key), private=True)

    @classmethod
    def load(cls, org_dir: Path, msp_id: str, org_name: str | None = None) -> CertificateAuthority:
        """Read the roots `save` (or cryptogen) wrote; ConfigError naming any bad file.

        The domain comes from the CA certificate's O, as cryptogen sets it;
        `org_name` is not stored in Fabric's layout and defaults to the domain.
        """
        ca = _load_issuer(org_dir / "ca")
        tls_ca = _load_issuer(org_dir / "tlsca")
        orgs = ca.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        domain = str(orgs[0].value) if orgs else ca.name.removeprefix("ca.")
        return cls(org_name or domain, msp_id, domain, ca, tls_ca)


def _load_issuer(folder: Path) -> _Issuer:
    if not folder.is_dir():
        raise ConfigError(f"{folder}: CA folder missing")
    certs = sorted(folder.glob("*-cert.pem"))
    if len(certs) != 1:
        raise ConfigError(f"{folder}: expected one *-cert.pem, found {len(certs)}")
    cert = x509.load_pem_x509_certificate(read_certificate_pem(certs[0]))
    keys = sorted(folder.glob("*_sk"))
    if not keys:
        raise ConfigError(f"{folder}: no private key (*_sk)")
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        is_ca = False
    if not is_ca:
        raise ConfigError(f"{certs[0]}: not a CA certificate with a subject key identifier")
    for key_path in keys:
        key = read_private_key(key_path)
        if key.public_key() == cert.public_key():
            return _Issuer(name=certs[0].name.removesuffix("-cert.pem"), cert=cert, key=key)
    raise ConfigError(f"{folder}: no private key matches {certs[0]}")


__all__ = ["CertificateAuthority"]
