"""ECDSA P-256 signatures over SHA-256, made and checked exactly as Fabric does.

Owns the one rule Fabric adds to plain ECDSA: S must be at most n/2 ("low-S").
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from tensorledger.errors import InvalidRequestError

#: order n of the P-256 base point (SEC 2 v2, section 2.4.2)
CURVE_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

#: largest S Fabric accepts; (r, s) and (r, n - s) both verify under plain ECDSA,
#: so Fabric admits only the lower one to make signatures non-malleable
HALF_ORDER = CURVE_ORDER >> 1

# One shared algorithm object: building it per call costs more than the check it guards.
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def generate_key() -> ec.EllipticCurvePrivateKey:
    """Make a fresh P-256 private key, the only curve this module signs with."""
    return ec.generate_private_key(ec.SECP256R1())


def sign(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """Sign SHA-256(data) and return a DER signature with S normalised to low-S.

    Fabric peers reject high-S signatures, so half of all raw ECDSA signatures
    would be refused; the DER is re-encoded only in that half.
    """
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise InvalidRequestError(f"only P-256 keys are supported, not {private_key.curve.name}")
    der = private_key.sign(data, _ECDSA_SHA256)
    r, s = decode_dss_signature(der)
    if s > HALF_ORDER:
        return encode_dss_signature(r, CURVE_ORDER - s)
    return der


def verify(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    """Say whether `signature` is a valid low-S DER signature of `data` by `public_key`.

    Returns False, never raises, for anything a remote party can send: bad DER,
    trailing bytes, zero or high S, a wrong signature, a key on another curve.
    This is stricter than Fabric only in refusing non-canonical DER, which
    Fabric's own signers never produce.
    """
    if not isinstance(public_key.curve, ec.SECP256R1):
        return False
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        return False
    # Same order of checks as bccsp/sw/ecdsa.go: parse, then refuse high S, then verify.
    if r == 0 or s == 0 or s > HALF_ORDER:
        return False
    try:
        public_key.verify(signature, data, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def _decode(signature: bytes) -> tuple[int, int]:
    try:
        return decode_dss_signature(signature)
    except ValueError as exc:
        raise InvalidRequestError(f"malformed DER ECDSA signature: {exc}") from exc


def is_low_s(signature: bytes) -> bool:
    """Say whether a DER signature's S is at most n/2; InvalidRequestError if not DER."""
    _, s = _decode(signature)
    return s <= HALF_ORDER


def to_low_s(signature: bytes) -> bytes:
    """Return the low-S twin of a DER signature (itself when already low-S).

    Lets signatures from other signers (HSMs, plain OpenSSL) be made acceptable
    to Fabric without re-signing.
    """
    r, s = _decode(signature)
    if s > HALF_ORDER:
        return encode_dss_signature(r, CURVE_ORDER - s)
    return signature


__all__ = [
    "CURVE_ORDER",
    "HALF_ORDER",
    "generate_key",
    "is_low_s",
    "sign",
    "to_low_s",
    "verify",
]
