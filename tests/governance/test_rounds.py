"""RoundContract: rounds chain by model digest, only while their job runs, never overwritten."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

import tensorledger as tl
from tensorledger import governance
from tensorledger.errors import NotFoundError
from tests.contracts.ledgers import Net
from tests.contracts.records import envelope_timestamp, h, uid
from tests.governance.records import (
    job,
    js,
    record_rounds,
    round_record,
    running_job,
    state,
    update,
)

CC = "rounds"


def refused(net: Net, job_id: str, record: Any, org: str = "Org1") -> str:
    """Submit a round that must be refused; the refusal's text, after checking nothing changed."""
    before = state(net, job_id)
    with pytest.raises(tl.ContractError) as err:
        net.contract(org, CC).submit(
            "RecordRound", record if isinstance(record, str) else js(record)
        )
    assert state(net, job_id) == before
    return err.value.message


def test_round_is_stored_with_ledger_facts_and_read_back(net: Net) -> None:
    j = running_job(net)["id"]
    sent = round_record(j, 1, h("g0"), h("g1"))
    res = net.contract("Org2", CC).submit("RecordRound", js(sent))
    stored = json.loads(res.payload)
    assert {k: stored[k] for k in sent} == sent
    assert (stored["owner"], stored["txId"]) == ("Org2MSP", res.tx_id)
    assert stored["timestamp"] == envelope_timestamp(net.envelope(res.tx_id))
    assert net.contract("Org3", CC).evaluate("GetRound", j, "1") == res.payload
    assert net.contract("Org3", CC).evaluate("ListRounds", j) == b"[" + res.payload + b"]"


def test_rounds_chain_in_order_and_list_in_round_order(net: Net) -> None:
    j = running_job(net, rounds=12)["id"]
    digests = [h(f"global {i}") for i in range(13)]
    record_rounds(net, j, digests)  # 12 rounds: 10 and 11 must sort after 9 (zero padding)
    listed = json.loads(net.contract("Org2", CC).evaluate("ListRounds", j))
    assert [r["round"] for r in listed] == list(range(1, 13))
    assert [r["globalAfter"] for r in listed] == digests[1:]
    assert all(a["globalAfter"] == b["globalBefore"] for a, b in itertools.pairwise(listed))


def test_a_gap_is_refused(net: Net) -> None:
    j = running_job(net, rounds=5)["id"]
    assert refused(net, j, round_record(j, 2, h("g1"), h("g2"))) == (
        f"Round 2 of job {j} needs round 1 recorded first"
    )
    record_rounds(net, j, [h("g0"), h("g1")])
    assert refused(net, j, round_record(j, 3, h("g2"), h("g3"))) == (
        f"Round 3 of job {j} needs round 2 recorded first"
    )


def test_global_before_must_be_the_previous_global_after(net: Net) -> None:
    j = running_job(net)["id"]
    record_rounds(net, j, [h("g0"), h("g1")])
    message = refused(net, j, round_record(j, 2, h("not g1"), h("g2")))
    assert message == (
        f"round record: field 'globalBefore' must be round 1's globalAfter {h('g1')}, "
        f"got {h('not g1')}"
    )
    net.contract("Org1", CC).submit("RecordRound", js(round_record(j, 2, h("g1"), h("g2"))))


@pytest.mark.parametrize(
    "aggregation",
    [
        {"method": "fedavg", "params": {"trim": 0.2}},
        {"method": "trimmed_mean", "params": {"trim": 0.3}},
        {"method": "trimmed_mean", "params": {}},
        {"method": "trimmed_mean"},
    ],
)
def test_aggregation_must_be_the_jobs(net: Net, aggregation: dict[str, Any]) -> None:
    j = running_job(net)["id"]
    message = refused(net, j, round_record(j, 1, h("g0"), h("g1"), aggregation=aggregation))
    assert message.startswith(
        f"round record: field 'aggregation' must be job {j}'s "
        '{"method":"trimmed_mean","params":{"trim":0.2}}, got '
    )


def test_a_round_is_never_overwritten(net: Net) -> None:
    j = running_job(net)["id"]
    record_rounds(net, j, [h("g0"), h("g1")])
    for org, record in [
        ("Org1", round_record(j, 1, h("g0"), h("g1"))),  # replayed as is
        ("Org2", round_record(j, 1, h("g0"), h("other"))),  # rewritten by another org
    ]:
        assert refused(net, j, record, org) == (
            f"Round 1 of job {j} already exists; rounds are never overwritten"
        )


def test_round_beyond_the_jobs_rounds_is_refused(net: Net) -> None:
    j = running_job(net, rounds=1)["id"]
    record_rounds(net, j, [h("g0"), h("g1")])
    assert refused(net, j, round_record(j, 2, h("g1"), h("g2"))) == (
        f"Job {j} has 1 rounds; round 2 is beyond them"
    )


