"""Three hospitals, one model, no shared rows: federated training governed on the ledger.

Each hospital registers its own shard of a breast-cancer dataset. Org1
proposes training jobs that run only once all three have approved; one
hospital's client is poisoned, which drags FedAvg off and which the median
rule resists; Org2 re-verifies every round bit for bit; the final model is
registered with complete lineage and promoted; a securely aggregated round
hides each update even from the aggregator; a DP mean is released against a
privacy budget; and a pooled OLS is computed by secure aggregation and
checked against statsmodels on the pooled rows.

    python examples/federated.py --dir ./consortium
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parse

ORGS = ("Org1", "Org2", "Org3")
MODEL = "tumour-fl"
HOSPITALS = {"Org1": "hospital-a", "Org2": "hospital-b", "Org3": "hospital-c"}


def _refs(node: dict[str, Any]) -> list[str]:
    return [node["ref"], *(ref for child in node["children"] for ref in _refs(child))]


def sign_flip(sent: list[Any], trained: list[Any]) -> list[Any]:
    """A dishonest hospital: the global weights moved ten times its honest step backwards."""
    return [s - 10 * (t - s) for s, t in zip(sent, trained, strict=True)]


def accuracy(weights: list[Any], x: Any, y: Any) -> float:
    """Held-out accuracy of logistic weights ``[kernel (d, 1), bias (1,)]``, with numpy."""
    import numpy as np

    logits = x @ np.asarray(weights[0], dtype=np.float64)[:, 0] + float(weights[1][0])
    return float(np.mean((logits > 0) == (y > 0.5)))


@dataclass
class Consortium:
    """The three hospitals' gateways and data, and what the story prints to."""

    out: Any
    gws: dict[str, Any]
    shards: list[Any]
    held: tuple[Any, Any]
    rounds: int
    epochs: int
    model_fn: Any
    refs: dict[str, str] = field(default_factory=dict)


def load(args: Any) -> tuple[Any, list[Any], tuple[Any, Any]]:
    """Breast-cancer rows, standardised with agreed constants: three shards and a held-out 20 %."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.sample(frac=1.0, random_state=0)
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    features = [c for c in frame.columns if c != "target"]
    cut = int(0.8 * len(frame))
    mean, std = frame[features][:cut].mean(), frame[features][:cut].std()
    frame[features] = (frame[features] - mean) / std
    held = (
        frame[features][cut:].to_numpy(np.float64),
        frame["target"][cut:].to_numpy(np.float64),
    )
    bounds = np.linspace(0, cut, len(ORGS) + 1).astype(int)
    shards = [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    return frame.iloc[:cut], shards, held


def register(c: Consortium, directory: Path) -> None:
    """Each hospital registers its own shard through its own gateway."""
    from tensorledger import registry

    c.out.print("[bold]1. Each hospital registers its own shard[/bold]")
    for org, shard in zip(ORGS, c.shards, strict=True):
        csv = directory / f"{HOSPITALS[org]}.csv"
        shard.to_csv(csv, index=False)
        record = registry.add_dataset(c.gws[org], csv, HOSPITALS[org])
        c.refs[org] = record.ref
        c.out.print(f"  {c.gws[org].msp_id} registered {record.ref}: {record.rows} rows")


def govern(c: Consortium, job_id: str, method: str) -> None:
    """Org1 proposes the job; each hospital approves it through its own gateway."""
    from tensorledger import governance

    governance.propose_job(
        c.gws["Org1"],
        job_id,
        model=MODEL,
        datasets=list(c.refs.values()),
        rounds=c.rounds,
        aggregation=method,
        approvers=[gw.msp_id for gw in c.gws.values()],
        threshold_metric="accuracy",
        threshold_min=0.85,
        description=f"{method} over three hospitals",
    )
    for gw in c.gws.values():
        governance.approve_job(gw, job_id)
    job = governance.get_job(c.gws["Org1"], job_id)
    approvals = ", ".join(a.msp for a in job.approvals)
    c.out.print(f"  job {job_id} ({method}, {c.rounds} rounds) approved by {approvals}")


def train(c: Consortium, job_id: str, method: str, poison: dict[str, Any]) -> Any:
    """Run the job, each client streaming its own verified dataset."""
    from tensorledger.federated import ClientData, run_federated

    data = {
        org: ClientData.ledger(c.gws[org], c.refs[org], label="target", batch_size=16)
        for org in ORGS
    }
    return run_federated(
        c.gws,
        job_id=job_id,
        model_fn=c.model_fn,
        client_data=data,
        rounds=c.rounds,
        aggregation=method,
        epochs=c.epochs,
        poison=poison,
        evaluate=False,
    )


def promote(c: Consortium, job_id: str, final: Any) -> bool:
    """Register the final global model as a checkpoint of the job's data, promote it."""
    from tensorledger import governance, registry
    from tensorledger.tf.checkpoint import anchor_snapshot, snapshot

    c.out.print("[bold]5. The median model is registered and promoted[/bold]")
    model = c.model_fn()
    model.set_weights(final.weights)
    checkpoint = anchor_snapshot(
        c.gws["Org1"],
        snapshot(model),
        MODEL,
        datasets=list(c.refs.values()),
        metrics={"accuracy": accuracy(final.weights, *c.held)},
        tags={"job": job_id},
    )
    same = checkpoint.weights_root == final.rounds[-1].global_after
    c.out.print(f"  {checkpoint.ref}: weightsRoot is round {c.rounds}'s globalAfter: {same}")
    deployment = governance.promote_model(c.gws["Org2"], job_id, checkpoint.ref)
    c.out.print(f"  promoted {deployment.model} (accuracy {deployment.value:.3f})")
    tree = registry.lineage(c.gws["Org3"], checkpoint.ref).to_dict()
    named = sorted(ref for ref in _refs(tree) if ref in c.refs.values())
    c.out.print(f"  lineage of {tree['ref']}: {', '.join(named)}")
    return same and named == sorted(c.refs.values())


