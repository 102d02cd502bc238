"""How fast data is added, next to the machine's raw SHA-256 and durable-write speeds.

Reports figures (JSON on stdout; run with -s to see them) and asserts only
correctness: timings on shared machines are for reading, not for failing on.
Each figure is the best of a few interleaved runs, so that a noisy neighbour
hurts every figure alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tensorledger.blobs import CHUNK_SIZE, LocalChunkStore, new_key, put_object

SIZE = 256 * 1024 * 1024
RUNS = 3


def _best(timings: list[float]) -> float:
    """Megabytes per second of the fastest run."""
    return SIZE / min(timings) / 1e6


def _timed(action: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action(*args, **kwargs)
    return time.perf_counter() - start, result


@pytest.mark.bench
def test_add_throughput_against_raw_sha256(tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    expected = [
        hashlib.sha256(data[i : i + CHUNK_SIZE]).hexdigest() for i in range(0, SIZE, CHUNK_SIZE)
    ]
    timings: dict[str, list[float]] = {
        k: [] for k in ("sha256", "durable_write", "add", "re_add", "add_encrypted")
    }

    def durable_write() -> None:
        target = tmp_path / "copy.bin"
        view = memoryview(data)
        with target.open("wb", buffering=0) as out:
            for i in range(0, SIZE, CHUNK_SIZE):
                out.write(view[i : i + CHUNK_SIZE])
                os.fsync(out.fileno())
        target.unlink()

    for run in range(RUNS):
        store = LocalChunkStore(tmp_path / f"store{run}")
        timings["sha256"].append(_timed(hashlib.sha256, data)[0])
        timings["durable_write"].append(_timed(durable_write)[0])
        seconds, (manifest, _) = _timed(put_object, store, source, media_type="x/y")
        timings["add"].append(seconds)
        assert [c.digest for c in manifest.chunks] == expected
        timings["re_add"].append(_timed(put_object, store, source, media_type="x/y")[0])
        seconds, _ = _timed(put_object, store, source, media_type="x/y", key=new_key())
        timings["add_encrypted"].append(seconds)
        shutil.rmtree(store.root)

    figures = {name: round(_best(t)) for name, t in timings.items()}
    report = {
        "bytes": SIZE,
        "chunk_size": CHUNK_SIZE,
        "cpus": os.cpu_count(),
        "mb_per_s": figures,
        "add_vs_sha256": round(figures["add"] / figures["sha256"], 3),
        "re_add_vs_sha256": round(figures["re_add"] / figures["sha256"], 3),
        "add_vs_durable_write": round(figures["add"] / figures["durable_write"], 3),
        "target": "add >= 0.70 x sha256",
    }
    print(json.dumps(report))
