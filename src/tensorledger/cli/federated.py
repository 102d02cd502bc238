"""`tensorledger fl`: train a governed job across organisations; `verify round|job`: re-check it.

`fl run` trains an approved job on the embedded ledger in this process, one
Flower client per organisation on its own registered dataset, recording
every round; `fl status` shows the recorded rounds. `verify round` and
`verify job` (added to the `verify` group) re-fetch every client update and
recompute the aggregate. TensorFlow and Flower load inside the commands only.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from tensorledger.cli._context import console, err_console, gateway, options, print_json
from tensorledger.cli._views import JsonFlag, fields, group, parse_pairs, short
from tensorledger.errors import InvalidRequestError

if TYPE_CHECKING:
    from tensorledger.federated.verify import RoundVerification

app = group(
    "fl",
    """Federated training of a governed job: each organisation trains on its own data.

    The job must be proposed and approved through the [bold]governance[/bold]
    contract; every round (client update digests, the aggregation rule, the
    global model digests) is recorded through the [bold]rounds[/bold] contract.

    [bold]Example[/bold]

      tensorledger fl run job-1 --data Org1=cancer-a@1 --data Org2=cancer-b@1 --label target
    """,
)
PANEL = "Federated learning"

Job = Annotated[str, typer.Argument(metavar="JOB", help="Training job id.")]


def register(root: typer.Typer, verify_group: typer.Typer) -> None:
    """Add the `fl` group to the application and `round`/`job` to `verify`."""
    root.add_typer(app, rich_help_panel=PANEL)
    verify_group.command("round")(verify_round)
    verify_group.command("job")(verify_job)


def _quiet() -> None:
    """TensorFlow's start-up notes and Flower's round log would bury the result."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging

    import flwr.common.logger  # noqa: F401  (sets Flower's own level on import, so first)

    logging.getLogger("flwr").setLevel(logging.WARNING)


