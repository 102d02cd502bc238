"""Benchmark: read requests/s and p99 latency of the block and proof endpoints, 50 clients, 30 s.

Prints one JSON line. Duration: TENSORLEDGER_BENCH_SECONDS (default 30).
"""

from __future__ import annotations

import json
import os

import pytest

from tests.server.load import percentile, run_load, server_process

pytestmark = pytest.mark.bench
CLIENTS = 50


def test_bench_block_and_proof_reads(fresh):
    seconds = float(os.environ.get("TENSORLEDGER_BENCH_SECONDS", "30"))
    with server_process(fresh.path) as base:
        tally = run_load(
            base,
            fresh.tokens["read"],
            list(fresh.tx_ids.values()),
            fresh.height(),
            clients=CLIENTS,
            seconds=seconds,
            write_share=0.0,
        )
    assert tally.errors == []
    out = {"benchmark": "server_reads", "clients": CLIENTS, "seconds": seconds}
    for kind in ("block", "proof"):
        lat = tally.latencies[kind]
        out[f"{kind}_requests_per_s"] = round(len(lat) / seconds, 1)
        out[f"{kind}_p99_ms"] = round(percentile(lat, 0.99) * 1000, 2)
        out[f"{kind}_p50_ms"] = round(percentile(lat, 0.50) * 1000, 2)
    out["reads_per_s"] = round(sum(len(v) for v in tally.latencies.values()) / seconds, 1)
    print(json.dumps(out))
