"""The package's promises about itself: light to import, and the names the design fixes."""

from __future__ import annotations

import subprocess
import sys

import tensorledger.blobs as blobs

_PROBE = """
import sys
import tensorledger
before = set(sys.modules)
import tensorledger.blobs
print(sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("numpy", "pyarrow")))
"""


def test_importing_blobs_loads_neither_numpy_nor_pyarrow() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_design_names_are_exported() -> None:
    for name in (
        "ChunkStore LocalChunkStore store_for CHUNK_SIZE ChunkRef Manifest put_object "
        "get_manifest read_chunk iter_chunks VerifiedReader verify_object new_key key_id "
        "save_key load_key read_key_file describe_table iter_batches iter_rows read_table"
    ).split():
        assert name in blobs.__all__ and hasattr(blobs, name), name
    assert blobs.CHUNK_SIZE == 4 * 1024 * 1024