@app.command("run")
def run(
    ctx: typer.Context,
    job_id: Job,
    data: Annotated[
        list[str],
        typer.Option(
            "--data", "-d", metavar="ORG=ID@V", help="An organisation's registered dataset."
        ),
    ],
    label: Annotated[str, typer.Option("--label", help="Label column (0/1 or 0..k-1).")],
    orgs: Annotated[
        str | None,
        typer.Option("--orgs", help="Comma-separated organisations (default: those of --data)."),
    ] = None,
    rounds: Annotated[
        int | None, typer.Option("--rounds", min=1, help="Rounds (default: the job's).")
    ] = None,
    aggregation: Annotated[
        str | None, typer.Option("--aggregation", help="Must be the job's (default: it).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", metavar="NAME=JSON", help="Aggregation parameter (job's if none)."),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Local epochs per round.")] = 1,
    hidden: Annotated[
        int, typer.Option("--hidden", min=0, help="Hidden ReLU units (0: logistic regression).")
    ] = 0,
    classes: Annotated[int, typer.Option("--classes", min=2, help="Label classes.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the initial weights.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Train JOB across organisations, recording every round on the ledger.

    Each organisation's client reads its own registered dataset version
    (every chunk verified) and trains the built-in tabular model; the first
    organisation aggregates and records the rounds. A job still proposed is
    started first, which the contract allows only once every approver approved.

    [bold]Example[/bold]

      tensorledger fl run job-1 -d Org1=cancer-a@1 -d Org2=cancer-b@1 --label target
    """
    opts = options(ctx)
    sources = parse_pairs(data, "--data")
    names = [o.strip() for o in orgs.split(",")] if orgs else list(sources)
    missing = [o for o in names if o not in sources]
    if missing or not names:
        raise InvalidRequestError(f"--data names no dataset for {missing or 'any organisation'}")
    _quiet()
    import tensorledger as tl
    from tensorledger import governance
    from tensorledger.federated import ClientData, run_federated, tabular_model
    from tensorledger.registry import resolve_dataset

    gws = {org: tl.connect(opts.ledger, identity=org) for org in names}
    try:
        job = governance.get_job(gws[names[0]], job_id, channel=opts.channel)
        params = _params(param) if param else dict(job.aggregation_params)
        widths = {
            org: len(resolve_dataset(gws[org], sources[org], channel=opts.channel).columns) - 1
            for org in names
        }
        if len(set(widths.values())) != 1:
            raise InvalidRequestError(f"the datasets have different feature counts: {widths}")
        features = next(iter(widths.values()))
        client_data = {
            org: ClientData.ledger(
                gws[org], sources[org], label=label, seed=seed, channel=opts.channel
            )
            for org in names
        }
        with err_console.status(f"training {job_id} across {', '.join(names)}..."):
            result = run_federated(
                gws,
                job_id=job_id,
                model_fn=lambda: tabular_model(features, classes=classes, hidden=hidden, seed=seed),
                client_data=client_data,
                rounds=rounds or job.rounds,
                aggregation=aggregation or job.aggregation,
                params=params,
                seed=seed,
                epochs=epochs,
                channel=opts.channel,
            )
    finally:
        for gw in gws.values():
            gw.close()
    rows = [
        {
            "round": r.round,
            "clients": list(r.clients),
            "globalBefore": r.global_before,
            "globalAfter": r.global_after,
            "metrics": r.metrics,
            "txId": r.record.tx_id if r.record is not None else None,
        }
        for r in result.rounds
    ]
    if as_json:
        print_json({"job": job_id, "digest": result.digest, "rounds": rows})
        return
    table = Table(title=f"job {job_id}: {len(rows)} rounds recorded", title_justify="left")
    for column in ("Round", "Clients", "Global after", "Loss", "Accuracy"):
        table.add_column(
            column, justify="right" if column in ("Round", "Loss", "Accuracy") else "left"
        )
    for r in result.rounds:
        table.add_row(
            str(r.round),
            ", ".join(r.clients),
            short(r.global_after),
            _metric(r.metrics, "loss"),
            _metric(r.metrics, "accuracy"),
        )
    console.print(table)
    console.print(f"final model digest {result.digest}")


@app.command("status")
def status(ctx: typer.Context, job_id: Job, as_json: JsonFlag = False) -> None:
    """Show a job and its recorded rounds: clients, digests, metrics.

    [bold]Example[/bold]

      tensorledger fl status job-1
    """
    from tensorledger import governance

    opts = options(ctx)
    with gateway(opts) as gw:
        job = governance.get_job(gw, job_id, channel=opts.channel)
        recorded = governance.list_rounds(gw, job_id, channel=opts.channel)
    if as_json:
        print_json(
            {
                "job": job_id,
                "status": job.status,
                "rounds": job.rounds,
                "aggregation": {
                    "method": job.aggregation,
                    "params": dict(job.aggregation_params),
                },
                "recorded": [
                    {
                        "round": r.round,
                        "clients": [u.client for u in r.updates],
                        "globalBefore": r.global_before,
                        "globalAfter": r.global_after,
                        "metrics": dict(r.metrics),
                        "txId": r.tx_id,
                    }
                    for r in recorded
                ],
            }
        )
        return
    console.print(
        fields(
            [
                ("job", job_id),
                ("status", job.status),
                ("model", job.model),
                ("datasets", ", ".join(job.datasets)),
                ("aggregation", f"{job.aggregation} {json.dumps(dict(job.aggregation_params))}"),
                ("rounds", f"{len(recorded)} of {job.rounds} recorded"),
            ]
        )
    )
    table = Table(title="Rounds", title_justify="left")
    table.add_column("Round", justify="right", no_wrap=True)
    table.add_column("Clients (examples)", min_width=12, overflow="fold")
    for column in ("Global before", "Global after"):
        table.add_column(column, no_wrap=True)
    for column in ("Loss", "Accuracy"):
        table.add_column(column, justify="right", no_wrap=True)
    for r in recorded:
        table.add_row(
            str(r.round),
            ", ".join(f"{u.client} ({u.num_examples})" for u in r.updates),
            short(r.global_before),
            short(r.global_after),
            _metric(r.metrics, "loss"),
            _metric(r.metrics, "accuracy"),
        )
    console.print(table)


def verify_round(
    ctx: typer.Context,
    job_id: Job,
    number: Annotated[int, typer.Argument(metavar="ROUND", min=1, help="Round number.")],
    as_json: JsonFlag = False,
) -> None:
    """Re-verify one recorded round: every client update re-hashed, the aggregate recomputed.

    Exits 9, naming the client, the global model or the chain, if anything
    differs from the ledger. Loads TensorFlow, so it takes a few seconds.

    [bold]Example[/bold]

      tensorledger -i Org2 verify round job-1 3
    """
    _quiet()
    from tensorledger.federated import verify_round as check

    opts = options(ctx)
    with gateway(opts) as gw:
        result = check(gw, job_id, number, channel=opts.channel)
    if as_json:
        print_json(_round_dict(result))
    else:
        _print_round(result)


def verify_job(ctx: typer.Context, job_id: Job, as_json: JsonFlag = False) -> None:
    """Re-verify every recorded round of a job, in order; exits 9 at the first difference.

    [bold]Example[/bold]

      tensorledger -i Org3 verify job job-1
    """
    _quiet()
    from tensorledger.federated import verify_job as check

    opts = options(ctx)
    with gateway(opts) as gw:
        result = check(gw, job_id, channel=opts.channel)
    if as_json:
        print_json(
            {
                "job": job_id,
                "final": result.final,
                "rounds": [_round_dict(r) for r in result.rounds],
            }
        )
        return
    for r in result.rounds:
        _print_round(r)
    console.print(
        f"[green]OK[/green]: {len(result.rounds)} rounds of job {job_id} verified; "
        f"final model {result.final or '-'}"
    )


def _print_round(r: RoundVerification) -> None:
    clients = ", ".join(u.client for u in r.updates)
    console.print(
        f"job {r.job} round {r.round} [green]OK[/green]: {len(r.updates)} updates re-hashed "
        f"({clients}); {r.method} recomputed gives {short(r.recomputed)}... = globalAfter"
        + ("" if r.previous is None else "; chained to the previous round")
    )


def _round_dict(r: RoundVerification) -> dict[str, Any]:
    return {
        "job": r.job,
        "round": r.round,
        "method": r.method,
        "globalBefore": r.global_before,
        "globalAfter": r.global_after,
        "recomputed": r.recomputed,
        "previous": r.previous,
        "updates": [
            {
                "client": u.client,
                "msp": u.msp,
                "updateRoot": u.update_root,
                "numExamples": u.num_examples,
            }
            for u in r.updates
        ],
        "ok": True,
    }


def _params(values: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, text in parse_pairs(values, "--param").items():
        try:
            out[name] = json.loads(text)
        except ValueError:
            raise InvalidRequestError(f"--param {name}={text!r}: the value is not JSON") from None
    return out


def _metric(metrics: Any, name: str) -> str:
    value = dict(metrics).get(name)
    return "-" if value is None else f"{float(value):.4f}"


__all__ = ["app", "register"]
