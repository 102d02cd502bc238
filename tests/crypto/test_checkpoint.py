"""Signed checkpoints: C2SP tlog-checkpoint text in a C2SP signed-note, ECDSA type 0x02.

Known answers: real checkpoints and verifier keys of Sigstore's Rekor and the
Pixel 6 transparency log, as used by transparency-dev/formats' note tests
(note/note_verifier_test.go), signed by their own Go/Java implementations.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorledger.crypto import merkle
from tensorledger.crypto.checkpoint import (
    Checkpoint,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    SignedCheckpoint,
    parse_checkpoint,
    verify_checkpoint,
)
from tensorledger.errors import IntegrityError, InvalidRequestError

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

REKOR_VKEY = (
    "rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogS"
    "MdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc="
)
REKOR_NOTE = (
    "Rekor\n798034\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n\n"
    "— rekor.sigstore.dev wNI9ajBEAiARInWIWyCdyG27CO6LPnPekyw20qO0YJfoaPaowGp/XgIgc+qEHS3+"
    "GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=\n"
)
PIXEL_VKEY = (
    "pixel6_transparency_log+91c16e30+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABN+4x0Jk1yTwvLFI"
    "9A4NDdGZcX0aiWVdWM5XJVy0M4VWD3AvyW5Q6Hs9A0mcDkpUoYgn+KKPNzFC0H3nN3q6JQ8="
)
PIXEL_NOTE = (
    "DEFAULT\n10\nbsWRucJU5xJPHb5eBdOm6+DM+VelCZBuvtI3sHERJ9Y=\n\n"
    "— pixel6_transparency_log kcFuMDBFAiEAhqMAP8P6qf6QxtUJhzMhbN+MbZ9dwfUHzGQJmffJHtoCIG"
    "D0cNe47dHWBoPwYdgBCepB06/+g5O1FmYjXl06owL4\n"
)

ORIGIN = "orderer.example.com/channel1"
KEY = ec.derive_private_key(0x1D1E5, ec.SECP256R1())
OTHER_KEY = ec.derive_private_key(0xC0FFEE, ec.SECP256R1())
SIGNER = NoteSigner(ORIGIN, KEY)
ROOT = merkle.root([b"tx0", b"tx1", b"tx2"])
CHECKPOINT = Checkpoint(ORIGIN, 3, ROOT)
TEXT = SIGNER.sign(CHECKPOINT).to_text()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sig_line(name: str, key_id: bytes, signature: bytes) -> str:
    return f"— {name} {b64(key_id + signature)}\n"


# --- interoperability with independent implementations ----------------------
@pytest.mark.parametrize(
    ("vkey", "note", "origin", "size"),
    [(REKOR_VKEY, REKOR_NOTE, "Rekor", 798034), (PIXEL_VKEY, PIXEL_NOTE, "DEFAULT", 10)],
)
def test_verifies_real_checkpoints_signed_elsewhere(vkey, note, origin, size):
    verifier = NoteVerifier.from_verifier_key(vkey)
    assert verifier.verifier_key() == vkey  # same text form as Go's note package
    checkpoint = verify_checkpoint(note, verifier)
    assert (checkpoint.origin, checkpoint.size) == (origin, size)
    assert parse_checkpoint(note).to_text() == note
    tampered = note.replace(f"\n{size}\n", f"\n{size + 1}\n")
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_checkpoint(tampered, verifier)


def test_key_id_is_sha256_of_the_spki_for_type_0x02():
    verifier = NoteVerifier.from_verifier_key(REKOR_VKEY)
    spki = verifier.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert verifier.key_id == hashlib.sha256(spki).digest()[:4] == bytes.fromhex("c0d23d6a")
    assert SIGNER.key_id == SIGNER.verifier.key_id
    ours = SIGNER.verifier.verifier_key()
    assert NoteVerifier.from_verifier_key(ours).key_id == SIGNER.key_id


# --- format ------------------------------------------------------------------
def test_text_layout():
    lines = TEXT.split("\n")
    assert lines[:5] == [ORIGIN, "3", b64(ROOT), "", lines[4]]
    assert lines[5:] == [""]
    dash, name, blob = lines[4].split(" ")
    assert (dash, name) == ("\N{EM DASH}", ORIGIN)
    raw = base64.b64decode(blob)
    assert raw[:4] == SIGNER.key_id
    _, s = decode_dss_signature(raw[4:])
    assert 0 < s <= P256_N // 2
    # the signature is plain ECDSA-SHA256 over the note text, blank line excluded
    KEY.public_key().verify(raw[4:], CHECKPOINT.body(), ec.ECDSA(hashes.SHA256()))
    assert CHECKPOINT.body() == f"{ORIGIN}\n3\n{b64(ROOT)}\n".encode()


def test_round_trip_with_extensions_and_cosignature():
    checkpoint = Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT, ("Timestamp: 1700000000", "é ✓ +x"))
    witness = NoteSigner("witness.example.org/w1", OTHER_KEY)
    signed = witness.cosign(SIGNER.sign(checkpoint))
    text = signed.to_text()
    assert parse_checkpoint(text) == signed
    assert verify_checkpoint(text, SIGNER.verifier, origin=ORIGIN) == checkpoint
    assert verify_checkpoint(text, witness.verifier) == checkpoint
    again = witness.cosign(signed)  # re-signing replaces, does not pile up
    assert [s.name for s in again.signatures] == [ORIGIN, "witness.example.org/w1"]


@settings(max_examples=40, deadline=None)
@given(
    origin=st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1),
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1),
        max_size=3,
    ),
)
def test_round_trip_property(origin, size, root, extensions):
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    text = SIGNER.sign(checkpoint).to_text()
    assert parse_checkpoint(text).checkpoint == checkpoint
    assert verify_checkpoint(text, SIGNER.verifier) == checkpoint


# --- tampering ---------------------------------------------------------------
def _single_character_changes(text: str):
    for i, c in enumerate(text):
        for replacement in {chr(ord(c) ^ 1), "A" if c != "A" else "B", "\n" if c != "\n" else " "}:
            yield i, text[:i] + replacement + text[i + 1 :]
        yield i, text[:i] + text[i + 1 :]


def test_every_single_character_change_fails():
    for i, bad in _single_character_changes(TEXT):
        try:
            verify_checkpoint(bad, SIGNER.verifier)
        except (IntegrityError, InvalidRequestError):
            continue
        pytest.fail(f"altered at {i} still verifies: {bad!r}")


def test_wrong_key_fails():
    with pytest.raises(IntegrityError, match="no signature by key"):
        verify_checkpoint(TEXT, NoteVerifier(ORIGIN, OTHER_KEY.public_key()))
    with pytest.raises(IntegrityError, match="no signature by key"):
        verify_checkpoint(TEXT, NoteVerifier("someone.else", KEY.public_key()))


def test_forged_signature_under_the_right_name_and_key_id_fails():
    forged = SignedCheckpoint(
        CHECKPOINT,
        (
            NoteSignature(
                ORIGIN, SIGNER.key_id, NoteSigner(ORIGIN, OTHER_KEY).signature(CHECKPOINT).signature
            ),
        ),
    ).to_text()
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_checkpoint(forged, SIGNER.verifier)


def test_unknown_signatures_are_ignored_but_a_bad_known_one_rejects_the_note():
    stranger = NoteSigner("stranger", OTHER_KEY)
    text = stranger.cosign(SIGNER.sign(CHECKPOINT)).to_text()
    assert verify_checkpoint(text, SIGNER.verifier) == CHECKPOINT
    # a second, broken signature by the trusted key next to the good one
    good = SIGNER.signature(CHECKPOINT)
    broken = NoteSignature(
        ORIGIN, SIGNER.key_id, good.signature[:-1] + bytes([good.signature[-1] ^ 1])
    )
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_checkpoint(SignedCheckpoint(CHECKPOINT, (good, broken)).to_text(), SIGNER.verifier)


def test_verifier_checks_the_claimed_key_as_well_as_the_bytes():
    good = SIGNER.signature(CHECKPOINT)
    body = CHECKPOINT.body()
    assert SIGNER.verifier.verify(body, good)
    renamed = NoteSignature("someone.else", good.key_id, good.signature)
    rekeyed = NoteSignature(ORIGIN, b"\x00\x00\x00\x00", good.signature)
    assert not SIGNER.verifier.verify(body, renamed)
    assert not SIGNER.verifier.verify(body, rekeyed)
    assert not SIGNER.verifier.verify(body + b"x", good)


def test_origin_pin():
    assert verify_checkpoint(TEXT, SIGNER.verifier, origin=ORIGIN) == CHECKPOINT
    with pytest.raises(IntegrityError, match="origin"):
        verify_checkpoint(TEXT, SIGNER.verifier, origin="other.example.com/log")


def test_high_s_signature_is_rejected():
    der = SIGNER.signature(CHECKPOINT).signature
    r, s = decode_dss_signature(der)
    high = encode_dss_signature(r, P256_N - s)
    # plain ECDSA accepts the twin: only the low-S rule stands in the way
    KEY.public_key().verify(high, CHECKPOINT.body(), ec.ECDSA(hashes.SHA256()))
    text = CHECKPOINT.body().decode() + "\n" + sig_line(ORIGIN, SIGNER.key_id, high)
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_checkpoint(text, SIGNER.verifier)


def test_non_canonical_der_is_rejected():
    der = SIGNER.signature(CHECKPOINT).signature
    r, s = decode_dss_signature(der)
    # r with a superfluous leading zero byte: same numbers, BER not DER
    r_bytes = b"\x00" + r.to_bytes((r.bit_length() + 8) // 8, "big")
    s_bytes = s.to_bytes((s.bit_length() + 8) // 8, "big")
    body = b"\x02" + bytes([len(r_bytes)]) + r_bytes + b"\x02" + bytes([len(s_bytes)]) + s_bytes
    ber = b"\x30" + bytes([len(body)]) + body
    for bad in (ber, der + b"\x00"):
        text = CHECKPOINT.body().decode() + "\n" + sig_line(ORIGIN, SIGNER.key_id, bad)
        with pytest.raises(IntegrityError, match="does not verify"):
            verify_checkpoint(text, SIGNER.verifier)


# --- malformed text ----------------------------------------------------------
BODY = CHECKPOINT.body().decode()
SIG = TEXT[len(BODY) + 1 :]
ROOT64 = b64(ROOT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BODY + SIG, "no blank line"),
        (TEXT[:-1], "newline"),
        (BODY + "\n", "no signature"),
        (TEXT.replace(ROOT64, ROOT64[:-2] + "!="), "base64"),
        (TEXT.replace(ROOT64, ROOT64[:-2] + "Z="), "canonical"),  # stray low bits
        (TEXT.replace(ROOT64, ROOT64.rstrip("=")), "base64"),
        (TEXT.replace(ROOT64, b64(ROOT[:31])), "31 bytes"),
        (TEXT.replace("\n3\n", "\n03\n"), "decimal"),
        (TEXT.replace("\n3\n", "\n0x3\n"), "decimal"),
        (TEXT.replace("\n3\n", "\n-3\n"), "decimal"),
        (TEXT.replace("\n3\n", "\n3.0\n"), "decimal"),
        (TEXT.replace("\n3\n", "\n 3\n"), "decimal"),
        (TEXT.replace("\n3\n", "\n\N{FULLWIDTH DIGIT THREE}\n"), "decimal"),
        (TEXT.replace("\n3\n", f"\n{2**64}\n"), "uint64"),
        (TEXT.replace("\n3\n", "\n" + "9" * 5000 + "\n"), "decimal"),
        (TEXT.replace("\n3\n", "\n3\t\n"), "control character"),
        (TEXT.replace("\n3\n", "\n3\r\n"), "control character"),
        (TEXT.replace(ORIGIN, ORIGIN + "\x00"), "control character"),
        (TEXT.replace(ORIGIN + "\n", ORIGIN + "\x1b[2J\n", 1), "control character"),
        (f"{ORIGIN}\n3\n\n{SIG}", "origin, size and root"),
        (f"{ORIGIN}\n3\n{ROOT64}\n\nx\n\n{SIG}", "empty line"),
        (f"\n3\n{ROOT64}\n\n{SIG}", "empty line"),
        (BODY + "\n" + SIG.replace("— ", "- "), "does not start"),
        (BODY + "\n" + SIG.replace("— ", "—"), "does not start"),
        (BODY + "\n" + SIG.replace(f" {ORIGIN} ", f" {ORIGIN}"), "no signature"),
        (BODY + "\n" + SIG.replace(ORIGIN, "a+b"), "'\\+'"),
        (BODY + "\n" + SIG.replace(ORIGIN, ORIGIN + "\N{NO-BREAK SPACE}x"), "space"),
        (BODY + "\n" + SIG.replace(f" {ORIGIN} ", f" {ORIGIN}  "), "base64"),
        (BODY + "\n" + SIG + "\n", "empty line|no signature|does not start"),
        (BODY + "\n" + sig_line(ORIGIN, b"\x01\x02\x03", b"\x04"), "too short"),
        (BODY + "\n" + sig_line(ORIGIN, SIGNER.key_id, b"\x01") * 101, "more than 100"),
        (TEXT.replace(ORIGIN, ORIGIN + "\ud800", 1), "UTF-8"),
        (TEXT + "x" * (1 << 20), "longer than"),
        (b"not text", "must be text"),
    ],
)
def test_malformed_text_is_invalid_request(text, message):
    with pytest.raises(InvalidRequestError, match=message) as caught:
        parse_checkpoint(text)
    assert "\n" not in str(caught.value)  # one clear line for the CLI
    with pytest.raises(InvalidRequestError):
        verify_checkpoint(text, SIGNER.verifier)


def test_many_signatures_up_to_the_limit_are_accepted():
    others = [NoteSignature(f"w{i}", b"\x00\x00\x00\x00", b"\x30") for i in range(99)]
    text = SignedCheckpoint(CHECKPOINT, (*others, SIGNER.signature(CHECKPOINT))).to_text()
    assert verify_checkpoint(text, SIGNER.verifier) == CHECKPOINT


# --- constructing --------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: Checkpoint("", 1, ROOT),
        lambda: Checkpoint("a\nb", 1, ROOT),
        lambda: Checkpoint("a\tb", 1, ROOT),
        lambda: Checkpoint(ORIGIN, -1, ROOT),
        lambda: Checkpoint(ORIGIN, 2**64, ROOT),
        lambda: Checkpoint(ORIGIN, True, ROOT),
        lambda: Checkpoint(ORIGIN, 1, ROOT[:31]),
        lambda: Checkpoint(ORIGIN, 1, ROOT.hex()),
        lambda: Checkpoint(ORIGIN, 1, ROOT, ("",)),
        lambda: Checkpoint(ORIGIN, 1, ROOT, ("a\nb",)),
        lambda: Checkpoint(ORIGIN, 1, ROOT, ["list"]),
        lambda: SignedCheckpoint(CHECKPOINT, ()),
        lambda: NoteSignature("a b", b"\x00" * 4, b"\x01"),
        lambda: NoteSignature("ab", b"\x00" * 3, b"\x01"),
        lambda: NoteSigner("", KEY),
        lambda: NoteSigner("a+b", KEY),
        lambda: NoteSigner("a b", KEY),
        lambda: NoteSigner("p384", ec.generate_private_key(ec.SECP384R1())),
        lambda: NoteSigner("ed", ed25519.Ed25519PrivateKey.generate()),
        lambda: NoteVerifier("p384", ec.generate_private_key(ec.SECP384R1()).public_key()),
    ],
)
def test_invalid_values_are_refused(make):
    with pytest.raises(InvalidRequestError):
        make()


# A fixed key: parametrize ids must be the same in every xdist worker.
ED_SPKI = (
    ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
)


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("rekor.sigstore.dev+c0d23d6a", "name\\+keyid\\+base64key"),
        (REKOR_VKEY.replace("+c0d23d6a+", "+00000000+"), "does not match"),
        (REKOR_VKEY.replace("+c0d23d6a+", "+C0D23D6A+"), "lowercase hex"),
        (REKOR_VKEY.replace("+c0d23d6a+", "+c0d23d6+"), "lowercase hex"),
        (REKOR_VKEY[:-1], "base64"),
        ("rekor.sigstore.dev+c0d23d6a+AwEB", "signature type 0x02"),
        ("ed+00000000+" + b64(b"\x02" + ED_SPKI), "not an ECDSA"),
        ("k+00000000+" + b64(b"\x02junk"), "not a DER public key"),
        (REKOR_VKEY.replace("rekor.sigstore.dev", "rekor sigstore"), "space"),
        (None, "name\\+keyid\\+base64key"),
    ],
)
def test_malformed_verifier_keys(vkey, message):
    with pytest.raises(InvalidRequestError, match=message):
        NoteVerifier.from_verifier_key(vkey)


def test_checkpoint_anchors_merkle_proofs():
    leaves = [f"tx{i}".encode() for i in range(10)]
    tree = merkle.MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    text = SIGNER.sign(Checkpoint(ORIGIN, tree.size, tree.root())).to_text()
    checkpoint = verify_checkpoint(text, SIGNER.verifier, origin=ORIGIN)
    proof = tree.inclusion_proof(7)
    assert merkle.verify_inclusion(leaves[7], 7, checkpoint.size, proof, checkpoint.root)
