"""PEM files of certificates and keys: reading them with clear errors, writing keys 0600."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tensorledger.errors import ConfigError


def read_certificate_pem(path: Path) -> bytes:
    """Read a PEM certificate file; ConfigError naming the file if missing or corrupt."""
    data = read_bytes(path)
    try:
        x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a PEM X.509 certificate ({exc})") from exc
    return data


def read_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Read a PEM PKCS#8 P-256 key file; ConfigError naming the file if missing or corrupt."""
    data = read_bytes(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"{path}: not an ECDSA P-256 private key")
    return key


def read_bytes(path: Path) -> bytes:
    """A file's bytes; ConfigError naming the file when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc


def check_name(name: str) -> None:
    """Refuse a name that cannot safely be one path component."""
    # Names become path components; refuse anything that could escape the folder.
    if not name or name in {".", ".."} or any(c in name for c in "/\\\0"):
        raise ConfigError(f"{name!r} cannot be used as a file or folder name")


def write_file(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write a file, creating folders; `private` files are created mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not private:
        path.write_bytes(data)
        return
    # Created 0600 from the start (no window where the key is readable) and
    # re-chmodded in case the file already existed with a wider mode.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(data)
