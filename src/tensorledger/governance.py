"""Federated training jobs on the ledger: propose, approve, start, record rounds, promote.

Talks to the `governance` and `rounds` chaincodes through the public gateway
API. The contracts make every decision; this module shapes requests, turns
records into frozen values, and maps "does not exist." to NotFoundError.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from tensorledger.errors import ContractError, InvalidRequestError, NotFoundError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry.datasets import resolve_dataset
from tensorledger.registry.models import resolve_model

#: chaincode names
GOVERNANCE = "governance"
ROUNDS = "rounds"

T = TypeVar("T")


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _parse(kind: str, build: Callable[[Mapping[str, Any]], T], data: Any) -> T:
    """Build a value from a record; a record of the wrong shape is one InvalidRequestError."""
    try:
        raw = json.loads(data) if isinstance(data, (str, bytes)) else data
        return build(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidRequestError(f"{kind} record is malformed: {exc!r}") from None


def _number(value: Any) -> float:
    """A JSON number as stored (an int stays an int, so to_dict gives back the same JSON)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return value


def _stamps(value: Job | Deployment | Round) -> dict[str, str]:
    return {
        "owner": value.owner,
        "registeredBy": value.registered_by,
        "txId": value.tx_id,
        "timestamp": value.timestamp,
    }


@dataclass(frozen=True)
class Approval:
    """One organisation's approval of a job, with the transaction that carried it."""

    msp: str
    tx_id: str
    timestamp: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Approval:
        """From the job record's {msp, txId, timestamp} entry."""
        return cls(str(data["msp"]), str(data["txId"]), str(data["timestamp"]))

    def to_dict(self) -> dict[str, str]:
        """The job record's {msp, txId, timestamp} entry."""
        return {"msp": self.msp, "txId": self.tx_id, "timestamp": self.timestamp}


@dataclass(frozen=True)
class Job:
    """A federated training job as the `governance` chaincode holds it."""

    id: str
    model: str
    datasets: tuple[str, ...]
    rounds: int
    aggregation: str
    aggregation_params: Mapping[str, Any]
    dp: Mapping[str, Any]
    approvers: tuple[str, ...]
    threshold_metric: str
    threshold_min: float
    description: str | None
    status: str  # proposed | running | deployed
    approvals: tuple[Approval, ...]
    owner: str
    registered_by: str
    tx_id: str
    timestamp: str

    @property
    def missing_approvals(self) -> tuple[str, ...]:
        """Approvers that have not approved yet, in the order the job lists them."""
        approved = {a.msp for a in self.approvals}
        return tuple(m for m in self.approvers if m not in approved)

    @classmethod
    def from_dict(cls, data: Any) -> Job:
        """From the stored job record (a JSON object, text or bytes)."""

        def build(d: Mapping[str, Any]) -> Job:
            return cls(
                id=str(d["id"]),
                model=str(d["model"]),
                datasets=tuple(str(x) for x in d["datasets"]),
                rounds=int(d["rounds"]),
                aggregation=str(d["aggregation"]["method"]),
                aggregation_params=_frozen(d["aggregation"]["params"]),
                dp=_frozen(d["dp"]),
                approvers=tuple(str(x) for x in d["approvers"]),
                threshold_metric=str(d["threshold"]["metric"]),
                threshold_min=_number(d["threshold"]["min"]),
                description=None if d["description"] is None else str(d["description"]),
                status=str(d["status"]),
                approvals=tuple(Approval.from_dict(a) for a in d["approvals"]),
                owner=str(d["owner"]),
                registered_by=str(d["registeredBy"]),
                tx_id=str(d["txId"]),
                timestamp=str(d["timestamp"]),
            )

        return _parse("job", build, data)

    def to_dict(self) -> dict[str, Any]:
        """The record as the contract stores it (camelCase JSON object)."""
        return {
            "id": self.id,
            "model": self.model,
            "datasets": list(self.datasets),
            "rounds": self.rounds,
            "aggregation": {"method": self.aggregation, "params": dict(self.aggregation_params)},
            "dp": dict(self.dp),
            "approvers": list(self.approvers),
            "threshold": {"metric": self.threshold_metric, "min": self.threshold_min},
            "description": self.description,
            "status": self.status,
            "approvals": [a.to_dict() for a in self.approvals],
            **_stamps(self),
        }


@dataclass(frozen=True)
class Deployment:
    """The promotion of one model version out of a job: what is live for a model id."""

    model_id: str
    model: str  # 'id@version'
    version: int
    job: str
    weights_root: str
    threshold_metric: str
    threshold_min: float
    value: float  # the model's metric that met the threshold
    owner: str
    registered_by: str
    tx_id: str
    timestamp: str

    @classmethod
    def from_dict(cls, data: Any) -> Deployment:
        """From the stored deployment record."""

        def build(d: Mapping[str, Any]) -> Deployment:
            return cls(
                model_id=str(d["id"]),
                model=str(d["model"]),
                version=int(d["version"]),
                job=str(d["job"]),
                weights_root=str(d["weightsRoot"]),
                threshold_metric=str(d["threshold"]["metric"]),
                threshold_min=_number(d["threshold"]["min"]),
                value=_number(d["value"]),
                owner=str(d["owner"]),
                registered_by=str(d["registeredBy"]),
                tx_id=str(d["txId"]),
                timestamp=str(d["timestamp"]),
            )

        return _parse("deployment", build, data)

    def to_dict(self) -> dict[str, Any]:
        """The record as the contract stores it."""
        return {
            "id": self.model_id,
            "model": self.model,
            "version": self.version,
            "job": self.job,
            "weightsRoot": self.weights_root,
            "threshold": {"metric": self.threshold_metric, "min": self.threshold_min},
            "value": self.value,
            **_stamps(self),
        }


