"""Fabric-style ECDSA: low-S on signing, high-S and malformed DER refused on verifying."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorledger.crypto import signing
from tensorledger.errors import InvalidRequestError

# Order of the P-256 group, copied from SEC 2 v2 section 2.4.2, not from the code under test.
SEC2_P256_N = int(
    "FFFFFFFF 00000000 FFFFFFFF FFFFFFFF BCE6FAAD A7179E84 F3B9CAC2 FC632551".replace(" ", ""), 16
)

# RFC 6979 appendix A.2.5: P-256 key and the SHA-256 signatures of "sample" and "test".
RFC6979_UX = 0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
RFC6979_UY = 0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299
RFC6979_SAMPLE = (
    0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
    0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8,
)
RFC6979_TEST = (
    0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
    0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083,
)

KEY = signing.generate_key()
PUB = KEY.public_key()
ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def independent_verify(public_key: ec.EllipticCurvePublicKey, data: bytes, sig: bytes) -> bool:
    try:
        public_key.verify(sig, data, ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def high_s_twin(sig: bytes) -> bytes:
    r, s = decode_dss_signature(sig)
    return encode_dss_signature(r, SEC2_P256_N - s)


def test_module_constant_matches_sec2() -> None:
    assert signing.CURVE_ORDER == SEC2_P256_N
    assert signing.HALF_ORDER == SEC2_P256_N // 2


def test_round_trip() -> None:
    sig = signing.sign(KEY, b"proposal bytes")
    assert signing.verify(PUB, b"proposal bytes", sig)
    assert independent_verify(PUB, b"proposal bytes", sig)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_every_signature_is_low_s_and_verifies_independently(data: bytes) -> None:
    sig = signing.sign(KEY, data)
    _, s = decode_dss_signature(sig)
    assert 0 < s <= SEC2_P256_N // 2
    assert signing.is_low_s(sig)
    assert independent_verify(PUB, data, sig)
    assert signing.verify(PUB, data, sig)


def test_high_s_twin_is_valid_ecdsa_but_refused() -> None:
    sig = signing.sign(KEY, b"x")
    twin = high_s_twin(sig)
    assert independent_verify(PUB, b"x", twin)  # plain ECDSA accepts it ...
    assert not signing.is_low_s(twin)
    assert not signing.verify(PUB, b"x", twin)  # ... Fabric does not
    assert signing.to_low_s(twin) == sig
    assert signing.to_low_s(sig) is sig


def test_rfc6979_vectors() -> None:
    pub = ec.EllipticCurvePublicNumbers(RFC6979_UX, RFC6979_UY, ec.SECP256R1()).public_key()
    sample = encode_dss_signature(*RFC6979_SAMPLE)
    assert independent_verify(pub, b"sample", sample)
    # This published signature has S > n/2: a Fabric peer refuses it as sent ...
    assert not signing.verify(pub, b"sample", sample)
    # ... and accepts its low-S form.
    assert signing.verify(pub, b"sample", signing.to_low_s(sample))
    assert signing.verify(pub, b"test", encode_dss_signature(*RFC6979_TEST))


def test_wrong_data_or_key_refused() -> None:
    sig = signing.sign(KEY, b"data")
    assert not signing.verify(PUB, b"datA", sig)
    assert not signing.verify(signing.generate_key().public_key(), b"data", sig)


def test_every_truncation_refused() -> None:
    sig = signing.sign(KEY, b"data")
    for n in range(len(sig)):
        assert not signing.verify(PUB, b"data", sig[:n]), n


def test_every_byte_mutation_refused() -> None:
    sig = signing.sign(KEY, b"data")
    for i in range(len(sig)):
        for flip in (0x01, 0x80, 0xFF):
            bad = sig[:i] + bytes([sig[i] ^ flip]) + sig[i + 1 :]
            assert not signing.verify(PUB, b"data", bad), (i, flip)


def test_trailing_bytes_and_odd_encodings_refused() -> None:
    sig = signing.sign(KEY, b"data")
    r, s = decode_dss_signature(sig)
    assert not signing.verify(PUB, b"data", sig + b"\x00")
    assert not signing.verify(PUB, b"data", b"")
    assert not signing.verify(PUB, b"data", encode_dss_signature(0, s))
    assert not signing.verify(PUB, b"data", encode_dss_signature(r, 0))
    assert not signing.verify(PUB, b"data", encode_dss_signature(r, s + SEC2_P256_N))
    # The same integers in a non-minimal (BER, not DER) encoding.
    body_r, body_s = r.to_bytes(34, "big"), s.to_bytes(34, "big")
    ber = b"\x30" + bytes([4 + len(body_r) + len(body_s)])
    ber += b"\x02" + bytes([len(body_r)]) + body_r + b"\x02" + bytes([len(body_s)]) + body_s
    assert not signing.verify(PUB, b"data", ber)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_never_raise(garbage: bytes) -> None:
    assert signing.verify(PUB, b"data", garbage) is False


def test_other_curves_refused() -> None:
    k1 = ec.generate_private_key(ec.SECP256K1())
    sig = k1.sign(b"data", ECDSA_SHA256)
    assert not signing.verify(k1.public_key(), b"data", sig)
    with pytest.raises(InvalidRequestError):
        signing.sign(k1, b"data")


def test_helpers_raise_on_malformed() -> None:
    with pytest.raises(InvalidRequestError):
        signing.is_low_s(b"\x30\x00")
    with pytest.raises(InvalidRequestError):
        signing.to_low_s(b"nope")
