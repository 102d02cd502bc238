"""Chaincode events and `verify` on a ledger with valid and invalidated transactions.

Expected events come from the scenario's own record of what it submitted
(`busy_ledger.Recorded`), not from the event index under test.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

import tensorledger as tl
from tensorledger.ledger.verify import verify_network
from tests.ledger.busy_ledger import BusyLedger
from tests.ledger.fabric_reference import TRANSACTIONS_FILTER, VALID
from tests.ledger.ledger_state import channel_db, metadata_of, stored_blocks


@pytest.fixture(scope="module")
def network(busy: BusyLedger) -> Iterator[tl.Network]:
    with tl.connect(busy.path, identity="Org1") as gw:
        yield gw.network("mychannel")


def expected_from(busy: BusyLedger, start: int) -> list[tuple[int, str, str, bytes]]:
    return [
        (t.block, t.tx_id, t.event[0], t.event[1])
        for t in busy.valid
        if t.event is not None and t.block >= start
    ]


def events(
    network: tl.Network, chaincode: str | None, start: int
) -> list[tuple[int, str, str, bytes]]:
    return [
        (e.block, e.tx_id, e.name, e.payload)
        for e in network.chaincode_events(chaincode, start_block=start, timeout=0.2)
    ]


def test_events_from_each_start_block_are_exactly_the_valid_ones(
    busy: BusyLedger, network: tl.Network
) -> None:
    first, last = busy.txs[0].block, busy.txs[-1].block
    for start in sorted({0, first, first + 1, busy.multi_tx_block, last, last + 1, 10**6}):
        assert events(network, "datacontract", start) == expected_from(busy, start), start


def test_invalidated_transactions_emit_nothing(busy: BusyLedger, network: tl.Network) -> None:
    got = events(network, None, 0)
    invalid_ids = {t.tx_id for t in busy.invalid} - {t.tx_id for t in busy.valid}
    assert invalid_ids, "the scenario must hold invalid transactions"
    assert not invalid_ids & {e[1] for e in got}
    assert b"evil" not in {e[3] for e in got}  # the policy failure's DataStored
    assert [e[2:] for e in got].count(("DataDeleted", b"k1")) == 1  # one of two deletes
    assert [e[2:] for e in got].count(("DataDeleted", b"k0")) == 1
    assert [e[1] for e in got].count(busy.valid[0].tx_id) == 1  # replays add nothing


def test_events_are_filtered_by_chaincode(busy: BusyLedger, network: tl.Network) -> None:
    assert events(network, None, 0) == expected_from(busy, 0)  # no other chaincode has events
    assert events(network, "no-such-chaincode", 0) == []
    for e in network.chaincode_events("datacontract", start_block=0, timeout=0.2):
        assert e.chaincode == "datacontract"


def test_contract_events_equal_network_events(busy: BusyLedger, network: tl.Network) -> None:
    contract = network.contract("datacontract")
    start = busy.multi_tx_block
    assert [
        (e.block, e.tx_id, e.name, e.payload) for e in contract.events(start, timeout=0.2)
    ] == expected_from(busy, start)


# -- verify -----------------------------------------------------------------------------


def test_verify_passes_on_a_busy_ledger(busy: BusyLedger) -> None:
    (report,) = verify_network(busy.path)
    assert report.ok, report.findings
    blocks = stored_blocks(busy.path)
    codes = b"".join(bytes(metadata_of(b).metadata[TRANSACTIONS_FILTER]) for b in blocks)
    assert report.blocks == len(blocks)
    assert report.transactions == len(codes) == sum(len(b.envelopes) for b in blocks)
    assert report.valid == codes.count(VALID)
    assert report.transactions - report.valid == len(busy.invalid)


def test_verify_state_matches_the_scenario(busy: BusyLedger) -> None:
    with closing(sqlite3.connect(f"file:{channel_db(busy.path)}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT key, value FROM state WHERE ns='datacontract'").fetchall()
    assert {k: bytes(v) for k, v in rows} == busy.state


def test_verify_names_a_changed_state_value(busy: BusyLedger, tmp_path: Path) -> None:
    copy = tmp_path / "ledger"
    shutil.copytree(busy.path, copy)
    with closing(sqlite3.connect(channel_db(copy))) as conn, conn:
        conn.execute("UPDATE state SET value=? WHERE ns='datacontract' AND key='k2'", (b"v9",))
    (report,) = verify_network(copy)
    assert not report.ok
    assert report.first is not None and report.first.where == "state datacontract/k2"
