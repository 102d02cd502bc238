"""Identities and the membership service providers that decide whom a channel trusts.

Owns Fabric's identity rules (SerializedIdentity, NodeOU roles, CA-signed X.509);
MSP folders on disk are `tensorledger.crypto.cryptogen`'s.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fabric_protos.msp import identities_pb2
from google.protobuf.message import DecodeError

from tensorledger.crypto import signing
from tensorledger.errors import ConfigError, IdentityError, InvalidRequestError


class Role(enum.StrEnum):
    """A Fabric NodeOU: the certificate subject's OU that says what an identity may do."""

    PEER = "peer"
    ORDERER = "orderer"
    ADMIN = "admin"
    CLIENT = "client"


_ROLES = {role.value: role for role in Role}

# Everything cryptography raises for a certificate it cannot make sense of;
# found by mutating every byte of a valid certificate (see tests/crypto/test_msp.py).
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


@dataclass(frozen=True)
class Identity:
    """A member's public identity: its MSP id and its X.509 certificate as PEM.

    Parsed once at construction, so an `Identity` always holds a well-formed
    P-256 certificate and the hot path (verify, fingerprint, serialize) does
    no parsing. Equality and hashing use only `msp_id` and `cert_pem`.
    """

    msp_id: str
    cert_pem: bytes
    _cert: x509.Certificate = field(init=False, repr=False, compare=False)
    _public_key: ec.EllipticCurvePublicKey = field(init=False, repr=False, compare=False)
    _fingerprint: str = field(init=False, repr=False, compare=False)
    _serialized: bytes = field(init=False, repr=False, compare=False)
    _org_units: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _common_name: str = field(init=False, repr=False, compare=False)
    _is_ca: bool = field(init=False, repr=False, compare=False)
    _not_before: float = field(init=False, repr=False, compare=False)
    _not_after: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.msp_id:
            raise InvalidRequestError("identity has an empty MSP id")
        # cryptography parses lazily; touching every field here means a malformed
        # certificate fails now, as InvalidRequestError, not later in validation.
        try:
            cert = x509.load_pem_x509_certificate(self.cert_pem)
            public_key = cert.public_key()
            subject = cert.subject
            org_units = tuple(_attr_values(subject, NameOID.ORGANIZATIONAL_UNIT_NAME))
            common_name = next(iter(_attr_values(subject, NameOID.COMMON_NAME)), "")
            is_ca = _is_ca(cert)
            window = (cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp())
        except _PARSE_ERRORS as exc:
            raise InvalidRequestError(f"identity of {self.msp_id}: bad certificate: {exc}") from exc
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP256R1
        ):
            raise InvalidRequestError(
                f"identity of {self.msp_id}: only ECDSA P-256 certificates are supported"
            )
        if not _signature_is_canonical(cert):
            raise InvalidRequestError(
                f"identity of {self.msp_id}: certificate signature is not DER-encoded"
            )
        serialized = identities_pb2.SerializedIdentity(mspid=self.msp_id, id_bytes=self.cert_pem)
        set_ = object.__setattr__  # the dataclass is frozen; these are derived caches
        set_(self, "_cert", cert)
        set_(self, "_public_key", public_key)
        set_(self, "_fingerprint", cert.fingerprint(hashes.SHA256()).hex())
        set_(self, "_serialized", serialized.SerializeToString())
        set_(self, "_org_units", org_units)
        set_(self, "_common_name", common_name)
        set_(self, "_is_ca", is_ca)
        set_(self, "_not_before", window[0])
        set_(self, "_not_after", window[1])

    def __reduce__(self) -> tuple[type[Identity], tuple[str, bytes]]:
        # The parsed certificate does not pickle; rebuilding from the two fields does.
        return (Identity, (self.msp_id, self.cert_pem))

    @classmethod
    def deserialize(cls, data: bytes) -> Identity:
        """Parse Fabric `SerializedIdentity` bytes; InvalidRequestError if malformed."""
        try:
            message = identities_pb2.SerializedIdentity.FromString(data)
        except DecodeError as exc:
            raise InvalidRequestError(f"malformed SerializedIdentity: {exc}") from exc
        if not message.id_bytes:
            raise InvalidRequestError("SerializedIdentity carries no certificate")
        return cls(msp_id=message.mspid, cert_pem=message.id_bytes)

    def serialize(self) -> bytes:
        """Fabric `SerializedIdentity` bytes (mspid, id_bytes = the PEM), as creators carry."""
        return self._serialized

    @property
    def certificate(self) -> x509.Certificate:
        """The parsed X.509 certificate."""
        return self._cert

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The certificate's P-256 public key."""
        return self._public_key

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the certificate's DER: a stable id for caches and logs."""
        return self._fingerprint

    @property
    def common_name(self) -> str:
        """The subject CN, e.g. ``peer0.org1.example.com`` or ``User1@org1.example.com``."""
        return self._common_name

    @property
    def org_units(self) -> tuple[str, ...]:
        """Every OU in the subject, in certificate order."""
        return self._org_units

    @property
    def not_valid_before(self) -> float:
        """Start of the certificate's validity, as a POSIX timestamp."""
        return self._not_before

    @property
    def not_valid_after(self) -> float:
        """End of the certificate's validity, as a POSIX timestamp."""
        return self._not_after

    @property
    def role(self) -> Role | None:
        """The one NodeOU role in the subject, or None if there is none or more than one."""
        roles = [_ROLES[ou] for ou in self._org_units if ou in _ROLES]
        return roles[0] if len(roles) == 1 else None

    @property
    def is_ca(self) -> bool:
        """Whether the certificate says it is a CA (such certificates are never members)."""
        return self._is_ca

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Say whether `signature` is this identity's low-S signature of `data`."""
        return signing.verify(self._public_key, data, signature)

    def __str__(self) -> str:
        return f"{self._common_name} ({self.msp_id})"


