"""Signed checkpoints of the transaction log: C2SP tlog-checkpoint in a C2SP signed-note.

Owns the checkpoint text (origin, tree size, root hash, extension lines), its
note signatures by the ordering service's ECDSA P-256 key, and their checks.

Signature type: 0x02, which c2sp.org/signed-note assigns to "ECDSA signatures
as implemented by github.com/transparency-dev/witness": an ASN.1 DER ECDSA
signature over SHA-256 of the note text, with key ID = SHA-256(DER
SubjectPublicKeyInfo)[:4]. For this type the spec fixes the key ID to the
hash of the key alone, not the name-bound hash it recommends for other types;
we follow it so that Go's transparency-dev/formats note verifiers (and
Rekor's checkpoints) interoperate in both directions. Like Fabric, we sign
low-S and reject high-S; Go accepts both, so our notes verify there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tensorledger.crypto import signing
from tensorledger.errors import IntegrityError, InvalidRequestError

#: signed-note signature type byte for ECDSA (c2sp.org/signed-note)
SIGNATURE_TYPE_ECDSA = 0x02

#: the signed-note spec asks verifiers to cap signatures, at 16 or more
MAX_SIGNATURES = 100
#: a checkpoint is a few hundred bytes; refusing huge texts bounds the work
MAX_NOTE_CHARS = 1 << 20

_ROOT_SIZE = 32
_MAX_TREE_SIZE = (1 << 64) - 1  # tree sizes are uint64 in every other implementation
_KEY_ID_SIZE = 4
_SIG_PREFIX = "\N{EM DASH} "
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")  # ASCII only, no leading zeros
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # every C0 control but newline


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: who (origin), how many leaves (size), and the root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise InvalidRequestError("checkpoint size must be an int")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise InvalidRequestError(f"checkpoint size {self.size} is not a uint64")
        if not isinstance(self.root, bytes) or len(self.root) != _ROOT_SIZE:
            raise InvalidRequestError(f"checkpoint root must be {_ROOT_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise InvalidRequestError("checkpoint extensions must be a tuple of lines")
        for line in self.extensions:
            _check_line("extension line", line)

    def body(self) -> bytes:
        """The note text: the exact bytes that are signed."""
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines).encode()


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name, its 4-byte ID, and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if not isinstance(self.key_id, bytes) or len(self.key_id) != _KEY_ID_SIZE:
            raise InvalidRequestError(f"note key ID must be {_KEY_ID_SIZE} bytes")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise InvalidRequestError("note signature must be non-empty bytes")

    def line(self) -> str:
        """The signature line, ending in a newline."""
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with one or more note signatures, in the order they appear."""

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        if not self.signatures:
            raise InvalidRequestError("a signed note needs at least one signature")
        if len(self.signatures) > MAX_SIGNATURES:
            raise InvalidRequestError(f"a note may carry at most {MAX_SIGNATURES} signatures")

    def to_text(self) -> str:
        """The signed note: text, a blank line, then the signature lines."""
        body = self.checkpoint.body().decode()
        return body + "\n" + "".join(sig.line() for sig in self.signatures)


