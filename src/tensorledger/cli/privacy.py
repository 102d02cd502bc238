"""`tensorledger budget` and `tensorledger dp`: ε budgets on the ledger, and DP releases.

`budget set` and `budget show` talk to the `budgets` chaincode only. `dp
release` reads a dataset through its verified chunks and adds OpenDP noise,
so OpenDP and numpy are imported inside that command and nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tensorledger.cli._context import console, gateway, options, print_json
from tensorledger.cli._views import JsonFlag, KeyFile, group, plain
from tensorledger.errors import InvalidRequestError
from tensorledger.privacy.budget import Budget, get_budget, list_releases, set_budget
from tensorledger.privacy.mechanisms import Release

PANEL = "Differential privacy"

budget_app = group(
    "budget",
    """Set and show the ε budget of a dataset, which the ledger enforces on every DP release.

    [bold]Example[/bold]

      tensorledger budget set diabetes 3.0
    """,
)
dp_app = group(
    "dp",
    """Release differentially private statistics of a dataset, spending its ε budget.

    [bold]Example[/bold]

      tensorledger dp release diabetes@1 --statistic mean --column age --epsilon 0.5 --bounds 0,100
    """,
)

Dataset = Annotated[str, typer.Argument(metavar="DATASET", help="Dataset id.")]


def register(root: typer.Typer) -> None:
    """Add the `budget` and `dp` groups to the application."""
    root.add_typer(budget_app, rich_help_panel=PANEL)
    root.add_typer(dp_app, rich_help_panel=PANEL)


@budget_app.command("set")
def set_(
    ctx: typer.Context,
    dataset: Dataset,
    epsilon: Annotated[str, typer.Argument(metavar="EPSILON", help="Total ε, e.g. 3.0.")],
    as_json: JsonFlag = False,
) -> None:
    """Give a dataset its total ε, once; only the organisation that owns it may.

    [bold]Example[/bold]

      tensorledger budget set diabetes 3.0
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        budget = set_budget(gw, dataset, epsilon, channel=opts.channel)
    if as_json:
        print_json(budget.to_dict())
        return
    console.print(f"dataset {budget.dataset}: privacy budget ε={budget.total} set")


@budget_app.command()
def show(ctx: typer.Context, dataset: Dataset, as_json: JsonFlag = False) -> None:
    """Show a dataset's budget (total, spent, remaining) and every release that spent it.

    [bold]Example[/bold]

      tensorledger budget show diabetes
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        budget = get_budget(gw, dataset, channel=opts.channel)
        releases = list_releases(gw, dataset, channel=opts.channel)
    if as_json:
        print_json({**budget.to_dict(), "releaseRecords": [_release_dict(r) for r in releases]})
        return
    _print_budget(budget)
    if not releases:
        console.print("No releases yet.")
        return
    table = Table()
    for column in ("Release", "Version", "Statistic", "Column", "Mechanism", "ε", "δ", "Value"):
        table.add_column(column, justify="right" if column in ("Version", "ε", "δ") else "left")
    table.columns[-1].overflow = "fold"  # a released value is shown whole, never cut short
    for r in releases:
        table.add_row(
            r.id, str(r.dataset).partition("@")[2], r.statistic, r.column, r.mechanism,
            str(r.epsilon), f"{r.delta:g}", plain(r.value),
        )  # fmt: skip
    console.print(table)


@dp_app.command("release")
def release_(
    ctx: typer.Context,
    dataset: Annotated[
        str, typer.Argument(metavar="DATASET[@V]", help="Registered dataset version.")
    ],
    statistic: Annotated[
        str, typer.Option("--statistic", "-s", help="count, sum, mean or histogram.")
    ],
    column: Annotated[str, typer.Option("--column", help="The column to release.")],
    epsilon: Annotated[str, typer.Option("--epsilon", "-e", help="ε to spend, e.g. 0.5.")],
    bounds: Annotated[
        str | None,
        typer.Option("--bounds", help="LOW,HIGH: values are clamped to them (sum, mean)."),
    ] = None,
    bins: Annotated[
        str | None,
        typer.Option(
            "--bins", help="Histogram bins: increasing edges '0,25,50' or categories 'a,b,c'."
        ),
    ] = None,
    mechanism: Annotated[
        str, typer.Option("--mechanism", "-m", help="laplace or gaussian.")
    ] = "laplace",
    delta: Annotated[float, typer.Option("--delta", help="δ (Gaussian only), e.g. 1e-6.")] = 0.0,
    private_n: Annotated[
        bool, typer.Option("--private-n", help="Mean: spend ε on a noisy row count too.")
    ] = False,
    release_id: Annotated[
        str | None, typer.Option("--id", help="Release id; default: a random one.")
    ] = None,
    key_file: KeyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Release one DP statistic of a column and record it, spending ε from the dataset's budget.

    The exact statistic never leaves this process; the ledger records the
    noisy value, ε, δ, mechanism and parameters, or refuses when the budget
    cannot cover ε (and then records nothing).

    [bold]Example[/bold]

      tensorledger dp release diabetes@1 --statistic mean --column age --epsilon 0.5 --bounds 0,100
    """
    from tensorledger import blobs
    from tensorledger.privacy.budget import release

    opts = options(ctx)
    key = blobs.read_key_file(key_file) if key_file is not None else None
    with gateway(opts) as gw:
        released = release(
            gw,
            dataset,
            statistic=statistic,
            column=column,
            epsilon=epsilon,
            mechanism=mechanism,
            bounds=_numbers(bounds, "--bounds") if bounds is not None else None,
            bins=_bins(bins) if bins is not None else None,
            delta=delta,
            release_id=release_id,
            private_n=private_n,
            key=key,
            channel=opts.channel,
        )
        budget = get_budget(gw, str(released.dataset).partition("@")[0], channel=opts.channel)
    if as_json:
        print_json({"release": _release_dict(released), "budget": budget.to_dict()})
        return
    console.print(
        f"{released.statistic} of {released.column} in {released.dataset}: "
        f"{plain(released.value)} ({released.mechanism}, ε={released.epsilon}"
        f"{f', δ={released.delta:g}' if released.delta else ''}); release {released.id}"
    )
    _print_budget(budget)


def _print_budget(budget: Budget) -> None:
    console.print(
        f"dataset {budget.dataset} (owner {budget.owner}): ε {budget.spent} of {budget.total} "
        f"spent, {budget.remaining} left, {budget.releases} releases"
    )


def _release_dict(r: Release) -> dict[str, Any]:
    return {
        "id": r.id,
        "dataset": r.dataset,
        "statistic": r.statistic,
        "column": r.column,
        "mechanism": r.mechanism,
        "epsilon": str(r.epsilon),
        "delta": r.delta,
        "value": r.value,
        "parameters": dict(r.parameters),
        "txId": r.tx_id,
    }


def _numbers(text: str, option: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise InvalidRequestError(
            f"{option} must be numbers separated by commas, not {text!r}"
        ) from None
    return values


def _bins(text: str) -> list[float] | list[str]:
    parts = [part.strip() for part in text.split(",")]
    try:
        return [float(part) for part in parts]
    except ValueError:
        return parts


__all__ = ["budget_app", "dp_app", "register"]
