"""`tensorledger data`: register dataset files, list and show them, verify and export them.

A skin over `tensorledger.registry` (add_dataset, list/get) and the chunk
store: data goes off-chain in content-addressed chunks, the ledger holds the
manifest digest and Merkle root, and `verify`/`export` check every byte
against that before counting or writing it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from tensorledger import blobs
from tensorledger.cli import _dataset_io as io
from tensorledger.cli._context import console, gateway, options, print_json
from tensorledger.cli._views import (
    PANEL,
    JsonFlag,
    KeyFile,
    block_of,
    byte_progress,
    data_key,
    fields,
    group,
    no_key,
    pairs,
    parse_pairs,
    short,
    size,
    when,
)
from tensorledger.registry import (
    DatasetRecord,
    add_dataset,
    dataset_versions,
    list_datasets,
    resolve_dataset,
)

app = group(
    "data",
    """Register dataset files on the ledger and check them back, byte for byte.

    Files (CSV, Parquet, .npy) are cut into SHA-256-named chunks kept beside the
    ledger; the ledger records the manifest digest, the Merkle root, schema,
    rows, owner and tags. (The seed's key-value records are `put`/`get`.)

    [bold]Example[/bold]

      tensorledger data add patients.parquet --id cohort-2026 --tag consent=research-only --encrypt
    """,
)

Ref = Annotated[
    str,
    typer.Argument(
        metavar="ID[@V]", help="Dataset id, with @VERSION for one version (default: newest)."
    ),
]


def register(root: typer.Typer) -> None:
    """Add the `data` group to the application."""
    root.add_typer(app, rich_help_panel=PANEL)


@app.command()
def add(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A CSV, Parquet or .npy file.")],
    dataset_id: Annotated[str, typer.Option("--id", help="Dataset id, e.g. cohort-2026.")],
    version: Annotated[
        int | None,
        typer.Option("--version", "-V", min=1, help="Version to register; default: the next."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", help="NAME=VALUE, e.g. consent=research-only; repeatable."),
    ] = None,
    parent: Annotated[
        list[str] | None,
        typer.Option("--parent", "-p", help="Dataset it was derived from, ID@V; repeatable."),
    ] = None,
    encrypt: Annotated[
        bool,
        typer.Option(
            "--encrypt",
            help="Seal every chunk with AES-256-GCM under your organisation's key for this "
            "dataset (made and saved on first use).",
        ),
    ] = False,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file", "-k", help="Encrypt with this key file instead (implies --encrypt)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Chunk a data file into the store and register it as a dataset version.

    Chunks are durable before the transaction is sent, so an interrupted add
    never leaves a registered version pointing at missing data; re-adding the
    same file stores nothing new. Only the organisation that registered a
    dataset may add versions of it. Encryption keys never go on the ledger:
    a partner who is to read the data gets the key file handed over outside it.

    [bold]Example[/bold]

      tensorledger data add patients.parquet --id cohort-2026 --tag consent=research-only --encrypt
    """
    opts = options(ctx)
    tags = parse_pairs(tag or [], "--tag")
    key = blobs.read_key_file(key_file) if key_file is not None else None
    with gateway(opts) as gw, byte_progress(f"adding {file.name}", keep=not as_json) as bar:
        record = add_dataset(
            gw,
            file,
            dataset_id,
            version,
            tags=tags,
            parents=parent or [],
            encrypt=encrypt or key is not None,
            key=key,
            progress=bar,
            channel=opts.channel,
        )
        chunks = len(io.open_dataset(gw.root, record).manifest.chunks)
        saved = blobs.key_path(gw.key_dir, dataset_id) if record.encrypted and key is None else None
    block = block_of(opts, record.tx_id)
    if as_json:
        print_json(
            {
                "record": record.to_dict(),
                "block": block,
                "chunks": chunks,
                "key_file": str(key_file or saved) if record.encrypted else None,
            }
        )
        return
    console.print(f"[green]Registered[/green] dataset [bold]{record.ref}[/bold]")
    rows: list[tuple[str, str | Text]] = [
        ("rows", f"{record.rows:,}"),
        ("columns", f"{len(record.columns)}: {_columns(record)}"),
        ("size", f"{size(record.size)} in {chunks} chunk{'s' if chunks != 1 else ''}"),
        ("root", record.root),
        ("manifest", record.manifest),
        ("tags", pairs(record.tags) or "-"),
        ("parents", ", ".join(record.parents) or "-"),
        ("transaction", record.tx_id),
        ("block", "?" if block is None else str(block)),
    ]
    if record.encrypted:
        where = f"saved in {saved}" if saved is not None else f"from {key_file} (not saved)"
        rows.append(("encrypted", f"AES-256-GCM, key id {record.key_id}, {where}"))
    console.print(fields(rows))
    if record.encrypted:
        console.print(
            "\nThe key never goes on the ledger. A partner who is to read the data needs "
            f"[bold]{key_file or saved}[/bold] handed over out of band, and reads it with "
            "[bold]--key-file[/bold]."
        )


@app.command("ls")
def list_(
    ctx: typer.Context,
    dataset_id: Annotated[
        str | None,
        typer.Argument(metavar="[ID]", help="List every version of this dataset instead."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List datasets (newest version of each), or every version of one.

    Versions are append-only: every one ever registered stays listed.

    [bold]Examples[/bold]

      tensorledger data ls

      tensorledger data ls cohort-2026
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        if dataset_id is None:
            records = list_datasets(gw, channel=opts.channel)
        else:
            records = dataset_versions(gw, dataset_id, channel=opts.channel)
            if not records:
                resolve_dataset(gw, dataset_id, channel=opts.channel)  # raises: not registered
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    if not records:
        console.print(
            "No datasets yet: add one with [bold]tensorledger data add FILE --id ID[/bold]"
        )
        return
    # Ids, versions and sizes never wrap; tags and times do, so the table fits 80 columns.
    table = Table()
    table.add_column("Dataset", no_wrap=True, style="bold")
    table.add_column("Latest" if dataset_id is None else "Version", justify="right")
    table.add_column("Owner")
    table.add_column("Rows", justify="right")
    table.add_column("Size", justify="right", no_wrap=True)
    table.add_column("Tags", overflow="fold")
    table.add_column("Registered")
    for r in records:
        facts = [pairs(r.tags), "encrypted" if r.encrypted else "", _parents(r)]
        tags = "; ".join(fact for fact in facts if fact)
        table.add_row(
            r.id, str(r.version), r.owner, f"{r.rows:,}", size(r.size), tags, when(r.timestamp)
        )
    console.print(table)


@app.command()
def show(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
    """Show a dataset version's record: schema, hashes, owner, tags, lineage, transaction.

    What the ledger holds; `data verify` checks the stored data still matches it.

    [bold]Example[/bold]

      tensorledger data show cohort-2026@1
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        record = resolve_dataset(gw, ref, channel=opts.channel)
    if as_json:
        print_json(record.to_dict())
        return
    console.print(f"[bold]dataset {record.ref}[/bold]")
    console.print(fields(_record_rows(record, block_of(opts, record.tx_id))))


@app.command()
def verify(
    ctx: typer.Context, ref: Ref, key_file: KeyFile = None, as_json: JsonFlag = False
) -> None:
    """Re-hash every chunk of a dataset version against its manifest, and that against the ledger.

    Prints OK, or one error line naming the chunk that differs and exits 9.
    An encrypted version is decrypted and checked as plaintext when you hold
    its key; without one, each chunk is checked as stored (sealed), which
    proves it unaltered without reading it.

    [bold]Example[/bold]

      tensorledger data verify cohort-2026@1 --key-file cohort-2026.key
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        record = resolve_dataset(gw, ref, channel=opts.channel)
        opened = io.open_dataset(gw.root, record)
        key = data_key(gw, record, key_file)
        with byte_progress(f"verifying {record.ref}", keep=False) as bar:
            if record.encrypted and key is None:
                io.check_stored(opened, bar)
            else:
                for _ in io.plaintext(opened, key, bar):
                    pass
    plain = key is not None or not record.encrypted
    chunks = len(opened.manifest.chunks)
    if as_json:
        print_json(
            {
                "ok": True,
                "dataset": record.ref,
                "chunks": chunks,
                "size": record.size,
                "manifest": record.manifest,
                "root": record.root,
                "plaintext_checked": plain,
            }
        )
        return
    what = f"{chunks} chunk{'s' if chunks != 1 else ''} ({size(record.size)})"
    console.print(
        f"[green]OK[/green] dataset {record.ref}: {what} re-hashed against manifest "
        f"{short(record.manifest)}, which matches the ledger (root {short(record.root)})"
    )
    if not plain:
        console.print(
            "   checked as stored (encrypted): the plaintext was not read; pass --key-file to "
            "decrypt and check it too",
            style="dim",
        )


@app.command()
def export(
    ctx: typer.Context,
    ref: Ref,
    out: Annotated[Path, typer.Argument(metavar="OUT", help="File to write; - writes to stdout.")],
    key_file: KeyFile = None,
) -> None:
    """Write a dataset version's verified bytes to a file, decrypting them if encrypted.

    Every chunk is verified before it is written, and a file is only put in
    place once all of them are, so a refused export leaves nothing behind.
    The result is byte for byte the file that was added.

    [bold]Example[/bold]

      tensorledger -i Org2 data export cohort-2026@1 cohort.parquet --key-file cohort-2026.key
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        record = resolve_dataset(gw, ref, channel=opts.channel)
        opened = io.open_dataset(gw.root, record)
        key = data_key(gw, record, key_file)
        if record.encrypted and key is None:
            raise no_key(gw, record)
        target = sys.stdout.buffer if str(out) == "-" else out
        with byte_progress(f"exporting {record.ref}", keep=False) as bar:
            written = io.export(opened, key, target, bar)
    if target is out:
        console.print(
            f"[green]Wrote[/green] {out}: {size(written)}, dataset {record.ref} verified "
            f"(root {short(record.root)})"
        )


def _parents(record: DatasetRecord) -> str:
    return f"from {', '.join(record.parents)}" if record.parents else ""


def _columns(record: DatasetRecord, limit: int = 8) -> str:
    shown = ", ".join(record.columns[:limit])
    more = len(record.columns) - limit
    return shown + (f", ... ({more} more)" if more > 0 else "")


def _record_rows(record: DatasetRecord, block: int | None) -> list[tuple[str, str | Text]]:
    schema = Text()
    for i, column in enumerate(record.columns):
        schema.append(("\n" if i else "") + column)
        schema.append(f"  {record.dtypes.get(column, '?')}", style="dim")
    encrypted = f"AES-256-GCM, key id {record.key_id}" if record.encrypted else "no"
    return [
        ("owner", f"{record.owner} ({record.registered_by})"),
        ("registered", when(record.timestamp)),
        ("transaction", record.tx_id + ("" if block is None else f" (block {block})")),
        ("media type", record.media_type),
        ("rows", f"{record.rows:,}"),
        ("size", size(record.size)),
        ("manifest", record.manifest),
        ("root", record.root),
        ("encrypted", encrypted),
        ("parents", ", ".join(record.parents) or "-"),
        ("tags", pairs(record.tags) or "-"),
        (f"columns ({len(record.columns)})", schema),
    ]


__all__ = ["add", "app", "export", "list_", "register", "show", "verify"]
