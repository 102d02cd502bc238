"""What every command shares: the global options, opening the ledger they name, and output.

Commands get an `Options` from the typer context and open a gateway (to act
as an identity) or a channel store (to read blocks) through here, so the
rules for where a ledger is and which errors mean what live in one place.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

import tensorledger as tl
from tensorledger.errors import ConfigError, InvalidRequestError, TensorLedgerError
from tensorledger.ledger.network import EmbeddedNetwork
from tensorledger.ledger.store import ChannelStore

#: the data contract that `put`, `get` and friends talk to (the seed's DataContract)
DATA_CONTRACT = "datacontract"

#: rich output for people; machine output (--json, raw values) bypasses it
console = Console(highlight=False)
#: progress bars and notes go to stderr so that stdout stays pipeable
err_console = Console(stderr=True, highlight=False)


@dataclass(frozen=True, slots=True)
class Options:
    """The global options: which ledger, acting as whom, on which channel."""

    ledger: Path
    identity: str
    channel: str
    channel_given: bool


def options(ctx: typer.Context) -> Options:
    """The global options stored by the top-level callback."""
    obj = ctx.find_object(Options)
    if obj is None:  # a command invoked without the top-level group (tests, embedding)
        return Options(Path("ledger"), "Org1", "mychannel", channel_given=False)
    return obj


def _require_ledger(path: Path) -> None:
    # A missing ledger is the commonest first mistake: say how to make one. Anything
    # that exists goes on to the library, which knows what it may be.
    if not path.exists():
        raise ConfigError(
            f"no ledger at {path}: create one with `tensorledger init {path}`, or point "
            "--ledger / TENSORLEDGER_LEDGER at an existing one"
        )


@contextmanager
def gateway(opts: Options) -> Iterator[tl.Gateway]:
    """A gateway to the ledger as the chosen identity, closed (commits drained) on exit."""
    _require_ledger(opts.ledger)
    gw = tl.connect(opts.ledger, identity=opts.identity)
    try:
        yield gw
    finally:
        gw.close()


@contextmanager
def network(opts: Options) -> Iterator[EmbeddedNetwork]:
    """The embedded network itself, for reads the gateway does not offer (blocks, verify)."""
    _require_ledger(opts.ledger)
    net = EmbeddedNetwork(opts.ledger)
    try:
        yield net
    finally:
        net.close()


@contextmanager
def channel_store(opts: Options) -> Iterator[ChannelStore]:
    """The chosen channel's store, for the read-only explorer commands."""
    with network(opts) as net:
        yield net.channel(opts.channel).store


def report_error(exc: TensorLedgerError) -> None:
    """Print a library error as the one line the user sees: ``error: <message>``."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    typer.echo(f"{typer.style('error:', fg='red', bold=True)} {message}", err=True)


def print_json(data: Any) -> None:
    """Machine output: indented JSON on stdout, untouched by rich's wrapping."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def read_value(value: str) -> bytes:
    """A command-line value: text as is, ``@file`` read from a file, ``-`` from stdin.

    ``@@text`` stands for the literal ``@text``, so ids and values that start
    with ``@`` remain expressible.
    """
    if value == "-":
        return sys.stdin.buffer.read()
    if value.startswith("@@"):
        return value[1:].encode("utf-8")
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    return value.encode("utf-8")


def as_text(data: bytes, what: str) -> str:
    """Contract arguments are text (Fabric's string args); refuse bytes that are not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(
            f"{what} is not UTF-8 text (byte {exc.start}); storeData keeps text, "
            "so encode binary data first (e.g. base64)"
        ) from None


def write_output(path: Path, data: str | bytes) -> None:
    """Write a file the user asked for, turning OS errors into one-line ConfigErrors."""
    try:
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