def secure_round(c: Consortium, job_id: str) -> bool:
    """A secure_fedavg job: the aggregator only ever sums masked contributions."""
    from tensorledger import governance
    from tensorledger.federated import verify_job

    c.out.print("[bold]6. A securely aggregated job: no party sees an update[/bold]")
    result = train(c, job_id, "secure_fedavg", {})
    record = governance.get_round(c.gws["Org1"], job_id, c.rounds)
    ok = bool(verify_job(c.gws["Org3"], job_id).final == result.digest)
    c.out.print(
        f"  held-out accuracy {accuracy(result.weights, *c.held):.3f}; sessions "
        f"{', '.join(record.secagg)}; verified by Org3MSP: {ok}"
    )
    return ok


def dp_release(c: Consortium) -> None:
    """hospital-a's owner sets a budget; a DP mean spends half of it."""
    from tensorledger import privacy

    c.out.print("[bold]7. A DP mean released against hospital-a's budget[/bold]")
    privacy.set_budget(c.gws["Org1"], HOSPITALS["Org1"], "1.0")
    released = privacy.release(
        c.gws["Org1"],
        c.refs["Org1"],
        statistic="mean",
        column="mean_radius",
        epsilon="0.5",
        bounds=(-4.0, 4.0),
    )
    budget = privacy.get_budget(c.gws["Org1"], HOSPITALS["Org1"])
    c.out.print(
        f"  mean_radius ≈ {released.value:.3f} at ε={released.epsilon}; "
        f"budget {budget.spent} of {budget.total} spent"
    )


def pooled_ols(c: Consortium, rows: Any) -> bool:
    """OLS over all three shards from securely summed XᵀX, Xᵀy; checked against statsmodels."""
    import numpy as np
    import statsmodels.api as sm

    from tensorledger import secagg

    c.out.print("[bold]8. Pooled OLS by secure aggregation[/bold]")
    columns = ["mean_texture", "mean_smoothness"]
    data = {
        org: (shard[columns].to_numpy(np.float64), shard["mean_radius"].to_numpy(np.float64))
        for org, shard in zip(ORGS, c.shards, strict=True)
    }
    pooled = secagg.pooled_ols(c.gws, data, "ols-radius")
    reference = sm.OLS(rows["mean_radius"], sm.add_constant(rows[columns])).fit()
    matches = bool(
        np.allclose(pooled.coefficients, reference.params.to_numpy(), rtol=1e-8, atol=1e-10)
        and np.allclose(pooled.standard_errors, reference.bse.to_numpy(), rtol=1e-6)
    )
    c.out.print(
        f"  β = {np.round(pooled.coefficients, 4).tolist()} over n={pooled.n}; "
        f"pooled OLS matches statsmodels: {matches}"
    )
    return matches


def main(argv: list[str] | None = None) -> int:
    """Register, govern, train (poisoned, robust, secure), verify, promote, release, pool."""
    args = parse(__doc__ or "", argv)
    import functools
    import logging

    import flwr.common.logger  # noqa: F401  (sets Flower's own level on import, so first)

    logging.getLogger("flwr").setLevel(logging.WARNING)  # its round log would bury the story

    from rich.console import Console

    import tensorledger as tl
    from tensorledger.federated import tabular_model, verify_job

    path = args.dir / "ledger"
    tl.init(path, ORGS)
    rows, shards, held = load(args)
    rounds, epochs = (2, 1) if args.small else (5, 2)
    model_fn = functools.partial(tabular_model, held[0].shape[1], learning_rate=0.1, seed=0)
    gws = {org: tl.connect(path, identity=org) for org in ORGS}
    out = Console(soft_wrap=True, highlight=False)
    c = Consortium(out, gws, shards, held, rounds, epochs, model_fn)
    try:
        register(c, args.dir)
        out.print("[bold]2. Jobs proposed by Org1, approved by all three[/bold]")
        jobs = {"fedavg": "fl-fedavg", "median": "fl-median", "secure_fedavg": "fl-secure"}
        for method, job_id in jobs.items():
            govern(c, job_id, method)
        out.print("[bold]3. Org3's client is poisoned (a scaled sign flip)[/bold]")
        results = {}
        for method in ("fedavg", "median"):
            results[method] = train(c, jobs[method], method, {"Org3": sign_flip})
            out.print(
                f"  {method}: held-out accuracy {accuracy(results[method].weights, *held):.3f}"
            )
        out.print("[bold]4. Org2 re-verifies every round of every job[/bold]")
        for method in ("fedavg", "median"):
            checked = verify_job(gws["Org2"], jobs[method])
            out.print(
                f"  {jobs[method]}: {len(checked.rounds)} rounds verified by Org2MSP, "
                f"final {checked.final}"
            )
        promoted = promote(c, jobs["median"], results["median"])
        secure = secure_round(c, jobs["secure_fedavg"])
        dp_release(c)
        matches = pooled_ols(c, rows)
    finally:
        for gw in gws.values():
            gw.close()
    return 0 if promoted and secure and matches else 1


if __name__ == "__main__":
    raise SystemExit(main())
