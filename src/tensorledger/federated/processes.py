"""The multi-process path: a Flower gRPC server and clients in separate processes, one ledger.

Each process opens its own gateway on the same embedded ledger directory (the
ledger serialises writers across processes): the server process, as the
aggregator's identity, runs `flwr.compat.server.app.start_server` (Flower's
legacy gRPC transport, loopback, no TLS) with `AnchoredStrategy`; each client
process, as its organisation, runs `flwr.compat.client.app.start_client`
with a `LedgerClient`. Clients name themselves in their fit metrics, so the
round record names them whatever connection ids gRPC assigned.

Meant for a single machine (tests, demos): the address should be loopback,
because the transport is insecure.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tensorledger.errors import InvalidRequestError, UnavailableError
from tensorledger.federated.client import ClientData
from tensorledger.ledger.network import DEFAULT_CHANNEL

#: seconds a client keeps trying to reach the server before giving up
CONNECT_SECONDS = 120.0


@dataclass(frozen=True)
class DataRef:
    """A registered dataset version a client process opens with its own gateway."""

    ref: str
    label: str
    features: tuple[str, ...] | None = None
    batch_size: int = 32


@dataclass(frozen=True)
class ServerSpec:
    """What the server process needs; every field pickles, so it crosses a process boundary."""

    ledger: Path
    identity: str
    address: str
    job_id: str
    model_fn: Any
    clients: int
    rounds: int
    aggregation: str = "fedavg"
    params: Mapping[str, Any] = field(default_factory=dict)
    anchor: bool = True
    seed: int = 0
    channel: str = DEFAULT_CHANNEL


@dataclass(frozen=True)
class ClientSpec:
    """What one client process needs: its name, identity, data and model builder."""

    ledger: Path
    identity: str
    name: str
    address: str
    model_fn: Any
    data: ClientData | DataRef
    job_id: str | None = None
    epochs: int = 1
    seed: int = 0
    channel: str = DEFAULT_CHANNEL


def serve(spec: ServerSpec) -> int:
    """Run the Flower server until every round is done; the number of rounds aggregated."""
    from flwr.compat.server.app import start_server
    from flwr.server import Server, ServerConfig, SimpleClientManager

    import tensorledger as tl
    from tensorledger.federated.run import ready_job
    from tensorledger.federated.strategy import AnchoredStrategy
    from tensorledger.tf import weights as w
    from tensorledger.tf._runtime import keras

    with tl.connect(spec.ledger, identity=spec.identity) as gw:
        dp: dict[str, Any] = {}
        if spec.anchor:
            job = ready_job(
                gw, spec.job_id, rounds=spec.rounds, method=spec.aggregation, params=spec.params
            )
            dp = dict(job.dp)
        keras().utils.set_random_seed(spec.seed)
        named = w.named_variables(spec.model_fn())
        strategy = AnchoredStrategy(
            job=spec.job_id,
            names=[n for n, _ in named],
            initial=[v.numpy() for _, v in named],
            clients=spec.clients,
            method=spec.aggregation,
            params=spec.params,
            gateway=gw,
            anchor=spec.anchor,
            dp=dp,
            channel=spec.channel,
        )
        server = Server(client_manager=SimpleClientManager(), strategy=strategy)
        start_server(
            server_address=spec.address,
            server=server,
            config=ServerConfig(num_rounds=spec.rounds),
        )
        return len(strategy.outcomes)


def join(spec: ClientSpec) -> None:
    """Run one Flower client until the server says the job is done."""
    from flwr.compat.client.app import start_client

    import tensorledger as tl
    from tensorledger.federated.client import LedgerClient
    from tensorledger.federated.dp import ClipNoise

    with tl.connect(spec.ledger, identity=spec.identity) as gw:
        data = spec.data
        if isinstance(data, DataRef):
            data = ClientData.ledger(
                gw,
                data.ref,
                label=data.label,
                features=data.features,
                batch_size=data.batch_size,
                seed=spec.seed,
                channel=spec.channel,
            )
        # the job's DP settings reach each client from the ledger, not from the aggregator
        mechanism = None
        if spec.job_id is not None:
            from tensorledger import governance

            mechanism = ClipNoise.from_record(governance.get_job(gw, spec.job_id).dp)
        client = LedgerClient(
            spec.name,
            gw.msp_id,
            spec.model_fn(),
            data,
            epochs=spec.epochs,
            seed=spec.seed,
            dp=mechanism,
            gateway=gw,  # DP spends and secagg keys go through the client's own identity
            channel=spec.channel,
        )
        start_client(
            server_address=spec.address,
            client=client.to_client(),
            insecure=True,
            max_wait_time=CONNECT_SECONDS,
        )


def free_address(host: str = "127.0.0.1") -> str:
    """``host:port`` with a port the kernel just reported free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return f"{host}:{probe.getsockname()[1]}"


def _child(target: Any, spec: Any) -> None:
    """A process body: run, then leave at once (gRPC threads must not hold the exit up)."""
    code = 0
    try:
        target(spec)
    except BaseException:  # noqa: BLE001 - reported on stderr and as the exit code
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_processes(server: ServerSpec, clients: list[ClientSpec], *, timeout: float = 600.0) -> None:
    """Start the server and client processes, wait for all; `UnavailableError` if one fails.

    Processes are spawned (not forked): TensorFlow and gRPC must not be
    copied mid-flight into a child.
    """
    if server.clients != len(clients):
        raise InvalidRequestError(
            f"the server expects {server.clients} clients, {len(clients)} given"
        )
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_child, args=(serve, server), name="fl-server")]
    processes += [
        context.Process(target=_child, args=(join, spec), name=f"fl-client-{spec.name}")
        for spec in clients
    ]
    for process in processes:
        process.start()
    deadline = time.monotonic() + timeout
    failed: list[str] = []
    try:
        # poll rather than join one by one: a client that dies early must stop
        # the run at once, not after the server has waited out its timeout
        while time.monotonic() < deadline:
            failed = [p.name for p in processes if p.exitcode not in (None, 0)]
            if failed or all(p.exitcode is not None for p in processes):
                break
            if processes[0].exitcode == 0:
                # the server is done and disconnected its clients; give them a moment
                for process in processes[1:]:
                    process.join(max(0.0, min(30.0, deadline - time.monotonic())))
                failed = [p.name for p in processes if p.exitcode != 0]
                break
            time.sleep(0.2)
        else:
            failed = [f"{p.name} (timed out)" for p in processes if p.exitcode is None]
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(10)
    if failed:
        raise UnavailableError(f"federated processes failed: {failed} (see their stderr)")


__all__ = [
    "ClientSpec",
    "DataRef",
    "ServerSpec",
    "free_address",
    "join",
    "run_processes",
    "serve",
]
