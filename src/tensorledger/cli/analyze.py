"""`tensorledger analyze`: compute a statistic of a registered dataset and record it on the ledger.

Each method command turns natural options (`--y`, `--x`, `--by`) into
`tensorledger.stats.run_analysis` parameters, which reads only verified rows,
computes in TensorFlow float64 and records method, parameters, input roots,
result and result hash. The recorded id is what another organisation passes
to `tensorledger verify analysis`. TensorFlow is imported only when a
statistic runs, so `analyze ls` and `analyze show` stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from tensorledger import blobs
from tensorledger.cli._context import console, err_console, gateway, options, print_json
from tensorledger.cli._results import render
from tensorledger.cli._views import (
    PANEL,
    JsonFlag,
    KeyFile,
    block_of,
    fields,
    group,
    key_option_wording,
    plain,
    short,
    when,
)
from tensorledger.errors import InvalidRequestError
from tensorledger.registry import AnalysisRecord, list_analyses, resolve_analysis

app = group(
    "analyze",
    """Compute statistics of registered datasets and record them, verifiably, on the ledger.

    Only verified rows reach a statistic; the record holds the method, every
    parameter, the input versions and roots, the result and its hash, so any
    organisation can recompute it with [bold]tensorledger verify analysis ID[/bold].

    [bold]Example[/bold]

      tensorledger analyze ols diabetes --y target --x age --x bmi
    """,
)

Dataset = Annotated[
    str,
    typer.Argument(metavar="DATASET[@V]", help="Registered dataset (default: newest version)."),
]
Columns = Annotated[
    list[str] | None,
    typer.Option("--column", help="A column; repeatable. Default: every numeric column."),
]
AnalysisId = Annotated[
    str | None,
    typer.Option(
        "--id",
        help="Analysis id; default: <method>-<dataset>-v<N>-<hash of method, parameters, inputs>.",
        show_default=False,
    ),
]
Y = Annotated[str, typer.Option("--y", "-y", help="Response column.")]
X = Annotated[
    list[str] | None,
    typer.Option(
        "--x",
        "-x",
        help="Explanatory column; repeatable; 'all' (default): every numeric one but Y.",
    ),
]
NoIntercept = Annotated[bool, typer.Option("--no-intercept", help="Fit without the constant term.")]


def register(root: typer.Typer) -> None:
    """Add the `analyze` group to the application."""
    root.add_typer(app, rich_help_panel=PANEL)


@app.command()
def describe(
    ctx: typer.Context,
    dataset: Dataset,
    column: Columns = None,
    quantile: Annotated[
        list[float] | None,
        typer.Option(
            "--quantile",
            "-q",
            help="Quantile level in [0, 1]; repeatable.",
            show_default="0.25 0.5 0.75",
        ),
    ] = None,
    analysis_id: AnalysisId = None,
    key_file: KeyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Count, mean, std, min, quantiles and max of columns, recorded.

    Quantiles are exact (sorted data, linear interpolation as numpy's default).

    [bold]Example[/bold]

      tensorledger analyze describe diabetes --column age --column bmi
    """
    params = {"columns": column or None, "quantiles": quantile or None}
    _run(ctx, "describe", dataset, params, analysis_id, key_file, as_json)


