"""`tensorledger lineage`: which data made a model, and what was made from a dataset, as a tree.

The auditor's question of journey 2 ("which data trained model X?"),
answered from `tensorledger.registry.lineage` with what an audit report
needs on every line: the version, its hash (dataset root, weights root,
result hash), the organisation that registered it and when.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Annotated, Literal

import typer
from rich.text import Text
from rich.tree import Tree

from tensorledger.cli._context import console, gateway, options, print_json
from tensorledger.cli._views import PANEL, JsonFlag, short, when
from tensorledger.errors import InvalidRequestError
from tensorledger.registry import AnalysisRecord, DatasetRecord, LineageNode, lineage

Kind = Literal["dataset", "model", "analysis"]


class KindChoice(StrEnum):
    """--kind's values (typer validates an Enum and lists it in --help)."""

    dataset = "dataset"
    model = "model"
    analysis = "analysis"


_KINDS: dict[KindChoice, Kind] = {
    KindChoice.dataset: "dataset",
    KindChoice.model: "model",
    KindChoice.analysis: "analysis",
}

#: what a node's hash is, by kind
_HASH = {"dataset": "root", "model": "weights", "analysis": "result"}
_PLURAL = {"dataset": "datasets", "model": "models", "analysis": "analyses"}
_STYLE = {"dataset": "cyan", "model": "magenta", "analysis": "yellow"}


def register(root: typer.Typer) -> None:
    """Add the `lineage` command to the application."""
    root.command("lineage", rich_help_panel=PANEL)(lineage_command)


def lineage_command(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            metavar="ID[@V]",
            help="A model, dataset or analysis id; @VERSION for one version (default: newest).",
        ),
    ],
    kind: Annotated[
        KindChoice | None,
        typer.Option(
            "--kind",
            help="What the id names: needed only when it names more than one kind of record.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show where a model, dataset or analysis came from and what was made from it.

    For a model: the dataset versions it was trained on (with the datasets
    those were derived from and the analyses of each), its parent checkpoint
    and the checkpoints that continue it. For a dataset: its parents, and the
    datasets, models and analyses made from it. Every line carries the hash
    the ledger records, the registering organisation and the time.

    [bold]Example[/bold]

      tensorledger lineage model-x
    """
    opts = options(ctx)
    chosen = None if kind is None else _KINDS[kind]
    with gateway(opts) as gw:
        try:
            tree = lineage(gw, ref, kind=chosen, channel=opts.channel)
        except InvalidRequestError as exc:
            if chosen is None and "kind=" in str(exc):  # the library names its own keyword
                raise InvalidRequestError(str(exc).replace("with kind=", "with --kind")) from None
            raise
    if as_json:
        print_json(tree.to_dict())
        return
    view = Tree(_label(tree), guide_style="dim")
    _grow(view, tree)
    console.print(view)
    related = {(n.kind, n.ref) for n in tree.walk()} - {(tree.kind, tree.ref)}
    found = Counter(kind for kind, _ in related)
    if found:
        parts = [f"{n} {k if n == 1 else _PLURAL[k]}" for k, n in found.items()]
        console.print(", ".join(parts) + " related", style="dim")
    else:
        console.print("nothing registered refers to it, and it refers to nothing", style="dim")


def _grow(branch: Tree, node: LineageNode) -> None:
    for child in node.children:
        _grow(branch.add(_label(child)), child)


def _label(node: LineageNode) -> Text:
    text = Text()
    if node.relation != "root":
        text.append(f"{node.relation} ", style="dim")
    text.append(f"{node.kind} ", style=_STYLE[node.kind])
    text.append(node.ref, style="bold")
    record = node.record
    if record is None:
        text.append("  not registered", style="red")
        return text
    if isinstance(record, DatasetRecord):
        digest = record.root
    elif isinstance(record, AnalysisRecord):
        digest = record.result_hash
    else:
        digest = record.weights_root
    text.append(f"  {_HASH[node.kind]} {short(digest)}  {record.owner}  {when(record.timestamp)}")
    return text


__all__ = ["lineage_command", "register"]
