"""Manifest: canonical JSON, digest, and a strict parser that names what is wrong."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorledger.blobs import ChunkRef, LocalChunkStore, Manifest, key_id, new_key, put_object
from tensorledger.errors import InvalidRequestError

from ._files import mth


def _manifest(data: bytes = bytes(range(256)) * 10, chunk_size: int = 1000) -> Manifest:
    chunks = []
    for index, offset in enumerate(range(0, len(data), chunk_size)):
        piece = data[offset : offset + chunk_size]
        digest = hashlib.sha256(piece).hexdigest()
        chunks.append(
            ChunkRef(index=index, size=len(piece), digest=digest, stored=digest, offset=offset)
        )
    return Manifest(
        media_type="application/octet-stream",
        size=len(data),
        chunk_size=chunk_size,
        chunks=tuple(chunks),
        root=mth([bytes.fromhex(c.digest) for c in chunks]).hex(),
        metadata={"columns": ["a", "b"], "rows": 3},
    )


def test_json_is_canonical_and_round_trips() -> None:
    manifest = _manifest()
    data = manifest.to_json()
    obj = json.loads(data)
    assert data == json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    assert Manifest.from_json(data) == manifest
    assert manifest.digest() == hashlib.sha256(data).hexdigest()
    assert obj["version"] == 1
    assert [c["offset"] for c in obj["chunks"]] == [0, 1000, 2000]


def test_metadata_is_copied_so_the_digest_cannot_change_under_it() -> None:
    metadata: dict[str, Any] = {"columns": ["x"]}
    manifest = replace(_manifest(), metadata=metadata)
    before = manifest.digest()
    metadata["columns"].append("y")
    assert manifest.digest() == before


def test_an_encrypted_manifest_round_trips() -> None:
    plain = _manifest()
    chunks = tuple(
        replace(c, stored=hashlib.sha256(c.digest.encode()).hexdigest()) for c in plain.chunks
    )
    manifest = replace(plain, chunks=chunks, encryption="AES-256-GCM", key_id=key_id(new_key()))
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_the_empty_object_has_the_empty_tree_root() -> None:
    manifest = Manifest(
        media_type="text/csv",
        size=0,
        chunk_size=10,
        chunks=(),
        root=hashlib.sha256(b"").hexdigest(),
    )
    assert Manifest.from_json(manifest.to_json()) == manifest


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: object) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = obj
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = obj
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return mutate


_FIELDS = [
    "chunk_size",
    "chunks",
    "encryption",
    "key_id",
    "media_type",
    "metadata",
    "root",
    "size",
    "version",
]
_CHUNK_FIELDS = ["digest", "index", "offset", "size", "stored"]

MUTATIONS: list[tuple[str, Mutation, str]] = [
    *[(f"missing {f}", _delete(f), f) for f in _FIELDS],
    *[(f"missing chunk {f}", _delete(f"chunks.1.{f}"), f"chunks[1].{f}") for f in _CHUNK_FIELDS],
    ("unknown field", _set("extra", 1), "extra"),
    ("unknown chunk field", _set("chunks.0.extra", 1), "chunks[0].extra"),
    ("size as string", _set("size", "2560"), "size"),
    ("size as bool", _set("size", True), "size"),
    ("size as float", _set("size", 2560.0), "size"),
    ("size too big", _set("size", 2561), "size"),
    ("negative size", _set("size", -1), "size"),
    ("chunk_size zero", _set("chunk_size", 0), "chunk_size"),
    ("chunk_size too large", _set("chunk_size", 1 << 40), "chunk_size"),
    ("chunk_size not the chunks'", _set("chunk_size", 999), "chunks[0].size"),
    ("chunks not a list", _set("chunks", {}), "chunks"),
    ("chunk not an object", _set("chunks.0", [1]), "chunks[0]"),
    ("metadata a list", _set("metadata", []), "metadata"),
    ("media_type a number", _set("media_type", 5), "media_type"),
    ("media_type without slash", _set("media_type", "csv"), "media_type"),
    ("unknown cipher", _set("encryption", "AES-128-CBC"), "encryption"),
    ("key_id without encryption", _set("key_id", "0" * 32), "key_id"),
    ("root upper case", lambda o: o.update(root=o["root"].upper()), "root"),
    ("root of other chunks", _set("root", "ab" * 32), "root"),
    (
        "chunk digest upper case",
        lambda o: o["chunks"][1].update(digest=o["chunks"][1]["digest"].upper()),
        "chunks[1].digest",
    ),
    (
        "chunk digest 63 hex",
        lambda o: o["chunks"][1].update(digest=o["chunks"][1]["digest"][:63]),
        "chunks[1].digest",
    ),
    ("chunk digest changed", _set("chunks.2.digest", "cd" * 32), "chunks[2].stored"),
    (
        "chunk digest and stored changed",
        lambda o: o["chunks"][2].update(digest="cd" * 32, stored="cd" * 32),
        "root",
    ),
    ("stored differs, not encrypted", _set("chunks.0.stored", "ef" * 32), "chunks[0].stored"),
    ("index out of order", _set("chunks.1.index", 2), "chunks[1].index"),
    ("index as string", _set("chunks.1.index", "1"), "chunks[1].index"),
    ("offset wrong", _set("chunks.1.offset", 999), "chunks[1].offset"),
    ("short middle chunk", _set("chunks.1.size", 999), "chunks[1].size"),
    ("empty last chunk", _set("chunks.2.size", 0), "chunks[2].size"),
    ("chunk dropped", lambda o: o["chunks"].pop(), "size"),
    ("version 2", _set("version", 2), "version"),
    ("version as bool", _set("version", True), "version"),
]


@pytest.mark.parametrize(("label", "mutate", "field"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_mutated_manifest_is_rejected_naming_the_field(
    label: str, mutate: Mutation, field: str
) -> None:
    obj = json.loads(_manifest().to_json())
    mutate(obj)
    data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(InvalidRequestError) as caught:
        Manifest.from_json(data)
    assert f"manifest: {field} " in str(caught.value), label


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b"\xff\xfe",
        b"",
        # the valid manifest with a space, pretty-printed, or a key repeated
        _manifest().to_json().replace(b":", b": ", 1),
        json.dumps(json.loads(_manifest().to_json()), sort_keys=True, indent=1).encode(),
        _manifest().to_json()[:-1] + b',"size":2560}',
    ],
)
def test_bytes_that_are_not_a_canonical_manifest_are_rejected(data: bytes) -> None:
    with pytest.raises(InvalidRequestError, match="manifest"):
        Manifest.from_json(data)


def test_nan_in_metadata_is_rejected() -> None:
    data = _manifest().to_json().replace(b'"rows":3', b'"rows":NaN')
    with pytest.raises(InvalidRequestError, match="manifest"):
        Manifest.from_json(data)


def test_direct_construction_checks_the_same_rules() -> None:
    good = _manifest()
    with pytest.raises(InvalidRequestError, match="root"):
        replace(good, root="00" * 32)
    with pytest.raises(InvalidRequestError, match="metadata"):
        replace(good, metadata={"bad": object()})
    with pytest.raises(InvalidRequestError, match="key_id"):
        replace(good, encryption="AES-256-GCM", key_id=None)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_any_byte_changed_is_rejected_or_a_different_valid_manifest(
    position: int, value: int
) -> None:
    original = _manifest().to_json()
    data = bytearray(original)
    data[position % len(data)] = value
    try:
        parsed = Manifest.from_json(bytes(data))
    except InvalidRequestError:
        return
    # still valid only when the change kept it canonical: then it is what it says
    assert parsed.to_json() == bytes(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(_FIELDS + [f"chunks.1.{f}" for f in _CHUNK_FIELDS]), value=_json)
def test_any_field_replaced_by_any_json_is_rejected_or_still_consistent(
    field: str, value: object
) -> None:
    obj = json.loads(_manifest().to_json())
    _set(field, copy.deepcopy(value))(obj)
    data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    try:
        parsed = Manifest.from_json(data)
    except InvalidRequestError:
        return
    assert parsed.to_json() == data


def test_put_object_manifest_parses_back(store: LocalChunkStore) -> None:
    manifest, digest = put_object(store, b"x" * 3000, media_type="text/plain", chunk_size=1024)
    assert Manifest.from_json(store.get(digest)) == manifest
    assert manifest.digest() == digest
