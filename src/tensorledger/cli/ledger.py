"""The "Ledger" commands: create a network, look at its blocks, transactions and events.

`init` calls `tensorledger.init`; the explorer commands print views from
`tensorledger.ledger.explore`; `events` listens through the gateway.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

import tensorledger as tl
from tensorledger.cli._context import (
    channel_store,
    console,
    gateway,
    options,
    print_json,
    write_output,
)
from tensorledger.ledger import explore
from tensorledger.ledger.network import EmbeddedNetwork

PANEL = "Ledger"
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead.")]


def register(app: typer.Typer) -> None:
    """Add this group's commands to the application."""
    for command in (init, blocks, block, tx, events):
        app.command(rich_help_panel=PANEL)(command)


def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            metavar="PATH", help="Where to create the ledger; default: the global --ledger."
        ),
    ] = None,
    org: Annotated[
        list[str] | None,
        typer.Option(
            "--org", "-o", help="An organisation; repeat for more.", show_default="Org1 Org2"
        ),
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", help="A channel; repeat for more.", show_default="mychannel"),
    ] = None,
) -> None:
    """Create an embedded network: one CA per organisation, channels, the DataContract.

    Refuses a directory that already holds a ledger or anything else.

    [bold]Example[/bold]

      tensorledger init ./ledger --org Hospital --org Lab
    """
    opts = options(ctx)
    target = path or opts.ledger
    orgs = org or ["Org1", "Org2"]
    channels = channel or [opts.channel]
    created = tl.init(target, orgs, channels=channels)
    net = EmbeddedNetwork(created)
    try:
        _print_network(net, channels)
    finally:
        net.close()
    hint = "" if created == opts.ledger else f" -l {created}"
    console.print(
        f"\nNext: [bold]tensorledger{hint} put statData '\\[1.0, 2.0, 3.0]'[/bold], "
        f"then [bold]tensorledger{hint} get statData[/bold]."
    )


def _print_network(net: EmbeddedNetwork, channels: list[str]) -> None:
    console.print(
        f"[green]Created[/green] a network of {len(net.orgs)} organisations in "
        f"[bold]{net.root.resolve()}[/bold]"
    )
    orgs = Table(title="Organisations", title_justify="left")
    for column in ("Name", "MSP id", "Domain", "Identities (--identity)"):
        orgs.add_column(column)
    for o in net.orgs:
        orgs.add_row(o.name, o.msp_id, o.domain, f"{o.name} (its User1), {o.name}/Admin")
    console.print(orgs)
    deployed = Table(title="Channels and contracts", title_justify="left")
    for column in ("Channel", "Contract", "Version", "Endorsement policy"):
        deployed.add_column(column)
    for name in channels:
        for d in explore.contracts(net.channel(name).store):
            deployed.add_row(name, d.name, d.version, d.policy)
    console.print(deployed)
    console.print(
        "Files: network.json (the network), organizations/ (CAs, keys and certificates in "
        "Fabric's cryptogen layout; [bold]holds private keys[/bold]), "
        + ", ".join(f"channels/{c}.db" for c in channels)
        + " (one SQLite ledger per channel)."
    )


def blocks(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many blocks.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """List the newest blocks: number, hash, transactions, valid ones, time.

    Each block's header carries the hash of the one before it; a block whose
    valid count is below its transaction count holds transactions the
    committer rejected (see `tensorledger block N`).

    [bold]Example[/bold]

      tensorledger blocks --limit 5
    """
    with channel_store(options(ctx)) as store:
        summaries = explore.blocks(store, limit=limit)
    if as_json:
        print_json([s.to_dict() for s in summaries])
        return
    table = Table()
    table.add_column("Block", justify="right")
    table.add_column("Hash")
    table.add_column("Txs", justify="right")
    table.add_column("Valid", justify="right")
    table.add_column("First transaction at (UTC)")
    for s in summaries:
        valid = Text(str(s.valid_count), style="green" if s.valid_count == s.tx_count else "red")
        table.add_row(
            str(s.number), s.hash_hex[:16], str(s.tx_count), valid, s.first_timestamp or ""
        )
    console.print(table)


def block(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(min=0, metavar="NUMBER", help="Block number.")],
    as_json: JsonFlag = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the block as Fabric protobuf (common.Block)."),
    ] = None,
) -> None:
    """Show one block: header, hashes, and each transaction with its validation code.

    With --out, the block is also written as Fabric's own protobuf, exactly as a
    peer's deliver service returns it, for Fabric's tools to inspect.

    [bold]Example[/bold]

      tensorledger block 4 --out block4.pb
    """
    with channel_store(options(ctx)) as store:
        summary = explore.block_summary(store, number)
        txs = explore.transactions_in_block(store, number)
        raw = explore.block(store, number).SerializeToString() if out is not None else b""
    if out is not None:
        write_output(out, raw)
    if as_json:
        print_json({**summary.to_dict(), "transactions": [t.to_dict() for t in txs]})
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_row("Block", f"[bold]{summary.number}[/bold]")
    grid.add_row("Hash", summary.hash_hex)
    grid.add_row("Previous hash", summary.previous_hash_hex or "(genesis)")
    grid.add_row("Data hash", summary.data_hash_hex)
    grid.add_row("Transactions", f"{summary.tx_count} ({summary.valid_count} valid)")
    console.print(grid)
    # One entry per transaction with its full id on its own line, so ids stay
    # whole (copyable into `tensorledger tx`) in a terminal of any width.
    for t in txs:
        call = f"{t.chaincode}.{t.function}" if t.chaincode else t.type
        console.print(
            f"\n#{t.index}  ",
            _code(t.code),
            f"  {call}  by {t.creator_cn} ({t.creator_msp})" if t.creator_cn else f"  {call}",
            sep="",
        )
        console.print(f"    tx {t.tx_id or '(config)'}", style="dim", soft_wrap=True)
    if out is not None:
        console.print(f"\nWrote {len(raw)} bytes of common.Block to {out}")


