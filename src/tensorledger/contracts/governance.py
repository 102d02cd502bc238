"""GovernanceContract (chaincode `governance`): federated training jobs, approvals and promotion.

A job is proposed with everything that will govern it (model, data, rounds,
aggregation rule, DP settings, approvers, acceptance threshold); it runs only
once every named organisation has approved it, and its model is promoted only
when the ledger holds the whole lineage from data to weights.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tensorledger.contracts import _records as r
from tensorledger.contracts._base import Contract, TransactionContext

KIND = "job"
LABEL = "Job"
METHODS = ("fedavg", "median", "trimmed_mean", "krum", "multikrum", "secure_fedavg")
#: rules that need each client's own update, so secure aggregation cannot serve them
ROBUST = ("median", "trimmed_mean", "krum", "multikrum")
MAX_ROUNDS = 10_000
MAX_APPROVERS = 100
MAX_DESCRIPTION = 4096
MAX_METRIC = 128
EVENTS = {
    "propose": "JobProposed",
    "approve": "JobApproved",
    "start": "JobStarted",
    "promote": "ModelPromoted",
}


def bounded_int(low: int, high: int) -> Callable[[r.Fields, str, Any], int]:
    """A rule for an integer from `low` to `high` (booleans are not integers)."""

    def rule(f: r.Fields, name: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise f.fail(name, f"an integer from {low} to {high}", value)
        return value

    return rule


def aggregation(f: r.Fields, name: str, value: Any) -> dict[str, Any]:
    """{method: one of METHODS, params: {}}: how client updates become the global model."""
    if not isinstance(value, dict):
        raise f.fail(name, "an object {method, params}", value)
    extra = sorted(set(value) - {"method", "params"})
    if extra:
        raise r.RecordError(f"{f.kind} record: unknown field '{name}.{extra[0]}'")
    method = value.get("method")
    robust = method[len("secure_") :] if isinstance(method, str) else ""
    if method == f"secure_{robust}" and robust in ROBUST:
        raise r.RecordError(
            f"{f.kind} record: field '{name}.method' {method} cannot be: "
            f"{robust} needs each client's own update, which secure "
            "aggregation hides; use secure_fedavg, or the robust rule without secure aggregation"
        )
    if method not in METHODS:
        raise f.fail(f"{name}.method", f"one of {', '.join(METHODS)}", method)
    params = value.get("params")
    return {
        "method": method,
        "params": {} if params is None else r.json_object(f, f"{name}.params", params),
    }


def _datasets(f: r.Fields, name: str, value: Any) -> list[str]:
    out = r.refs(f, name, value)
    if not out:
        raise f.fail(name, "an array of at least one reference 'id@version'", value)
    return out


def _approvers(f: r.Fields, name: str, value: Any) -> list[str]:
    """Distinct MSP ids, in the order given (the order StartJob names missing ones in)."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_APPROVERS:
        raise f.fail(name, f"an array of 1 to {MAX_APPROVERS} MSP ids", value)
    out = [r.identifier(f, f"{name}[{i}]", v) for i, v in enumerate(value)]
    if len(set(out)) != len(out):
        raise r.RecordError(f"{f.kind} record: field '{name}' lists an MSP twice")
    return out


def _threshold(f: r.Fields, name: str, value: Any) -> dict[str, Any]:
    """{metric, min}: the model metric a promoted checkpoint must reach."""
    if not isinstance(value, dict):
        raise f.fail(name, "an object {metric, min}", value)
    extra = sorted(set(value) - {"metric", "min"})
    if extra:
        raise r.RecordError(f"{f.kind} record: unknown field '{name}.{extra[0]}'")
    for part in ("metric", "min"):
        if part not in value:
            raise r.RecordError(f"{f.kind} record: missing required field '{name}.{part}'")
    return {
        "metric": r.text(MAX_METRIC)(f, f"{name}.metric", value["metric"]),
        "min": r.number(f, f"{name}.min", value["min"]),
    }


def parse_job(text: str) -> dict[str, Any]:
    """Check a caller's job proposal and return it normalised (defaults filled in)."""
    f = r.Fields(KIND, text)
    f.need("id", r.identifier)
    f.need("model", r.identifier)
    f.need("datasets", _datasets)
    f.need("rounds", bounded_int(1, MAX_ROUNDS))
    f.need("aggregation", aggregation)
    f.may("dp", r.json_object, {})
    f.need("approvers", _approvers)
    f.need("threshold", _threshold)
    f.may("description", r.text(MAX_DESCRIPTION), None)
    return f.done()


