"""The off-chain manifest of a registered dataset version, checked against its on-chain record.

Every reader of registered data (tf pipelines, statistics, the CLI) starts
here: the manifest must hash to the digest the ledger recorded and agree with
the record on root, size, media type, encryption, key id, rows and columns;
only then are its chunks worth reading.
"""

from __future__ import annotations

from pathlib import Path

from tensorledger import blobs
from tensorledger.blobs.encryption import check_key
from tensorledger.errors import ConfigError, IntegrityError, NotFoundError
from tensorledger.registry._records import DatasetRecord


def dataset_where(record: DatasetRecord) -> str:
    """How errors name a dataset version: 'dataset <id> v<version>'."""
    return f"dataset {record.id} v{record.version}"


def checked_manifest(
    store: blobs.ChunkStore, record: DatasetRecord, where: str | None = None
) -> blobs.Manifest:
    """The manifest the record names; IntegrityError unless it is exactly the recorded one."""
    name = f"{where or dataset_where(record)} manifest"
    try:
        manifest = blobs.get_manifest(store, record.manifest)
    except NotFoundError:
        raise IntegrityError(name, f"{record.manifest} is missing from the chunk store") from None
    except IntegrityError as exc:
        raise IntegrityError(name, exc.detail) from None
    recorded: dict[str, tuple[object, object]] = {
        "root": (manifest.root, record.root),
        "size": (manifest.size, record.size),
        "media type": (manifest.media_type, record.media_type),
        "encryption": (manifest.encryption is not None, record.encrypted),
        "key id": (manifest.key_id, record.key_id),
        "rows": (manifest.metadata.get("rows"), record.rows),
        "columns": (manifest.metadata.get("columns"), list(record.columns)),
    }
    for field, (found, expected) in recorded.items():
        if found != expected:
            raise IntegrityError(name, f"{field} is {found!r}; the ledger records {expected!r}")
    return manifest


def data_key(
    manifest: blobs.Manifest,
    record: DatasetRecord,
    key: bytes | None,
    key_dir: Path,
    where: str | None = None,
) -> bytes | None:
    """The key to read an encrypted version with: `key`, else the one kept in `key_dir`.

    None for a plaintext version. ConfigError (not IntegrityError) when no key is
    at hand or it is not the dataset's: the reader cannot check the data, which
    says nothing about whether the data is good.
    """
    if manifest.encryption is None:
        return None
    where = where or dataset_where(record)
    if key is None:
        key = blobs.load_key(key_dir, record.id)  # ConfigError naming the missing file
    given = blobs.key_id(check_key(key))
    if given != manifest.key_id:
        raise ConfigError(
            f"{where}: the key given (id {given}) is not the dataset's key "
            f"(id {manifest.key_id}); ask {record.owner} for the right one"
        )
    return key
