"""RoundContract (chaincode `rounds`): one record per federated round, chained by model digest.

Each round names the global model it started from and the one it produced,
every client update (by digest and stored object) in aggregation order, and
the rule that combined them, so any organisation can re-run the aggregation
and the rounds of a job form an unbroken chain from first model to last.
"""

from __future__ import annotations

import json
from typing import Any

from tensorledger.contracts import _records as r
from tensorledger.contracts._base import Contract, TransactionContext
from tensorledger.contracts.governance import aggregation, bounded_int

KIND = "round"
LABEL = "Round"
EVENT = "RoundRecorded"
MAX_ROUND = 10_000
MAX_UPDATES = 10_000
MAX_CLIENT = 256
#: secagg sessions of one secure round: 1024 · 16384 elements is a 16M-parameter model
MAX_SESSIONS = 1024
SECURE = "secure_fedavg"
_UPDATE_FIELDS = ("client", "msp", "updateRoot", "updateObject", "numExamples", "metrics")


def _metrics(f: r.Fields, name: str, value: Any) -> dict[str, float | int]:
    """{metric: finite number}."""
    if not isinstance(value, dict) or len(value) > r.MAX_ENTRIES:
        raise f.fail(name, "an object {metric: number}", value)
    return {k: r.number(f, f"{name}.{k}", v) for k, v in value.items()}


