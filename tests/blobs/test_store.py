"""LocalChunkStore: layout, idempotence, refusal of bad names, and atomic durable writes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tensorledger.blobs import LocalChunkStore, store_for
from tensorledger.blobs import store as store_module
from tensorledger.errors import InvalidRequestError, NotFoundError

from ._files import all_named_by_content, stored_files, temp_files


def test_put_names_the_chunk_by_sha256_under_the_fanout(store: LocalChunkStore) -> None:
    data = b"tensorledger chunk"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    path = store.root / "sha256" / digest[:2] / digest
    assert path.read_bytes() == data
    assert store.get(digest) == data
    assert store.has(digest)
    assert stored_files(store) == [path]


def test_get_of_an_absent_chunk_is_not_found_and_names_it(store: LocalChunkStore) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()
    assert not store.has(digest)
    with pytest.raises(NotFoundError, match=f"chunk {digest}"):
        store.get(digest)


def test_opening_a_store_writes_nothing(tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path / "nowhere")
    assert not store.has("0" * 64)
    assert not (tmp_path / "nowhere").exists()


def test_put_of_stored_content_writes_nothing(
    store: LocalChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = store.put(b"same bytes")
    before = store.path(digest).stat()

    def no_writes(*_: object) -> None:
        raise AssertionError("put wrote a chunk that was already stored")

    monkeypatch.setattr(store_module, "_write_atomically", no_writes)
    assert store.put(b"same bytes") == digest
    after = store.path(digest).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(stored_files(store)) == 1


def test_put_replaces_a_truncated_copy(store: LocalChunkStore) -> None:
    digest = store.put(b"complete content")
    store.path(digest).write_bytes(b"compl")
    assert store.put(b"complete content") == digest
    assert store.get(digest) == b"complete content"


def test_put_with_a_given_digest_trusts_it_and_does_not_rehash(
    store: LocalChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = memoryview(b"hashed by the caller already")
    digest = hashlib.sha256(data).hexdigest()

    class NoHash:
        @staticmethod
        def sha256(_: object) -> object:
            raise AssertionError("put hashed the data again")

    monkeypatch.setattr(store_module, "hashlib", NoHash)
    assert store.put(data, digest=digest) == digest
    assert store.get(digest) == bytes(data)


@pytest.mark.parametrize(
    "name",
    [
        "../" * 5 + "etc/passwd",
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "a" * 64 + "\n",
        "",
        "/" + "a" * 63,
    ],
)
def test_names_that_are_not_sha256_hex_are_refused(store: LocalChunkStore, name: str) -> None:
    for call in (store.get, store.has, store.path, lambda n: store.put(b"x", digest=n)):
        with pytest.raises(InvalidRequestError, match="64 lowercase hex"):
            call(name)
    assert stored_files(store) == []


def test_a_failed_write_leaves_neither_temp_file_nor_final_name(
    store: LocalChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put(b"first chunk, creates the directories")

    def failing_fsync(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(store_module.os, "fsync", failing_fsync)
    data = b"second chunk"
    with pytest.raises(OSError, match="disk gone"):
        store.put(data)
    monkeypatch.undo()
    assert not store.has(hashlib.sha256(data).hexdigest())
    assert temp_files(store) == []
    assert len(stored_files(store)) == 1


def test_file_is_fsynced_before_rename_and_directory_after(
    store: LocalChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        events.append(("fsync", "dir" if Path(target).is_dir() else "file"))
        real_fsync(fd)

    def replace(src: object, dst: object) -> None:
        events.append(("rename", "file"))
        real_replace(src, dst)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell files from directories")
    monkeypatch.setattr(store_module.os, "fsync", fsync)
    monkeypatch.setattr(store_module.os, "replace", replace)
    store.put(b"durable")
    # new directories (store root, sha256/, the fan-out dir) are made durable first
    assert events[-3:] == [("fsync", "file"), ("rename", "file"), ("fsync", "dir")]
    assert ("fsync", "dir") in events[:-3]


_WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from tensorledger.blobs import LocalChunkStore
    store = LocalChunkStore(Path(sys.argv[1]))
    print("ready", flush=True)
    while True:
        store.put(os.urandom(256 * 1024))
    """
)


@pytest.mark.slow
def test_sigkill_mid_write_never_leaves_a_partial_chunk_under_its_name(tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path / "blobs")
    for delay in (0.05, 0.2, 0.4):
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(store.root)], stdout=subprocess.PIPE
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    finals = [p for p in stored_files(store) if p not in temp_files(store)]
    assert finals, "the writer never completed a chunk; the trial proved nothing"
    assert all_named_by_content(store)


def test_store_for_is_the_blobs_directory_of_a_ledger(tmp_path: Path) -> None:
    store = store_for(tmp_path)
    assert isinstance(store, LocalChunkStore)
    assert store.root == tmp_path / "blobs"