def _attr_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attr.value) for attr in name.get_attributes_for_oid(oid)]


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _signature_is_canonical(cert: x509.Certificate) -> bool:
    # cryptography ignores a signature BIT STRING's unused-bits count, so flipping
    # it gives different certificate bytes that still verify; Go (hence Fabric)
    # right-aligns the bits and refuses them. Demand the one DER encoding.
    sig = cert.signature
    tail = b"\x03" + _der_length(len(sig) + 1) + b"\x00" + sig
    return cert.public_bytes(serialization.Encoding.DER).endswith(tail)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True, eq=False)
class SigningIdentity:
    """An identity together with its private key: what a peer, orderer or client signs with."""

    identity: Identity
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        # A mismatched pair would sign happily and fail on every peer; refuse it here.
        if self.private_key.public_key() != self.identity.public_key:
            raise IdentityError(f"private key does not match the certificate of {self.identity}")

    @property
    def msp_id(self) -> str:
        """The MSP this identity belongs to."""
        return self.identity.msp_id

    def serialize(self) -> bytes:
        """The `SerializedIdentity` bytes to put in a header's creator field."""
        return self.identity.serialize()

    def sign(self, data: bytes) -> bytes:
        """Sign `data` as Fabric does: ECDSA P-256, SHA-256, DER, low-S."""
        return signing.sign(self.private_key, data)

    def private_key_pem(self) -> bytes:
        """The key as unencrypted PKCS#8 PEM, the form cryptogen writes to ``priv_sk``."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class MSP:
    """The verifier for one organisation: which certificates are its members.

    A member certificate must be issued directly by one of the MSP's CA
    certificates, be within its validity period, not be a CA itself and carry
    exactly one NodeOU role (NodeOUs are always enabled here). Successful
    validations are cached by fingerprint, with the validity period kept so an
    identity that expires while cached is still refused.
    """

    def __init__(
        self,
        msp_id: str,
        ca_certs: Sequence[bytes],
        *,
        tls_ca_certs: Sequence[bytes] = (),
        clock: Callable[[], float] = time.time,
        cache_size: int = 4096,
    ) -> None:
        # `clock` is injectable so expiry of cached validations can be tested;
        # cache_size 0 turns the validation cache off.
        if not msp_id:
            raise ConfigError("an MSP needs a non-empty MSP id")
        if not ca_certs:
            raise ConfigError(f"MSP {msp_id} has no CA certificate")
        self._msp_id = msp_id
        self._ca_pems = tuple(ca_certs)
        self._tls_ca_pems = tuple(tls_ca_certs)
        self._cas = tuple(_parse_ca(msp_id, pem) for pem in self._ca_pems)
        for pem in self._tls_ca_pems:
            _parse_ca(msp_id, pem)
        self._clock = clock
        self._cache_size = cache_size
        self._valid: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def msp_id(self) -> str:
        """The organisation's MSP id, e.g. ``Org1MSP``."""
        return self._msp_id

    @property
    def ca_certs(self) -> tuple[bytes, ...]:
        """PEM root CA certificates that issue this organisation's members."""
        return self._ca_pems

    @property
    def tls_ca_certs(self) -> tuple[bytes, ...]:
        """PEM TLS root CA certificates, for connecting to this organisation's nodes."""
        return self._tls_ca_pems

    def validate(self, identity: Identity) -> None:
        """Raise IdentityError, naming the reason, unless `identity` is a member now."""
        if identity.msp_id != self._msp_id:
            raise IdentityError(
                f"identity {identity} is presented to MSP {self._msp_id}, not its own"
            )
        now = self._clock()
        window = self._valid.get(identity.fingerprint)
        if window is not None and window[0] <= now <= window[1]:
            return
        self._check_validity(identity, now)
        self._check_issuer(identity, now)
        if identity.is_ca:
            raise IdentityError(f"identity {identity} is a CA certificate, not a member")
        if identity.role is None:
            raise IdentityError(
                f"identity {identity} must carry exactly one NodeOU role "
                f"({', '.join(_ROLES)}), has OUs {list(identity.org_units)}"
            )
        if self._cache_size > 0:
            with self._lock:
                while len(self._valid) >= self._cache_size:
                    del self._valid[next(iter(self._valid))]
                window = (identity.not_valid_before, identity.not_valid_after)
                self._valid[identity.fingerprint] = window

    def _check_validity(self, identity: Identity, now: float) -> None:
        if now < identity.not_valid_before:
            raise IdentityError(f"certificate of {identity} is not yet valid")
        if now > identity.not_valid_after:
            raise IdentityError(f"certificate of {identity} has expired")

    def _check_issuer(self, identity: Identity, now: float) -> None:
        for ca in self._cas:
            try:
                # Checks the issuer name and the signature with the CA's public key.
                identity.certificate.verify_directly_issued_by(ca)
            except (*_PARSE_ERRORS, InvalidSignature):
                continue
            if not ca.not_valid_before_utc.timestamp() <= now <= ca.not_valid_after_utc.timestamp():
                raise IdentityError(f"the CA that issued {identity} is expired or not yet valid")
            return
        raise IdentityError(
            f"certificate of {identity} was not issued by a CA of MSP {self._msp_id}"
        )


