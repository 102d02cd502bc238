"""The `tensorledger` command: a thin typer + rich skin over the library.

Each subcommand group lives in its own module and only parses, calls the
library and prints. Errors are mapped here, in one place: a `TensorLedgerError`
becomes one ``error: <message>`` line on stderr and its class's exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from tensorledger import __version__
from tensorledger.cli import (
    analyze,
    audit,
    data,
    datasets,
    fabric,
    federated,
    jobs,
    ledger,
    lineage,
    maintenance,
    models,
    privacy,
    proofs,
    serve,
)
from tensorledger.cli._context import Options, report_error
from tensorledger.errors import TensorLedgerError

#: exit status after Ctrl-C, as shells report a SIGINT death (typer maps it too)
EXIT_INTERRUPTED = 130

EPILOG = """\
[bold]Exit codes[/bold]
  0    success
  1    other tensorledger error
  2    usage or configuration: bad option, no ledger, unknown identity or channel
  3    invalid request: malformed input, proof file or protobuf, oversize value
  4    identity: a signature or certificate does not verify
  5    endorsement failed, or the endorsement policy is not met
  6    the contract refused, e.g. "Data with ID x does not exist."
  7    the committer invalidated the transaction, e.g. MVCC_READ_CONFLICT
  8    not found: no such block, transaction or checkpoint
  9    integrity: a proof does not verify, or verify found a difference
  10   unavailable: the ledger database is locked or unreachable
  130  interrupted (Ctrl-C)

Start with [bold]tensorledger demo[/bold]; or [bold]tensorledger init[/bold], then
[bold]tensorledger put statData '\\[1.0, 2.0]'[/bold] and [bold]tensorledger get statData[/bold]."""


class _ErrorMappingGroup(TyperGroup):
    """The top-level group: turns library errors into one line and an exit code.

    Mapping inside `invoke` (not only in `main`) means `CliRunner` and any
    other embedding of the click command behave exactly like the installed
    script.
    """

    # `ctx` is typer's vendored click Context, which typer does not export.
    def invoke(self, ctx: Any) -> Any:
        """Run the subcommand, mapping errors the user caused to exit codes."""
        try:
            return super().invoke(ctx)
        except TensorLedgerError as exc:
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    name="tensorledger",
    cls=_ErrorMappingGroup,
    epilog=EPILOG,
    rich_markup_mode="rich",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    # Locals of a crashing frame may hold private keys: never print them.
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tensorledger {__version__}")
        raise typer.Exit


@app.callback()
def _global_options(
    ctx: typer.Context,
    ledger_path: Annotated[
        Path,
        typer.Option(
            "--ledger",
            "-l",
            envvar="TENSORLEDGER_LEDGER",
            help="Ledger directory (made by `tensorledger init`).",
            show_default="./ledger",
        ),
    ] = Path("ledger"),
    identity: Annotated[
        str,
        typer.Option(
            "--identity",
            "-i",
            envvar="TENSORLEDGER_IDENTITY",
            help="Who signs: 'Org1' (its User1), 'Org1/Admin' or 'User1@org1.example.com'.",
        ),
    ] = "Org1",
    channel: Annotated[
        str,
        typer.Option("--channel", "-c", envvar="TENSORLEDGER_CHANNEL", help="Channel to use."),
    ] = "mychannel",
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Statistics and machine learning on data anchored in a permissioned ledger.

    Every record is endorsed by the organisations of a Hyperledger Fabric-style
    network and can be proven, offline, to be exactly what was recorded.
    """
    source = ctx.get_parameter_source("channel")
    given = source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")
    ctx.obj = Options(ledger_path, identity, channel, channel_given=given)


ledger.register(app)
data.register(app)
proofs.register(app)
maintenance.register(app)
datasets.register(app)
models.register(app)
analyze.register(app)
lineage.register(app)
jobs.register(app)
privacy.register(app)
fabric.register(app)
serve.register(app)
audit.register(maintenance.verify_app)
federated.register(app, maintenance.verify_app)


def main() -> None:
    """Entry point of the `tensorledger` script: never a traceback for user errors."""
    try:
        app(prog_name="tensorledger")
    except TensorLedgerError as exc:  # raised outside a command, e.g. by an option callback
        report_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)


__all__ = ["app", "main"]
