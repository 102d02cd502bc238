"""Manifests: what an off-chain object is, chunk by chunk, in a form the chain can commit to.

Owns `ChunkRef`, `Manifest`, their canonical JSON and its strict parser.

A `Manifest` is consistent by construction: offsets follow sizes, every chunk
but the last is full, digests are SHA-256 hex, and the root is the RFC 9162
Merkle root over the chunks' plaintext digests. Readers can therefore trust
its shape and only have to check chunk bytes against it. Its JSON is
canonical (sorted keys, no spaces, ASCII) and `from_json` accepts nothing
else, so a manifest has exactly one encoding and one digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tensorledger.blobs.encryption import AES_256_GCM
from tensorledger.blobs.store import is_digest
from tensorledger.crypto import merkle
from tensorledger.errors import InvalidRequestError

#: default chunk size; each manifest records its own
CHUNK_SIZE = 4 * 1024 * 1024
#: largest chunk a manifest may declare: readers hold whole chunks in memory
MAX_CHUNK_SIZE = 1 << 30
#: the manifest JSON format; a reader refuses versions it does not know
FORMAT_VERSION = 1

_KEY_ID = re.compile(r"[0-9a-f]{32}")
_CHUNK_FIELDS = ("digest", "index", "offset", "size", "stored")
_FIELDS = (
    "chunk_size",
    "chunks",
    "encryption",
    "key_id",
    "media_type",
    "metadata",
    "root",
    "size",
    "version",
)


def _bad(name: str, detail: str) -> InvalidRequestError:
    return InvalidRequestError(f"manifest: {name} {detail}")


def _canonical(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ChunkRef:
    """One chunk of an object: where it sits in the plaintext and what it hashes to."""

    index: int
    size: int  # plaintext size
    digest: str  # hex SHA-256 of the plaintext chunk
    stored: str  # hex SHA-256 of the stored bytes (== digest if not encrypted)
    offset: int  # plaintext byte offset in the whole object

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this chunk."""
        return {
            "digest": self.digest,
            "index": self.index,
            "offset": self.offset,
            "size": self.size,
            "stored": self.stored,
        }


