"""The "Maintenance" commands: verify a ledger end to end, run the demo, run the benchmark.

`verify` drives `tensorledger.ledger.verify` with a progress bar; `demo`
prints the story of `tensorledger.demo.run_demo`; `bench` hands over to
`tensorledger.bench` when that module is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Annotated

import typer
from rich.padding import Padding
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from tensorledger.cli._context import console, err_console, network, options, print_json
from tensorledger.demo import DemoResult, run_demo
from tensorledger.demo_tf import TFDemoResult, run_tf_demo
from tensorledger.errors import (
    ConfigError,
    IntegrityError,
    InvalidRequestError,
    TensorLedgerError,
)
from tensorledger.ledger.verify import VerifyReport, verify_channel

PANEL = "Maintenance"
#: findings listed after the first one; the rest are only counted
MORE_FINDINGS = 5


#: `tensorledger verify`: alone, the ledger check below; other modules add subcommands
#: to it (`verify analysis`), so it is a group that runs its callback without one
verify_app = typer.Typer(
    name="verify",
    subcommand_metavar="[COMMAND [ARGS]...]",
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the application."""
    verify_app.callback(invoke_without_command=True)(verify)
    app.add_typer(verify_app, rich_help_panel=PANEL)
    for command in (demo, bench):
        app.command(rich_help_panel=PANEL)(command)


def verify(
    ctx: typer.Context,
    channel: Annotated[
        str | None,
        typer.Option("--channel", "-c", help="Only this channel; default: every channel."),
    ] = None,
) -> None:
    """Check a ledger end to end from its genesis block, trusting nothing stored.

    Re-hashes the chain, re-checks every signature, endorsement and MVCC
    decision, replays the write sets against world state, history and events,
    and rebuilds the Merkle log and its checkpoints. Names the first thing that
    differs and exits with code 9 if anything does. With a subcommand, checks
    that one thing instead, e.g. [bold]verify analysis ID[/bold].

    [bold]Examples[/bold]

      tensorledger verify --channel mychannel

      tensorledger verify analysis ols-diabetes-v1-0123456789ab
    """
    if ctx.invoked_subcommand is not None:
        return
    opts = options(ctx)
    with network(opts) as net:
        chosen = channel or (opts.channel if opts.channel_given else None)
        names = [chosen] if chosen else list(net.channel_names)
        for name in names:
            # Checked here rather than by opening the channel: verify must run on
            # a ledger too damaged to open.
            if name not in net.channel_names:
                raise ConfigError(
                    f"no channel {name!r} in this network "
                    f"(channels: {', '.join(net.channel_names)})"
                )
        reports = [_verify_one(net.root, name) for name in names]
    table = Table()
    for column in ("Channel", "Blocks", "Transactions", "Valid", "Checkpoints", "Result"):
        table.add_column(column, justify="left" if column in ("Channel", "Result") else "right")
    for r in reports:
        result = Text("OK", style="green") if r.ok else Text(f"{len(r.findings)} differ", "red")
        table.add_row(
            r.channel, str(r.blocks), str(r.transactions), str(r.valid), str(r.checkpoints), result
        )
    console.print(table)
    failed = [r for r in reports if not r.ok]
    for r in failed:
        _print_findings(r)
    if failed:
        raise typer.Exit(IntegrityError.exit_code)


def _verify_one(root: Path, channel: str) -> VerifyReport:
    with Progress(
        TextColumn(f"verifying {channel}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(channel, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return verify_channel(root, channel, progress=advance)


def _print_findings(report: VerifyReport) -> None:
    first = report.first
    assert first is not None  # only called for reports with findings
    more = len(report.findings) - 1
    lines = Text()
    lines.append("first difference: ", style="bold red")
    lines.append(f"{first.where}: {first.detail}")
    for f in report.findings[1 : 1 + MORE_FINDINGS]:
        lines.append(f"\nthen: {f.where}: {f.detail}", style="dim")
    if more > MORE_FINDINGS:
        lines.append(f"\n... and {more - MORE_FINDINGS} more", style="dim")
    title = f"{report.channel}: {len(report.findings)} difference{'s' if more else ''}"
    console.print(Panel(lines, title=title, title_align="left", border_style="red"))


def demo(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Create the demo ledger here and keep it; default: a temporary one."
        ),
    ] = None,
    seed_only: Annotated[
        bool,
        typer.Option(
            "--seed-only", help="Only the seed's storeData/retrieveData story (no TensorFlow)."
        ),
    ] = False,
    epochs: Annotated[
        int, typer.Option(min=1, help="Training epochs of the TensorFlow story.")
    ] = 20,
) -> None:
    """Run the seed's story on a fresh two-organisation network, with TensorFlow when installed.

    With TensorFlow: Org1 registers the diabetes data, trains the seed's model
    on it verified, anchoring a checkpoint every 5 epochs; records an OLS
    analysis that Org2 re-verifies; stores the seed's statData and modelParams;
    then alters one dataset chunk and one weight, shows both caught and named,
    and puts them back; a PNG of the loss curve is saved. Takes under a minute.
    With --seed-only (or without TensorFlow), the seed's storeData/retrieveData flow:

    Creates the network, stores the seed's statistics and model weights as Org1,
    reads them back as Org2, shows the contract's error for a missing id, lists
    the blocks, proves one transaction offline, catches a forged proof and
    verifies the whole ledger. Takes a few seconds.

    [bold]Example[/bold]

      tensorledger demo --dir ./demo-ledger
    """
    if not seed_only and importlib.util.find_spec("tensorflow") is not None:
        with err_console.status("running the TensorFlow demo..."):
            tf_result = run_tf_demo(directory, epochs=epochs)
        _print_tf_demo(tf_result)
        if not tf_result.ok:
            raise typer.Exit(IntegrityError.exit_code)
        return
    with err_console.status("running the demo..."):
        result = run_demo(directory)
    _print_demo(result)
    if not result.ok:
        raise typer.Exit(IntegrityError.exit_code)


