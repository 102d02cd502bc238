"""Identities, MSP validation and cryptogen-layout crypto material."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import pickle
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fabric_protos.msp import identities_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorledger.crypto import signing
from tensorledger.crypto.ca import CertificateAuthority
from tensorledger.crypto.cryptogen import (
    generate_orderer_org,
    generate_org,
    load_msp,
    load_signing_identity,
    write_msp_dir,
)
from tensorledger.crypto.msp import (
    MSP,
    Identity,
    MembershipRegistry,
    Role,
    SigningIdentity,
)
from tensorledger.errors import ConfigError, IdentityError, InvalidRequestError

SEC2_P256_N = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
OPENSSL = shutil.which("openssl")


@pytest.fixture(scope="module")
def org1() -> CertificateAuthority:
    return CertificateAuthority.create("Org1", "Org1MSP", "org1.example.com")


@pytest.fixture(scope="module")
def org2() -> CertificateAuthority:
    return CertificateAuthority.create("Org2", "Org2MSP", "org2.example.com")


@pytest.fixture(scope="module")
def peer1(org1: CertificateAuthority) -> SigningIdentity:
    return org1.issue("peer0.org1.example.com", Role.PEER)


@pytest.fixture
def registry(org1: CertificateAuthority, org2: CertificateAuthority) -> MembershipRegistry:
    return MembershipRegistry([org1.msp(), org2.msp()])


def pem_to_der(pem: bytes) -> bytes:
    """Decode PEM by hand, so fingerprints are checked without the library under test."""
    lines = pem.decode().strip().splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE-----"
    return base64.b64decode("".join(lines[1:-1]))


def x509_pem(der: bytes) -> bytes:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    ).encode()


# --- certificates as cryptogen makes them -------------------------------------------------


def test_ca_certificate_profile(org1: CertificateAuthority) -> None:
    cert = x509.load_pem_x509_certificate(org1.cert_pem)
    assert cert.subject == cert.issuer
    assert (
        cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "ca.org1.example.com"
    )
    assert (
        cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        == "org1.example.com"
    )
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and ku.digital_signature
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    point = cert.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert ski == hashlib.sha256(point).digest()  # cryptogen's SKI: SHA-256 of the point
    tls = x509.load_pem_x509_certificate(org1.tls_cert_pem)
    assert (
        tls.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "tlsca.org1.example.com"
    )
    assert tls.public_key() != cert.public_key()


def test_leaf_certificate_profile(org1: CertificateAuthority, peer1: SigningIdentity) -> None:
    cert = peer1.identity.certificate
    ca = x509.load_pem_x509_certificate(org1.cert_pem)
    assert cert.issuer == ca.subject
    assert [
        a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    ] == ["peer"]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))


def test_every_issued_certificate_is_signed_low_s(org1: CertificateAuthority) -> None:
    # Fabric's MSP rewrites high-S certificate signatures; ours must need no rewriting.
    certs = [org1.issue(f"u{i}", Role.CLIENT).identity.certificate for i in range(16)]
    certs.append(x509.load_pem_x509_certificate(org1.cert_pem))
    for cert in certs:
        _, s = decode_dss_signature(cert.signature)
        assert s <= SEC2_P256_N // 2


def test_tls_certificate_profile(org1: CertificateAuthority) -> None:
    cert_pem, key_pem = org1.issue_tls(
        "peer0.org1.example.com", ["peer0.org1.example.com", "127.0.0.1"]
    )
    cert = x509.load_pem_x509_certificate(cert_pem)
    tls_ca = x509.load_pem_x509_certificate(org1.tls_cert_pem)
    cert.verify_directly_issued_by(tls_ca)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key() == cert.public_key()
    assert b"BEGIN PRIVATE KEY" in key_pem  # PKCS#8


# --- identities -----------------------------------------------------------------------------


def test_identity_properties(peer1: SigningIdentity) -> None:
    ident = peer1.identity
    assert x509_pem(pem_to_der(ident.cert_pem)) == ident.cert_pem
    assert ident.role is Role.PEER
    assert ident.common_name == "peer0.org1.example.com"
    assert ident.fingerprint == hashlib.sha256(pem_to_der(ident.cert_pem)).hexdigest()
    assert not ident.is_ca
    assert peer1.msp_id == "Org1MSP"


def test_identity_is_frozen_and_hashable(peer1: SigningIdentity) -> None:
    ident = peer1.identity
    twin = Identity(ident.msp_id, ident.cert_pem)
    assert twin == ident and hash(twin) == hash(ident)
    assert len({ident, twin}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        ident.msp_id = "Org2MSP"  # type: ignore[misc]


def test_serialized_identity_round_trip_and_fabric_protos(peer1: SigningIdentity) -> None:
    data = peer1.serialize()
    parsed = identities_pb2.SerializedIdentity()
    parsed.ParseFromString(data)
    assert parsed.mspid == "Org1MSP"
    assert parsed.id_bytes == peer1.identity.cert_pem
    built = identities_pb2.SerializedIdentity(mspid="Org1MSP", id_bytes=peer1.identity.cert_pem)
    assert Identity.deserialize(built.SerializeToString()) == peer1.identity
    assert Identity.deserialize(data) == peer1.identity


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xff\xff",
        identities_pb2.SerializedIdentity(mspid="Org1MSP").SerializeToString(),
        identities_pb2.SerializedIdentity(
            mspid="Org1MSP", id_bytes=b"not a pem"
        ).SerializeToString(),
    ],
    ids=["garbage", "no-cert", "bad-pem"],
)
def test_deserialize_malformed(data: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        Identity.deserialize(data)


def test_deserialize_empty_msp_id(peer1: SigningIdentity) -> None:
    data = identities_pb2.SerializedIdentity(id_bytes=peer1.identity.cert_pem).SerializeToString()
    with pytest.raises(InvalidRequestError):
        Identity.deserialize(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_deserialize_random_bytes_only_invalid_request(data: bytes) -> None:
    try:
        Identity.deserialize(data)
    except InvalidRequestError:
        pass


@pytest.mark.filterwarnings("ignore::UserWarning")  # cryptography warns on odd attribute lengths
def test_every_corrupted_certificate_byte_is_refused(
    org1: CertificateAuthority, peer1: SigningIdentity
) -> None:
    # transparency-dev style: mutate each byte of a valid certificate; none may validate.
    reg = MembershipRegistry([org1.msp()])
    der = pem_to_der(peer1.identity.cert_pem)
    # Every single-bit flip, plus a few masks that once reached cryptography's
    # TypeError / DuplicateExtension / UnsupportedGeneralNameType / InvalidVersion
    # and the ignored unused-bits count of the signature BIT STRING.
    masks = [1 << bit for bit in range(8)] + [0x0F, 0x22, 0x27, 0xFF]
    for i in range(len(der)):
        for mask in masks:
            bad = der[:i] + bytes([der[i] ^ mask]) + der[i + 1 :]
            creator = identities_pb2.SerializedIdentity(mspid="Org1MSP", id_bytes=x509_pem(bad))
            with pytest.raises((InvalidRequestError, IdentityError)):
                reg.deserialize_and_validate(creator.SerializeToString())


def test_identity_pickles(peer1: SigningIdentity) -> None:
    again = pickle.loads(pickle.dumps(peer1.identity))
    assert again == peer1.identity and again.fingerprint == peer1.identity.fingerprint


def test_signing_identity_refuses_foreign_key(peer1: SigningIdentity) -> None:
    with pytest.raises(IdentityError):
        SigningIdentity(peer1.identity, signing.generate_key())


# --- MSP validation -------------------------------------------------------------------------


def test_issued_identities_validate(org1: CertificateAuthority) -> None:
    msp = org1.msp()
    for role in Role:
        msp.validate(org1.issue(f"{role.value}.org1", role).identity)


def test_foreign_ca_rejected(org1: CertificateAuthority, org2: CertificateAuthority) -> None:
    stranger = org2.issue("x", Role.CLIENT).identity
    wearing_org1 = Identity("Org1MSP", stranger.cert_pem)
    with pytest.raises(IdentityError, match="not issued by a CA of MSP Org1MSP"):
        org1.msp().validate(wearing_org1)


def test_impostor_ca_with_same_name_rejected(org1: CertificateAuthority) -> None:
    # Same subject names as org1's CA, different key: only the signature check tells.
    impostor = CertificateAuthority.create("Org1", "Org1MSP", "org1.example.com")
    forged = impostor.issue("peer0.org1.example.com", Role.PEER).identity
    assert forged.certificate.issuer == x509.load_pem_x509_certificate(org1.cert_pem).subject
    with pytest.raises(IdentityError, match="not issued"):
        org1.msp().validate(forged)


def test_org_a_cert_claiming_org_b_rejected(
    registry: MembershipRegistry, peer1: SigningIdentity
) -> None:
    claim = Identity("Org2MSP", peer1.identity.cert_pem)
    with pytest.raises(IdentityError):
        registry.deserialize_and_validate(claim.serialize())
    with pytest.raises(IdentityError, match="presented to MSP Org2MSP"):
        registry.get("Org2MSP").validate(peer1.identity)


def test_expired_and_not_yet_valid_rejected(org1: CertificateAuthority) -> None:
    now = datetime.now(UTC)
    expired = org1.issue("old", Role.CLIENT, not_after=now - timedelta(hours=1)).identity
    future = org1.issue("new", Role.CLIENT, not_before=now + timedelta(hours=1)).identity
    with pytest.raises(IdentityError, match="expired"):
        org1.msp().validate(expired)
    with pytest.raises(IdentityError, match="not yet valid"):
        org1.msp().validate(future)


def test_cached_validation_still_notices_expiry(org1: CertificateAuthority) -> None:
    now = datetime.now(UTC)
    ident = org1.issue("short", Role.CLIENT, not_after=now + timedelta(hours=1)).identity
    clock = [now.timestamp()]
    msp = MSP("Org1MSP", [org1.cert_pem], clock=lambda: clock[0])
    msp.validate(ident)
    msp.validate(ident)  # cached
    clock[0] += 2 * 3600
    with pytest.raises(IdentityError, match="expired"):
        msp.validate(ident)


def test_ca_certificate_as_identity_rejected(org1: CertificateAuthority) -> None:
    with pytest.raises(IdentityError, match="CA certificate"):
        org1.msp().validate(Identity("Org1MSP", org1.cert_pem))


def test_identity_without_node_ou_rejected(org1: CertificateAuthority, tmp_path: Path) -> None:
    org1.save(tmp_path)  # read the CA key back the way an operator would
    ca_key = serialization.load_pem_private_key((tmp_path / "ca" / "priv_sk").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate(org1.cert_pem)
    key = signing.generate_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nobody")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(minutes=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    ident = Identity("Org1MSP", cert.public_bytes(serialization.Encoding.PEM))
    assert ident.role is None
    with pytest.raises(IdentityError, match="NodeOU"):
        org1.msp().validate(ident)


def test_msp_refuses_non_ca_root(peer1: SigningIdentity) -> None:
    with pytest.raises(ConfigError, match="not a CA"):
        MSP("Org1MSP", [peer1.identity.cert_pem])


# --- the registry ---------------------------------------------------------------------------


def test_registry_verifies_signatures(registry: MembershipRegistry, peer1: SigningIdentity) -> None:
    sig = peer1.sign(b"proposal")
    assert registry.verify_signature(peer1.serialize(), b"proposal", sig) == peer1.identity
    with pytest.raises(IdentityError, match="does not verify"):
        registry.verify_signature(peer1.serialize(), b"proposal!", sig)
    r, s = decode_dss_signature(sig)
    with pytest.raises(IdentityError, match="does not verify"):
        registry.verify_signature(
            peer1.serialize(), b"proposal", encode_dss_signature(r, SEC2_P256_N - s)
        )


def test_registry_signature_by_other_member_rejected(
    registry: MembershipRegistry, org1: CertificateAuthority, peer1: SigningIdentity
) -> None:
    other = org1.issue("User1@org1.example.com", Role.CLIENT)
    with pytest.raises(IdentityError):
        registry.verify_signature(peer1.serialize(), b"m", other.sign(b"m"))


def test_registry_unknown_msp(registry: MembershipRegistry, peer1: SigningIdentity) -> None:
    with pytest.raises(IdentityError, match="unknown MSP 'Org9MSP'"):
        registry.deserialize_and_validate(Identity("Org9MSP", peer1.identity.cert_pem).serialize())
    with pytest.raises(IdentityError, match="unknown MSP"):
        registry.get("Org9MSP")
    with pytest.raises(ConfigError):
        registry.add(registry.get("Org1MSP"))


def test_registry_cache_is_bounded_and_reused(org1: CertificateAuthority) -> None:
    reg = MembershipRegistry([org1.msp()], cache_size=2)
    people = [org1.issue(f"u{i}", Role.CLIENT) for i in range(3)]
    first = reg.deserialize_and_validate(people[0].serialize())
    assert reg.deserialize_and_validate(people[0].serialize()) is first
    for p in people:
        reg.deserialize_and_validate(p.serialize())
    assert reg.cached_identities == 2


def test_registry_cache_still_notices_expiry(org1: CertificateAuthority) -> None:
    now = datetime.now(UTC)
    person = org1.issue("short", Role.CLIENT, not_after=now + timedelta(hours=1))
    clock = [now.timestamp()]
    reg = MembershipRegistry([MSP("Org1MSP", [org1.cert_pem], clock=lambda: clock[0])])
    reg.verify_signature(person.serialize(), b"m", person.sign(b"m"))
    clock[0] += 2 * 3600
    with pytest.raises(IdentityError, match="expired"):
        reg.verify_signature(person.serialize(), b"m", person.sign(b"m"))


def test_caches_can_be_turned_off(org1: CertificateAuthority, peer1: SigningIdentity) -> None:
    reg = MembershipRegistry([MSP("Org1MSP", [org1.cert_pem], cache_size=0)], cache_size=0)
    for _ in range(2):
        assert reg.deserialize_and_validate(peer1.serialize()) == peer1.identity
    assert reg.cached_identities == 0


def test_registry_malformed_creator(registry: MembershipRegistry) -> None:
    with pytest.raises(InvalidRequestError):
        registry.verify_signature(b"\x0a\xff", b"m", b"sig")


# --- Fabric's folder layout -----------------------------------------------------------------


def test_generate_org_has_cryptogen_layout(tmp_path: Path) -> None:
    mat = generate_org(tmp_path, "Org1", "Org1MSP", "org1.example.com", peers=2)
    d = "peerOrganizations/org1.example.com"
    node = [
        "msp/cacerts/ca.org1.example.com-cert.pem",
        "msp/tlscacerts/tlsca.org1.example.com-cert.pem",
        "msp/config.yaml",
        "msp/keystore/priv_sk",
    ]
    expected = {
        f"{d}/ca/ca.org1.example.com-cert.pem",
        f"{d}/ca/priv_sk",
        f"{d}/tlsca/tlsca.org1.example.com-cert.pem",
        f"{d}/tlsca/priv_sk",
        f"{d}/msp/cacerts/ca.org1.example.com-cert.pem",
        f"{d}/msp/tlscacerts/tlsca.org1.example.com-cert.pem",
        f"{d}/msp/config.yaml",
    }
    for host in ("peer0", "peer1"):
        base = f"{d}/peers/{host}.org1.example.com"
        expected |= {f"{base}/{f}" for f in node}
        expected |= {f"{base}/msp/signcerts/{host}.org1.example.com-cert.pem"}
        expected |= {f"{base}/tls/{f}" for f in ("ca.crt", "server.crt", "server.key")}
    for user in ("User1", "Admin"):
        base = f"{d}/users/{user}@org1.example.com"
        expected |= {f"{base}/{f}" for f in node}
        expected |= {f"{base}/msp/signcerts/{user}@org1.example.com-cert.pem"}
        expected |= {f"{base}/tls/{f}" for f in ("ca.crt", "client.crt", "client.key")}
    files = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert files == expected
    assert (tmp_path / d / "msp" / "admincerts").is_dir()
    for p in tmp_path.rglob("*"):
        if p.name in {"priv_sk", "server.key", "client.key"}:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert mat.msp_id == "Org1MSP" and mat.org_dir == tmp_path / d
    assert [n.name for n in mat.nodes] == ["peer0.org1.example.com", "peer1.org1.example.com"]
    assert mat.admin_dir == mat.users[-1]


def test_generated_org_loads_and_validates(tmp_path: Path) -> None:
    mat = generate_org(tmp_path, "Org1", "Org1MSP", "org1.example.com")
    msp = load_msp(mat.msp_dir, "Org1MSP")
    roles = {}
    for folder in (*mat.nodes, *mat.users):
        si = load_signing_identity(folder / "msp", "Org1MSP")
        msp.validate(si.identity)
        assert si.identity.verify(b"m", si.sign(b"m"))
        roles[folder.name] = si.identity.role
    assert roles == {
        "peer0.org1.example.com": Role.PEER,
        "User1@org1.example.com": Role.CLIENT,
        "Admin@org1.example.com": Role.ADMIN,
    }
    tls_dir = mat.nodes[0] / "tls"
    assert (tls_dir / "ca.crt").read_bytes() == msp.tls_ca_certs[0]
    server = x509.load_pem_x509_certificate((tls_dir / "server.crt").read_bytes())
    server.verify_directly_issued_by(x509.load_pem_x509_certificate(msp.tls_ca_certs[0]))
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [
        "peer0.org1.example.com",
        "peer0",
        "localhost",
    ]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    config = (mat.msp_dir / "config.yaml").read_text()
    assert "NodeOUs:\n  Enable: true\n" in config
    for ou in ("client", "peer", "admin", "orderer"):
        assert f"OrganizationalUnitIdentifier: {ou}\n" in config
    assert config.count("Certificate: cacerts/ca.org1.example.com-cert.pem\n") == 4
    with pytest.raises(ConfigError, match="already exists"):
        generate_org(tmp_path, "Org1", "Org1MSP", "org1.example.com")


def test_generate_orderer_org(tmp_path: Path) -> None:
    mat = generate_orderer_org(tmp_path, "Orderer", "OrdererMSP", "example.com")
    node = tmp_path / "ordererOrganizations/example.com/orderers/orderer.example.com"
    assert mat.nodes == (node,)
    assert sorted(p.name for p in (node / "tls").iterdir()) == [
        "ca.crt",
        "server.crt",
        "server.key",
    ]
    si = load_signing_identity(node / "msp", "OrdererMSP")
    assert si.identity.role is Role.ORDERER
    load_msp(mat.msp_dir, "OrdererMSP").validate(si.identity)
    assert [u.name for u in mat.users] == ["Admin@example.com"]


def test_ca_save_load_issues_more(tmp_path: Path, org1: CertificateAuthority) -> None:
    org1.save(tmp_path)
    assert stat.S_IMODE((tmp_path / "ca" / "priv_sk").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tlsca" / "priv_sk").stat().st_mode) == 0o600
    again = CertificateAuthority.load(tmp_path, "Org1MSP")
    assert again.domain == "org1.example.com" and again.cert_pem == org1.cert_pem
    org1.msp().validate(again.issue("late", Role.CLIENT).identity)


@pytest.mark.parametrize("name", ["ca/ca.org1.example.com-cert.pem", "tlsca/priv_sk"])
def test_corrupt_ca_files_name_the_file(
    tmp_path: Path, org1: CertificateAuthority, name: str
) -> None:
    org1.save(tmp_path)
    (tmp_path / name).write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match=Path(name).name):
        CertificateAuthority.load(tmp_path, "Org1MSP")


def test_bad_arguments(org1: CertificateAuthority, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="timezone"):
        org1.issue("x", Role.CLIENT, not_after=datetime(2000, 1, 1))
    with pytest.raises(ConfigError):
        generate_org(tmp_path, "Evil", "EvilMSP", "../escape")
    with pytest.raises(ConfigError):
        generate_org(tmp_path, "Evil", "EvilMSP", "evil.com", users=["../../x"])
    assert not (tmp_path / "peerOrganizations" / "evil.com").exists()


def test_write_and_load_local_msp(
    tmp_path: Path, org1: CertificateAuthority, peer1: SigningIdentity
) -> None:
    write_msp_dir(tmp_path / "msp", org1, peer1)
    loaded = load_signing_identity(tmp_path / "msp", "Org1MSP")
    assert loaded.identity == peer1.identity
    assert loaded.private_key_pem() == peer1.private_key_pem()
    with pytest.raises(IdentityError):
        write_msp_dir(tmp_path / "other", CertificateAuthority.create("O", "OMSP", "o.com"), peer1)


@pytest.mark.parametrize(
    ("target", "content"),
    [
        (
            "signcerts/peer0.org1.example.com-cert.pem",
            b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
        ),
        ("signcerts/peer0.org1.example.com-cert.pem", b""),
        ("keystore/priv_sk", b"-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n"),
        ("cacerts/ca.org1.example.com-cert.pem", b"garbage"),
    ],
    ids=["bad-cert", "empty-cert", "bad-key", "bad-cacert"],
)
def test_corrupt_files_name_the_file(
    tmp_path: Path, org1: CertificateAuthority, peer1: SigningIdentity, target: str, content: bytes
) -> None:
    msp_dir = write_msp_dir(tmp_path / "msp", org1, peer1)
    (msp_dir / target).write_bytes(content)
    with pytest.raises(ConfigError, match=Path(target).name):
        if target.startswith("cacerts"):
            load_msp(msp_dir, "Org1MSP")
        else:
            load_signing_identity(msp_dir, "Org1MSP")


def test_missing_files_give_config_error(
    tmp_path: Path, org1: CertificateAuthority, peer1: SigningIdentity
) -> None:
    msp_dir = write_msp_dir(tmp_path / "msp", org1, peer1)
    (msp_dir / "keystore" / "priv_sk").unlink()
    with pytest.raises(ConfigError, match="keystore"):
        load_signing_identity(msp_dir, "Org1MSP")
    with pytest.raises(ConfigError, match="nowhere/cacerts"):
        load_msp(tmp_path / "nowhere", "Org1MSP")
    with pytest.raises(ConfigError, match="nowhere/ca: CA folder missing"):
        CertificateAuthority.load(tmp_path / "nowhere", "Org1MSP")


def test_mismatched_key_gives_config_error(
    tmp_path: Path, org1: CertificateAuthority, peer1: SigningIdentity
) -> None:
    msp_dir = write_msp_dir(tmp_path / "msp", org1, peer1)
    other = org1.issue("other", Role.CLIENT)
    (msp_dir / "keystore" / "priv_sk").write_bytes(other.private_key_pem())
    with pytest.raises(ConfigError, match="no private key matches"):
        load_signing_identity(msp_dir, "Org1MSP")


# --- an independent implementation: OpenSSL ---------------------------------------------------


@pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed; cannot cross-check")
def test_openssl_accepts_chains_and_signatures(tmp_path: Path) -> None:
    assert OPENSSL is not None
    mat = generate_org(tmp_path, "Org1", "Org1MSP", "org1.example.com")
    other = generate_org(tmp_path, "Org2", "Org2MSP", "org2.example.com")
    ca = mat.org_dir / "ca" / "ca.org1.example.com-cert.pem"
    tlsca = mat.org_dir / "tlsca" / "tlsca.org1.example.com-cert.pem"

    def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OPENSSL, *map(str, args)], capture_output=True, text=True, check=False
        )

    for folder in (*mat.nodes, *mat.users):
        (leaf,) = (folder / "msp" / "signcerts").iterdir()
        done = openssl("verify", "-x509_strict", "-CAfile", ca, leaf)
        assert done.returncode == 0, done.stdout + done.stderr
    server = mat.nodes[0] / "tls" / "server.crt"
    done = openssl("verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", tlsca, server)
    assert done.returncode == 0, done.stdout + done.stderr
    # The check can fail: a leaf from org2 does not chain to org1's CA.
    (foreign,) = (other.nodes[0] / "msp" / "signcerts").iterdir()
    assert openssl("verify", "-CAfile", ca, foreign).returncode != 0

    # OpenSSL verifies a signature made by our signer (and refuses a tampered message).
    si = load_signing_identity(mat.nodes[0] / "msp", "Org1MSP")
    (tmp_path / "data").write_bytes(b"envelope payload")
    (tmp_path / "sig").write_bytes(si.sign(b"envelope payload"))
    (tmp_path / "pub.pem").write_bytes(
        si.identity.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    args = ("dgst", "-sha256", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig")
    done = openssl(*args, tmp_path / "data")
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "data").write_bytes(b"envelope payloaD")
    assert openssl(*args, tmp_path / "data").returncode != 0