def tx(
    ctx: typer.Context,
    tx_id: Annotated[str, typer.Argument(metavar="TXID", help="Transaction id (64 hex digits).")],
    as_json: JsonFlag = False,
) -> None:
    """Show a transaction: creator, call, endorsers, reads, writes, event, verdict.

    The verdict is Fabric's validation code: only VALID transactions changed
    world state and are in the Merkle log that `tensorledger prove` proves.

    [bold]Example[/bold]

      tensorledger tx 9fa7a67eedd0932cf59cabe8f28c58ba7c2e716201a933d332ccca8c9bcc0dd4
    """
    with channel_store(options(ctx)) as store:
        info = explore.transaction(store, tx_id)
    if as_json:
        print_json(info.to_dict())
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_row("Transaction", Text(info.tx_id or "(config)", style="bold"))
    grid.add_row("Status", _code(info.code))
    grid.add_row("Where", f"block {info.block}, position {info.index}")
    if info.leaf is not None:
        grid.add_row("Merkle log", f"leaf {info.leaf} (prove it with `tensorledger prove`)")
    grid.add_row("Time (UTC)", info.timestamp or "")
    grid.add_row("Creator", f"{info.creator_cn} ({info.creator_msp})")
    if info.chaincode:
        grid.add_row("Call", Text(f"{info.chaincode}.{info.function}({', '.join(info.args)})"))
        grid.add_row("Endorsed by", ", ".join(info.endorsers) or "nobody")
        grid.add_row("Response", Text(f"{info.response_status} {info.response_payload}"))
        grid.add_row("Event", info.event or "none")
    else:
        grid.add_row("Type", info.type)
    console.print(grid)
    if info.reads:
        reads = Table(title="Reads", title_justify="left")
        for column in ("Namespace", "Key", "Version seen"):
            reads.add_column(column, overflow="fold")
        for r in info.reads:
            seen = "absent" if r.version is None else f"block {r.version[0]} tx {r.version[1]}"
            reads.add_row(r.namespace, r.key, seen)
        console.print(reads)
    if info.writes:
        writes = Table(title="Writes", title_justify="left")
        for column in ("Namespace", "Key", "Value"):
            writes.add_column(column, overflow="fold")
        for w in info.writes:
            value = Text("(deleted)", style="red") if w.deleted else Text(w.value or "")
            writes.add_row(w.namespace, w.key, value)
        console.print(writes)


def events(
    ctx: typer.Context,
    chaincode: Annotated[
        str | None,
        typer.Option("--chaincode", help="Only this chaincode's events, e.g. datacontract."),
    ] = None,
    from_block: Annotated[
        int, typer.Option("--from-block", min=0, help="First block to look at.")
    ] = 0,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep waiting for new events (Ctrl-C stops).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print chaincode events of valid transactions; stop after 1 s without new blocks.

    With --follow, keep waiting for transactions committed by other processes.

    [bold]Example[/bold]

      tensorledger events --chaincode datacontract --follow
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        stream = gw.network(opts.channel).chaincode_events(
            chaincode, start_block=from_block, timeout=None if follow else 1.0
        )
        for e in stream:
            payload = explore.preview(e.payload)
            if as_json:
                record = {
                    "block": e.block,
                    "tx_id": e.tx_id,
                    "chaincode": e.chaincode,
                    "name": e.name,
                    "payload": payload,
                }
                typer.echo(json.dumps(record, ensure_ascii=False))
            else:
                console.print(
                    f"block {e.block}  {e.tx_id}  {e.chaincode}  [bold]{e.name}[/bold]  ",
                    Text(payload),
                    sep="",
                    soft_wrap=True,
                )


def _code(code: str) -> Text:
    return Text(code, style="green" if code == "VALID" else "bold red")


__all__ = ["block", "blocks", "events", "init", "register", "tx"]
