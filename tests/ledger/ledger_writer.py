"""A writer process for the multi-process tests: submits and reports what was acknowledged."""

from __future__ import annotations

import time
from pathlib import Path

import tensorledger as tl


def write(
    path: str, identity: str, prefix: str, count: int, sync_dir: str
) -> tuple[list[tuple[str, str, str]], list[int], int]:
    """Store `count` keys and try `count` counter increments.

    Connects, says it is ready (a file in `sync_dir`) and starts writing once the
    test creates `sync_dir/go`, so the writers really run at the same time.
    Returns the acknowledged stores (tx id, key, value), the values the
    acknowledged increments returned, and how many increments were refused:
    MVCC conflicts, or peers that simulated on either side of a commit.
    """
    stores: list[tuple[str, str, str]] = []
    increments: list[int] = []
    conflicts = 0
    with tl.connect(Path(path), identity=identity) as gw:
        (Path(sync_dir) / f"ready-{prefix}").touch()
        deadline = time.monotonic() + 60
        while not (Path(sync_dir) / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        data = gw.network("mychannel").contract("datacontract")
        counter = gw.network("mychannel").contract("counter")
        for i in range(count):
            key, value = f"{prefix}-{i}", f"{identity} wrote {i}"
            stores.append((data.submit("storeData", key, value).tx_id, key, value))
            try:
                increments.append(int(counter.submit("increment", "shared").payload))
            except tl.MVCCConflictError:
                conflicts += 1
            except tl.EndorsementError as exc:
                if "state skew" not in str(exc):
                    raise
                conflicts += 1
    return stores, increments, conflicts
