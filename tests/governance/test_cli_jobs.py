"""`tensorledger job ...` and `model promote`: output, --json, one-line errors, exit codes."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner, Result

from tests.contracts.ledgers import Net
from tests.contracts.records import uid
from tests.governance.records import (
    js,
    model_digest,
    record_rounds,
    round_record,
    running_job,
    weights,
)
from tests.governance.test_promotion import checkpoint

runner = CliRunner(
    env={"TENSORLEDGER_LEDGER": None, "TENSORLEDGER_IDENTITY": None, "TENSORLEDGER_CHANNEL": None}
)


def cli(net: Net, *args: str, org: str = "Org1") -> Result:
    from tensorledger.cli import app

    return runner.invoke(app, ["--ledger", str(net.path), "--identity", org, *args])


def ok(net: Net, *args: str, org: str = "Org1") -> Result:
    result = cli(net, *args, org=org)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def as_json(net: Net, *args: str, org: str = "Org1") -> Any:
    return json.loads(ok(net, *args, "--json", org=org).stdout)


def one_error_line(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def propose_args(job_id: str, *extra: str) -> list[str]:
    return [
        "job", "propose", job_id, "--model", "cancer-net", "-d", "cohort", "--dataset", "other@1",
        "--rounds", "4", "--aggregation", "trimmed_mean", "--param", "trim=0.25",
        "--dp", "clip=1.5", "--dp", "noiseMultiplier=0.5", "-a", "Org2MSP", "--approver",
        "Org3MSP", "--metric", "auc", "--min", "0.85", "--description", "two hospitals", *extra,
    ]  # fmt: skip


def test_propose_approve_start_list_and_show(net: Net) -> None:
    j = uid("cli")
    proposed = as_json(net, *propose_args(j))
    assert proposed == json.loads(net.contract("Org2", "governance").evaluate("GetJob", j))
    assert {k: proposed[k] for k in ("model", "datasets", "rounds", "aggregation", "dp")} == {
        "model": "cancer-net",
        "datasets": ["cohort@1", "other@1"],  # a bare id resolves to its newest version
        "rounds": 4,
        "aggregation": {"method": "trimmed_mean", "params": {"trim": 0.25}},
        "dp": {"clip": 1.5, "noiseMultiplier": 0.5},
    }
    assert (proposed["approvers"], proposed["threshold"]) == (
        ["Org2MSP", "Org3MSP"],
        {"metric": "auc", "min": 0.85},
    )
    out = ok(net, "job", "approve", j, org="Org3").stdout
    assert f"job {j}: approved by Org3MSP; still waiting for Org2MSP" in out
    shown = ok(net, "job", "show", j).stdout
    for text in ("proposed", "cohort@1, other@1", "0 of 4 recorded", "auc ≥ 0.85", "Org2MSP"):
        assert text in shown, shown
    assert "start it" in ok(net, "job", "approve", j, org="Org2").stdout
    assert f"job {j}: running" in ok(net, "job", "start", j).stdout
    listed = {x["id"]: x for x in as_json(net, "job", "ls")}
    assert listed[j]["status"] == "running"
    assert j in ok(net, "job", "ls").stdout
    details = as_json(net, "job", "show", j)
    assert [a["msp"] for a in details["approvals"]] == ["Org3MSP", "Org2MSP"]
    assert details["recorded"] == []


def test_contract_refusals_are_one_line_with_exit_6(net: Net) -> None:
    j = uid("cli")
    ok(net, *propose_args(j))
    line = one_error_line(cli(net, "job", "approve", j, org="Org1"), 6)
    assert line == f"error: Org1MSP is not an approver of job {j} (approvers: Org2MSP, Org3MSP)"
    line = one_error_line(cli(net, "job", "start", j), 6)
    assert line == f"error: Job {j} lacks approvals from Org2MSP, Org3MSP"
    line = one_error_line(cli(net, *propose_args(j)), 6)
    assert line == f"error: Job {j} already exists; job ids are never reused"
    bad = propose_args(uid("cli"))
    bad[bad.index("--rounds") + 1] = "0"
    assert "field 'rounds' must be an integer from 1 to 10000" in one_error_line(cli(net, *bad), 6)


def test_not_found_and_bad_input_exit_codes(net: Net) -> None:
    missing = uid("none")
    for command in ("show", "approve", "start"):
        line = one_error_line(cli(net, "job", command, missing), 8)
        assert line == f"error: Job {missing} does not exist."
    args = propose_args(uid("cli"))
    args[args.index("cohort")] = "nope"
    assert "nope" in one_error_line(cli(net, *args), 8)
    args = propose_args(uid("cli"), "--param", "trim")
    assert one_error_line(cli(net, *args), 3) == "error: --param 'trim' is not NAME=VALUE"
    args = propose_args(uid("cli"), "--dp", "clip=one")
    assert one_error_line(cli(net, *args), 3) == "error: --dp clip='one': the value is not JSON"


def test_model_promote_deploys_a_complete_lineage_and_refuses_a_gap(net: Net) -> None:
    job = running_job(net, rounds=2)
    model_id = job["model"]
    record_rounds(net, job["id"], [model_digest(weights(seed)) for seed in range(2)])  # 1 of 2
    ref = checkpoint(net, model_id, seed=1)
    line = one_error_line(cli(net, "model", "promote", ref, "--job", job["id"]), 6)
    assert line.startswith(f"error: Job {job['id']} has no round 2 recorded")
    c = net.contract("Org1", "rounds")
    after = model_digest(weights(1))  # round 2 left the model as it was
    c.submit("RecordRound", js(round_record(job["id"], 2, after, after)))
    out = ok(net, "model", "promote", model_id, "--job", job["id"], org="Org2").stdout
    assert f"deployed model {ref} from job {job['id']}" in " ".join(out.split())
    assert "accuracy = 0.91 ≥ 0.8" in " ".join(out.split())
    deployed = json.loads(net.contract("Org3", "governance").evaluate("GetDeployment", model_id))
    assert (deployed["model"], deployed["owner"]) == (ref, "Org2MSP")
    line = one_error_line(cli(net, "model", "promote", f"{model_id}@9", "--job", job["id"]), 8)
    assert f"{model_id}@9" in line
