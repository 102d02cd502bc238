"""SecureAggregationContract: who may do what, in which order, and every refusal changes nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import tensorledger as tl
from tensorledger.ledger.network import EmbeddedNetwork
from tests.contracts.ledgers import Net
from tests.contracts.records import uid

PARTIES = ["Org3MSP", "Org1MSP", "Org2MSP"]  # given unsorted: the contract sorts them


def h(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def key_hex(label: str) -> str:
    return hashlib.sha256(b"key " + label.encode()).hexdigest()


def sc(net: Net, org: str) -> tl.Contract:
    return net.contract(org, "secagg")


def session(net: Net, sid: str) -> dict[str, Any]:
    return json.loads(sc(net, "Org4").evaluate("GetSession", sid))


def open_session(net: Net, **fields: Any) -> str:
    sid = uid("sess")
    record = {"id": sid, "parties": PARTIES, "vectorLength": 3, "scale": 48, **fields}
    sc(net, "Org4").submit("OpenSession", json.dumps(record))
    return sid


def with_keys(net: Net, orgs: tuple[str, ...] = ("Org1", "Org2", "Org3")) -> str:
    sid = open_session(net)
    for org in orgs:
        sc(net, org).submit("RegisterKey", sid, key_hex(sid + org))
    return sid


def anchored(net: Net) -> str:
    sid = with_keys(net)
    for org in ("Org1", "Org2", "Org3"):
        sc(net, org).submit("RecordMasked", sid, h(sid + org))
    return sid


def aggregate_record(sid: str, **fields: Any) -> str:
    record = {
        "session": sid,
        "maskedHashes": {f"{o}MSP": h(sid + o) for o in ("Org1", "Org2", "Org3")},
        "aggregate": ["1", str(-(2**127)), str(2**127 - 1)],
        **fields,
    }
    return json.dumps(record)


def refused(net: Net, sid: str | None, call: Callable[[], object], message: str) -> None:
    """`call` fails with exactly `message` and leaves the chain and the session as they were."""
    height = net.height()
    before = session(net, sid) if sid else None
    with pytest.raises(tl.ContractError) as err:
        call()
    assert err.value.message == message
    assert net.height() == height
    if sid:
        assert session(net, sid) == before


def test_a_session_goes_through_every_status(net: Net) -> None:
    sid = open_session(net, description="pooled OLS, diabetes")
    s = session(net, sid)
    assert s["parties"] == ["Org1MSP", "Org2MSP", "Org3MSP"]
    assert (s["owner"], s["description"], s["status"]) == (
        "Org4MSP",
        "pooled OLS, diabetes",
        "keys",
    )
    assert (s["keys"], s["maskedHashes"], s["aggregate"]) == ({}, {}, None)
    for org in ("Org2", "Org1", "Org3"):
        sc(net, org).submit("RegisterKey", sid, key_hex(sid + org))
    s = session(net, sid)
    assert s["status"] == "masking"
    assert s["keys"] == {f"{o}MSP": key_hex(sid + o) for o in ("Org1", "Org2", "Org3")}
    for org in ("Org1", "Org2", "Org3"):
        sc(net, org).submit("RecordMasked", sid, h(sid + org))
    assert session(net, sid)["status"] == "ready"
    res = sc(net, "Org4").submit("RecordAggregate", aggregate_record(sid))
    s = session(net, sid)
    assert s["status"] == "aggregated"
    assert s["maskedHashes"] == {f"{o}MSP": h(sid + o) for o in ("Org1", "Org2", "Org3")}
    assert s["aggregate"] == json.loads(res.payload)
    assert s["aggregate"]["owner"] == "Org4MSP"
    assert s["aggregate"]["txId"] == res.tx_id
    assert s["aggregate"]["aggregate"] == ["1", str(-(2**127)), str(2**127 - 1)]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"parties": ["Org1MSP"]}, "field 'parties' must be an array of 2 to 100 MSP ids"),
        ({"parties": ["Org1MSP", "Org1MSP"]}, "field 'parties' lists an MSP twice"),
        ({"parties": ["Org1MSP", "a/b"]}, "field 'parties[1]' must be an id"),
        ({"vectorLength": 0}, "field 'vectorLength' must be an integer from 1 to 16384"),
        ({"vectorLength": 16385}, "field 'vectorLength' must be an integer from 1 to 16384"),
        ({"scale": 97}, "field 'scale' must be an integer from 0 to 96"),
        ({"scale": True}, "field 'scale' must be an integer from 0 to 96"),
        ({"scale": "48"}, "field 'scale' must be an integer from 0 to 96"),
        ({"owner": "Org1MSP"}, "field 'owner' is filled in by the contract"),
        ({"extra": 1}, "unknown field 'extra'"),
    ],
)
def test_malformed_sessions_are_refused(net: Net, fields: dict[str, Any], message: str) -> None:
    record = {"id": uid("bad"), "parties": PARTIES, "vectorLength": 3, "scale": 48, **fields}
    height = net.height()
    with pytest.raises(tl.ContractError, match=message.replace("[", r"\[").replace("]", r"\]")):
        sc(net, "Org1").submit("OpenSession", json.dumps(record))
    assert net.height() == height
    with pytest.raises(tl.ContractError, match="does not exist"):
        session(net, record["id"])


def test_a_session_id_is_opened_once(net: Net) -> None:
    sid = open_session(net)
    again = {"id": sid, "parties": ["Org1MSP", "Org4MSP"], "vectorLength": 9, "scale": 0}
    refused(
        net,
        sid,
        lambda: sc(net, "Org1").submit("OpenSession", json.dumps(again)),
        f"Session {sid} already exists; sessions are opened once",
    )


def test_key_registration_rules(net: Net) -> None:
    sid = open_session(net)
    refused(
        net,
        sid,
        lambda: sc(net, "Org4").submit("RegisterKey", sid, key_hex("x")),
        f"Session {sid}: Org4MSP is not a party and may not register a key "
        "(parties: Org1MSP, Org2MSP, Org3MSP)",
    )
    for bad in ("AB" * 32, "ab" * 31, "ab" * 33, "zz" * 32):
        refused(
            net,
            sid,
            lambda bad=bad: sc(net, "Org1").submit("RegisterKey", sid, bad),
            f"Session {sid}: the public key must be 64 lower-case hex digits "
            f"(a 32-byte X25519 key), got {len(bad)} characters",
        )
    sc(net, "Org1").submit("RegisterKey", sid, key_hex("one"))
    refused(
        net,
        sid,
        lambda: sc(net, "Org1").submit("RegisterKey", sid, key_hex("other")),
        f"Session {sid}: Org1MSP has already registered its key",
    )
    refused(
        net,
        sid,
        lambda: sc(net, "Org2").submit("RegisterKey", sid, key_hex("one")),
        f"Session {sid}: this public key is already registered by Org1MSP",
    )
    refused(
        net,
        None,
        lambda: sc(net, "Org1").submit("RegisterKey", "no-such-session", key_hex("z")),
        "Session no-such-session does not exist.",
    )
    assert session(net, sid)["keys"] == {"Org1MSP": key_hex("one")}


def test_nothing_is_anchored_or_aggregated_before_every_key(net: Net) -> None:
    sid = with_keys(net, ("Org1", "Org2"))
    refused(
        net,
        sid,
        lambda: sc(net, "Org1").submit("RecordMasked", sid, h("m")),
        f"Session {sid} lacks keys from Org3MSP; every party's keys must be in before "
        "masked inputs are anchored",
    )
    refused(
        net,
        sid,
        lambda: sc(net, "Org4").submit("RecordAggregate", aggregate_record(sid)),
        f"Session {sid} lacks keys from Org3MSP; every party's keys must be in before "
        "the aggregate is recorded",
    )


def test_anchor_rules(net: Net) -> None:
    sid = with_keys(net)
    refused(
        net,
        sid,
        lambda: sc(net, "Org4").submit("RecordMasked", sid, h("m")),
        f"Session {sid}: Org4MSP is not a party and may not anchor a masked input "
        "(parties: Org1MSP, Org2MSP, Org3MSP)",
    )
    refused(
        net,
        sid,
        lambda: sc(net, "Org1").submit("RecordMasked", sid, h("m").upper()),
        f"Session {sid}: the masked hash must be a SHA-256 digest of 64 lower-case hex digits",
    )
    sc(net, "Org1").submit("RecordMasked", sid, h("m1"))
    refused(
        net,
        sid,
        lambda: sc(net, "Org1").submit("RecordMasked", sid, h("m2")),
        f"Session {sid}: Org1MSP has already anchored its masked input",
    )
    refused(
        net,
        sid,
        lambda: sc(net, "Org4").submit("RecordAggregate", aggregate_record(sid)),
        f"Session {sid} lacks masked inputs from Org2MSP, Org3MSP; every party's masked "
        "inputs must be in before the aggregate is recorded",
    )


def test_a_hash_that_differs_from_the_anchor_is_refused_and_named(net: Net) -> None:
    sid = anchored(net)
    hashes = {f"{o}MSP": h(sid + o) for o in ("Org1", "Org2", "Org3")}
    hashes["Org2MSP"] = h("tampered")
    refused(
        net,
        sid,
        lambda: sc(net, "Org4").submit(
            "RecordAggregate", aggregate_record(sid, maskedHashes=hashes)
        ),
        f"Session {sid}: the masked vector of Org2MSP hashes to {h('tampered')}, "
        f"not to the hash Org2MSP anchored ({h(sid + 'Org2')})",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": "Org3MSP"}, "{sid}: no masked hash given for Org3MSP"),
        ({"add": "Org4MSP"}, "{sid}: Org4MSP is not a party and has no masked input"),
        (
            {"aggregate": ["1", "2"]},
            "{sid}: the aggregate has 2 elements; the session's vectors have 3",
        ),
    ],
)
def test_aggregate_must_cover_exactly_the_session(
    net: Net, change: dict[str, Any], message: str
) -> None:
    sid = anchored(net)
    hashes = {f"{o}MSP": h(sid + o) for o in ("Org1", "Org2", "Org3")}
    if "drop" in change:
        del hashes[change["drop"]]
    if "add" in change:
        hashes[change["add"]] = h("x")
    aggregate = change.get("aggregate", ["0", "0", "0"])
    refused(
        net,
        sid,
        lambda: sc(net, "Org4").submit(
            "RecordAggregate", aggregate_record(sid, maskedHashes=hashes, aggregate=aggregate)
        ),
        "Session " + message.format(sid=sid),
    )


@pytest.mark.parametrize("bad", ["01", "-0", "1.0", " 1", str(2**127), str(-(2**127) - 1), 1])
def test_aggregate_elements_are_signed_128_bit_decimals(net: Net, bad: object) -> None:
    sid = anchored(net)
    refused(
        net,
        sid,
        lambda: sc(net, "Org4").submit(
            "RecordAggregate", aggregate_record(sid, aggregate=["0", bad, "0"])
        ),
        "aggregate record: field 'aggregate[1]' must be a decimal integer string from "
        f"-2^127 to 2^127-1, got {json.dumps(bad)}",
    )


def test_the_aggregate_is_final(net: Net) -> None:
    sid = anchored(net)
    sc(net, "Org4").submit("RecordAggregate", aggregate_record(sid))
    refused(
        net,
        sid,
        lambda: sc(net, "Org1").submit(
            "RecordAggregate", aggregate_record(sid, aggregate=["0", "0", "0"])
        ),
        f"Session {sid} already has an aggregate; it is final",
    )
    assert session(net, sid)["aggregate"]["aggregate"][0] == "1"


@pytest.fixture
def network(net: Net) -> Iterator[EmbeddedNetwork]:
    """Direct access to the ledger, to endorse several transactions before committing any."""
    network = EmbeddedNetwork(net.path)
    try:
        yield network
    finally:
        network.close()


def test_parties_registering_and_anchoring_at_once_do_not_conflict(
    net: Net, network: EmbeddedNetwork
) -> None:
    sid = open_session(net)
    ch = network.channel("mychannel")
    envelopes = [
        ch.endorse(network.identity(org), "secagg", "RegisterKey", [sid, key_hex(sid + org)])
        for org in ("Org1", "Org2", "Org3")
    ]
    for envelope in envelopes:
        ch.commit_envelope(envelope)
    assert session(net, sid)["status"] == "masking"
    envelopes = [
        ch.endorse(network.identity(org), "secagg", "RecordMasked", [sid, h(sid + org)])
        for org in ("Org1", "Org2", "Org3")
    ]
    for envelope in envelopes:
        ch.commit_envelope(envelope)
    assert session(net, sid)["status"] == "ready"


def test_a_racing_second_anchor_or_aggregate_never_commits(
    net: Net, network: EmbeddedNetwork
) -> None:
    sid = with_keys(net)
    ch = network.channel("mychannel")
    one = ch.endorse(network.identity("Org1"), "secagg", "RecordMasked", [sid, h("first")])
    two = ch.endorse(network.identity("Org1"), "secagg", "RecordMasked", [sid, h("second")])
    ch.commit_envelope(one)
    with pytest.raises(tl.MVCCConflictError):
        ch.commit_envelope(two)
    assert session(net, sid)["maskedHashes"] == {"Org1MSP": h("first")}
    for org in ("Org2", "Org3"):
        sc(net, org).submit("RecordMasked", sid, h(sid + org))
    hashes = {"Org1MSP": h("first"), **{f"{o}MSP": h(sid + o) for o in ("Org2", "Org3")}}
    first, second = (
        ch.endorse(
            network.identity(org),
            "secagg",
            "RecordAggregate",
            [aggregate_record(sid, maskedHashes=hashes, aggregate=[v, "0", "0"])],
        )
        for org, v in (("Org4", "1"), ("Org2", "2"))
    )
    ch.commit_envelope(second)
    with pytest.raises(tl.MVCCConflictError):
        ch.commit_envelope(first)
    assert session(net, sid)["aggregate"]["aggregate"] == ["2", "0", "0"]


def test_a_key_registered_twice_at_once_commits_once(net: Net, network: EmbeddedNetwork) -> None:
    sid = open_session(net)
    ch = network.channel("mychannel")
    same = key_hex(sid)
    one = ch.endorse(network.identity("Org1"), "secagg", "RegisterKey", [sid, same])
    two = ch.endorse(network.identity("Org2"), "secagg", "RegisterKey", [sid, same])
    ch.commit_envelope(one)
    with pytest.raises(tl.MVCCConflictError):
        ch.commit_envelope(two)
    assert session(net, sid)["keys"] == {"Org1MSP": same}
