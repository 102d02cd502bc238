"""`tensorledger bench --fabric` end to end with tiny sizes: the JSON's shape, every tx found back.

The keys are counted through our client on both backends while they still
run (the benchmark's `check` hook), by listing and by reading each one back,
independently of the benchmark's own count.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tensorledger as tl
from tensorledger import fabric_bench
from tensorledger.fabric import network, process
from tensorledger.fabric.install import Installation
from tensorledger.fabric.process import ProcessInfo

pytestmark = [pytest.mark.fabric, pytest.mark.bench, pytest.mark.slow]

PROCESSES, THREADS, PER_THREAD, SOLO = 2, 2, 3, 2
FIGURES = {"tx_per_s", "p50_ms", "p99_ms", "single_in_flight_p50_ms"}


def _count_back(target: Path, *, fabric: bool) -> None:
    """Every benchmark key reads back through the client as the 100-byte value, and no more."""
    expected = {
        f"load-p{p}-t{t}-{i}"
        for p in range(PROCESSES)
        for t in range(THREADS)
        for i in range(PER_THREAD)
    }
    value = "x" * 100
    with tl.connect(target, identity="Org2") as gw:
        contract = gw.network("mychannel").contract("datacontract")
        listed = json.loads(contract.evaluate("listData", "", ""))
        ids = {r["id"] for r in listed}
        assert {i for i in ids if i.startswith("load-")} == expected
        for key in sorted(expected) + [f"solo-{i}" for i in range(SOLO)]:
            assert contract.evaluate("retrieveData", key).decode() == value
        warm = {f"warm-p{p}" for p in range(PROCESSES)} | {"solo-warm"}
        extra = {"first-commit"} if fabric else set()
        solo = {f"solo-{i}" for i in range(SOLO)}
        assert ids == expected | solo | warm | extra
        assert all(r["data"] == value for r in listed)


def test_bench_fabric_json_and_every_tx_committed(fabric: Installation) -> None:
    recorded: list[ProcessInfo] = []

    def check(fabric_dir: Path, embedded_dir: Path) -> None:
        assert network.status(fabric_dir).healthy
        _count_back(fabric_dir, fabric=True)
        _count_back(embedded_dir, fabric=False)
        recorded.extend(
            ProcessInfo.from_json(p) for p in network.load_profile(fabric_dir)["processes"]
        )

    result = fabric_bench.run(
        processes=PROCESSES, threads=THREADS, per_thread=PER_THREAD, solo=SOLO, check=check
    )
    # the network was brought down: none of the processes it ran is left
    assert recorded
    assert not any(process.is_alive(p) for p in recorded)
    print(json.dumps(result, indent=2))
    assert json.loads(json.dumps(result)) == result
    assert set(result) == {
        "benchmark",
        "workload",
        "fabric_up",
        "embedded",
        "fabric",
        "ratio",
        "machine",
    }
    tx = PROCESSES * THREADS * PER_THREAD
    assert result["workload"] == {
        "orgs": 2,
        "processes": PROCESSES,
        "threads": THREADS,
        "clients": PROCESSES * THREADS,
        "per_thread": PER_THREAD,
        "tx": tx,
        "single_in_flight_tx": SOLO,
        "value_bytes": 100,
    }
    up = result["fabric_up"]
    assert up["up_seconds"] > 0 and up["first_commit_seconds"] > 0
    assert up["total_seconds"] == pytest.approx(
        up["up_seconds"] + up["first_commit_seconds"], abs=0.011
    )
    for side in ("embedded", "fabric"):
        figures = result[side]
        assert set(figures) == FIGURES | {"committed"}
        assert figures["committed"] == tx + SOLO
        assert all(figures[f] > 0 for f in FIGURES)
        assert figures["p50_ms"] <= figures["p99_ms"]
    assert set(result["ratio"]) == FIGURES
    for f in FIGURES:
        expected = result["embedded"][f] / result["fabric"][f]
        assert result["ratio"][f] == pytest.approx(expected, rel=0.02, abs=1e-3)