@dataclass(frozen=True)
class RoundUpdate:
    """One client's contribution to a round: its update's digest and stored object."""

    client: str
    msp: str
    update_root: str  # model digest of the update's tensors (secure: SHA-256 of its masked vector)
    update_object: str  # blob store object holding them (safetensors; secure: the masked vector)
    num_examples: int
    metrics: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoundUpdate:
        """From a round record's update entry."""
        return cls(
            client=str(data["client"]),
            msp=str(data["msp"]),
            update_root=str(data["updateRoot"]),
            update_object=str(data["updateObject"]),
            num_examples=int(data["numExamples"]),
            metrics=_frozen(data["metrics"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The record's update entry."""
        return {
            "client": self.client,
            "msp": self.msp,
            "updateRoot": self.update_root,
            "updateObject": self.update_object,
            "numExamples": self.num_examples,
            "metrics": dict(self.metrics),
        }


@dataclass(frozen=True)
class Round:
    """One recorded federated round of a job."""

    job: str
    round: int
    global_before: str
    global_after: str
    aggregation: str
    aggregation_params: Mapping[str, Any]
    updates: tuple[RoundUpdate, ...]
    metrics: Mapping[str, Any]
    dp: Mapping[str, Any]
    owner: str
    registered_by: str
    tx_id: str
    timestamp: str
    #: secagg session ids of a secure_fedavg round (empty otherwise); see docs/design/federated.md
    secagg: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Any) -> Round:
        """From the stored round record."""

        def build(d: Mapping[str, Any]) -> Round:
            return cls(
                job=str(d["job"]),
                round=int(d["round"]),
                global_before=str(d["globalBefore"]),
                global_after=str(d["globalAfter"]),
                aggregation=str(d["aggregation"]["method"]),
                aggregation_params=_frozen(d["aggregation"]["params"]),
                updates=tuple(RoundUpdate.from_dict(u) for u in d["updates"]),
                metrics=_frozen(d["metrics"]),
                dp=_frozen(d["dp"]),
                owner=str(d["owner"]),
                registered_by=str(d["registeredBy"]),
                tx_id=str(d["txId"]),
                timestamp=str(d["timestamp"]),
                secagg=tuple(str(x) for x in d.get("secagg", ())),
            )

        return _parse("round", build, data)

    def to_dict(self) -> dict[str, Any]:
        """The record as the contract stores it."""
        return {
            "job": self.job,
            "round": self.round,
            "globalBefore": self.global_before,
            "globalAfter": self.global_after,
            "aggregation": {"method": self.aggregation, "params": dict(self.aggregation_params)},
            "updates": [u.to_dict() for u in self.updates],
            "metrics": dict(self.metrics),
            "dp": dict(self.dp),
            **({"secagg": list(self.secagg)} if self.secagg else {}),
            **_stamps(self),
        }


# -- jobs -------------------------------------------------------------------------------------


def propose_job(
    gw: Gateway,
    job_id: str,
    *,
    model: str,
    datasets: Sequence[str],
    rounds: int,
    aggregation: str,
    aggregation_params: Mapping[str, Any] | None = None,
    dp: Mapping[str, Any] | None = None,
    approvers: Sequence[str],
    threshold_metric: str,
    threshold_min: float,
    description: str | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> Job:
    """Propose a job; it runs only after every approver has approved it.

    Dataset references may be bare ids (their newest version), resolved to
    'id@v' here; NotFoundError if one is not registered. ContractError
    carries the contract's refusal of any other field.
    """
    record = {
        "id": job_id,
        "model": model,
        "datasets": [resolve_dataset(gw, d, channel=channel).ref for d in datasets],
        "rounds": rounds,
        "aggregation": {"method": aggregation, "params": dict(aggregation_params or {})},
        "dp": dict(dp or {}),
        "approvers": list(approvers),
        "threshold": {"metric": threshold_metric, "min": threshold_min},
        "description": description,
    }
    return Job.from_dict(_submit(gw, channel, GOVERNANCE, "ProposeJob", json.dumps(record)))


def approve_job(gw: Gateway, job_id: str, *, channel: str = DEFAULT_CHANNEL) -> Job:
    """Approve a proposed job as the gateway's organisation; returns the job."""
    return Job.from_dict(_submit(gw, channel, GOVERNANCE, "ApproveJob", job_id, lookup=True))


def start_job(gw: Gateway, job_id: str, *, channel: str = DEFAULT_CHANNEL) -> Job:
    """Start a fully approved job (proposed → running); returns the job."""
    return Job.from_dict(_submit(gw, channel, GOVERNANCE, "StartJob", job_id, lookup=True))


def get_job(gw: Gateway, job_id: str, *, channel: str = DEFAULT_CHANNEL) -> Job:
    """A job; NotFoundError when there is none."""
    return Job.from_dict(_evaluate(gw, channel, GOVERNANCE, "GetJob", job_id))


def list_jobs(gw: Gateway, *, channel: str = DEFAULT_CHANNEL) -> list[Job]:
    """Every job, sorted by id."""
    raw = gw.network(channel).contract(GOVERNANCE).evaluate("ListJobs")
    return [Job.from_dict(j) for j in json.loads(raw)]


def promote_model(
    gw: Gateway, job_id: str, model_ref: str, *, channel: str = DEFAULT_CHANNEL
) -> Deployment:
    """Promote a model version the job produced (a bare id means its newest version).

    The contract refuses (ContractError naming the first failed check) unless
    the job is running, every round is recorded, the model's weights root is
    the last round's global model, its data is the job's and its metric meets
    the job's threshold. NotFoundError if the model is not registered.
    """
    ref = resolve_model(gw, model_ref, channel=channel).ref
    request = json.dumps({"job": job_id, "model": ref})
    return Deployment.from_dict(_submit(gw, channel, GOVERNANCE, "PromoteModel", request))


def get_deployment(gw: Gateway, model_id: str, *, channel: str = DEFAULT_CHANNEL) -> Deployment:
    """The current deployment of a model id; NotFoundError when it was never promoted."""
    raw = _evaluate(gw, channel, GOVERNANCE, "GetDeployment", model_id)
    return Deployment.from_dict(raw)


# -- rounds -----------------------------------------------------------------------------------


def record_round(
    gw: Gateway,
    *,
    job: str,
    round: int,  # noqa: A002  # the record's own field name
    global_before: str,
    global_after: str,
    aggregation: str,
    aggregation_params: Mapping[str, Any],
    updates: Sequence[RoundUpdate],
    metrics: Mapping[str, Any] | None = None,
    dp: Mapping[str, Any] | None = None,
    secagg: Sequence[str] = (),
    channel: str = DEFAULT_CHANNEL,
) -> Round:
    """Record one round of a running job, chained to the previous round's global model.

    ``secagg`` names the secure-aggregation sessions of a ``secure_fedavg``
    round, whose updates are then masked contributions, not plain tensors.
    """
    record = {
        "job": job,
        "round": round,
        "globalBefore": global_before,
        "globalAfter": global_after,
        "aggregation": {"method": aggregation, "params": dict(aggregation_params)},
        "updates": [u.to_dict() for u in updates],
        "metrics": dict(metrics or {}),
        "dp": dict(dp or {}),
    }
    if secagg:
        record["secagg"] = list(secagg)
    return Round.from_dict(_submit(gw, channel, ROUNDS, "RecordRound", json.dumps(record)))


def get_round(
    gw: Gateway,
    job: str,
    round: int,  # noqa: A002  # the record's own field name
    *,
    channel: str = DEFAULT_CHANNEL,
) -> Round:
    """Round `round` of a job; NotFoundError when it is not recorded."""
    return Round.from_dict(_evaluate(gw, channel, ROUNDS, "GetRound", job, str(round)))


def list_rounds(gw: Gateway, job: str, *, channel: str = DEFAULT_CHANNEL) -> list[Round]:
    """Every recorded round of a job, in round order ([] when none is)."""
    raw = gw.network(channel).contract(ROUNDS).evaluate("ListRounds", job)
    return sorted((Round.from_dict(r) for r in json.loads(raw)), key=lambda r: r.round)


# -- transport --------------------------------------------------------------------------------


def _not_found(exc: ContractError) -> NotFoundError | ContractError:
    """NotFoundError for the contracts' "... does not exist." answers, the error otherwise."""
    if exc.message.endswith("does not exist."):
        return NotFoundError(exc.message)
    return exc


def _submit(
    gw: Gateway, channel: str, chaincode: str, function: str, *args: str, lookup: bool = False
) -> bytes:
    """Submit and return the payload; with `lookup`, a missing job becomes NotFoundError."""
    try:
        return gw.network(channel).contract(chaincode).submit(function, *args).payload
    except ContractError as exc:
        raise (_not_found(exc) if lookup else exc) from None


def _evaluate(gw: Gateway, channel: str, chaincode: str, function: str, *args: str) -> bytes:
    try:
        return gw.network(channel).contract(chaincode).evaluate(function, *args)
    except ContractError as exc:
        raise _not_found(exc) from None


__all__ = [
    "GOVERNANCE",
    "ROUNDS",
    "Approval",
    "Deployment",
    "Job",
    "Round",
    "RoundUpdate",
    "approve_job",
    "get_deployment",
    "get_job",
    "get_round",
    "list_jobs",
    "list_rounds",
    "promote_model",
    "propose_job",
    "record_round",
    "start_job",
]