def _update(f: r.Fields, where: str, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise f.fail(where, "an object {client, msp, updateRoot, updateObject, numExamples}", item)
    extra = sorted(set(item) - set(_UPDATE_FIELDS))
    if extra:
        raise r.RecordError(f"{f.kind} record: unknown field '{where}.{extra[0]}'")
    for part in _UPDATE_FIELDS[:-1]:
        if part not in item:
            raise r.RecordError(f"{f.kind} record: missing required field '{where}.{part}'")
    metrics = item.get("metrics")
    return {
        "client": r.text(MAX_CLIENT)(f, f"{where}.client", item["client"]),
        "msp": r.identifier(f, f"{where}.msp", item["msp"]),
        "updateRoot": r.digest(f, f"{where}.updateRoot", item["updateRoot"]),
        "updateObject": r.digest(f, f"{where}.updateObject", item["updateObject"]),
        "numExamples": bounded_int(1, r.MAX_COUNT)(f, f"{where}.numExamples", item["numExamples"]),
        "metrics": {} if metrics is None else _metrics(f, f"{where}.metrics", metrics),
    }


def _updates(f: r.Fields, name: str, value: Any) -> list[dict[str, Any]]:
    """At least one client update, clients distinct, in the order the aggregation used."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_UPDATES:
        raise f.fail(name, f"an array of 1 to {MAX_UPDATES} client updates", value)
    out = [_update(f, f"{name}[{i}]", item) for i, item in enumerate(value)]
    clients = [u["client"] for u in out]
    if len(set(clients)) != len(clients):
        raise r.RecordError(f"{f.kind} record: field '{name}' lists a client twice")
    return out


def _sessions(f: r.Fields, name: str, value: Any) -> list[str]:
    """The secagg session ids of a secure round, in the order their vectors concatenate."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_SESSIONS:
        raise f.fail(name, f"an array of 1 to {MAX_SESSIONS} secagg session ids", value)
    out = [r.identifier(f, f"{name}[{i}]", v) for i, v in enumerate(value)]
    if len(set(out)) != len(out):
        raise r.RecordError(f"{f.kind} record: field '{name}' lists a session twice")
    return out


def parse_round(text: str) -> dict[str, Any]:
    """Check an aggregator's round record and return it normalised (defaults filled in)."""
    f = r.Fields(KIND, text)
    f.need("job", r.identifier)
    f.need("round", bounded_int(1, MAX_ROUND))
    f.need("globalBefore", r.digest)
    f.need("globalAfter", r.digest)
    f.need("aggregation", aggregation)
    f.need("updates", _updates)
    f.may("metrics", r.json_object, {})
    f.may("dp", r.json_object, {})
    f.may("secagg", _sessions, None)
    record = f.done()
    # plain rounds carry no secagg field at all; secure rounds must name their sessions
    if record["secagg"] is None:
        del record["secagg"]
    if (record["aggregation"]["method"] == SECURE) != ("secagg" in record):
        raise r.RecordError(
            f"{KIND} record: field 'secagg' names the sessions of a {SECURE} round, "
            f"and only of one ({record['aggregation']['method']} here)"
        )
    return record


def round_key(job: str, number: int) -> str:
    """`round/<job>/<round:010d>`: zero padding makes key order round order."""
    return f"{KIND}/{job}/{number:010d}"


def _round_arg(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_ROUND:
        raise r.RecordError(f"{LABEL} number {value!r} must be an integer from 1 to {MAX_ROUND}")
    return int(value)


class RoundContract(Contract):
    """Rounds written once each, by any organisation, while their job is running.

    The job is read through the `governance` chaincode and the previous round
    from this namespace, so a record commits only against the job state and
    chain it was checked with.
    """

    Name = "RoundContract"

    def get_evaluate_transactions(self) -> list[str]:
        """Queries, so Fabric's metadata marks them evaluate-only."""
        return ["GetRound", "ListRounds"]

    async def RecordRound(self, ctx: TransactionContext, recordJSON: str) -> str:
        """Record round n of a running job; returns the stored record JSON."""
        record = parse_round(recordJSON)
        r.stamp(ctx, record)
        job_id, number = record["job"], record["round"]
        response = await ctx.get_stub().invoke_chaincode("governance", ["GetJob", job_id])
        if response.status != 200:
            raise r.RecordError(
                f"{KIND} record: field 'job' names job {job_id}, which does not exist"
            )
        job = json.loads(bytes(response.payload))
        if job["status"] != "running":
            raise r.RecordError(
                f"Job {job_id} is {job['status']}; rounds are recorded only while it is running"
            )
        if number > job["rounds"]:
            raise r.RecordError(
                f"Job {job_id} has {job['rounds']} rounds; round {number} is beyond them"
            )
        if record["aggregation"] != job["aggregation"]:
            raise r.RecordError(
                f"{KIND} record: field 'aggregation' must be job {job_id}'s "
                f"{r.canonical(job['aggregation'])}, got {r.canonical(record['aggregation'])}"
            )
        stub = ctx.get_stub()
        key = round_key(job_id, number)
        if await stub.get_state(key):
            raise r.RecordError(
                f"{LABEL} {number} of job {job_id} already exists; rounds are never overwritten"
            )
        if number > 1:
            raw = await stub.get_state(round_key(job_id, number - 1))
            if not raw:
                raise r.RecordError(
                    f"{LABEL} {number} of job {job_id} needs round {number - 1} recorded first"
                )
            previous = json.loads(bytes(raw))["globalAfter"]
            if record["globalBefore"] != previous:
                raise r.RecordError(
                    f"{KIND} record: field 'globalBefore' must be round {number - 1}'s "
                    f"globalAfter {previous}, got {record['globalBefore']}"
                )
        body = r.canonical(record)
        await stub.put_state(key, body.encode("utf-8"))
        stub.set_event(EVENT, key.encode("utf-8"))
        return body

    async def GetRound(self, ctx: TransactionContext, job: str, roundNumber: str) -> str:
        """One round's record."""
        r.check_id("Job", job)
        number = _round_arg(roundNumber)
        raw = await ctx.get_stub().get_state(round_key(job, number))
        if not raw:
            raise r.RecordError(f"{LABEL} {number} of job {job} does not exist.")
        return bytes(raw).decode("utf-8")

    async def ListRounds(self, ctx: TransactionContext, job: str) -> str:
        """Every recorded round of a job, in round order, as a JSON array ([] for none)."""
        r.check_id("Job", job)
        bodies = [
            bytes(kv.value).decode("utf-8")
            async for kv in await ctx.get_stub().get_state_by_range(
                f"{KIND}/{job}/", f"{KIND}/{job}0"
            )
        ]
        return "[" + ",".join(bodies) + "]"
