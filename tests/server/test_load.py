"""Bounded load: 50 clients for a fixed time on loopback; no errors, and no write lost.

Duration: TENSORLEDGER_LOAD_SECONDS (default 10).
"""

from __future__ import annotations

import os

import httpx
import pytest

from tests.server.load import API, run_load, server_process

pytestmark = pytest.mark.slow
CLIENTS = 50


def test_fifty_clients_no_errors_nothing_lost(fresh):
    seconds = float(os.environ.get("TENSORLEDGER_LOAD_SECONDS", "10"))
    height = fresh.height()
    tx_ids = list(fresh.tx_ids.values())
    with server_process(fresh.path) as base:
        tally = run_load(
            base,
            fresh.tokens["write"],
            tx_ids,
            height,
            clients=CLIENTS,
            seconds=seconds,
            write_share=0.1,
        )
        assert tally.errors == []
        assert len(tally.latencies["block"]) > 0 and len(tally.latencies["proof"]) > 0
        assert len(tally.writes) > 0
        # Every acknowledged write is on the ledger: its value, its valid transaction.
        with httpx.Client(base_url=base, headers=fresh.auth("read"), timeout=60) as c:
            for key, value, tx_id in tally.writes:
                state = c.get(f"{API}/state/datacontract/{key}").json()
                assert state["value"] == value, key
                assert c.get(f"{API}/transactions/{tx_id}").json()["code"] == "VALID"
    assert fresh.height() >= height + 1
