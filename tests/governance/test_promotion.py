"""PromoteModel: a model is deployed only when the ledger holds its whole lineage.

Each refusal breaks exactly one link of an otherwise complete lineage (job,
every round, weights root = last globalAfter, the job's data, the metric)
and must name that link and change nothing; the complete one is accepted.
Model digests are computed from real tensors in `records.model_digest`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import tensorledger as tl
from tensorledger import governance
from tensorledger.errors import NotFoundError
from tensorledger.ledger.network import EmbeddedNetwork
from tensorledger.ledger.verify import verify_channel
from tensorledger.registry import TensorRecord, register_checkpoint
from tests.contracts.ledgers import Net
from tests.contracts.records import h, uid
from tests.governance.records import (
    job,
    js,
    model_digest,
    record_rounds,
    round_record,
    running_job,
    state,
    tensor_digest,
    weights,
)

CC = "governance"


@dataclass
class Lineage:
    job: dict[str, Any]
    digests: list[str]  # global model after round 0 (initial), 1, ..., job.rounds

    @property
    def id(self) -> str:
        return str(self.job["id"])


def lineage(net: Net, rounds: int = 2, record: int | None = None) -> Lineage:
    """A running job whose rounds 1..record (default: all) are recorded over real weights."""
    started = running_job(net, rounds=rounds)
    digests = [model_digest(weights(seed)) for seed in range(rounds + 1)]
    record_rounds(net, started["id"], digests[: (rounds if record is None else record) + 1])
    return Lineage(started, digests)


def checkpoint(
    net: Net,
    model_id: str,
    seed: int,
    *,
    datasets: tuple[str, ...] = ("cohort@1",),
    metrics: dict[str, float] | None = None,
    org: str = "Org1",
) -> str:
    """Register the weights of `weights(seed)` as the next checkpoint of `model_id`; its ref."""
    tensors = weights(seed)
    record = register_checkpoint(
        net.gws[org],
        model_id,
        architecture=hashlib.sha256(b'{"class_name": "Sequential"}').hexdigest(),
        weights=hashlib.sha256(b"".join(a.tobytes() for _, a in tensors)).hexdigest(),
        weights_root=model_digest(tensors),
        tensors=[
            TensorRecord(name, a.shape, a.dtype.name, tensor_digest(a)) for name, a in tensors
        ],
        datasets=list(datasets),
        framework="keras-3.15",
        metrics={"accuracy": 0.91, "loss": 0.2} if metrics is None else metrics,
    )
    return record.ref


def promote(net: Net, job_id: str, ref: str, org: str = "Org2") -> tl.SubmitResult:
    return net.contract(org, CC).submit("PromoteModel", js({"job": job_id, "model": ref}))


def test_a_complete_lineage_is_promoted_and_the_job_deployed(net: Net) -> None:
    line = lineage(net, rounds=3)
    ref = checkpoint(net, line.job["model"], seed=3)  # the weights round 3 produced
    model_id = line.job["model"]
    res = promote(net, line.id, ref, org="Org3")
    deployed = json.loads(res.payload)
    assert {k: deployed[k] for k in ("id", "model", "version", "job", "weightsRoot", "value")} == {
        "id": model_id,
        "model": ref,
        "version": 1,
        "job": line.id,
        "weightsRoot": line.digests[3],
        "value": 0.91,
    }
    assert deployed["threshold"] == {"metric": "accuracy", "min": 0.8}
    assert (deployed["owner"], deployed["txId"]) == ("Org3MSP", res.tx_id)
    gov = net.contract("Org1", CC)
    assert gov.evaluate("GetDeployment", model_id) == res.payload
    assert json.loads(gov.evaluate("GetJob", line.id))["status"] == "deployed"
    # deployed is final: no more rounds, no second promotion from the same job
    before = state(net, line.id, model_id)
    with pytest.raises(tl.ContractError) as err:
        promote(net, line.id, ref)
    assert err.value.message == (
        f"Job {line.id} is deployed; only a running job's model can be promoted"
    )
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", "rounds").submit(
            "RecordRound", js(round_record(line.id, 3, line.digests[2], line.digests[3]))
        )
    assert err.value.message == (
        f"Job {line.id} is deployed; rounds are recorded only while it is running"
    )
    assert state(net, line.id, model_id) == before


def test_a_later_job_redeploys_a_model_id_and_history_keeps_the_first(net: Net) -> None:
    first = lineage(net, rounds=1)
    model_id = first.job["model"]
    promote(net, first.id, checkpoint(net, model_id, seed=1))
    second = running_job(net, rounds=1, model=model_id)
    digests = [model_digest(weights(seed)) for seed in (1, 7)]
    record_rounds(net, second["id"], digests)
    ref = checkpoint(net, model_id, seed=7)
    assert ref == f"{model_id}@2"
    promote(net, second["id"], ref)
    deployment = governance.get_deployment(net.gws["Org3"], model_id)
    assert (deployment.model, deployment.job, deployment.weights_root) == (
        ref,
        second["id"],
        digests[1],
    )


# -- each lineage gap: (how to break it, the refusal it must get) -------------------------------


def _missing_round(net: Net) -> tuple[Lineage, str, str]:
    line = lineage(net, rounds=3, record=2)
    ref = checkpoint(net, line.job["model"], seed=2)
    return (
        line,
        ref,
        (
            f"Job {line.id} has no round 3 recorded; rounds 1 to 3 must all be recorded "
            "before its model is promoted"
        ),
    )


def _no_rounds(net: Net) -> tuple[Lineage, str, str]:
    line = lineage(net, rounds=2, record=0)
    ref = checkpoint(net, line.job["model"], seed=0)
    return (
        line,
        ref,
        f"Job {line.id} has no round 1 recorded; rounds 1 to 2 must all be recorded",
    )


def _other_weights(net: Net) -> tuple[Lineage, str, str]:
    line = lineage(net)
    ref = checkpoint(net, line.job["model"], seed=1)  # round 1's weights, not round 2's
    return (
        line,
        ref,
        (
            f"model {ref} has weightsRoot {line.digests[1]}, not the globalAfter "
            f"{line.digests[2]} of job {line.id}'s last round 2"
        ),
    )


def _one_tensor_changed(net: Net) -> tuple[Lineage, str, str]:
    line = lineage(net)
    tensors = weights(2)
    tensors[1][1][0] += 1e-3  # one bias of the final weights differs
    model_id = line.job["model"]
    ref = register_checkpoint(
        net.gws["Org1"], model_id, architecture=h("arch"), weights=h("w"),
        weights_root=model_digest(tensors),
        tensors=[TensorRecord(n, a.shape, a.dtype.name, tensor_digest(a)) for n, a in tensors],
        datasets=["cohort@1"], framework="keras-3.15", metrics={"accuracy": 0.99},
    ).ref  # fmt: skip
    return line, ref, f"model {ref} has weightsRoot {model_digest(tensors)}, not the globalAfter"


def _foreign_dataset(net: Net) -> tuple[Lineage, str, str]:
    line = lineage(net)
    ref = checkpoint(net, line.job["model"], seed=2, datasets=("cohort@1", "other@1"))
    return (
        line,
        ref,
        (
            f"model {ref} was trained on dataset other@1, which job {line.id} does not name "
            "(its datasets: cohort@1)"
        ),
    )


def _below_threshold(net: Net) -> tuple[Lineage, str, str]:
    line = lineage(net)
    ref = checkpoint(net, line.job["model"], seed=2, metrics={"accuracy": 0.79})
    return line, ref, f"model {ref} has accuracy = 0.79, below job {line.id}'s threshold 0.8"


def _metric_missing(net: Net) -> tuple[Lineage, str, str]:
    line = lineage(net)
    ref = checkpoint(net, line.job["model"], seed=2, metrics={"auc": 0.99})
    return (
        line,
        ref,
        f"model {ref} records no metric 'accuracy', which job {line.id}'s threshold needs",
    )


def _wrong_model_id(net: Net) -> tuple[Lineage, str, str]:
    line = lineage(net)
    ref = checkpoint(net, uid("impostor"), seed=2)  # the very weights, under another id
    return (
        line,
        ref,
        f"model {ref} is not job {line.id}'s model: the job trains {line.job['model']}",
    )


def _unregistered_version(net: Net) -> tuple[Lineage, str, str]:
    line = lineage(net)
    ref = f"{line.job['model']}@1"
    return line, ref, f"promotion record: field 'model' names model {ref}, which does not exist"


def _job_not_started(net: Net) -> tuple[Lineage, str, str]:
    job_id = uid("job")
    net.contract("Org1", CC).submit("ProposeJob", js(job(job_id)))
    line = Lineage(json.loads(net.contract("Org1", CC).evaluate("GetJob", job_id)), [])
    ref = checkpoint(net, line.job["model"], seed=2)
    return line, ref, f"Job {job_id} is proposed; only a running job's model can be promoted"


GAPS: dict[str, Callable[[Net], tuple[Lineage, str, str]]] = {
    "missing round": _missing_round,
    "no rounds at all": _no_rounds,
    "weights root is an earlier round's": _other_weights,
    "one tensor differs": _one_tensor_changed,
    "dataset not in the job": _foreign_dataset,
    "metric below threshold": _below_threshold,
    "metric not recorded": _metric_missing,
    "wrong model id": _wrong_model_id,
    "model version not registered": _unregistered_version,
    "job not running": _job_not_started,
}


@pytest.mark.parametrize("gap", list(GAPS))
def test_each_lineage_gap_is_refused_by_name_and_changes_nothing(net: Net, gap: str) -> None:
    line, ref, expected = GAPS[gap](net)
    model_id = ref.partition("@")[0]
    before = state(net, line.id, model_id)
    with pytest.raises(tl.ContractError) as err:
        promote(net, line.id, ref)
    assert err.value.message.startswith(expected), err.value.message
    assert state(net, line.id, model_id) == before
    assert before[2] == f"Deployment of model {model_id} does not exist."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", "promotion record: missing required field 'job'"),
        ('{"job": "j"}', "promotion record: missing required field 'model'"),
        (
            '{"job": "j", "model": "m"}',
            "promotion record: field 'model' must be a reference 'id@version'",
        ),
        ('{"job": "j", "model": "m@1", "force": true}', "promotion record: unknown field 'force'"),
        ('["j", "m@1"]', "promotion record must be a JSON object, got an array"),
        ("j m@1", "promotion record is not valid JSON"),
        ('{"job": "j", "model": "m@1"}', "Job j does not exist."),
    ],
)
def test_malformed_promotion_requests(net: Net, text: str, expected: str) -> None:
    height = net.height()
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", CC).submit("PromoteModel", text)
    assert err.value.message.startswith(expected)
    assert net.height() == height


def test_client_promote_resolves_a_bare_id_and_maps_not_found(net: Net) -> None:
    gw = net.gws["Org1"]
    line = lineage(net, rounds=1)
    model_id = line.job["model"]
    with pytest.raises(NotFoundError, match=f"Deployment of model {model_id} does not exist"):
        governance.get_deployment(gw, model_id)
    with pytest.raises(NotFoundError, match=f"model {model_id} is not registered"):
        governance.promote_model(gw, line.id, model_id)
    checkpoint(net, model_id, seed=1)
    deployment = governance.promote_model(gw, line.id, model_id)  # newest version
    assert (deployment.model, deployment.version, deployment.value) == (f"{model_id}@1", 1, 0.91)
    assert governance.get_deployment(gw, model_id) == deployment
    assert deployment.to_dict() == json.loads(
        net.contract("Org2", CC).evaluate("GetDeployment", model_id)
    )
    assert governance.get_job(gw, line.id).status == "deployed"


def test_racing_promotions_of_one_job_commit_once(net: Net, network: EmbeddedNetwork) -> None:
    # Both endorsed while the job runs; the first commit deploys it, so MVCC must refuse the
    # second (its read of the job is stale) rather than deploy twice.
    line = lineage(net, rounds=1)
    ref = checkpoint(net, line.job["model"], seed=1)
    request = [js({"job": line.id, "model": ref})]
    ch = network.channel("mychannel")
    first = ch.endorse(network.identity("Org1"), CC, "PromoteModel", request)
    second = ch.endorse(network.identity("Org2"), CC, "PromoteModel", request)
    ch.commit_envelope(first)
    with pytest.raises(tl.MVCCConflictError):
        ch.commit_envelope(second)
    history = json.loads(net.contract("Org3", CC).evaluate("GetDeployment", line.job["model"]))
    assert history["owner"] == "Org1MSP"


def test_racing_records_of_one_round_commit_once(net: Net, network: EmbeddedNetwork) -> None:
    line = lineage(net, rounds=2, record=0)
    ch = network.channel("mychannel")
    envelopes = [
        ch.endorse(
            network.identity(org), "rounds", "RecordRound",
            [js(round_record(line.id, 1, line.digests[0], after))],
        )
        for org, after in (("Org1", line.digests[1]), ("Org2", h("a different global model")))
    ]  # fmt: skip
    ch.commit_envelope(envelopes[0])
    with pytest.raises(tl.MVCCConflictError):
        ch.commit_envelope(envelopes[1])
    stored = json.loads(net.contract("Org3", "rounds").evaluate("GetRound", line.id, "1"))
    assert stored["globalAfter"] == line.digests[1]


def test_ledger_verifies_after_every_refusal_and_race(net: Net) -> None:
    # Runs last in this module: every commit and MVCC loser above left a chain that replays.
    report = verify_channel(net.path, "mychannel")
    assert report.ok, report.findings