def _step(number: int, title: str) -> None:
    console.print(f"\n[bold cyan]{number}.[/bold cyan] [bold]{title}[/bold]")


def _say(*parts: str | Text) -> None:
    """An indented paragraph of a demo step; wrapped lines keep the indent."""
    text = Text()
    for part in parts:
        text.append_text(part if isinstance(part, Text) else Text.from_markup(part))
    console.print(Padding(text, (0, 0, 0, 3)))


def _print_demo(r: DemoResult) -> None:
    where = str(r.ledger) if r.kept else "a temporary directory"
    _step(1, f"A network of {len(r.orgs)} organisations ({', '.join(r.orgs)}) in {where}")
    _say(
        "Each has its own certificate authority, peer and users. Channel "
        f"[bold]{r.channel}[/bold] runs the seed's DataContract; a majority of the "
        "organisations must endorse every change."
    )
    _step(2, f"{r.orgs[0]} stores the seed's records with storeData")
    for s in r.stored:
        _say(f"[bold]{s.data_id}[/bold] = ", Text(_short(s.value)))
        _say(
            f"→ {s.result.payload.decode()} [dim](block {s.result.block}, "
            f"tx {s.result.tx_id[:16]}...)[/dim]"
        )
    _step(3, f"{r.orgs[1]} reads them back with retrieveData")
    for g in r.retrieved:
        mark = "[green]identical[/green]" if g.matches else "[red]DIFFERENT[/red]"
        _say(f"{g.data_id} as {g.reader}: {mark} to what {r.orgs[0]} stored")
    _step(4, "Asking for an id nobody stored")
    _say("the contract answers: ", Text(r.missing_error, style="yellow"))
    _step(5, "The chain of blocks")
    table = Table(padding=(0, 1))
    for column in ("Block", "Hash", "Txs", "Valid"):
        table.add_column(column, justify="right" if column != "Hash" else "left")
    for b in r.blocks:
        table.add_row(str(b.number), b.hash_hex[:16], str(b.tx_count), str(b.valid_count))
    console.print(Padding(table, (0, 0, 0, 3)))
    first_data = min(s.result.block for s in r.stored)
    _say(
        f"Block 0 holds the channel's configuration; blocks 1-{first_data - 1} deploy the "
        "contract (each organisation approves it, then it is committed). Every header "
        "carries the hash of the block before it."
    )
    _step(6, f"An offline proof that {r.stored[0].data_id}'s transaction is on the ledger")
    _say(
        f"A {r.proof_json_bytes}-byte proof: leaf {r.proof.leaf_index} of a log of "
        f"{r.checkpoint.size}, {len(r.proof.path)} hashes, checked against the orderer's "
        "signed checkpoint with nothing but its verifier key: [green]OK[/green]"
    )
    _say("The same proof with one byte changed: ", Text(r.tamper_error, style="yellow"))
    _step(7, "verify: the whole ledger re-checked from its genesis block")
    rep = r.report
    if rep.ok:
        _say(
            f"{rep.blocks} blocks, {rep.transactions} transactions ({rep.valid} valid), "
            f"{rep.checkpoints} signed checkpoints: [green]nothing differs[/green]"
        )
    else:
        _print_findings(rep)
    done = f"\nDone in {r.seconds:.1f} s. "
    if r.kept:
        console.print(done + f"Explore it: [bold]tensorledger -l {r.ledger} blocks[/bold]")
    else:
        console.print(
            done + "To keep the ledger and explore it: [bold]tensorledger demo --dir DIR[/bold]"
        )


