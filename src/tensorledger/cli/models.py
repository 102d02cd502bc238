"""`tensorledger model`: list anchored checkpoints, show one, re-verify its weights byte for byte.

Listing and showing read the `models` registry only. `verify` re-hashes every
tensor through `tensorledger.tf.loading`, which imports TensorFlow (seconds),
so it is imported inside that command and nowhere else: `ls` and `show`, and
the rest of the CLI, stay fast.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from tensorledger.cli._context import console, err_console, gateway, options, print_json
from tensorledger.cli._views import (
    PANEL,
    JsonFlag,
    block_of,
    fields,
    group,
    pairs,
    plain,
    short,
    when,
)
from tensorledger.registry import ModelRecord, list_models, model_versions, resolve_model

app = group(
    "model",
    """List anchored model checkpoints, show their lineage and re-verify their weights.

    Checkpoints are anchored from Keras by [bold]tensorledger.tf.LedgerCheckpoint[/bold]:
    a SHA-256 per tensor, their Merkle root, the training dataset versions,
    metrics and hyperparameters.

    [bold]Example[/bold]

      tensorledger model verify fraud-model@3
    """,
)

Ref = Annotated[
    str,
    typer.Argument(
        metavar="ID[@V]", help="Model id, with @VERSION for one checkpoint (default: newest)."
    ),
]


def register(root: typer.Typer) -> None:
    """Add the `model` group to the application."""
    root.add_typer(app, rich_help_panel=PANEL)


@app.command("ls")
def list_(
    ctx: typer.Context,
    model_id: Annotated[
        str | None,
        typer.Argument(metavar="[ID]", help="List every checkpoint of this model instead."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List models (newest checkpoint of each), or every checkpoint of one with its time.

    Every version ever used stays listed: to find the one live on a given
    date, list the model's versions and read their registration times.

    [bold]Examples[/bold]

      tensorledger model ls

      tensorledger model ls fraud-model
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        if model_id is None:
            records = list_models(gw, channel=opts.channel)
        else:
            records = model_versions(gw, model_id, channel=opts.channel)
            if not records:
                resolve_model(gw, model_id, channel=opts.channel)  # raises: not registered
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    if not records:
        console.print(
            "No models yet: anchor one from Keras with "
            "[bold]tensorledger.tf.LedgerCheckpoint[/bold]"
        )
        return
    table = Table()
    table.add_column("Model")
    table.add_column("Latest" if model_id is None else "Version", justify="right")
    for column in ("Owner", "Epoch", "Trained on", "Metrics", "Weights root", "Registered"):
        table.add_column(column, justify="right" if column == "Epoch" else "left")
    for r in records:
        table.add_row(
            r.id, str(r.version), r.owner, "-" if r.epoch is None else str(r.epoch),
            ", ".join(r.datasets), _metrics(r), short(r.weights_root), when(r.timestamp),
        )  # fmt: skip
    console.print(table)


@app.command()
def show(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
    """Show a checkpoint's record: training data, metrics, hyperparameters, tensors, transaction.

    What the ledger holds; `model verify` checks the stored weights still match it.

    [bold]Example[/bold]

      tensorledger model show fraud-model@3
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        record = resolve_model(gw, ref, channel=opts.channel)
    if as_json:
        print_json(record.to_dict())
        return
    block = block_of(opts, record.tx_id)
    console.print(f"[bold]model {record.ref}[/bold]")
    hyper = ", ".join(f"{k}={plain(v)}" for k, v in sorted(record.hyperparameters.items()))
    console.print(
        fields(
            [
                ("owner", f"{record.owner} ({record.registered_by})"),
                ("registered", when(record.timestamp)),
                ("transaction", record.tx_id + ("" if block is None else f" (block {block})")),
                ("trained on", ", ".join(record.datasets) or "-"),
                ("parent", record.parent or "-"),
                ("epoch", "-" if record.epoch is None else str(record.epoch)),
                ("metrics", _metrics(record) or "-"),
                ("hyperparameters", Text(hyper or "-")),
                ("framework", record.framework),
                ("architecture", record.architecture),
                ("weights", record.weights),
                ("weights root", record.weights_root),
                ("tags", pairs(record.tags) or "-"),
            ]
        )
    )
    table = Table(title=f"{len(record.tensors)} tensors", title_justify="left")
    for column in ("Tensor", "Shape", "Dtype", "SHA-256"):
        table.add_column(column)
    for t in record.tensors:
        table.add_row(t.name, "x".join(map(str, t.shape)) or "scalar", t.dtype, short(t.sha256))
    console.print(table)


@app.command()
def verify(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
    """Re-hash every tensor of a checkpoint against its on-chain record, and its architecture.

    Prints OK, or one error line naming the tensor that differs and exits 9:
    the check `tensorledger.tf.load_weights` makes before loading anything.
    Loads TensorFlow, so it takes a few seconds.

    [bold]Example[/bold]

      tensorledger model verify fraud-model@3
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        record = resolve_model(gw, ref, channel=opts.channel)
        with err_console.status(f"verifying {record.ref}..."):
            # TensorFlow's C++ start-up notes would break the one-line error contract
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            from tensorledger.tf.loading import architecture, verified_tensors

            tensors = verified_tensors(gw, record)
            architecture(gw, record)
    count = sum(int(a.nbytes) for a in tensors.values())
    if as_json:
        print_json(
            {
                "ok": True,
                "model": record.ref,
                "tensors": len(tensors),
                "bytes": count,
                "weights_root": record.weights_root,
                "architecture": record.architecture,
            }
        )
        return
    console.print(
        f"[green]OK[/green] model {record.ref}: {len(tensors)} tensors ({count:,} bytes) "
        f"re-hashed against the ledger (weights root {short(record.weights_root)}), "
        f"architecture {short(record.architecture)} matches"
    )


@app.command()
def promote(
    ctx: typer.Context,
    ref: Ref,
    job: Annotated[str, typer.Option("--job", "-j", help="The training job that produced it.")],
    as_json: JsonFlag = False,
) -> None:
    """Deploy a checkpoint a federated job produced, once the ledger holds its whole lineage.

    The [bold]governance[/bold] contract refuses, naming the first gap, unless the
    job is running, every round is recorded, the checkpoint's weights root is the
    last round's global model, its datasets are the job's and its metric meets
    the job's threshold.

    [bold]Example[/bold]

      tensorledger model promote cancer-net@3 --job job-1
    """
    from tensorledger import governance

    opts = options(ctx)
    with gateway(opts) as gw:
        deployment = governance.promote_model(gw, job, ref, channel=opts.channel)
    if as_json:
        print_json(deployment.to_dict())
        return
    console.print(
        f"[green]deployed[/green] model {deployment.model} from job {deployment.job} "
        f"({deployment.threshold_metric} = {deployment.value:g} ≥ {deployment.threshold_min:g}, "
        f"weights root {short(deployment.weights_root)})"
    )


def _metrics(record: ModelRecord) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in sorted(record.metrics.items()))


__all__ = ["app", "list_", "promote", "register", "show", "verify"]
