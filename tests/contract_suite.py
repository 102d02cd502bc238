"""The seed's DataContract, as any backend must run it: one abstract conformance suite.

`DataContractSuite` talks to a ledger only through the public gateway API
(`gw.network(channel).contract(name)`), so the embedded backend and a real
Fabric network run it unchanged. A backend subclasses it as ``Test<Backend>...``
and provides the `gateways` fixture: two connected gateways, one as an Org1
identity and one as an Org2 identity, on a network where `channel` carries
the DataContract under `chaincode`. The network may be shared between tests
(every test uses keys of its own), so nothing here assumes an empty ledger.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

import tensorledger as tl

TX_ID = re.compile(r"[0-9a-f]{64}")

#: values that must come back byte for byte: accents, CJK, emoji, control characters,
#: NUL, quotes and backslashes, JSON-looking text, a long value
TRICKY_VALUES = [
    "h\u00e9llo w\u00f6rld \u2713 \u4e2d\u6587 \U0001f680",
    "\x00\x01\x02\x7f\x1b[0m",
    "line one\nline two\r\n\ttabbed",
    "quotes \" ' and back\\slash \\u0041",
    '{"id": 1, "data": [1.0, 2.0]}',
    "[1.0, 2.0, 3.5e-07, -0.0]",
    " leading and trailing spaces ",
    "\u202eright-to-left override\u202c and \ufeff BOM",
    "x" * 100_000,
]


def _events_until(
    events: Iterator[tl.ChaincodeEvent],
    done: Callable[[list[tl.ChaincodeEvent]], bool],
    limit: int = 10_000,
) -> list[tl.ChaincodeEvent]:
    """Collect events until `done(seen)` holds (or the iterator ends); then close it."""
    seen: list[tl.ChaincodeEvent] = []
    try:
        for ev in events:
            seen.append(ev)
            if done(seen) or len(seen) >= limit:
                break
    finally:
        close = getattr(events, "close", None)
        if close is not None:  # stop a listener that would wait for more blocks
            close()
    return seen


def _rfc3339(text: str) -> tuple[datetime, int]:
    """An RFC 3339 UTC timestamp with 0-9 fraction digits as (whole seconds, nanoseconds)."""
    assert text.endswith("Z"), text
    whole, _, fraction = text[:-1].partition(".")
    assert fraction.isdigit() or not fraction, text
    return datetime.fromisoformat(whole), int(fraction.ljust(9, "0"))


def _tx_ids_seen(want: set[str]) -> Callable[[list[tl.ChaincodeEvent]], bool]:
    return lambda seen: want <= {e.tx_id for e in seen}


class DataContractSuite:
    """What every backend promises about the seed's DataContract."""

    channel = "mychannel"
    chaincode = "datacontract"
    #: seconds an event listener may wait for a committed block to show up
    event_timeout = 5.0

    # -- the hook a backend implements ---------------------------------------

    @pytest.fixture
    def gateways(self) -> Iterator[tuple[tl.Gateway, tl.Gateway]]:
        """(gateway as an Org1 client, gateway as an Org2 client) on one network."""
        raise NotImplementedError("a backend's subclass provides the gateways fixture")

    # -- derived fixtures ---------------------------------------------------------

    @pytest.fixture
    def org1(self, gateways: tuple[tl.Gateway, tl.Gateway]) -> tl.Contract:
        return gateways[0].network(self.channel).contract(self.chaincode)

    @pytest.fixture
    def org2(self, gateways: tuple[tl.Gateway, tl.Gateway]) -> tl.Contract:
        return gateways[1].network(self.channel).contract(self.chaincode)

    @pytest.fixture
    def key(self) -> str:
        """A fresh id no other test uses."""
        return f"suite-{uuid.uuid4().hex[:16]}"

    # -- storeData / retrieveData: the seed's texts ----------------------------

    def test_store_returns_the_seed_text(self, org1: tl.Contract, key: str) -> None:
        res = org1.submit("storeData", key, "[1.0, 2.0]")
        assert res.payload == f"Data with ID {key} stored successfully.".encode()

    def test_retrieve_returns_stored_bytes(self, org1: tl.Contract, key: str) -> None:
        org1.submit("storeData", key, "[1.0, 2.0]")
        assert org1.evaluate("retrieveData", key) == b"[1.0, 2.0]"

    def test_retrieve_after_overwrite_returns_the_newest(self, org1: tl.Contract, key: str) -> None:
        org1.submit("storeData", key, "first")
        org1.submit("storeData", key, "second")
        assert org1.evaluate("retrieveData", key) == b"second"

    def test_submit_transaction_alias_returns_the_payload(
        self, org1: tl.Contract, key: str
    ) -> None:
        out = org1.submit_transaction("storeData", key, "v")
        assert out == f"Data with ID {key} stored successfully.".encode()
        assert org1.evaluate_transaction("retrieveData", key) == b"v"

    @pytest.mark.parametrize("via", ["evaluate", "submit"])
    def test_missing_id_raises_the_seed_error(self, org1: tl.Contract, key: str, via: str) -> None:
        call = org1.evaluate if via == "evaluate" else org1.submit
        with pytest.raises(tl.ContractError) as err:
            call("retrieveData", key)
        assert err.value.message == f"Data with ID {key} does not exist."
        assert str(err.value) == f"Data with ID {key} does not exist."

    def test_evaluate_never_writes(self, org1: tl.Contract, key: str) -> None:
        # A query simulates storeData but nothing is ordered or committed.
        out = org1.evaluate("storeData", key, "not committed")
        assert out == f"Data with ID {key} stored successfully.".encode()
        with pytest.raises(tl.ContractError, match="does not exist"):
            org1.evaluate("retrieveData", key)

    # -- deleteData and history -------------------------------------------------

    def test_delete_then_retrieve_fails(self, org1: tl.Contract, key: str) -> None:
        org1.submit("storeData", key, "v")
        res = org1.submit("deleteData", key)
        assert res.payload == f"Data with ID {key} deleted successfully.".encode()
        with pytest.raises(tl.ContractError) as err:
            org1.evaluate("retrieveData", key)
        assert err.value.message == f"Data with ID {key} does not exist."

    def test_delete_of_missing_id_fails(self, org1: tl.Contract, key: str) -> None:
        with pytest.raises(tl.ContractError) as err:
            org1.submit("deleteData", key)
        assert err.value.message == f"Data with ID {key} does not exist."

    def test_history_lists_every_change_newest_first(self, org1: tl.Contract, key: str) -> None:
        # Fabric 2.x returns a key's history newest first; both backends must agree.
        r1 = org1.submit("storeData", key, "one")
        r2 = org1.submit("storeData", key, "two")
        r3 = org1.submit("deleteData", key)
        r4 = org1.submit("storeData", key, "three")
        history = json.loads(org1.evaluate("history", key))
        assert [h["txId"] for h in history] == [r4.tx_id, r3.tx_id, r2.tx_id, r1.tx_id]
        assert [h["value"] for h in history] == ["three", None, "two", "one"]
        assert [h["isDelete"] for h in history] == [False, True, False, False]
        stamps = [_rfc3339(h["timestamp"]) for h in history]
        assert stamps == sorted(stamps, reverse=True)  # one client, one after the other

    def test_history_of_unknown_id_is_empty(self, org1: tl.Contract, key: str) -> None:
        assert json.loads(org1.evaluate("history", key)) == []

    # -- listData: [start, end) ---------------------------------------------------

    def test_list_range_is_half_open(self, org1: tl.Contract, key: str) -> None:
        for suffix in ("a", "b", "c", "d"):
            org1.submit("storeData", f"{key}/{suffix}", f"v{suffix}")
        records = json.loads(org1.evaluate("listData", f"{key}/b", f"{key}/d"))
        assert records == [
            {"id": f"{key}/b", "data": "vb"},
            {"id": f"{key}/c", "data": "vc"},
        ]

    def test_list_with_empty_end_is_unbounded(self, org1: tl.Contract, key: str) -> None:
        for suffix in ("a", "b", "c", "\U0001f680"):
            org1.submit("storeData", f"{key}/{suffix}", suffix)
        records = json.loads(org1.evaluate("listData", f"{key}/b", ""))
        ids = [r["id"] for r in records]
        assert ids == sorted(ids)
        assert all(i >= f"{key}/b" for i in ids)
        mine = [r for r in records if r["id"].startswith(f"{key}/")]
        assert mine == [
            {"id": f"{key}/b", "data": "b"},
            {"id": f"{key}/c", "data": "c"},
            {"id": f"{key}/\U0001f680", "data": "\U0001f680"},
        ]

    def test_list_skips_deleted_records(self, org1: tl.Contract, key: str) -> None:
        for suffix in ("a", "b", "c"):
            org1.submit("storeData", f"{key}/{suffix}", suffix)
        org1.submit("deleteData", f"{key}/b")
        records = json.loads(org1.evaluate("listData", f"{key}/", f"{key}0"))
        assert [r["id"] for r in records] == [f"{key}/a", f"{key}/c"]

    def test_list_of_empty_range_is_empty(self, org1: tl.Contract, key: str) -> None:
        org1.submit("storeData", f"{key}/m", "v")
        assert json.loads(org1.evaluate("listData", f"{key}/n", f"{key}/z")) == []

    # -- values and organisations ----------------------------------------------------

    @pytest.mark.parametrize("value", TRICKY_VALUES, ids=range(len(TRICKY_VALUES)))
    def test_values_round_trip(self, org1: tl.Contract, key: str, value: str) -> None:
        org1.submit("storeData", key, value)
        assert org1.evaluate("retrieveData", key) == value.encode("utf-8")

    def test_unicode_ids_round_trip(self, org1: tl.Contract, key: str) -> None:
        data_id = f"{key}-\u00e9\u4e2d\U0001f680 with space"
        res = org1.submit("storeData", data_id, "v")
        assert res.payload == f"Data with ID {data_id} stored successfully.".encode()
        assert org1.evaluate("retrieveData", data_id) == b"v"

    def test_utf8_bytes_arguments_equal_text_arguments(self, org1: tl.Contract, key: str) -> None:
        org1.submit("storeData", key.encode(), "\u00e9\U0001f680".encode())
        assert org1.evaluate("retrieveData", key) == "\u00e9\U0001f680".encode()

    def test_value_written_by_org1_is_read_by_org2(
        self, org1: tl.Contract, org2: tl.Contract, key: str
    ) -> None:
        org1.submit("storeData", key, "from org1")
        assert org2.evaluate("retrieveData", key) == b"from org1"
        org2.submit("storeData", key, "from org2")
        assert org1.evaluate("retrieveData", key) == b"from org2"

    def test_gateways_sign_as_their_organisations(
        self, gateways: tuple[tl.Gateway, tl.Gateway]
    ) -> None:
        assert gateways[0].msp_id == "Org1MSP"
        assert gateways[1].msp_id == "Org2MSP"

    # -- submit results -------------------------------------------------------------

    def test_submit_returns_sha256_tx_id_and_growing_blocks(
        self, org1: tl.Contract, key: str
    ) -> None:
        results = [org1.submit("storeData", f"{key}/{i}", str(i)) for i in range(3)]
        for res in results:
            assert TX_ID.fullmatch(res.tx_id), res.tx_id
            assert res.block >= 1  # block 0 is the channel's genesis
        assert len({r.tx_id for r in results}) == 3
        blocks = [r.block for r in results]
        assert blocks == sorted(blocks) and len(set(blocks)) == 3

    def test_same_call_twice_gets_two_tx_ids(self, org1: tl.Contract, key: str) -> None:
        a = org1.submit("storeData", key, "same")
        b = org1.submit("storeData", key, "same")
        assert a.tx_id != b.tx_id

    # -- contract errors -------------------------------------------------------------

    @pytest.mark.parametrize(
        ("function", "args", "expected"),
        [
            ("storeData", ("only-id",), 2),
            ("storeData", (), 2),
            ("retrieveData", (), 1),
        ],
    )
    def test_wrong_argument_count_names_params(
        self, org1: tl.Contract, function: str, args: tuple[str, ...], expected: int
    ) -> None:
        with pytest.raises(tl.ContractError) as err:
            org1.submit(function, *args)
        assert "params" in err.value.message
        assert f"Expected {expected}" in err.value.message
        assert f"received {len(args)}" in err.value.message

    @pytest.mark.parametrize("via", ["evaluate", "submit"])
    def test_unknown_function_is_a_contract_error(self, org1: tl.Contract, via: str) -> None:
        call = org1.evaluate if via == "evaluate" else org1.submit
        with pytest.raises(tl.ContractError) as err:
            call("noSuchFunction", "x")
        assert "noSuchFunction" in err.value.message
        assert "not found" in err.value.message

    def test_contract_error_leaves_state_alone(self, org1: tl.Contract, key: str) -> None:
        org1.submit("storeData", key, "kept")
        with pytest.raises(tl.ContractError):
            org1.submit("storeData", key)
        assert org1.evaluate("retrieveData", key) == b"kept"
        assert len(json.loads(org1.evaluate("history", key))) == 1

    # -- events ------------------------------------------------------------------------

    def test_events_arrive_from_a_start_block(
        self, gateways: tuple[tl.Gateway, tl.Gateway], org1: tl.Contract, key: str
    ) -> None:
        before = org1.submit("storeData", f"{key}/before", "x")
        stored = [org1.submit("storeData", f"{key}/{i}", str(i)) for i in range(3)]
        deleted = org1.submit("deleteData", f"{key}/1")
        network = gateways[1].network(self.channel)
        events = _events_until(
            network.chaincode_events(
                self.chaincode, start_block=stored[0].block, timeout=self.event_timeout
            ),
            _tx_ids_seen({r.tx_id for r in [*stored, deleted]}),
        )
        assert all(e.block >= stored[0].block for e in events)
        assert before.tx_id not in {e.tx_id for e in events}
        mine = [e for e in events if e.tx_id in {r.tx_id for r in [*stored, deleted]}]
        assert [(e.tx_id, e.name, e.payload, e.block) for e in mine] == [
            *(
                (r.tx_id, "DataStored", f"{key}/{i}".encode(), r.block)
                for i, r in enumerate(stored)
            ),
            (deleted.tx_id, "DataDeleted", f"{key}/1".encode(), deleted.block),
        ]
        assert all(e.chaincode == self.chaincode for e in events)
        positions = [(e.block, e.tx_id) for e in events]
        assert [p[0] for p in positions] == sorted(p[0] for p in positions)

    def test_contract_events_see_transactions_committed_while_listening(
        self, gateways: tuple[tl.Gateway, tl.Gateway], org1: tl.Contract, key: str
    ) -> None:
        start = org1.submit("storeData", f"{key}/start", "x")
        listener = gateways[1].network(self.channel).contract(self.chaincode)
        wanted = {f"{key}/{i}".encode() for i in range(3)}
        box: dict[str, list[tl.ChaincodeEvent]] = {}

        def listen() -> None:
            box["events"] = _events_until(
                listener.events(start.block + 1, timeout=self.event_timeout),
                lambda seen: wanted <= {e.payload for e in seen},
            )

        thread = threading.Thread(target=listen)
        thread.start()
        results = [org1.submit("storeData", f"{key}/{i}", "v") for i in range(3)]
        thread.join(self.event_timeout * 4)
        assert not thread.is_alive()
        got = [e for e in box["events"] if e.payload in wanted]
        assert [(e.tx_id, e.payload, e.block) for e in got] == [
            (r.tx_id, f"{key}/{i}".encode(), r.block) for i, r in enumerate(results)
        ]
