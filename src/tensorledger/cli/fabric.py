"""`tensorledger fabric`: build Hyperledger Fabric, start a local network, show it, stop it.

Only parses, calls `tensorledger.fabric` and prints; progress goes to stderr.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tensorledger.cli._context import console, err_console, print_json
from tensorledger.cli._views import JsonFlag, group
from tensorledger.fabric import install as fabric_install
from tensorledger.fabric import network
from tensorledger.fabric import node_chaincode as node_chaincode_module
from tensorledger.ledger.network import DEFAULT_CONTRACTS

PANEL = "Real Hyperledger Fabric"

app = group(
    "fabric",
    """Run the contracts on a real Hyperledger Fabric network on this machine, no Docker.

    [bold]Example[/bold]

      tensorledger fabric install
      tensorledger fabric up --orgs 2 --dir fabric-net
      tensorledger fabric status --dir fabric-net
      tensorledger fabric down --dir fabric-net
    """,
)

Dir = Annotated[
    Path, typer.Option("--dir", "-d", help="The network's directory.", show_default=True)
]
DEFAULT_DIR = Path("fabric-net")


def register(root: typer.Typer) -> None:
    """Add the `fabric` group to the application."""
    root.add_typer(app, rich_help_panel=PANEL)


def _progress(started: float) -> network.Progress:
    def show(message: str) -> None:
        err_console.print(f"[dim]{time.monotonic() - started:6.1f}s[/dim] {message}")

    return show


@app.command()
def install(
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help=f"Where to build; default ${fabric_install.HOME_ENV} or "
            f"~/.cache/tensorledger/fabric/{fabric_install.FABRIC_VERSION}.",
            show_default=False,
        ),
    ] = None,
    node_chaincode: Annotated[
        bool,
        typer.Option(
            "--node-chaincode",
            help="Also `npm ci` the Node.js DataContract into the cache (once; needs npm).",
        ),
    ] = False,
) -> None:
    """Build Fabric's peer, orderer and configtxgen from Go source (once; needs `go`).

    Fabric 2.1.1, the newest release the Go module proxy serves, is built with
    `go build` from its module into ~/.cache/tensorledger/fabric (or
    $TENSORLEDGER_FABRIC_HOME); a second run only checks the stamp.

    [bold]Example[/bold]

      tensorledger fabric install --node-chaincode
    """
    with err_console.status("building Fabric (about a minute the first time)"):
        done = fabric_install.install(cache_dir, progress=_progress(time.monotonic()))
    console.print(f"Fabric {fabric_install.FABRIC_VERSION} binaries in [bold]{done.bin_dir}[/bold]")
    if node_chaincode:
        with err_console.status("installing the Node chaincode's npm packages"):
            prepared = node_chaincode_module.prepare(done)
        console.print(f"Node chaincode ready in [bold]{prepared}[/bold]")


@app.command()
def up(
    directory: Dir = DEFAULT_DIR,
    orgs: Annotated[int, typer.Option("--orgs", help="Peer organisations, one peer each.")] = 2,
    channel: Annotated[
        str, typer.Option("--channel", "-c", help="Channel to create.")
    ] = "mychannel",
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            help="Endorsement policy of every contract: MAJORITY, ANY or a signature policy.",
            show_default="MAJORITY",
        ),
    ] = None,
    base_port: Annotated[
        int | None,
        typer.Option("--base-port", help="Use consecutive ports from here; default: free ones."),
    ] = None,
    node_chaincode: Annotated[
        bool,
        typer.Option(
            "--node-chaincode",
            help="Also deploy the seed's Node.js DataContract as datacontract-node (needs npm).",
        ),
    ] = False,
) -> None:
    """Start an orderer and one peer per organisation, and deploy every contract.

    Crypto material, channel configuration, a Raft orderer with TLS and the
    peers, all as local processes on free loopback ports; the contracts run as
    chaincode services. Logs go to DIR/logs, the connection profile to
    DIR/network.json.

    [bold]Example[/bold]

      tensorledger fabric up --orgs 3 --dir fabric-net
    """
    started = time.monotonic()
    profile = network.up(
        directory,
        orgs,
        channel,
        DEFAULT_CONTRACTS,
        policy=policy,
        base_port=base_port,
        node_chaincode=node_chaincode,
        progress=_progress(started),
    )
    console.print(
        f"Fabric network up in {time.monotonic() - started:.1f} s: channel "
        f"[bold]{profile['channel']}[/bold], orderer {profile['orderer']['address']}, "
        f"{len(profile['organizations'])} peers, {len(profile['chaincodes'])} contracts; "
        f"profile {Path(directory) / network.PROFILE_FILE}"
    )


@app.command()
def status(directory: Dir = DEFAULT_DIR, json_: JsonFlag = False) -> None:
    """Which of the network's processes run, and each peer's block height.

    [bold]Example[/bold]

      tensorledger fabric status --dir fabric-net --json
    """
    found = network.status(directory)
    if json_:
        print_json(
            {
                "channel": found.channel,
                "healthy": found.healthy,
                "processes": [
                    {"name": p.name, "pid": p.pid, "alive": p.alive, "log": p.log}
                    for p in found.processes
                ],
                "heights": found.heights,
            }
        )
        return
    table = Table("process", "pid", "state", "log", title=f"channel {found.channel}")
    for proc in found.processes:
        state = "[green]running[/green]" if proc.alive else "[red]stopped[/red]"
        table.add_row(proc.name, str(proc.pid), state, proc.log)
    console.print(table)
    for org, height in found.heights.items():
        console.print(
            f"{org} peer height: {height if height is not None else '[red]no answer[/red]'}"
        )


@app.command()
def down(directory: Dir = DEFAULT_DIR) -> None:
    """Stop every process the network started (by pid); running it twice is harmless.

    [bold]Example[/bold]

      tensorledger fabric down --dir fabric-net
    """
    stopped = network.down(directory)
    console.print(
        f"stopped {len(stopped)} processes" + (f": {', '.join(stopped)}" if stopped else "")
    )


__all__ = ["register"]
