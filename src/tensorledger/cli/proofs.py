"""The "Proofs" commands: inclusion and consistency proofs, signed checkpoints, offline checks.

Proofs come from the gateway, which verifies them before returning; `prove
--check` verifies a proof file with nothing but the orderer's verifier key,
which is how another organisation (or an auditor) uses one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tensorledger.cli._context import (
    console,
    gateway,
    options,
    read_value,
    write_output,
)
from tensorledger.crypto.checkpoint import parse_checkpoint
from tensorledger.errors import ConfigError, InvalidRequestError
from tensorledger.ledger.fabric_proof import FabricBlockProof
from tensorledger.ledger.proof import ConsistencyProof, TransactionProof

PANEL = "Proofs"
OutFile = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write the proof JSON to this file.")
]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Write the proof JSON to stdout (nothing else).")
]


def register(app: typer.Typer) -> None:
    """Add this group's commands to the application."""
    for command in (prove, checkpoint, consistency):
        app.command(rich_help_panel=PANEL)(command)


def prove(
    ctx: typer.Context,
    tx_id: Annotated[
        str | None, typer.Argument(metavar="TXID", help="Transaction to prove.", show_default=False)
    ] = None,
    out: OutFile = None,
    as_json: JsonFlag = False,
    check: Annotated[
        Path | None,
        typer.Option("--check", help="Verify this proof file offline instead (no ledger needed)."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="Verifier key for --check (text or @FILE)."),
    ] = None,
) -> None:
    """Prove that a transaction is in the ledger, or check such a proof offline.

    The proof holds the transaction, its Merkle audit path and the orderer-signed
    checkpoint; whoever has the orderer's verifier key can check it anywhere.

    [bold]Examples[/bold]

      tensorledger prove 9fa7a67e...0dd4 --out proof.json

      tensorledger prove --check proof.json --key "$(tensorledger checkpoint --key)"
    """
    if check is not None:
        _check(check, key)
        return
    if tx_id is None:
        raise typer.BadParameter("give a TXID to prove, or --check FILE", param_hint="TXID")
    opts = options(ctx)
    with gateway(opts) as gw:
        network = gw.network(opts.channel)
        proof = network.prove(tx_id)
        verifier_key = network.verifier_key()
    text = proof.to_json()
    if out is not None:
        write_output(out, text + "\n")
    if as_json:
        typer.echo(text)
        return
    if isinstance(proof, FabricBlockProof):  # the fabric backend proves by a signed block
        console.print(
            f"[green]Proven[/green]: transaction {proof.tx_id} is in orderer-signed block "
            f"{proof.block_number} of {proof.channel}",
            soft_wrap=True,
        )
        return
    cp = parse_checkpoint(proof.checkpoint).checkpoint
    # soft_wrap: ids, hashes and keys are printed whole, for copying, whatever the width.
    say = console.print
    say(
        f"[green]Proven[/green]: transaction {proof.tx_id} is in {proof.channel}'s log",
        soft_wrap=True,
    )
    say(f"  block         {proof.block}")
    say(f"  leaf          {proof.leaf_index} of tree size {cp.size}")
    say(f"  audit path    {len(proof.path)} hashes")
    say(f"  checkpoint    {cp.origin}", soft_wrap=True)
    say(f"  root          {cp.root.hex()}", soft_wrap=True)
    say(f"  verifier key  {verifier_key}", soft_wrap=True)
    if out is not None:
        say(f"Wrote the proof to {out}. Anyone can check it offline with:")
        say(f"  tensorledger prove --check {out} --key '{verifier_key}'", soft_wrap=True)


def _check(path: Path, key: str | None) -> None:
    if key is None:
        raise ConfigError(
            "--check needs --key: the orderer's verifier key "
            "(`tensorledger checkpoint --key` prints it on the ledger's side)"
        )
    verifier_key = read_value(key).decode("utf-8", "replace").strip()
    text = read_value(f"@{path}").decode("utf-8", "replace")
    try:
        kind = json.loads(text).get("type")
    except (ValueError, AttributeError):
        raise InvalidRequestError(f"{path} is not a proof: not a JSON object") from None
    if kind == "tensorledger.ConsistencyProof/v1":
        old, new = ConsistencyProof.from_json(text).verify(verifier_key)
        console.print(
            f"[green]OK[/green]: the log of {new.origin} at size {new.size} extends "
            f"the log at size {old.size}",
            soft_wrap=True,
        )
        return
    proof = TransactionProof.from_json(text)
    cp = proof.verify(verifier_key)
    console.print(
        f"[green]OK[/green]: transaction {proof.tx_id} is leaf {proof.leaf_index} of "
        f"{cp.origin} at tree size {cp.size}",
        soft_wrap=True,
    )


def checkpoint(
    ctx: typer.Context,
    key: Annotated[
        bool, typer.Option("--key", help="Print the verifier key that checks checkpoints.")
    ] = False,
) -> None:
    """Print the newest orderer-signed checkpoint (C2SP signed note), or its verifier key.

    Hand the verifier key to anyone who should check proofs of this channel.

    [bold]Examples[/bold]

      tensorledger checkpoint

      tensorledger checkpoint --key > orderer.vkey
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        network = gw.network(opts.channel)
        text = network.verifier_key() + "\n" if key else network.checkpoint()
    typer.echo(text, nl=False)


def consistency(
    ctx: typer.Context,
    old_size: Annotated[
        int, typer.Argument(min=0, metavar="OLD_SIZE", help="Tree size of the older checkpoint.")
    ],
    new_size: Annotated[
        int | None,
        typer.Argument(
            min=0, metavar="NEW_SIZE", help="Tree size of the newer one; default: the newest."
        ),
    ] = None,
    out: OutFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Prove that the log at an older checkpoint is a prefix of a newer one.

    That is: nothing recorded up to the older checkpoint was changed or dropped.

    [bold]Example[/bold]

      tensorledger consistency 5 --out grew.json
    """
    opts = options(ctx)
    with gateway(opts) as gw:
        proof = gw.network(opts.channel).consistency(old_size, new_size)
    text = proof.to_json()
    if out is not None:
        write_output(out, text + "\n")
    if as_json:
        typer.echo(text)
        return
    old = parse_checkpoint(proof.old_checkpoint).checkpoint
    new = parse_checkpoint(proof.new_checkpoint).checkpoint
    say = console.print
    say(f"[green]Consistent[/green]: the log at size {new.size} extends the log at size {old.size}")
    say(f"  old root  {old.root.hex()}", soft_wrap=True)
    say(f"  new root  {new.root.hex()}", soft_wrap=True)
    say(f"  proof     {len(proof.path)} hashes")
    if out is not None:
        say(f"Wrote the proof to {out}; check it with `tensorledger prove --check`.")


__all__ = ["checkpoint", "consistency", "prove", "register"]
