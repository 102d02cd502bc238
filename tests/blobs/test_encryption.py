"""Per-chunk AES-256-GCM and data-key files, checked against an independent decryption."""

from __future__ import annotations

import hashlib
import hmac
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tensorledger.blobs import (
    LocalChunkStore,
    get_manifest,
    iter_chunks,
    key_id,
    load_key,
    new_key,
    put_object,
    read_chunk,
    read_key_file,
    save_key,
    verify_object,
)
from tensorledger.errors import ConfigError, IntegrityError, InvalidRequestError

from ._files import flip_byte, stored_files

DATA = bytes(range(256)) * 40  # 10,240 bytes: ten chunks of 1 KiB, several of them equal


def _put(store: LocalChunkStore, key: bytes | None) -> tuple[object, str]:
    return put_object(store, DATA, media_type="application/octet-stream", key=key, chunk_size=1024)


def test_key_and_key_id_formats() -> None:
    key = new_key()
    assert isinstance(key, bytes) and len(key) == 32
    assert new_key() != key
    assert key_id(key) == hashlib.sha256(b"tensorledger-key" + key).digest()[:16].hex()
    for bad in (b"short", b"x" * 33, "k" * 32):
        with pytest.raises(InvalidRequestError, match="32 bytes"):
            key_id(bad)


def test_stored_chunks_are_nonce_ciphertext_tag_as_specified(store: LocalChunkStore) -> None:
    key = new_key()
    manifest, _ = put_object(store, DATA, media_type="x/y", key=key, chunk_size=1000)
    assert manifest.encryption == "AES-256-GCM"
    assert manifest.key_id == key_id(key)
    for ref in manifest.chunks:
        stored = store.get(ref.stored)
        assert hashlib.sha256(stored).hexdigest() == ref.stored != ref.digest
        digest = bytes.fromhex(ref.digest)
        nonce = hmac.new(key, b"nonce" + digest, hashlib.sha256).digest()[:12]
        assert stored[:12] == nonce
        plaintext = DATA[ref.offset : ref.offset + ref.size]
        assert AESGCM(key).decrypt(nonce, stored[12:], digest) == plaintext
        assert len(stored) == 12 + ref.size + 16
    assert (
        manifest.root
        == put_object(
            LocalChunkStore(store.root / "plain"), DATA, media_type="x/y", chunk_size=1000
        )[0].root
    )


def test_the_right_key_round_trips_and_stored_bytes_hide_the_data(store: LocalChunkStore) -> None:
    key = new_key()
    manifest, digest = _put(store, key)
    assert b"".join(iter_chunks(store, get_manifest(store, digest), key=key)) == DATA
    verify_object(store, manifest, key=key, where="secret")
    chunk_bytes = [p.read_bytes() for p in stored_files(store) if p.name != digest]
    assert all(bytes(range(64)) not in b for b in chunk_bytes)


def test_a_wrong_key_cannot_decrypt_and_the_chunk_is_named(store: LocalChunkStore) -> None:
    manifest, _ = _put(store, new_key())
    wrong = new_key()
    with pytest.raises(IntegrityError, match="cannot decrypt") as caught:
        list(iter_chunks(store, manifest, key=wrong, where="secret"))
    assert caught.value.where == "secret chunk 0"
    # even with the key id check bypassed, GCM itself refuses the wrong key
    forged = replace(manifest, key_id=key_id(wrong))
    with pytest.raises(IntegrityError, match="cannot decrypt: authentication failed") as caught:
        read_chunk(store, forged, 3, key=wrong, where="secret")
    assert caught.value.where == "secret chunk 3"


def test_no_key_for_an_encrypted_object_is_a_bad_request(store: LocalChunkStore) -> None:
    manifest, _ = _put(store, new_key())
    with pytest.raises(InvalidRequestError, match="a data key is needed"):
        read_chunk(store, manifest, 0)


def test_every_tampered_encrypted_chunk_fails_to_decrypt(store: LocalChunkStore) -> None:
    key = new_key()
    manifest, _ = put_object(
        store,
        b"".join(bytes([i]) * 1000 for i in range(8)),
        media_type="x/y",
        key=key,
        chunk_size=1000,
    )
    for ref in manifest.chunks:
        path = store.path(ref.stored)
        for position in (0, 11, 12, 500, -1):  # nonce, ciphertext, tag
            original = flip_byte(path, position)
            with pytest.raises(IntegrityError, match="cannot decrypt") as caught:
                read_chunk(store, manifest, ref.index, key=key, where="secret")
            assert caught.value.where == f"secret chunk {ref.index}"
            path.write_bytes(original)


def test_re_adding_under_the_same_key_stores_nothing_new(store: LocalChunkStore) -> None:
    key = new_key()
    first = _put(store, key)
    files = stored_files(store)
    assert _put(store, key) == first
    assert stored_files(store) == files


def test_different_keys_store_different_bytes_for_the_same_plaintext(
    store: LocalChunkStore,
) -> None:
    one, _ = _put(store, new_key())
    two, _ = _put(store, new_key())
    assert {c.stored for c in one.chunks}.isdisjoint({c.stored for c in two.chunks})
    assert one.root == two.root


# -- key files ----------------------------------------------------------------------------------


def test_save_and_load_a_key(tmp_path: Path) -> None:
    key = new_key()
    path = save_key(tmp_path / "keys" / "Org1MSP", "diabetes", key)
    assert path == tmp_path / "keys" / "Org1MSP" / "diabetes.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(tmp_path / "keys" / "Org1MSP", "diabetes") == key
    assert read_key_file(path) == key
    assert save_key(tmp_path / "keys" / "Org1MSP", "diabetes", key) == path
    assert [p.name for p in path.parent.iterdir()] == ["diabetes.key"]


def test_saving_a_different_key_is_refused_and_the_old_one_kept(tmp_path: Path) -> None:
    key = new_key()
    path = save_key(tmp_path, "d", key)
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        save_key(tmp_path, "d", new_key())
    assert read_key_file(path) == key


def test_a_missing_key_is_a_config_error_that_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no data key for dataset 'diabetes'"):
        load_key(tmp_path, "diabetes")
    with pytest.raises(ConfigError, match="no data key at"):
        read_key_file(tmp_path / "absent.key")


@pytest.mark.parametrize(
    "content", [b"", b"zz" * 32, b"ab" * 31, b"AB" * 32, b"ab" * 33, b"\xff" * 64]
)
def test_a_malformed_key_file_is_a_config_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "d.key").write_bytes(content)
    with pytest.raises(ConfigError, match="data key"):
        load_key(tmp_path, "d")


@pytest.mark.parametrize("dataset_id", ["../escape", "a/b", "", ".hidden", "x" * 201])
def test_dataset_ids_that_cannot_name_a_file_are_refused(tmp_path: Path, dataset_id: str) -> None:
    with pytest.raises(InvalidRequestError, match="cannot name a key file"):
        save_key(tmp_path, dataset_id, new_key())
    assert list(tmp_path.iterdir()) == []