class NoteVerifier:
    """A named ECDSA P-256 public key that checks note signatures (type 0x02)."""

    def __init__(self, name: str, public_key: ec.EllipticCurvePublicKey) -> None:
        _check_key_name(name)
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP256R1
        ):
            raise InvalidRequestError("a note verifier needs an ECDSA P-256 public key")
        self.name = name
        self.public_key = public_key
        self._spki = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        #: SHA-256(DER SubjectPublicKeyInfo)[:4], as signed-note fixes for type 0x02
        self.key_id: bytes = hashlib.sha256(self._spki).digest()[:_KEY_ID_SIZE]

    def verifier_key(self) -> str:
        """The key as text, ``name+keyid+base64(0x02 || SPKI)``, as Go's note vkey."""
        key = bytes([SIGNATURE_TYPE_ECDSA]) + self._spki
        return f"{self.name}+{self.key_id.hex()}+{_b64(key)}"

    @classmethod
    def from_verifier_key(cls, text: str) -> NoteVerifier:
        """Parse `verifier_key` text; raises `InvalidRequestError` if malformed or inconsistent."""
        parts = text.split("+", 2) if isinstance(text, str) else []
        if len(parts) != 3:
            raise InvalidRequestError("verifier key must be name+keyid+base64key")
        name, key_id_hex, key_b64 = parts
        if not re.fullmatch(r"[0-9a-f]{8}", key_id_hex):
            raise InvalidRequestError("verifier key ID must be 8 lowercase hex digits")
        key = _b64decode(key_b64, "verifier key")
        if len(key) < 2 or key[0] != SIGNATURE_TYPE_ECDSA:
            raise InvalidRequestError(
                f"verifier key is not of signature type 0x{SIGNATURE_TYPE_ECDSA:02x} (ECDSA)"
            )
        try:
            public_key = serialization.load_der_public_key(key[1:])
        except (ValueError, TypeError) as exc:
            raise InvalidRequestError(f"verifier key is not a DER public key: {exc}") from None
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise InvalidRequestError("verifier key is not an ECDSA public key")
        verifier = cls(name, public_key)
        if verifier._spki != key[1:]:
            raise InvalidRequestError("verifier key is not a canonical DER SubjectPublicKeyInfo")
        if verifier.key_id.hex() != key_id_hex:
            raise InvalidRequestError(
                f"verifier key ID {key_id_hex} does not match its key ({verifier.key_id.hex()})"
            )
        return verifier

    def matches(self, signature: NoteSignature) -> bool:
        """Whether the signature line claims to be by this key (same name and key ID)."""
        return signature.name == self.name and signature.key_id == self.key_id

    def verify(self, message: bytes, signature: NoteSignature) -> bool:
        """Whether ``signature`` is this key's valid low-S signature of ``message``."""
        return self.matches(signature) and signing.verify(
            self.public_key, message, signature.signature
        )