def _parse_ca(msp_id: str, pem: bytes) -> x509.Certificate:
    try:
        cert = x509.load_pem_x509_certificate(pem)
        if not _is_ca(cert):
            raise ConfigError(
                f"MSP {msp_id}: {cert.subject.rfc4514_string()} is not a CA certificate"
            )
    except _PARSE_ERRORS as exc:
        raise ConfigError(f"MSP {msp_id}: bad CA certificate: {exc}") from exc
    return cert


class MembershipRegistry:
    """A channel's set of MSPs: turns creator bytes into validated identities.

    Parsing and chain validation happen once per distinct serialized identity
    (a bounded cache keyed by the exact bytes); later hits cost a dict lookup
    plus the MSP's cached expiry check. Failed validations are never cached.
    """

    def __init__(self, msps: Iterable[MSP] = (), *, cache_size: int = 1024) -> None:
        self._msps: dict[str, MSP] = {}
        self._identities: dict[bytes, Identity] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()
        for msp in msps:
            self.add(msp)

    def add(self, msp: MSP) -> None:
        """Trust one more organisation; ConfigError if its MSP id is already present."""
        if msp.msp_id in self._msps:
            raise ConfigError(f"MSP {msp.msp_id} is already in the registry")
        self._msps[msp.msp_id] = msp

    def get(self, msp_id: str) -> MSP:
        """The MSP with this id; IdentityError if the channel does not know it."""
        try:
            return self._msps[msp_id]
        except KeyError:
            raise IdentityError(f"unknown MSP {msp_id!r}") from None

    @property
    def msp_ids(self) -> tuple[str, ...]:
        """The MSP ids this registry trusts, in the order they were added."""
        return tuple(self._msps)

    @property
    def cached_identities(self) -> int:
        """How many distinct serialized identities are cached now (bounded by cache_size)."""
        return len(self._identities)

    def validate(self, identity: Identity) -> None:
        """Raise IdentityError unless `identity` is a current member of its claimed MSP."""
        self.get(identity.msp_id).validate(identity)

    def deserialize_and_validate(self, serialized: bytes) -> Identity:
        """Parse `SerializedIdentity` bytes and validate them against the claimed MSP.

        InvalidRequestError for malformed bytes, IdentityError for an unknown
        MSP or a certificate that MSP does not accept.
        """
        identity = self._identities.get(serialized)
        if identity is not None:
            # Re-check through the MSP: cheap (fingerprint cache) and catches expiry.
            self._msps[identity.msp_id].validate(identity)
            return identity
        identity = Identity.deserialize(serialized)
        self.validate(identity)
        if self._cache_size > 0:
            with self._lock:
                while len(self._identities) >= self._cache_size:
                    del self._identities[next(iter(self._identities))]
                self._identities[serialized] = identity
        return identity

    def verify_signature(
        self, serialized_creator: bytes, data: bytes, signature: bytes
    ) -> Identity:
        """Return the validated creator if `signature` is its signature of `data`.

        Raises IdentityError for a bad signature as well as for a bad identity.
        """
        identity = self.deserialize_and_validate(serialized_creator)
        if not identity.verify(data, signature):
            raise IdentityError(f"signature by {identity} does not verify")
        return identity


__all__ = [
    "MSP",
    "Identity",
    "MembershipRegistry",
    "Role",
    "SigningIdentity",
]
