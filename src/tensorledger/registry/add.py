"""`add_dataset`: a local file into the chunk store, then its version onto the ledger.

The order is the promise: chunks and manifest are durable before the
transaction is sent, so an interrupted add leaves at most unreferenced chunks
(re-adding stores nothing new) and never a record pointing at missing data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tensorledger.errors import InvalidRequestError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry._records import DatasetRecord
from tensorledger.registry._refs import latest_version
from tensorledger.registry.datasets import (
    DATASETS,
    get_dataset,
    register_dataset,
    resolve_dataset,
)


def add_dataset(
    gw: Gateway,
    path: str | Path,
    dataset_id: str,
    version: int | None = None,
    *,
    tags: Mapping[str, str] | None = None,
    parents: Sequence[str] = (),
    encrypt: bool = False,
    key: bytes | None = None,
    progress: Callable[[int, int], None] | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> DatasetRecord:
    """Chunk a CSV, Parquet or .npy file into the store and register it as a dataset version.

    `version=None` adds the next version. With `encrypt=True` and no `key`,
    the organisation's key for `dataset_id` is used (created and saved under
    `gw.key_dir` on the first encrypted version, before anything refers to
    it), so every version of a dataset opens with one key; a given `key` is
    used as is and not saved (giving a key implies encryption). `progress`
    receives (bytes done, bytes total) as chunks become durable.

    Refusals that need no data (another organisation's dataset, a missing
    parent) come before the file is read, not after a long upload.
    """
    from tensorledger import blobs
    from tensorledger.blobs import tables

    source = Path(path)
    if not source.is_file():
        raise InvalidRequestError(f"{source} is not a file")
    latest = latest_version(gw, channel, DATASETS, "GetDataset", "Dataset", dataset_id)
    if latest:
        owner = get_dataset(gw, dataset_id, latest, channel=channel).owner
        if owner != gw.msp_id:
            raise InvalidRequestError(
                f"dataset {dataset_id} belongs to {owner}; only {owner} may add versions"
            )
    parent_refs = [resolve_dataset(gw, p, channel=channel).ref for p in parents]
    media_type, metadata = tables.describe_table(source)
    if key is None and encrypt:
        if blobs.key_path(gw.key_dir, dataset_id).exists():
            key = blobs.load_key(gw.key_dir, dataset_id)
        else:
            key = blobs.new_key()
            blobs.save_key(gw.key_dir, dataset_id, key)
    store = blobs.store_for(gw.root)
    manifest, manifest_digest = blobs.put_object(
        store, source, media_type=media_type, key=key, metadata=metadata, progress=progress
    )
    return register_dataset(
        gw,
        dataset_id,
        version=version if version is not None else latest + 1,
        manifest=manifest_digest,
        root=manifest.root,
        size=manifest.size,
        media_type=manifest.media_type,
        columns=list(metadata.get("columns", [])),
        dtypes=dict(metadata.get("dtypes", {})),
        rows=int(metadata.get("rows", 0)),
        encrypted=manifest.encryption is not None,
        key_id=manifest.key_id,
        parents=parent_refs,
        tags=tags,
        channel=channel,
    )
