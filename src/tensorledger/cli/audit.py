"""`tensorledger verify analysis ID`: a reviewer re-checks a recorded statistic, trusting no author.

Added as a subcommand of `verify` (whose bare form checks the whole ledger).
`tensorledger.stats.verify_analysis` re-verifies every input dataset version
(manifest against the chain, every chunk against the manifest), re-hashes the
stored result and recomputes the statistic; this prints what it found and
exits 9 unless everything held. Keys and unknown ids are errors (one line);
what the checks find wrong is a report, with every differing value listed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from tensorledger import blobs
from tensorledger.cli._context import console, err_console, gateway, options, print_json
from tensorledger.cli._results import number
from tensorledger.cli._views import JsonFlag, KeyFile, key_option_wording, short, when
from tensorledger.errors import IntegrityError

if TYPE_CHECKING:  # tensorledger.stats pulls in numpy: imported only when the command runs
    from tensorledger.stats import AnalysisCheck


def register(verify_group: typer.Typer) -> None:
    """Add `analysis` to the `verify` group."""
    verify_group.command("analysis")(analysis)


def analysis(
    ctx: typer.Context,
    analysis_id: Annotated[str, typer.Argument(metavar="ID", help="Recorded analysis id.")],
    key_file: KeyFile = None,
    rtol: Annotated[
        float,
        typer.Option("--rtol", min=0.0, help="Relative tolerance for recomputed numbers."),
    ] = 1e-9,
    as_json: JsonFlag = False,
) -> None:
    """Re-verify a recorded analysis: its inputs byte for byte, its result recomputed.

    Each input dataset version is re-hashed chunk by chunk against the
    ledger, the stored result is re-hashed against its recorded hash, and the
    statistic is recomputed from the verified data with the recorded
    parameters. Every value that differs beyond --rtol is listed; exits 9
    unless all of it holds. Loads TensorFlow, so it takes a few seconds.

    [bold]Example[/bold]

      tensorledger -i Org2 verify analysis ols-diabetes-v1-0123456789ab
    """
    opts = options(ctx)
    key = blobs.read_key_file(key_file) if key_file is not None else None
    # TensorFlow's C++ start-up notes would break the one-line error contract
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tensorledger.stats import verify_analysis

    with (
        key_option_wording(),
        gateway(opts) as gw,
        err_console.status(f"re-verifying analysis {analysis_id}..."),
    ):
        check = verify_analysis(gw, analysis_id, key=key, rtol=rtol, channel=opts.channel)
    if as_json:
        print_json(_as_dict(check))
    else:
        _print(check)
    if not check.ok:
        raise typer.Exit(IntegrityError.exit_code)


def _print(check: AnalysisCheck) -> None:
    record = check.record
    if record is not None:
        refs = ", ".join(i.dataset for i in record.inputs)
        console.print(
            f"[bold]analysis {check.analysis_id}[/bold]: {record.method} of {refs}, recorded by "
            f"{record.owner} at {when(record.timestamp)}"
        )
    inputs = Table(title="Inputs re-verified", title_justify="left")
    inputs.add_column("Dataset", no_wrap=True)
    inputs.add_column("Root", no_wrap=True)
    inputs.add_column("Chunks", justify="right")
    inputs.add_column("Result", overflow="fold")
    for c in check.inputs:
        result = Text("OK", "green") if c.ok else Text(c.detail or "failed", "red")
        inputs.add_row(c.dataset, short(c.root), str(c.chunks), result)
    console.print(inputs)
    mark = "[green]OK[/green]" if check.hash_ok else "[red]DIFFERS[/red]"
    recorded = short(record.result_hash) if record is not None else "?"
    console.print(f"result hash     {mark}: the stored result hashes to {recorded}...")
    if check.recomputed is None:
        console.print(f"recomputation   [red]not done[/red]: {check.error or 'an input failed'}")
    elif check.exact:
        console.print("recomputation   [green]OK[/green]: bit for bit the recorded result")
    elif check.differences or check.error:
        console.print(f"recomputation   [red]DIFFERS[/red]: {check.error or ''}".rstrip(": "))
    else:
        console.print(f"recomputation   [green]OK[/green]: every value within rtol {check.rtol:g}")
    if check.differences:
        table = Table(title=f"{len(check.differences)} values differ", title_justify="left")
        for column in ("Path", "Recorded", "Recomputed", "Rel. diff"):
            table.add_column(column, justify="left" if column == "Path" else "right")
        for d in check.differences:
            rel = "-" if d.rel_diff is None else f"{d.rel_diff:.3g}"
            table.add_row(d.path, _value(d.recorded), _value(d.recomputed), rel)
        console.print(table)
    style = "green" if check.ok else "bold red"
    console.print(Text(check.summary(), style=style))


def _value(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return number(value) if isinstance(value, int) else repr(value)
    return str(value)


def _as_dict(check: AnalysisCheck) -> dict[str, Any]:
    return {
        "ok": check.ok,
        "analysis": check.analysis_id,
        "inputs": [
            {
                "dataset": c.dataset,
                "root": c.root,
                "ok": c.ok,
                "chunks": c.chunks,
                "detail": c.detail,
            }
            for c in check.inputs
        ],
        "hash_ok": check.hash_ok,
        "recomputed": check.recomputed is not None,
        "exact": check.exact,
        "rtol": check.rtol,
        "differences": [
            {
                "path": d.path,
                "recorded": d.recorded,
                "recomputed": d.recomputed,
                "rel_diff": d.rel_diff,
            }
            for d in check.differences
        ],
        "error": check.error,
        "summary": check.summary(),
    }


__all__ = ["analysis", "register"]
