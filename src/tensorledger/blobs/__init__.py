"""Off-chain, content-addressed storage for datasets and checkpoints, read back verified.

Large data never goes on chain: it is cut into chunks named by their SHA-256,
and a small manifest (chunk digests, sizes, an RFC 9162 Merkle root, optional
AES-256-GCM) is what the chain anchors. Importing this package pulls in
neither numpy nor pyarrow; the table readers load them when first used.
"""

from __future__ import annotations

from tensorledger.blobs.encryption import (
    AES_256_GCM,
    key_id,
    key_path,
    load_key,
    new_key,
    read_key_file,
    save_key,
)
from tensorledger.blobs.manifest import CHUNK_SIZE, ChunkRef, Manifest
from tensorledger.blobs.objects import (
    get_manifest,
    iter_chunks,
    put_object,
    read_chunk,
    verify_object,
)
from tensorledger.blobs.reader import VerifiedReader
from tensorledger.blobs.store import ChunkStore, LocalChunkStore, store_for
from tensorledger.blobs.tables import (
    MEDIA_CSV,
    MEDIA_NPY,
    MEDIA_PARQUET,
    describe_table,
    iter_batches,
    iter_rows,
    read_table,
)

__all__ = [
    "AES_256_GCM",
    "CHUNK_SIZE",
    "MEDIA_CSV",
    "MEDIA_NPY",
    "MEDIA_PARQUET",
    "ChunkRef",
    "ChunkStore",
    "LocalChunkStore",
    "Manifest",
    "VerifiedReader",
    "describe_table",
    "get_manifest",
    "iter_batches",
    "iter_chunks",
    "iter_rows",
    "key_id",
    "key_path",
    "load_key",
    "new_key",
    "put_object",
    "read_chunk",
    "read_key_file",
    "read_table",
    "save_key",
    "store_for",
    "verify_object",
]