def _print_tf_demo(r: TFDemoResult) -> None:
    where = str(r.ledger) if r.kept else "a temporary directory"
    _step(1, f"A network of {len(r.orgs)} organisations ({', '.join(r.orgs)}) in {where}")
    _step(2, f"{r.orgs[0]} registers scikit-learn's diabetes data")
    _say(
        f"[bold]{r.dataset_ref}[/bold]: {r.dataset_rows} rows, chunked off chain, "
        f"Merkle root {r.dataset_root[:16]}... [dim](tx {r.dataset_tx[:16]}...)[/dim]"
    )
    _step(3, "The seed's model trains on it, every chunk verified before TensorFlow sees it")
    _say(
        f"{len(r.losses)} epochs, loss {r.losses[0]:.1f} → {r.losses[-1]:.1f}; a checkpoint "
        f"anchored every 5 epochs: {', '.join(r.model_versions)}"
    )
    _step(4, f"{r.orgs[0]} records an OLS analysis; {r.orgs[1]} re-verifies it")
    head = ", ".join(f"{name} {value:.3f}" for name, value in r.coefficients[:4])
    _say(f"[bold]{r.analysis_id}[/bold]: {head}, ...")
    mark = "[green]verified[/green]" if r.analysis_verified else "[red]NOT verified[/red]"
    _say(f"as {r.orgs[1]}: {mark}")
    _step(5, "The seed's statData and modelParams through DataContract")
    _say(f"statData back as a tf.data.Dataset: {list(r.stat_data)}")
    same = "[green]identical[/green]" if r.params_match else "[red]DIFFERENT[/red]"
    _say(f"modelParams (the trained weights) read back as {r.orgs[1]}: {same}")
    _step(6, "What is on the ledger")
    table = Table(padding=(0, 1))
    for column in ("Kind", "Id", "Tx", "What"):
        table.add_column(column)
    for row in r.rows:
        table.add_row(row.kind, row.ref, row.tx_id[:12], row.detail)
    console.print(Padding(table, (0, 0, 0, 3)))
    _step(7, "One byte changed in a dataset chunk, then in a checkpoint's weights")
    _say("dataset: ", Text(r.chunk_error or "NOT DETECTED", style="yellow"))
    _say("weights: ", Text(r.tensor_error or "NOT DETECTED", style="yellow"))
    _say("both files restored; the data streams and the weights load again")
    _step(8, "verify: the whole ledger re-checked from its genesis block")
    if r.report.ok:
        _say(
            f"{r.report.blocks} blocks, {r.report.transactions} transactions: "
            "[green]nothing differs[/green]"
        )
    else:
        _print_findings(r.report)
    _say(f"training loss curve: [bold]{r.png}[/bold]")
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in r.timings)
    console.print(f"\nDone in {r.seconds:.1f} s [dim]({steps})[/dim].")
    if not r.kept:
        console.print("To keep the ledger and the PNG: [bold]tensorledger demo --dir DIR[/bold]")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


def bench(
    processes: Annotated[
        int | None, typer.Option(min=1, help="Client processes submitting in parallel.")
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="Client threads per process.")] = None,
    per_thread: Annotated[
        int | None, typer.Option(min=1, help="Transactions each client thread submits.")
    ] = None,
    proof_size: Annotated[
        int | None, typer.Option(min=1, help="Log size at which inclusion proofs are timed.")
    ] = None,
    fabric: Annotated[
        bool,
        typer.Option(
            "--fabric",
            help="Instead: the same storeData load on a fresh real Fabric network and on the "
            "embedded ledger, their ratio, and the time from `fabric up` to a first commit.",
        ),
    ] = False,
) -> None:
    """Run the benchmark and print JSON: throughput, latency, proof size, bytes per tx.

    Each figure comes with its peer figure from the same run (the signature
    operations alone) and their ratio. Progress goes to stderr.

    [bold]Example[/bold]

      tensorledger bench --processes 2 > bench.json
      tensorledger bench --fabric > fabric-vs-embedded.json
    """
    name = "tensorledger.fabric_bench" if fabric else "tensorledger.bench"
    if fabric and proof_size is not None:
        raise InvalidRequestError("--proof-size does not apply to --fabric")
    if importlib.util.find_spec(name) is None:
        raise TensorLedgerError(
            f"the benchmark is not part of this installation (no {name} module)"
        )
    module = importlib.import_module(name)
    given = {
        "processes": processes,
        "threads": threads,
        "per_thread": per_thread,
        "proof_size": proof_size,
    }
    # Only what the user chose: the benchmark module owns its defaults.
    settings = {name: value for name, value in given.items() if value is not None}

    def say(message: str) -> None:
        err_console.print(f"bench: {message}", style="dim", markup=False)

    results = module.run(progress=say, **settings)
    print_json(results)


__all__ = ["bench", "demo", "register", "verify", "verify_app"]