class NoteSigner:
    """A named ECDSA P-256 private key that signs checkpoints as signed notes."""

    def __init__(self, name: str, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise InvalidRequestError("a note signer needs an ECDSA P-256 private key")
        self.verifier = NoteVerifier(name, private_key.public_key())
        self.name = name
        self.key_id: bytes = self.verifier.key_id
        self._private_key = private_key

    def signature(self, checkpoint: Checkpoint) -> NoteSignature:
        """This key's signature line for a checkpoint."""
        sig = signing.sign(self._private_key, checkpoint.body())
        return NoteSignature(self.name, self.key_id, sig)

    def sign(self, checkpoint: Checkpoint) -> SignedCheckpoint:
        """A signed checkpoint carrying this key's signature only."""
        return SignedCheckpoint(checkpoint, (self.signature(checkpoint),))

    def cosign(self, signed: SignedCheckpoint) -> SignedCheckpoint:
        """Add this key's signature after the existing ones.

        An earlier signature by this same key is replaced, as Go's note.Sign
        does; the existing signatures are not checked here.
        """
        others = tuple(sig for sig in signed.signatures if not self.verifier.matches(sig))
        return SignedCheckpoint(signed.checkpoint, (*others, self.signature(signed.checkpoint)))


def parse_checkpoint(text: str) -> SignedCheckpoint:
    """Parse a signed checkpoint note; raises `InvalidRequestError` if malformed.

    Parsing checks the format only: no signature is verified.
    """
    if not isinstance(text, str):
        raise InvalidRequestError("checkpoint must be text")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidRequestError(f"checkpoint note is longer than {MAX_NOTE_CHARS} characters")
    _check_utf8("checkpoint note", text)
    if match := _CONTROL.search(text):
        raise InvalidRequestError(
            f"checkpoint note contains control character {match.group()!r} at {match.start()}"
        )
    if not text.endswith("\n"):
        raise InvalidRequestError("checkpoint note does not end with a newline")
    # The text is separated from the signatures by the last empty line.
    split = text.rfind("\n\n")
    if split < 0:
        raise InvalidRequestError("checkpoint note has no blank line before its signatures")
    body, sig_block = text[: split + 1], text[split + 2 :]
    if not sig_block:
        raise InvalidRequestError("checkpoint note has no signature lines")
    sig_lines = sig_block[:-1].split("\n")
    if len(sig_lines) > MAX_SIGNATURES:
        raise InvalidRequestError(f"checkpoint note has more than {MAX_SIGNATURES} signatures")
    signatures = tuple(_parse_signature_line(n, line) for n, line in enumerate(sig_lines, 1))
    return SignedCheckpoint(_parse_body(body), signatures)


def verify_checkpoint(
    text: str, verifier: NoteVerifier, *, origin: str | None = None
) -> Checkpoint:
    """The checkpoint in ``text`` once ``verifier``'s key has been found to sign it.

    Signatures by other keys are ignored, as signed-note requires. Raises
    `InvalidRequestError` if the text is malformed, and
    ``IntegrityError("checkpoint", ...)`` if no signature by the key is
    present, any signature by the key fails, or ``origin`` is given and differs.
    """
    signed = parse_checkpoint(text)
    checkpoint = signed.checkpoint
    claimed = [sig for sig in signed.signatures if verifier.matches(sig)]
    if not claimed:
        raise IntegrityError(
            "checkpoint", f"no signature by key {verifier.name} ({verifier.key_id.hex()})"
        )
    body = checkpoint.body()
    # A failing signature by a known key means the note was altered: reject it
    # whole, even if another signature by the same key verifies.
    for sig in claimed:
        if not verifier.verify(body, sig):
            raise IntegrityError("checkpoint", f"signature by {verifier.name} does not verify")
    if origin is not None and checkpoint.origin != origin:
        raise IntegrityError("checkpoint", f"origin is {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


def _parse_body(body: str) -> Checkpoint:
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise InvalidRequestError("checkpoint needs origin, size and root hash lines")
    if "" in lines:
        raise InvalidRequestError("checkpoint has an empty line in its text")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text):
        raise InvalidRequestError(f"checkpoint size {size_text[:40]!r} is not a decimal number")
    size = int(size_text)
    if size > _MAX_TREE_SIZE:
        raise InvalidRequestError(f"checkpoint size {size} is not a uint64")
    root = _b64decode(root_text, "checkpoint root hash")
    if len(root) != _ROOT_SIZE:
        raise InvalidRequestError(f"checkpoint root hash is {len(root)} bytes, not {_ROOT_SIZE}")
    return Checkpoint(origin, size, root, tuple(extensions))


def _parse_signature_line(number: int, line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise InvalidRequestError(f"checkpoint signature line {number} does not start with '— '")
    name, space, sig_text = line[len(_SIG_PREFIX) :].partition(" ")
    if not space:
        raise InvalidRequestError(f"checkpoint signature line {number} has no signature")
    try:
        _check_key_name(name)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"checkpoint signature line {number}: {exc}") from None
    raw = _b64decode(sig_text, f"checkpoint signature line {number}")
    if len(raw) <= _KEY_ID_SIZE:
        raise InvalidRequestError(f"checkpoint signature line {number} is too short")
    return NoteSignature(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: alphabet, padding, and canonical trailing bits."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{what} is not valid base64") from None
    # b64decode tolerates non-zero unused bits; only the canonical text is
    # accepted so that each byte string has exactly one encoding.
    if _b64(data) != text:
        raise InvalidRequestError(f"{what} is not canonical base64")
    return data


def _check_utf8(what: str, text: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:
        raise InvalidRequestError(f"{what} is not valid UTF-8 text") from None


def _check_line(what: str, line: str) -> None:
    if not isinstance(line, str) or not line:
        raise InvalidRequestError(f"checkpoint {what} must be a non-empty string")
    _check_utf8(f"checkpoint {what}", line)
    if "\n" in line or _CONTROL.search(line):
        raise InvalidRequestError(f"checkpoint {what} contains a newline or control character")


def _check_key_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidRequestError("note key name must be a non-empty string")
    _check_utf8("note key name", name)
    if any(c.isspace() or c == "+" or c < " " for c in name):
        raise InvalidRequestError(
            f"note key name {name!r} contains a space, '+' or control character"
        )


__all__ = [
    "MAX_SIGNATURES",
    "SIGNATURE_TYPE_ECDSA",
    "Checkpoint",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "SignedCheckpoint",
    "parse_checkpoint",
    "verify_checkpoint",
]
