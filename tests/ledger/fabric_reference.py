"""Independent reference implementations the ledger tests compare against.

Written from the specifications (ASN.1 DER, RFC 9162, C2SP signed-note, Fabric's
protos) without importing the code under test, so a shared misunderstanding
cannot make a wrong value look right.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2

#: order n of the P-256 base point, SEC 2 v2 section 2.4.2 (copied from the standard)
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

#: Fabric's TxValidationCode values (fabric-protos peer/transaction.proto)
VALID = 0
DUPLICATE_TXID = 9
ENDORSEMENT_POLICY_FAILURE = 10
MVCC_READ_CONFLICT = 11
PHANTOM_READ_CONFLICT = 12

#: Fabric's BlockMetadataIndex (common/common.proto)
SIGNATURES = 0
TRANSACTIONS_FILTER = 2


# -- ASN.1 DER ----------------------------------------------------------------


def der_length(n: int) -> bytes:
    """X.690 8.1.3: short form below 128, else 0x80|count then big-endian bytes."""
    if n < 0x80:
        return bytes([n])
    out = bytearray()
    while n:
        out.insert(0, n & 0xFF)
        n >>= 8
    return bytes([0x80 | len(out)]) + bytes(out)


def der_uint(value: int) -> bytes:
    """INTEGER for a non-negative value: minimal two's complement (X.690 8.3)."""
    assert value >= 0
    body = bytearray()
    v = value
    while True:
        body.insert(0, v & 0xFF)
        v >>= 8
        if v == 0:
            break
    if body[0] & 0x80:
        body.insert(0, 0)
    return b"\x02" + der_length(len(body)) + bytes(body)


def der_octets(data: bytes) -> bytes:
    """OCTET STRING, primitive form."""
    return b"\x04" + der_length(len(data)) + data


def block_header_der(number: int, previous_hash: bytes, data_hash: bytes) -> bytes:
    """Fabric's protoutil.BlockHeaderBytes: SEQUENCE{INTEGER, OCTET STRING, OCTET STRING}."""
    body = der_uint(number) + der_octets(previous_hash) + der_octets(data_hash)
    return b"\x30" + der_length(len(body)) + body


# -- RFC 9162 Merkle trees ----------------------------------------------------


def log_entry(block: int, index: int, envelope: bytes) -> bytes:
    """The transaction log's leaf: block number (8 bytes) and position (4 bytes), big-endian,
    then the envelope, so that an inclusion proof also proves where the transaction sits."""
    return block.to_bytes(8, "big") + index.to_bytes(4, "big") + envelope


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 2.1.1: HASH(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 2.1.1: HASH(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2 verbatim: the root an inclusion path implies, None if it cannot."""
    if index >= size:
        return None
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 Merkle Tree Hash, recursively by definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


# -- C2SP signed notes ----------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """A checkpoint note split by the rules of c2sp.org/signed-note and tlog-checkpoint."""

    body: bytes
    origin: str
    size: int
    root: bytes
    signatures: list[tuple[str, bytes, bytes]]  # (name, key id, signature)


def parse_note(text: str) -> Note:
    """Split a signed checkpoint: text up to the blank line, then '— name base64' lines."""
    body, _, sigs = text.partition("\n\n")
    lines = body.split("\n")
    signatures = []
    for line in sigs.rstrip("\n").split("\n"):
        assert line.startswith("\u2014 "), line
        name, _, b64 = line[2:].partition(" ")
        raw = base64.b64decode(b64)
        signatures.append((name, raw[:4], raw[4:]))
    return Note(
        (body + "\n").encode(), lines[0], int(lines[1]), base64.b64decode(lines[2]), signatures
    )


def note_key(verifier_key: str) -> tuple[str, bytes, ec.EllipticCurvePublicKey]:
    """Parse 'name+hex key id+base64(0x02 || SPKI)' and check the key id is SHA-256(SPKI)[:4]."""
    name, key_id_hex, b64 = verifier_key.split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 0x02, "signature type must be ECDSA (0x02)"
    assert hashlib.sha256(raw[1:]).digest()[:4].hex() == key_id_hex
    key = serialization.load_der_public_key(raw[1:])
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return name, bytes.fromhex(key_id_hex), key


def note_signed_by(text: str, verifier_key: str) -> bool:
    """Whether the note carries a valid signature by this verifier key."""
    name, key_id, key = note_key(verifier_key)
    note = parse_note(text)
    for sig_name, sig_id, sig in note.signatures:
        if sig_name == name and sig_id == key_id:
            return ecdsa_verifies(key, note.body, sig)
    return False


# -- ECDSA and identities -------------------------------------------------------


def ecdsa_verifies(key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    """Plain ECDSA P-256/SHA-256 verification with `cryptography`."""
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def sign_low_s(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256/SHA-256 signature with S folded into the lower half, as Fabric requires."""
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return encode_dss_signature(r, min(s, P256_ORDER - s))


def is_low_s(signature: bytes) -> bool:
    """Fabric's rule: S at most n/2."""
    _, s = decode_dss_signature(signature)
    return s <= P256_ORDER // 2


@dataclass(frozen=True)
class Creator:
    """A SerializedIdentity decoded with the protos and `cryptography` only."""

    msp_id: str
    cert_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        key = self.cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key

    @property
    def org_units(self) -> list[str]:
        return [
            str(a.value)
            for a in self.cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
        ]


def creator(serialized: bytes) -> Creator:
    """Decode Fabric SerializedIdentity bytes."""
    sid = identities_pb2.SerializedIdentity.FromString(serialized)
    return Creator(sid.mspid, bytes(sid.id_bytes))


# -- envelopes -------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedTx:
    """The parts of an endorser transaction envelope the tests check."""

    envelope: common_pb2.Envelope
    payload: common_pb2.Payload
    channel_header: common_pb2.ChannelHeader
    signature_header: common_pb2.SignatureHeader
    action_payload: transaction_pb2.ChaincodeActionPayload
    response_payload: proposal_response_pb2.ProposalResponsePayload
    action: proposal_pb2.ChaincodeAction

    @property
    def endorsements(self) -> list[proposal_response_pb2.Endorsement]:
        return list(self.action_payload.action.endorsements)


def decode_tx(raw: bytes) -> DecodedTx:
    """Walk an envelope down to its chaincode action with the generated protos."""
    env = common_pb2.Envelope.FromString(raw)
    payload = common_pb2.Payload.FromString(env.payload)
    chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(
        cap.action.proposal_response_payload
    )
    action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
    return DecodedTx(env, payload, chdr, shdr, cap, prp, action)
