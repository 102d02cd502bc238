"""The "Data" commands: the seed's DataContract from the shell (storeData, retrieveData, ...).

Each command is one contract call through the gateway, as the chosen
identity; `get` writes the stored value unchanged to stdout so it pipes.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from tensorledger.cli._context import (
    DATA_CONTRACT,
    as_text,
    console,
    gateway,
    options,
    print_json,
    read_value,
)
from tensorledger.errors import InvalidRequestError
from tensorledger.ledger.channel import SubmitResult
from tensorledger.ledger.explore import preview

PANEL = "Data"
DataId = Annotated[str, typer.Argument(metavar="ID", help="Record id, e.g. statData.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead.")]


def register(app: typer.Typer) -> None:
    """Add this group's commands to the application."""
    for command in (put, get, delete, history, ls):
        app.command(rich_help_panel=PANEL)(command)


def put(
    ctx: typer.Context,
    data_id: DataId,
    value: Annotated[
        str,
        typer.Argument(
            metavar="VALUE",
            help="The value; @FILE reads a file, - reads stdin, @@x means the text @x.",
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    r"""Store a value under an id (storeData), endorsed by the organisations and committed.

    Prints the contract's message, the transaction id and the block it landed in.

    [bold]Examples[/bold]

      tensorledger put statData '\[1.0, 2.0, 3.0, 4.0, 5.0]'

      tensorledger put modelParams @weights.json
    """
    text = as_text(read_value(value), "VALUE")
    _submit(ctx, "storeData", data_id, text, as_json=as_json)


def get(ctx: typer.Context, data_id: DataId) -> None:
    """Print the value stored under an id (retrieveData), exactly as stored.

    Nothing is added when stdout is a pipe or file, so the bytes round-trip.

    [bold]Example[/bold]

      tensorledger get modelParams > weights.json
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        value = gw.network(opts.channel).contract(DATA_CONTRACT).evaluate("retrieveData", data_id)
    typer.echo(value, nl=False)
    if sys.stdout.isatty() and not value.endswith(b"\n"):
        typer.echo()


def delete(ctx: typer.Context, data_id: DataId, as_json: JsonFlag = False) -> None:
    """Delete a record from world state (deleteData); its history stays on the chain.

    The deletion is itself a transaction, shown by `tensorledger history`.

    [bold]Example[/bold]

      tensorledger delete statData
    """
    _submit(ctx, "deleteData", data_id, as_json=as_json)


def history(ctx: typer.Context, data_id: DataId, as_json: JsonFlag = False) -> None:
    """Show every committed change of a record: transaction, time, value or deletion.

    Fabric's key history, newest first; it survives `delete`.

    [bold]Example[/bold]

      tensorledger history statData
    """
    changes = _query(ctx, "history", data_id)
    if as_json:
        print_json(changes)
        return
    # One entry per change, the full transaction id on its own line: ids stay
    # whole (copyable into `tensorledger tx`) in a terminal of any width.
    count = len(changes)
    console.print(f"[bold]History of {data_id}[/bold]: {count} change{'s' if count != 1 else ''}")
    for change in changes:
        value = (
            Text("(deleted)", style="red")
            if change.get("isDelete")
            else Text(preview(str(change.get("value", "")).encode()))
        )
        console.print(Text(f"{change.get('timestamp', '')}  "), value, sep="")
        console.print(f"  tx {change.get('txId', '')}", style="dim", soft_wrap=True)


def ls(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--start", help="First id (inclusive).")] = "",
    end: Annotated[str, typer.Option("--end", help="Stop before this id; empty: no bound.")] = "",
    as_json: JsonFlag = False,
) -> None:
    r"""List records with ids in \[START, END) in id order (listData).

    A range query over world state: what is stored now, not what was deleted.

    [bold]Example[/bold]

      tensorledger ls --start a --end n
    """
    records = _query(ctx, "listData", start, end)
    if as_json:
        print_json(records)
        return
    table = Table()
    table.add_column("ID", no_wrap=True)
    table.add_column("Value", overflow="fold")
    for record in records:
        table.add_row(
            Text(str(record.get("id", ""))), Text(preview(str(record.get("data", "")).encode()))
        )
    console.print(table)
    console.print(f"{len(records)} record{'s' if len(records) != 1 else ''}")


def _submit(ctx: typer.Context, function: str, *args: str, as_json: bool) -> None:
    opts = options(ctx)
    with gateway(opts) as gw:
        result: SubmitResult = (
            gw.network(opts.channel).contract(DATA_CONTRACT).submit(function, *args)
        )
    message = result.payload.decode("utf-8", "replace")
    if as_json:
        print_json({"tx_id": result.tx_id, "block": result.block, "message": message})
        return
    console.print(Text(message, style="green"))
    console.print(f"  transaction  {result.tx_id}")
    console.print(f"  block        {result.block}")


def _query(ctx: typer.Context, function: str, *args: str) -> list[dict[str, Any]]:
    opts = options(ctx)
    with gateway(opts) as gw:
        raw = gw.network(opts.channel).contract(DATA_CONTRACT).evaluate(function, *args)
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if not isinstance(decoded, list) or not all(isinstance(d, dict) for d in decoded):
        raise InvalidRequestError(f"{DATA_CONTRACT}.{function} did not return a JSON list")
    return decoded


__all__ = ["delete", "get", "history", "ls", "put", "register"]
