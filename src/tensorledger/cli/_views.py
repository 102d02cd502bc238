"""What the registry commands (data, model, analyze, lineage) share: options, formats, look-ups.

Records are shown the same way everywhere: hashes shortened to a prefix
that is still unique in practice, sizes in decimal units, times in UTC to
the second, so a dataset seen in `data ls` is recognisable in `lineage`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from tensorledger import blobs
from tensorledger.cli._context import Options, channel_store, err_console
from tensorledger.errors import ConfigError, InvalidRequestError, TensorLedgerError
from tensorledger.gateway import Gateway
from tensorledger.ledger import explore
from tensorledger.registry import DatasetRecord

#: the help panel of the registry command groups in `tensorledger --help`
PANEL = "Datasets, models and analyses"
#: hex digits of a hash shown in tables; full hashes are in `show` and `--json`
HASH_PREFIX = 12

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead.")]
KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        "-k",
        help="Data key file (64 hex digits) for an encrypted dataset, as handed over by its "
        "owner; default: your organisation's own key, if it holds one.",
        show_default=False,
    ),
]


def group(name: str, help_text: str) -> typer.Typer:
    """A command group styled like the top-level application (rich help, -h)."""
    return typer.Typer(
        name=name,
        help=help_text,
        rich_markup_mode="rich",
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def short(digest: str | None) -> str:
    """A hash prefix for tables ('' for none)."""
    return (digest or "")[:HASH_PREFIX]


def when(timestamp: str) -> str:
    """A ledger timestamp ('2026-11-25T04:27:47.997383597Z') as '2026-11-25 04:27:47Z' (UTC)."""
    if len(timestamp) >= 19 and timestamp[10] == "T":
        return f"{timestamp[:10]} {timestamp[11:19]}Z"
    return timestamp


def size(n: int) -> str:
    """A byte count in decimal units, as `ls -h --si` would: '95.1 kB'."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # unreachable: the loop returns at TB


def pairs(items: Mapping[str, str]) -> str:
    """Tags as 'k=v, k=v' ('' for none)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(items.items()))


def parse_pairs(values: Iterable[str], what: str) -> dict[str, str]:
    """'k=v' options into a mapping; InvalidRequestError naming the bad one."""
    out: dict[str, str] = {}
    for value in values:
        name, eq, text = value.partition("=")
        if not eq or not name.strip():
            raise InvalidRequestError(f"{what} {value!r} is not NAME=VALUE")
        out[name.strip()] = text
    return out


def fields(rows: Iterable[tuple[str, str | Text]]) -> Table:
    """A two-column grid of labelled values: how a single record is shown."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


@contextmanager
def byte_progress(label: str, *, keep: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr fed with (bytes done, bytes total); yields the callback.

    The bar appears on the first call, so a command refused before any data
    moves prints only its error line. `keep` leaves the finished bar on the
    terminal (and prints it once where stderr is not one, e.g. a CI log); a
    transient bar is for reads whose result line says it all.
    """
    if not keep and not err_console.is_terminal:
        # a transient bar shows nothing in a log or pipe, but would leave blank lines there
        yield lambda _done, _total: None
        return
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=not keep,
    )
    task: list[Any] = []

    def update(done: int, total: int) -> None:
        if not task:
            bar.start()
            task.append(bar.add_task(label, total=total if total >= 0 else None))
        bar.update(task[0], completed=done, total=total if total >= 0 else None)

    try:
        yield update
    finally:
        if task:
            bar.stop()


def block_of(opts: Options, tx_id: str) -> int | None:
    """The block a transaction committed in, for the summary after a submit.

    Read from the channel's own store because the registry records carry the
    transaction id but not the block. None when it cannot be read (another
    backend): the summary is still right without it.
    """
    try:
        with channel_store(opts) as store:
            return explore.transaction(store, tx_id).block
    except TensorLedgerError:
        return None


def data_key(gw: Gateway, record: DatasetRecord, key_file: Path | None) -> bytes | None:
    """The key that opens an encrypted dataset version: --key-file, else the org's own, else None.

    A key that is not the dataset's is refused here (ConfigError, exit 2),
    before a byte is read, so that a wrong key is never reported as altered
    data: the two are told apart by the manifest's public key id.
    """
    if not record.encrypted:
        return None
    if key_file is not None:
        key = blobs.read_key_file(key_file)
    elif blobs.key_path(gw.key_dir, record.id).exists():
        key = blobs.load_key(gw.key_dir, record.id)
    else:
        return None
    given = blobs.key_id(key)
    if given != record.key_id:
        raise ConfigError(
            f"dataset {record.ref}: the key {'in ' + str(key_file) if key_file else 'held'} "
            f"(id {given}) is not the dataset's key (id {record.key_id}); "
            f"ask {record.owner} for the right one"
        )
    return key


def no_key(gw: Gateway, record: DatasetRecord) -> ConfigError:
    """The error for an encrypted dataset that the caller holds no key for."""
    return ConfigError(
        f"dataset {record.ref} is encrypted and {gw.msp_id} holds no key for it; ask "
        f"{record.owner} for the data key (it is handed over outside the ledger, never on "
        "it) and pass it with --key-file FILE"
    )


@contextmanager
def key_option_wording() -> Iterator[None]:
    """Say `--key-file FILE` where the library's key error says its Python keyword `key`.

    `tensorledger.stats` tells a caller without a data key to "pass it as
    key"; on the command line the way to pass it is the option.
    """
    try:
        yield
    except ConfigError as exc:
        text = str(exc)
        if text.endswith("pass it as key"):
            raise ConfigError(text.removesuffix("as key") + "with --key-file FILE") from None
        raise


def plain(value: Any) -> str:
    """A parameter or hyperparameter value: text as is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


__all__ = [
    "HASH_PREFIX",
    "PANEL",
    "JsonFlag",
    "KeyFile",
    "block_of",
    "byte_progress",
    "data_key",
    "fields",
    "group",
    "key_option_wording",
    "no_key",
    "pairs",
    "parse_pairs",
    "plain",
    "short",
    "size",
    "when",
]
