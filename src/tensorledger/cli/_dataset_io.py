"""Reading a registered dataset version back for `data verify` and `data export`, trusting nothing.

The chain of trust is record → manifest → chunks: the manifest must hash to
the digest the ledger records and agree with the record (root, size, type,
encryption, key id); every chunk must hash to its manifest entry before any
of it is counted or written. A failure raises `IntegrityError` naming the
dataset version and the chunk, which the CLI prints as one line, exit 9.

Without the data key of an encrypted version, the stored (sealed) bytes of
each chunk can still be checked against the manifest's `stored` digests:
an auditor who may not read the data can still prove it was not altered.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tensorledger import blobs
from tensorledger.blobs.encryption import NONCE_SIZE, TAG_SIZE
from tensorledger.errors import ConfigError, IntegrityError, NotFoundError
from tensorledger.registry import DatasetRecord
from tensorledger.registry.manifests import checked_manifest

#: called after each chunk with (bytes done, bytes total)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Opened:
    """A dataset version whose manifest already matches the ledger."""

    record: DatasetRecord
    manifest: blobs.Manifest
    store: blobs.LocalChunkStore

    @property
    def where(self) -> str:
        """How errors name it, as the library does: 'dataset <id> v<version>'."""
        return f"dataset {self.record.id} v{self.record.version}"


def open_dataset(root: Path, record: DatasetRecord) -> Opened:
    """The version's manifest from the chunk store, refused unless it is the one on the ledger."""
    where = f"dataset {record.id} v{record.version}"
    store = blobs.store_for(root)
    manifest = checked_manifest(store, record, where)
    return Opened(record, manifest, store)


def plaintext(opened: Opened, key: bytes | None, progress: Progress) -> Iterator[bytes]:
    """The version's bytes chunk by chunk, each decrypted and verified before it is yielded."""
    done = 0
    total = opened.manifest.size
    for chunk in blobs.iter_chunks(opened.store, opened.manifest, key=key, where=opened.where):
        done += len(chunk)
        progress(done, total)
        yield chunk


def check_stored(opened: Opened, progress: Progress) -> None:
    """Hash every chunk as stored (sealed, for an encrypted version) against the manifest."""
    done = 0
    sealed = NONCE_SIZE + TAG_SIZE if opened.manifest.encryption is not None else 0
    total = opened.manifest.size + sealed * len(opened.manifest.chunks)
    for ref in opened.manifest.chunks:
        name = f"{opened.where} chunk {ref.index}"
        try:
            data = opened.store.get(ref.stored)
        except NotFoundError:
            raise IntegrityError(name, f"missing from the chunk store ({ref.stored})") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != ref.stored:
            raise IntegrityError(
                name, f"stored bytes hash to {actual}, the manifest says {ref.stored}"
            )
        done += len(data)
        progress(min(done, total), total)


def export(opened: Opened, key: bytes | None, out: Path | BinaryIO, progress: Progress) -> int:
    """Write the verified plaintext to `out`; return the byte count.

    A file is written beside its final name and renamed into place only once
    every chunk verified, so a refused export leaves no partial file and an
    existing one untouched. A stream (stdout) gets each chunk once verified.
    """
    if not isinstance(out, Path):
        written = 0
        for chunk in plaintext(opened, key, progress):
            out.write(chunk)
            written += len(chunk)
        out.flush()
        return written
    try:
        fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            written = export(opened, key, handle, progress)
            os.fsync(handle.fileno())
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written


__all__ = ["Opened", "Progress", "check_stored", "export", "open_dataset", "plaintext"]