@app.command()
def corr(
    ctx: typer.Context,
    dataset: Dataset,
    column: Columns = None,
    analysis_id: AnalysisId = None,
    key_file: KeyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Pearson correlation matrix of columns, recorded.

    As numpy.corrcoef; a missing (NaN) value is refused with its row named, not skipped.

    [bold]Example[/bold]

      tensorledger analyze corr diabetes --column bmi --column bp --column target
    """
    _run(ctx, "correlation", dataset, {"columns": column or None}, analysis_id, key_file, as_json)


@app.command()
def cov(
    ctx: typer.Context,
    dataset: Dataset,
    column: Columns = None,
    analysis_id: AnalysisId = None,
    key_file: KeyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Sample covariance matrix (ddof 1) of columns, recorded.

    As numpy.cov; the matrix is recorded with the row count it came from.

    [bold]Example[/bold]

      tensorledger analyze cov diabetes --column bmi --column target
    """
    _run(ctx, "covariance", dataset, {"columns": column or None}, analysis_id, key_file, as_json)


@app.command()
def ols(
    ctx: typer.Context,
    dataset: Dataset,
    y: Y,
    x: X = None,
    no_intercept: NoIntercept = False,
    analysis_id: AnalysisId = None,
    key_file: KeyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Ordinary least squares: coefficients, standard errors, t, p, R², F; recorded.

    Computed by a streamed QR in float64, as statsmodels' OLS reports it.

    [bold]Examples[/bold]

      tensorledger analyze ols diabetes --y target --x age --x bmi

      tensorledger analyze ols diabetes@1 --y target --x all
    """
    params = {"y": y, "x": _explanatory(x), "add_intercept": not no_intercept}
    _run(ctx, "ols", dataset, params, analysis_id, key_file, as_json)


@app.command()
def logit(
    ctx: typer.Context,
    dataset: Dataset,
    y: Y,
    x: X = None,
    no_intercept: NoIntercept = False,
    max_iter: Annotated[int, typer.Option("--max-iter", min=1, help="Newton iterations.")] = 100,
    tol: Annotated[float, typer.Option("--tol", min=0.0, help="Convergence tolerance.")] = 1e-12,
    analysis_id: AnalysisId = None,
    key_file: KeyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Logistic regression of a 0/1 column: coefficients, std errors, z, p, pseudo R²; recorded.

    Maximum likelihood by Newton's method, Wald inference, as statsmodels' Logit.

    [bold]Example[/bold]

      tensorledger analyze logit cancer --y target --x "mean radius" --x "mean texture"
    """
    params = {
        "y": y,
        "x": _explanatory(x),
        "add_intercept": not no_intercept,
        "max_iter": max_iter,
        "tol": tol,
    }
    _run(ctx, "logit", dataset, params, analysis_id, key_file, as_json)


@app.command()
def ttest(
    ctx: typer.Context,
    dataset: Dataset,
    column: Annotated[str, typer.Option("--column", help="The compared column.")],
    by: Annotated[
        str | None, typer.Option("--by", help="Group column: compare two of its values.")
    ] = None,
    groups: Annotated[
        list[str] | None,
        typer.Option(
            "--group", "--groups", help="A value of --by; give two (default: its only two)."
        ),
    ] = None,
    other: Annotated[
        str | None,
        typer.Option("--other", help="Compare with the same column of this dataset instead."),
    ] = None,
    equal_var: Annotated[
        bool, typer.Option("--equal-var", help="Pooled-variance test instead of Welch's.")
    ] = False,
    analysis_id: AnalysisId = None,
    key_file: KeyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Two-sample t-test of a difference in means (Welch's by default); recorded.

    Two groups of one dataset (--by), or one column of two datasets (--other).

    [bold]Examples[/bold]

      tensorledger analyze ttest cancer --column "mean radius" --by target

      tensorledger analyze ttest cohort-a --column age --other cohort-b
    """
    if (by is None) == (other is None):
        raise InvalidRequestError(
            "ttest: give either --by COLUMN (two groups of one dataset) or --other DATASET "
            "(the same column of a second dataset), not both or neither"
        )
    params: dict[str, Any] = {
        "column": column,
        "group_column": by,
        "groups": [_scalar(g) for g in groups] if groups else None,
        "equal_var": equal_var,
        "other": other,
    }
    _run(ctx, "ttest", dataset, params, analysis_id, key_file, as_json)


@app.command("ls")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List recorded analyses: method, inputs, owner, time.

    Analyses are written once; ids name them for `analyze show` and `verify analysis`.

    [bold]Example[/bold]

      tensorledger analyze ls
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        records = list_analyses(gw, channel=opts.channel)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    if not records:
        console.print("No analyses yet: record one with [bold]tensorledger analyze ...[/bold]")
        return
    table = Table()
    for column in ("Analysis", "Method", "Inputs", "Owner", "Registered"):
        table.add_column(column, no_wrap=column in ("Analysis", "Registered"))
    for r in records:
        inputs = ", ".join(i.dataset for i in r.inputs)
        table.add_row(r.id, r.method, inputs, r.owner, when(r.timestamp))
    console.print(table)


@app.command()
def show(
    ctx: typer.Context,
    analysis_id: Annotated[str, typer.Argument(metavar="ID", help="Analysis id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a recorded analysis: its inputs and their roots, parameters and result.

    Prints what the ledger holds; `verify analysis` checks that it still holds.

    [bold]Example[/bold]

      tensorledger analyze show ols-diabetes-v1-0123456789ab
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        record = resolve_analysis(gw, analysis_id, channel=opts.channel)
    if as_json:
        print_json(record.to_dict())
        return
    _print_record(record, block_of(opts, record.tx_id))


def _run(
    ctx: typer.Context,
    method: str,
    dataset: str,
    params: dict[str, Any],
    analysis_id: str | None,
    key_file: Path | None,
    as_json: bool,
) -> None:
    """Run and record one statistic, then print its record (or JSON)."""
    opts = options(ctx)
    key = blobs.read_key_file(key_file) if key_file is not None else None
    # TensorFlow's C++ start-up notes would break the one-line error contract
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tensorledger.stats import run_analysis

    given = {name: value for name, value in params.items() if value is not None}
    with (
        key_option_wording(),
        gateway(opts) as gw,
        err_console.status(f"computing {method} of {dataset}..."),
    ):
        record = run_analysis(
            gw, method, dataset, analysis_id=analysis_id, key=key, channel=opts.channel, **given
        )
    block = block_of(opts, record.tx_id)
    if as_json:
        print_json({"record": record.to_dict(), "block": block})
        return
    _print_record(record, block, recorded=True)
    console.print(
        f"\nAnyone on the network can re-check it: [bold]tensorledger verify analysis "
        f"{record.id}[/bold]"
    )


def _print_record(record: AnalysisRecord, block: int | None, *, recorded: bool = False) -> None:
    verb = "[green]Recorded[/green] analysis" if recorded else "[bold]analysis[/bold]"
    console.print(f"{verb} [bold]{record.id}[/bold]")
    params = ", ".join(f"{k}={plain(v)}" for k, v in sorted(record.parameters.items()))
    console.print(
        fields(
            [
                ("method", record.method),
                ("inputs", ", ".join(f"{i.dataset} (root {short(i.root)})" for i in record.inputs)),
                ("parameters", Text(params)),
                ("result hash", record.result_hash),
                ("owner", f"{record.owner} ({record.registered_by})"),
                ("registered", when(record.timestamp)),
                ("transaction", record.tx_id + ("" if block is None else f" (block {block})")),
                ("package", record.package),
            ]
        )
    )
    console.print()
    console.print(render(record.method, record.result))


def _explanatory(x: list[str] | None) -> list[str] | None:
    """--x values; 'all' (or none) means every numeric column but y, which the library resolves."""
    if not x or x == ["all"]:
        return None
    return x


def _scalar(text: str) -> int | float | str:
    """A --group value as the column holds it: a number when it reads as one."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


__all__ = ["app", "corr", "cov", "describe", "list_", "logit", "ols", "register", "show", "ttest"]