def test_rounds_need_a_running_job(net: Net) -> None:
    j = uid("job")
    assert refused(net, j, round_record(j, 1, h("g0"), h("g1"))) == (
        f"round record: field 'job' names job {j}, which does not exist"
    )
    net.contract("Org1", "governance").submit("ProposeJob", js(job(j)))
    net.contract("Org1", "governance").submit("ApproveJob", j)
    assert refused(net, j, round_record(j, 1, h("g0"), h("g1"))) == (
        f"Job {j} is proposed; rounds are recorded only while it is running"
    )


BAD_ROUNDS: list[tuple[dict[str, Any], str]] = [
    ({"round": 0}, "field 'round' must be an integer from 1 to 10000, got 0"),
    ({"round": "1"}, "field 'round' must be an integer from 1 to 10000"),
    ({"globalBefore": "abc"}, "field 'globalBefore' must be a SHA-256 digest"),
    ({"globalAfter": h("x").upper()}, "field 'globalAfter' must be a SHA-256 digest"),
    ({"updates": []}, "field 'updates' must be an array of 1 to 10000 client updates"),
    ({"updates": [update("Org1"), update("Org1")]}, "field 'updates' lists a client twice"),
    (
        {"updates": [update("Org1", numExamples=0)]},
        "field 'updates[0].numExamples' must be an integer from 1",
    ),
    (
        {"updates": [update("Org1", numExamples=1.5)]},
        "field 'updates[0].numExamples' must be an integer",
    ),
    (
        {"updates": [update("Org1", updateRoot="00")]},
        "field 'updates[0].updateRoot' must be a SHA-256",
    ),
    (
        {"updates": [update("Org1", updateObject=None)]},
        "field 'updates[0].updateObject' must be a SHA-256",
    ),
    ({"updates": [update("Org1", msp="Org 1")]}, "field 'updates[0].msp' must be an id"),
    (
        {"updates": [{**update("Org1"), "client": ""}]},
        "field 'updates[0].client' must be non-empty text",
    ),
    (
        {"updates": [update("Org1", metrics={"loss": "low"})]},
        "field 'updates[0].metrics.loss' must be a finite number",
    ),
    ({"updates": [update("Org1", extra=1)]}, "unknown field 'updates[0].extra'"),
    ({"updates": ["Org1"]}, "field 'updates[0]' must be an object"),
    ({"metrics": [0.5]}, "field 'metrics' must be a JSON object"),
    ({"txId": "forged"}, "field 'txId' is filled in by the contract"),
    ({"note": "x"}, "unknown field 'note'"),
]


@pytest.mark.parametrize(("change", "expected"), BAD_ROUNDS)
def test_each_malformed_field_is_refused_by_name(
    net: Net, change: dict[str, Any], expected: str
) -> None:
    j = running_job(net)["id"]
    message = refused(net, j, round_record(j, 1, h("g0"), h("g1"), **change))
    assert message.startswith("round record: ") and expected in message, message


def test_missing_update_fields_and_malformed_json(net: Net) -> None:
    j = running_job(net)["id"]
    broken = update("Org1")
    del broken["updateRoot"]
    assert refused(net, j, round_record(j, 1, h("g0"), h("g1"), updates=[broken])) == (
        "round record: missing required field 'updates[0].updateRoot'"
    )
    assert refused(net, j, "{not json").startswith("round record is not valid JSON")
    assert refused(net, j, "42") == "round record must be a JSON object, got a number"


# the last is an Arabic-Indic one, which str.isdigit() accepts and int() reads as 1
@pytest.mark.parametrize("number", ["0", "-1", "01x", "latest", "10001", "\u0661"])
def test_malformed_round_argument(net: Net, number: str) -> None:
    with pytest.raises(tl.ContractError, match="must be an integer from 1 to 10000"):
        net.contract("Org1", CC).evaluate("GetRound", "job", number)


def test_client_record_get_list_and_not_found(net: Net) -> None:
    gw = net.gws["Org3"]
    j = running_job(net, rounds=5)["id"]
    updates = [
        governance.RoundUpdate("hospital-a", "Org1MSP", h("ua"), h("oa"), 120, {"loss": 0.3}),
        governance.RoundUpdate("hospital-b", "Org2MSP", h("ub"), h("ob"), 80),
    ]
    recorded = governance.record_round(
        gw, job=j, round=1, global_before=h("g0"), global_after=h("g1"),
        aggregation="trimmed_mean", aggregation_params={"trim": 0.2}, updates=updates,
        metrics={"loss": 0.25},
    )  # fmt: skip
    assert recorded.updates == tuple(updates) and recorded.owner == "Org3MSP"
    assert recorded.to_dict() == json.loads(net.contract("Org1", CC).evaluate("GetRound", j, "1"))
    assert governance.get_round(gw, j, 1) == recorded
    assert governance.list_rounds(gw, j) == [recorded]
    assert governance.list_rounds(gw, uid("none")) == []
    with pytest.raises(NotFoundError, match=f"Round 2 of job {j} does not exist"):
        governance.get_round(gw, j, 2)
    with pytest.raises(tl.ContractError, match="needs round 2 recorded first"):
        governance.record_round(
            gw, job=j, round=3, global_before=h("g2"), global_after=h("g3"),
            aggregation="trimmed_mean", aggregation_params={"trim": 0.2}, updates=updates,
        )  # fmt: skip