def parse_promotion(text: str) -> dict[str, Any]:
    """Check a promotion request: {job, model: 'id@version'}."""
    f = r.Fields("promotion", text)
    f.need("job", r.identifier)
    f.need("model", r.ref)
    return f.done()


def job_key(job_id: str) -> str:
    """The world-state key of a job; ids hold no '/', so keys never nest."""
    return f"{KIND}/{job_id}"


def deployment_key(model_id: str) -> str:
    """The key of a model id's deployment; its history keeps every earlier promotion."""
    return f"deployment/{model_id}"


def _tx_facts(ctx: TransactionContext) -> dict[str, str]:
    """{msp, txId, timestamp} of the transaction, from the signed proposal."""
    facts: dict[str, Any] = {}
    msp = r.stamp(ctx, facts)
    return {"msp": msp, "txId": facts["txId"], "timestamp": facts["timestamp"]}


def _missing(job: dict[str, Any]) -> list[str]:
    approved = {a["msp"] for a in job["approvals"]}
    return [msp for msp in job["approvers"] if msp not in approved]


async def _called(ctx: TransactionContext, chaincode: str, args: list[str]) -> Any:
    """The JSON answer of another chaincode's query, None when it refused (e.g. not found).

    A chaincode-to-chaincode read: it joins this transaction's read set and is
    checked again at commit.
    """
    response = await ctx.get_stub().invoke_chaincode(chaincode, args)
    if response.status != 200:
        return None
    return json.loads(bytes(response.payload))