@dataclass(frozen=True)
class Manifest:
    """An object's chunks, size, media type, Merkle root and (optional) encryption."""

    media_type: str
    size: int
    chunk_size: int
    chunks: tuple[ChunkRef, ...]
    root: str  # hex RFC 9162 root over the chunks' raw plaintext digests
    encryption: str | None = None  # None or "AES-256-GCM"
    key_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self)
        # A deep, JSON-only copy: the manifest cannot change under its digest
        # when the caller's dict does, and tuples become the lists JSON reads back.
        try:
            metadata = json.loads(_canonical(dict(self.metadata)))
        except (TypeError, ValueError) as exc:
            raise _bad("metadata", f"is not JSON: {exc}") from None
        object.__setattr__(self, "metadata", metadata)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this manifest."""
        return {
            "chunk_size": self.chunk_size,
            "chunks": [chunk.to_dict() for chunk in self.chunks],
            "encryption": self.encryption,
            "key_id": self.key_id,
            "media_type": self.media_type,
            "metadata": dict(self.metadata),
            "root": self.root,
            "size": self.size,
            "version": FORMAT_VERSION,
        }

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, no spaces, ASCII only."""
        return _canonical(self.to_dict())

    def digest(self) -> str:
        """Hex SHA-256 of `to_json`: the name the chain and the chunk store know it by."""
        return hashlib.sha256(self.to_json()).hexdigest()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse canonical manifest JSON; `InvalidRequestError` naming the field when malformed."""
        try:
            obj = json.loads(data)
        except (ValueError, TypeError) as exc:
            raise InvalidRequestError(f"manifest: not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise InvalidRequestError("manifest: not a JSON object")
        _check_fields("", obj, _FIELDS)
        if obj["version"] != FORMAT_VERSION or not _is_int(obj["version"]):
            raise _bad("version", f"is {obj['version']!r}; this reader knows {FORMAT_VERSION}")
        chunks = obj["chunks"]
        if not isinstance(chunks, list):
            raise _bad("chunks", "must be a list")
        metadata = obj["metadata"]
        if not isinstance(metadata, dict):
            raise _bad("metadata", "must be an object")
        manifest = cls(
            media_type=obj["media_type"],
            size=obj["size"],
            chunk_size=obj["chunk_size"],
            chunks=tuple(_chunk_from(i, c) for i, c in enumerate(chunks)),
            root=obj["root"],
            encryption=obj["encryption"],
            key_id=obj["key_id"],
            metadata=metadata,
        )
        if manifest.to_json() != data:
            raise InvalidRequestError(
                "manifest: not in canonical form (sorted keys, no spaces, ASCII, no duplicates)"
            )
        return manifest


def _check_fields(prefix: str, obj: Mapping[str, Any], names: tuple[str, ...]) -> None:
    missing = sorted(set(names) - obj.keys())
    unknown = sorted(obj.keys() - set(names))
    if missing:
        raise _bad(f"{prefix}{missing[0]}", "is missing")
    if unknown:
        raise _bad(f"{prefix}{unknown[0]}", "is not a manifest field")


def _chunk_from(position: int, obj: object) -> ChunkRef:
    name = f"chunks[{position}]"
    if not isinstance(obj, dict):
        raise _bad(name, "must be an object")
    _check_fields(f"{name}.", obj, _CHUNK_FIELDS)
    return ChunkRef(
        index=obj["index"],
        size=obj["size"],
        digest=obj["digest"],
        stored=obj["stored"],
        offset=obj["offset"],
    )


def _check(m: Manifest) -> None:
    """Every rule a manifest obeys; the first broken one names its field."""
    if (
        not isinstance(m.media_type, str)
        or "/" not in m.media_type
        or m.media_type != (m.media_type.strip())
    ):
        raise _bad("media_type", f"must be a media type such as 'text/csv', not {m.media_type!r}")
    if not _is_int(m.size) or m.size < 0:
        raise _bad("size", f"must be a non-negative integer, not {m.size!r}")
    if not _is_int(m.chunk_size) or not 0 < m.chunk_size <= MAX_CHUNK_SIZE:
        raise _bad("chunk_size", f"must be an integer in 1..{MAX_CHUNK_SIZE}, not {m.chunk_size!r}")
    if not isinstance(m.chunks, tuple):
        raise _bad("chunks", "must be a tuple of ChunkRef")
    _check_encryption(m)
    _check_chunks(m)
    if not is_digest(m.root):
        raise _bad("root", f"must be 64 lowercase hex digits, not {m.root!r}")
    expected = merkle.root([bytes.fromhex(chunk.digest) for chunk in m.chunks]).hex()
    if m.root != expected:
        raise _bad("root", f"is {m.root} but the chunk digests give {expected}")
    if not isinstance(m.metadata, Mapping) or not all(isinstance(k, str) for k in m.metadata):
        raise _bad("metadata", "must be a mapping with string keys")


def _check_encryption(m: Manifest) -> None:
    if m.encryption is None:
        if m.key_id is not None:
            raise _bad("key_id", "must be null when the object is not encrypted")
        return
    if m.encryption != AES_256_GCM:
        raise _bad("encryption", f"must be null or {AES_256_GCM!r}, not {m.encryption!r}")
    if not (isinstance(m.key_id, str) and _KEY_ID.fullmatch(m.key_id)):
        raise _bad("key_id", f"must be 32 lowercase hex digits, not {m.key_id!r}")


def _check_chunks(m: Manifest) -> None:
    """Chunks tile the object exactly: in order, full except the last, none empty."""
    offset = 0
    last = len(m.chunks) - 1
    for position, chunk in enumerate(m.chunks):
        name = f"chunks[{position}]"
        if not isinstance(chunk, ChunkRef):
            raise _bad(name, "must be a ChunkRef")
        for attr in ("index", "size", "offset"):
            if not _is_int(getattr(chunk, attr)):
                raise _bad(f"{name}.{attr}", f"must be an integer, not {getattr(chunk, attr)!r}")
        if chunk.index != position:
            raise _bad(f"{name}.index", f"is {chunk.index}, expected {position}")
        if chunk.offset != offset:
            raise _bad(f"{name}.offset", f"is {chunk.offset}, expected {offset}")
        if position < last and chunk.size != m.chunk_size:
            raise _bad(f"{name}.size", f"is {chunk.size}; every chunk but the last is chunk_size")
        if not 0 < chunk.size <= m.chunk_size:
            raise _bad(f"{name}.size", f"is {chunk.size}, not in 1..{m.chunk_size}")
        for attr in ("digest", "stored"):
            if not is_digest(getattr(chunk, attr)):
                raise _bad(f"{name}.{attr}", "must be 64 lowercase hex digits")
        if m.encryption is None and chunk.stored != chunk.digest:
            raise _bad(f"{name}.stored", "must equal digest when the object is not encrypted")
        offset += chunk.size
    if offset != m.size:
        raise _bad("size", f"is {m.size} but the chunks add up to {offset}")


__all__ = ["CHUNK_SIZE", "FORMAT_VERSION", "MAX_CHUNK_SIZE", "ChunkRef", "Manifest"]
