"""DatasetContract: round trips, the append-only version rule, ownership, lineage references."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

import tensorledger as tl
from tensorledger.ledger.network import EmbeddedNetwork
from tensorledger.ledger.verify import verify_channel
from tests.contracts.ledgers import Net
from tests.contracts.records import dataset, envelope_timestamp, js, uid

CC = "datasets"


def versions(net: Net, record_id: str) -> list[dict[str, object]]:
    return json.loads(net.contract("Org1", CC).evaluate("ListVersions", record_id))


def test_register_returns_the_stored_record_with_ledger_facts(net: Net) -> None:
    ds = uid("cohort")
    sent = dataset(ds, tags={"consent": "research-only"})
    res = net.contract("Org1", CC).submit("RegisterDataset", js(sent))
    stored = json.loads(res.payload)
    assert {k: stored[k] for k in sent} == sent
    assert stored["owner"] == "Org1MSP"
    assert stored["registeredBy"] == "User1@org1.example.com"
    assert stored["txId"] == res.tx_id
    # the proposal's own timestamp, as the committed envelope carries it
    assert stored["timestamp"] == envelope_timestamp(net.envelope(res.tx_id))
    when = datetime.fromisoformat(stored["timestamp"])
    assert abs(when - datetime.now(UTC)) < timedelta(minutes=5)
    # defaults are filled in, so every stored record has the same shape
    assert stored["parents"] == [] and stored["keyId"] is None


def test_get_by_version_and_latest_returns_the_committed_bytes(net: Net) -> None:
    ds = uid("cohort")
    c = net.contract("Org1", CC)
    first = c.submit("RegisterDataset", js(dataset(ds, 1))).payload
    second = c.submit("RegisterDataset", js(dataset(ds, 2, rows=43))).payload
    assert c.evaluate("GetDataset", ds, "1") == first
    assert c.evaluate("GetDataset", ds, "2") == second
    assert c.evaluate("GetDataset", ds, "latest") == second
    # another organisation's peer answers the same
    assert net.contract("Org2", CC).evaluate("GetDataset", ds, "latest") == second


def test_list_versions_in_order_and_list_datasets_gives_the_newest(net: Net) -> None:
    ds, other = uid("a"), uid("b")
    c = net.contract("Org1", CC)
    for v in range(1, 12):  # past 9 and 10: key order must be version order
        c.submit("RegisterDataset", js(dataset(ds, v)))
    c.submit("RegisterDataset", js(dataset(other, 1)))
    assert [r["version"] for r in versions(net, ds)] == list(range(1, 12))
    listed = {r["id"]: r["version"] for r in json.loads(c.evaluate("ListDatasets"))}
    assert listed[ds] == 11 and listed[other] == 1


def test_ids_that_share_a_prefix_do_not_mix(net: Net) -> None:
    base = uid("p")
    c = net.contract("Org1", CC)
    for record_id in (base, f"{base}.x", f"{base}-x", f"{base}0", f"{base}_x"):
        c.submit("RegisterDataset", js(dataset(record_id)))
    assert [r["id"] for r in versions(net, base)] == [base]


def test_missing_dataset_errors(net: Net) -> None:
    ds = uid("none")
    c = net.contract("Org1", CC)
    with pytest.raises(tl.ContractError) as err:
        c.evaluate("GetDataset", ds, "latest")
    assert err.value.message == f"Dataset {ds} does not exist."
    c.submit("RegisterDataset", js(dataset(ds)))
    with pytest.raises(tl.ContractError) as err:
        c.evaluate("GetDataset", ds, "2")
    assert err.value.message == f"Dataset {ds}@2 does not exist."
    assert versions(net, uid("never")) == []


@pytest.mark.parametrize("arg", ["0", "01", "-1", "1.0", "x", "", "99999999999"])
def test_malformed_version_argument_is_refused(net: Net, arg: str) -> None:
    with pytest.raises(tl.ContractError, match=r"version .* must be 'latest' or an integer"):
        net.contract("Org1", CC).evaluate("GetDataset", "cohort", arg)


@pytest.mark.parametrize(
    ("registered", "attempt", "expected"),
    [
        ([1], 1, "already exists; versions are append-only"),  # re-register
        ([1, 2], 1, "already exists; versions are append-only"),  # an older one
        ([1], 3, "version 3 is not the next version; .* must be 2"),  # skip one
        ([], 2, "version 2 is not the next version; .* must be 1"),  # start past 1
    ],
)
def test_versions_are_append_only(
    net: Net, registered: list[int], attempt: int, expected: str
) -> None:
    ds = uid("ver")
    c = net.contract("Org1", CC)
    for v in registered:
        c.submit("RegisterDataset", js(dataset(ds, v)))
    before, height = versions(net, ds), net.height()
    with pytest.raises(tl.ContractError, match=expected):
        c.submit("RegisterDataset", js(dataset(ds, attempt, rows=999)))
    assert versions(net, ds) == before
    assert net.height() == height  # refused at endorsement: nothing was ordered


def test_only_the_owner_adds_versions(net: Net) -> None:
    ds = uid("owned")
    net.contract("Org1", CC).submit("RegisterDataset", js(dataset(ds)))
    before = versions(net, ds)
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org2", CC).submit("RegisterDataset", js(dataset(ds, 2)))
    assert "belongs to Org1MSP" in err.value.message and "Org2MSP" in err.value.message
    assert versions(net, ds) == before
    net.contract("Org1", CC).submit("RegisterDataset", js(dataset(ds, 2)))
    assert [r["version"] for r in versions(net, ds)] == [1, 2]


def test_another_org_may_derive_from_a_dataset_it_does_not_own(net: Net) -> None:
    base, derived = uid("base"), uid("derived")
    net.contract("Org1", CC).submit("RegisterDataset", js(dataset(base)))
    res = net.contract("Org2", CC).submit(
        "RegisterDataset", js(dataset(derived, parents=[f"{base}@1"]))
    )
    stored = json.loads(res.payload)
    assert stored["owner"] == "Org2MSP" and stored["parents"] == [f"{base}@1"]


@pytest.mark.parametrize("missing", ["{base}@2", "nope-{base}@1"])
def test_parents_must_exist(net: Net, missing: str) -> None:
    base = uid("base")
    net.contract("Org1", CC).submit("RegisterDataset", js(dataset(base)))
    parent = missing.format(base=base)
    child = uid("child")
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", CC).submit(
            "RegisterDataset", js(dataset(child, parents=[f"{base}@1", parent]))
        )
    assert err.value.message == (
        f"dataset record: field 'parents' names dataset {parent}, which does not exist"
    )
    assert versions(net, child) == []


def test_registration_emits_an_event_with_the_record_key(net: Net) -> None:
    ds = uid("ev")
    start = net.height()
    res = net.contract("Org1", CC).submit("RegisterDataset", js(dataset(ds)))
    events = list(net.gws["Org1"].network().chaincode_events(CC, start_block=start, timeout=0.2))
    assert [(e.tx_id, e.name, e.payload) for e in events] == [
        (res.tx_id, "DatasetRegistered", f"dataset/{ds}/0000000001".encode())
    ]


def test_racing_endorsements_of_one_version_commit_once(net: Net, network: EmbeddedNetwork) -> None:
    # Both endorsed against the same empty state, then committed: MVCC must refuse one.
    ds = uid("race")
    ch = network.channel("mychannel")
    first = ch.endorse(network.identity("Org1"), CC, "RegisterDataset", [js(dataset(ds))])
    second = ch.endorse(network.identity("Org1"), CC, "RegisterDataset", [js(dataset(ds, rows=7))])
    ch.commit_envelope(first)
    with pytest.raises(tl.MVCCConflictError):
        ch.commit_envelope(second)
    assert [r["rows"] for r in versions(net, ds)] == [42]


def race_two_registrations(net: Net, ds: str) -> list[object]:
    """Org1 and Org2 submit version 1 of `ds` at the same moment; each outcome, in order."""
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def register(n: int) -> None:
        contract = net.contract("Org1" if n == 0 else "Org2", CC)
        barrier.wait()
        try:
            contract.submit("RegisterDataset", js(dataset(ds, rows=n)))
            outcomes[n] = "ok"
        except (tl.CommitError, tl.ContractError) as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=register, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_threads_registering_one_version_never_make_two_records(net: Net) -> None:
    for _ in range(3):
        ds = uid("threads")
        outcomes = race_two_registrations(net, ds)
        assert outcomes.count("ok") == 1, outcomes
        loser = next(o for o in outcomes if o != "ok")
        # lost at commit (MVCC) or, if the winner committed first, at endorsement
        assert isinstance(loser, (tl.MVCCConflictError, tl.ContractError)), loser
        assert len(versions(net, ds)) == 1


def test_three_orgs_register_and_own_their_datasets(net3: Net) -> None:
    ds = uid("three")
    res = net3.contract("Org3", CC).submit("RegisterDataset", js(dataset(ds)))
    assert json.loads(res.payload)["owner"] == "Org3MSP"
    assert net3.contract("Org1", CC).evaluate("GetDataset", ds, "1") == res.payload
    with pytest.raises(tl.ContractError, match="belongs to Org3MSP"):
        net3.contract("Org1", CC).submit("RegisterDataset", js(dataset(ds, 2)))
    net3.contract("Org2", CC).submit("RegisterDataset", js(dataset(uid("d"), parents=[f"{ds}@1"])))
    net3.contract("Org3", CC).submit("RegisterDataset", js(dataset(ds, 2)))
    assert [
        r["version"] for r in json.loads(net3.contract("Org2", CC).evaluate("ListVersions", ds))
    ] == [1, 2]


def test_ledger_verifies_after_races_and_refusals(net: Net) -> None:
    ds = uid("last")
    net.contract("Org1", CC).submit("RegisterDataset", js(dataset(ds)))
    with pytest.raises(tl.ContractError):
        net.contract("Org1", CC).submit("RegisterDataset", js(dataset(ds)))
    report = verify_channel(net.path, "mychannel")
    assert report.ok, report.findings


def test_any_text_is_stored_as_ascii_json_and_read_back_exactly(net: Net) -> None:
    ds = uid("text")
    tags = {
        "note": "h\u00e9llo \u4e2d\u6587 \U0001f680",
        "odd": "\ud800 lone surrogate",
        "q": '"\\',
    }
    body = json.dumps(dataset(ds, tags=tags))  # JSON escapes the surrogate; it is valid JSON
    res = net.contract("Org1", CC).submit("RegisterDataset", body)
    assert res.payload.isascii()
    assert json.loads(res.payload)["tags"] == tags
    assert net.contract("Org2", CC).evaluate("GetDataset", ds, "1") == res.payload