class GovernanceContract(Contract):
    """Jobs under `job/<id>`, deployments under `deployment/<model id>`.

    A job's record is rewritten as it moves proposed → running → deployed, so
    its key's history is the job's audit trail; two approvals racing on one
    job conflict (MVCC) and the loser re-submits.
    """

    Name = "GovernanceContract"

    def get_evaluate_transactions(self) -> list[str]:
        """Queries, so Fabric's metadata marks them evaluate-only."""
        return ["GetJob", "ListJobs", "GetDeployment"]

    async def ProposeJob(self, ctx: TransactionContext, jobJSON: str) -> str:
        """Propose a job under a new id; returns the stored record JSON."""
        job = parse_job(jobJSON)
        r.stamp(ctx, job)
        for i, reference in enumerate(job["datasets"]):
            await r.registered_dataset(ctx, KIND, f"datasets[{i}]", reference)
        stub = ctx.get_stub()
        key = job_key(job["id"])
        if await stub.get_state(key):
            raise r.RecordError(f"{LABEL} {job['id']} already exists; job ids are never reused")
        job["status"] = "proposed"
        job["approvals"] = []
        return await self._put(ctx, job, EVENTS["propose"])

    async def ApproveJob(self, ctx: TransactionContext, jobId: str) -> str:
        """Approve a proposed job as the caller's organisation; returns the job."""
        job = await self._job(ctx, jobId)
        facts = _tx_facts(ctx)
        msp = facts["msp"]
        if msp not in job["approvers"]:
            raise r.RecordError(
                f"{msp} is not an approver of job {jobId} "
                f"(approvers: {', '.join(job['approvers'])})"
            )
        if any(a["msp"] == msp for a in job["approvals"]):
            raise r.RecordError(f"{msp} has already approved job {jobId}")
        if job["status"] != "proposed":
            raise r.RecordError(
                f"{LABEL} {jobId} is {job['status']}; approvals are taken only while proposed"
            )
        job["approvals"].append(facts)
        return await self._put(ctx, job, EVENTS["approve"])

    async def StartJob(self, ctx: TransactionContext, jobId: str) -> str:
        """Move a fully approved job from proposed to running; returns the job."""
        job = await self._job(ctx, jobId)
        if job["status"] != "proposed":
            raise r.RecordError(
                f"{LABEL} {jobId} is {job['status']}; only a proposed job can be started"
            )
        missing = _missing(job)
        if missing:
            raise r.RecordError(f"{LABEL} {jobId} lacks approvals from {', '.join(missing)}")
        job["status"] = "running"
        return await self._put(ctx, job, EVENTS["start"])

    async def PromoteModel(self, ctx: TransactionContext, promotionJSON: str) -> str:
        """Deploy a model version a running job produced; returns the deployment record.

        Every check reads the ledger (this chaincode, `models`, `rounds`), so a
        promotion commits only against the lineage it was checked with.
        """
        request = parse_promotion(promotionJSON)
        job_id, ref = request["job"], request["model"]
        job = await self._job(ctx, job_id)
        if job["status"] != "running":
            raise r.RecordError(
                f"{LABEL} {job_id} is {job['status']}; only a running job's model can be promoted"
            )
        model_id, number = r.parse_ref(ref) or ("", 0)
        model = await _called(ctx, "models", ["GetModel", model_id, str(number)])
        if model is None:
            raise r.RecordError(
                f"promotion record: field 'model' names model {ref}, which does not exist"
            )
        if model_id != job["model"]:
            raise r.RecordError(
                f"model {ref} is not job {job_id}'s model: the job trains {job['model']}"
            )
        last = await self._last_round(ctx, job)
        if model["weightsRoot"] != last["globalAfter"]:
            raise r.RecordError(
                f"model {ref} has weightsRoot {model['weightsRoot']}, not the globalAfter "
                f"{last['globalAfter']} of job {job_id}'s last round {last['round']}"
            )
        for dataset in model["datasets"]:
            if dataset not in job["datasets"]:
                raise r.RecordError(
                    f"model {ref} was trained on dataset {dataset}, which job {job_id} does not "
                    f"name (its datasets: {', '.join(job['datasets'])})"
                )
        metric, minimum = job["threshold"]["metric"], job["threshold"]["min"]
        value = model["metrics"].get(metric)
        if value is None:
            raise r.RecordError(
                f"model {ref} records no metric '{metric}', which job {job_id}'s threshold needs"
            )
        if value < minimum:
            raise r.RecordError(
                f"model {ref} has {metric} = {value}, below job {job_id}'s threshold {minimum}"
            )
        deployment: dict[str, Any] = {
            "id": model_id,
            "model": ref,
            "version": number,
            "job": job_id,
            "weightsRoot": model["weightsRoot"],
            "threshold": job["threshold"],
            "value": value,
        }
        r.stamp(ctx, deployment)
        stub = ctx.get_stub()
        body = r.canonical(deployment)
        await stub.put_state(deployment_key(model_id), body.encode("utf-8"))
        job["status"] = "deployed"
        await stub.put_state(job_key(job_id), r.canonical(job).encode("utf-8"))
        stub.set_event(EVENTS["promote"], deployment_key(model_id).encode("utf-8"))
        return body

    async def GetJob(self, ctx: TransactionContext, jobId: str) -> str:
        """One job's record."""
        r.check_id(LABEL, jobId)
        raw = await ctx.get_stub().get_state(job_key(jobId))
        if not raw:
            raise r.RecordError(f"{LABEL} {jobId} does not exist.")
        return bytes(raw).decode("utf-8")

    async def ListJobs(self, ctx: TransactionContext) -> str:
        """Every job, in id order, as a JSON array."""
        bodies = [
            bytes(kv.value).decode("utf-8")
            async for kv in await ctx.get_stub().get_state_by_range(f"{KIND}/", f"{KIND}0")
        ]
        return "[" + ",".join(bodies) + "]"

    async def GetDeployment(self, ctx: TransactionContext, modelId: str) -> str:
        """The current deployment of a model id (the newest promotion)."""
        r.check_id("Model", modelId)
        raw = await ctx.get_stub().get_state(deployment_key(modelId))
        if not raw:
            raise r.RecordError(f"Deployment of model {modelId} does not exist.")
        return bytes(raw).decode("utf-8")

    async def _job(self, ctx: TransactionContext, job_id: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(await self.GetJob(ctx, job_id))
        return found

    async def _last_round(self, ctx: TransactionContext, job: dict[str, Any]) -> dict[str, Any]:
        """Round job.rounds, after checking rounds 1..job.rounds are all recorded."""
        recorded = await _called(ctx, "rounds", ["ListRounds", job["id"]]) or []
        by_number = {int(item["round"]): item for item in recorded}
        for number in range(1, job["rounds"] + 1):
            if number not in by_number:
                raise r.RecordError(
                    f"{LABEL} {job['id']} has no round {number} recorded; rounds 1 to "
                    f"{job['rounds']} must all be recorded before its model is promoted"
                )
        last: dict[str, Any] = by_number[job["rounds"]]
        return last

    async def _put(self, ctx: TransactionContext, job: dict[str, Any], event: str) -> str:
        stub = ctx.get_stub()
        key = job_key(job["id"])
        body = r.canonical(job)
        await stub.put_state(key, body.encode("utf-8"))
        stub.set_event(event, key.encode("utf-8"))
        return body
