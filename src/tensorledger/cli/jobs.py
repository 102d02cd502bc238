"""`tensorledger job`: propose, approve, start, list and show governed federated training jobs.

Only parses, calls `tensorledger.governance` and prints; every rule (who may
approve, when a job may start) is the `governance` contract's.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from tensorledger import governance
from tensorledger.cli._context import console, gateway, options, print_json
from tensorledger.cli._views import JsonFlag, fields, group, parse_pairs, plain, short, when
from tensorledger.errors import InvalidRequestError

PANEL = "Federated learning"

app = group(
    "job",
    r"""Govern federated training jobs: propose, have every named organisation approve, start.

    A job fixes the model, the dataset versions, the number of rounds, the
    aggregation rule, the DP settings and the metric a promoted model must
    reach. Rounds are recorded while it runs; [bold]model promote[/bold] deploys its result.

    [bold]Example[/bold]

      tensorledger job propose job-1 --model cancer-net \
          --dataset cancer-a@1 --dataset cancer-b@1 --rounds 5 \
          --approver Org1MSP --approver Org2MSP --metric accuracy --min 0.9
    """,
)

JobArg = Annotated[str, typer.Argument(metavar="JOB", help="Training job id.")]


def register(root: typer.Typer) -> None:
    """Add the `job` group to the application."""
    root.add_typer(app, rich_help_panel=PANEL)


@app.command()
def propose(
    ctx: typer.Context,
    job_id: JobArg,
    model: Annotated[str, typer.Option("--model", help="Model id the job trains.")],
    dataset: Annotated[
        list[str],
        typer.Option(
            "--dataset", "-d", metavar="ID[@V]", help="Training dataset (repeat; bare id: newest)."
        ),
    ],
    rounds: Annotated[int, typer.Option("--rounds", help="Number of rounds, 1 to 10000.")],
    approver: Annotated[
        list[str],
        typer.Option("--approver", "-a", metavar="MSP", help="MSP id that must approve (repeat)."),
    ],
    metric: Annotated[
        str, typer.Option("--metric", help="Model metric a promoted checkpoint must reach.")
    ],
    minimum: Annotated[float, typer.Option("--min", help="Its minimum value.")],
    aggregation: Annotated[
        str,
        typer.Option(
            "--aggregation",
            help="fedavg, median, trimmed_mean, krum, multikrum or secure_fedavg.",
        ),
    ] = "fedavg",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", metavar="NAME=JSON", help="Aggregation parameter (repeat)."),
    ] = None,
    dp: Annotated[
        list[str] | None,
        typer.Option(
            "--dp", metavar="NAME=JSON", help="DP setting, e.g. clip=1.0, noiseMultiplier=0.5."
        ),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What the job is for.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    r"""Propose a training job; it runs only once every --approver has approved it.

    [bold]Example[/bold]

      tensorledger job propose job-1 --model cancer-net \
          -d cancer-a@1 -d cancer-b@1 --rounds 5 \
          --aggregation trimmed_mean --param trim=0.2 --dp clip=1.0 \
          -a Org1MSP -a Org2MSP --metric accuracy --min 0.9
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        job = governance.propose_job(
            gw,
            job_id,
            model=model,
            datasets=dataset,
            rounds=rounds,
            aggregation=aggregation,
            aggregation_params=_json_pairs(param or [], "--param"),
            dp=_json_pairs(dp or [], "--dp"),
            approvers=approver,
            threshold_metric=metric,
            threshold_min=minimum,
            description=description,
            channel=opts.channel,
        )
    _done(job, as_json, f"proposed; waiting for approval by {', '.join(job.approvers)}")


@app.command()
def approve(ctx: typer.Context, job_id: JobArg, as_json: JsonFlag = False) -> None:
    """Approve a proposed job as your organisation (--identity).

    [bold]Example[/bold]

      tensorledger --identity Org2 job approve job-1
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        job = governance.approve_job(gw, job_id, channel=opts.channel)
        msp = gw.msp_id
    missing = job.missing_approvals
    waiting = f"still waiting for {', '.join(missing)}" if missing else "start it with `job start`"
    _done(job, as_json, f"approved by {msp}; {waiting}")


@app.command()
def start(ctx: typer.Context, job_id: JobArg, as_json: JsonFlag = False) -> None:
    """Start a job every approver has approved; rounds can then be recorded.

    [bold]Example[/bold]

      tensorledger job start job-1
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        job = governance.start_job(gw, job_id, channel=opts.channel)
    _done(job, as_json, "running")


@app.command("ls")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List every job with its status and approvals.

    [bold]Example[/bold]

      tensorledger job ls
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        jobs = governance.list_jobs(gw, channel=opts.channel)
    if as_json:
        print_json([j.to_dict() for j in jobs])
        return
    if not jobs:
        console.print("No jobs yet: propose one with [bold]tensorledger job propose[/bold]")
        return
    table = Table()
    for column in ("Job", "Model", "Status", "Rounds", "Aggregation", "Approvals", "Proposed"):
        # ids are what users copy into the next command: never broken across lines
        table.add_column(
            column, justify="right" if column == "Rounds" else "left", no_wrap=column == "Job"
        )
    for j in jobs:
        table.add_row(
            j.id, j.model, j.status, str(j.rounds), j.aggregation,
            f"{len(j.approvals)}/{len(j.approvers)}", when(j.timestamp),
        )  # fmt: skip
    console.print(table)


@app.command()
def show(ctx: typer.Context, job_id: JobArg, as_json: JsonFlag = False) -> None:
    """Show a job's record: model, data, rules, approvals, and the rounds recorded so far.

    [bold]Example[/bold]

      tensorledger job show job-1
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        job = governance.get_job(gw, job_id, channel=opts.channel)
        recorded = governance.list_rounds(gw, job_id, channel=opts.channel)
    if as_json:
        print_json({**job.to_dict(), "recorded": [r.to_dict() for r in recorded]})
        return
    console.print(f"[bold]job {job.id}[/bold] ({job.status})")
    console.print(
        fields(
            [
                ("model", job.model),
                ("datasets", ", ".join(job.datasets)),
                ("rounds", f"{len(recorded)} of {job.rounds} recorded"),
                ("aggregation", f"{job.aggregation} {plain(dict(job.aggregation_params))}"),
                ("dp", plain(dict(job.dp)) if job.dp else "-"),
                ("threshold", f"{job.threshold_metric} ≥ {job.threshold_min:g}"),
                ("approvers", ", ".join(job.approvers)),
                ("awaiting", ", ".join(job.missing_approvals) or "-"),
                ("proposed by", f"{job.owner} ({job.registered_by})"),
                ("proposed", when(job.timestamp)),
                ("description", job.description or "-"),
            ]
        )
    )
    if job.approvals:
        table = Table(title="Approvals", title_justify="left")
        for column in ("MSP", "Transaction", "When"):
            table.add_column(column)
        for a in job.approvals:
            table.add_row(a.msp, short(a.tx_id), when(a.timestamp))
        console.print(table)


def _done(job: governance.Job, as_json: bool, what: str) -> None:
    if as_json:
        print_json(job.to_dict())
        return
    console.print(f"job {job.id}: {what}")


def _json_pairs(values: list[str], option: str) -> dict[str, Any]:
    """NAME=JSON options into a mapping (trim=0.2 is a number); non-JSON values are refused."""
    out: dict[str, Any] = {}
    for name, text in parse_pairs(values, option).items():
        try:
            out[name] = json.loads(text)
        except ValueError:
            raise InvalidRequestError(f"{option} {name}={text!r}: the value is not JSON") from None
    return out


__all__ = ["app", "register"]
