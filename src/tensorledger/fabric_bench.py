"""The embedded ledger against real Hyperledger Fabric, in one run: `tensorledger bench --fabric`.

Both backends get the same workload through the same client API: the seed's
`datacontract.storeData` with 100-byte values, two organisations, MAJORITY
endorsement, `processes` x `threads` clients each submitting `per_thread`
transactions (every submit waits for its commit), then `solo` submits one at
a time. The embedded ledger runs first, alone on the machine; then a fresh
Fabric network is brought up in a temporary directory with only the
DataContract deployed (to keep `up` short), timed from the start of `up` to
its first committed storeData, loaded, and brought down in a ``finally``.
A figure counts only if every transaction is found again: each backend's
keys are listed back through the client after its run (``committed``).

Keys written on each backend: ``warm-p<p>`` (one per client process, before
the clock starts), ``load-p<p>-t<t>-<i>`` (the timed load), ``solo-warm`` and
``solo-<i>``; on Fabric also ``first-commit``.

Printed JSON (our figure = embedded, the peer figure = real Fabric; every
ratio is embedded / Fabric, so above 1 for tx/s and below 1 for latency
mean the embedded ledger is ahead)::

    {"benchmark": str,
     "workload": {"orgs", "processes", "threads", "clients", "per_thread", "tx",
                  "single_in_flight_tx", "value_bytes"},
     "fabric_up": {"fabric_version", "orderer_batch_timeout", "up_seconds",
                   "first_commit_seconds", "total_seconds"},
     "embedded": {"tx_per_s", "p50_ms", "p99_ms", "single_in_flight_p50_ms",
                  "committed"},
     "fabric":   {"tx_per_s", "p50_ms", "p99_ms", "single_in_flight_p50_ms",
                  "committed"},
     "ratio": {"tx_per_s", "p50_ms", "p99_ms", "single_in_flight_p50_ms"},
     "machine": {"cpus"}}
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tensorledger.errors import InvalidRequestError, TensorLedgerError, UnavailableError
from tensorledger.ledger.network import ContractSpec

VALUE = "x" * 100
CHANNEL = "mychannel"
CHAINCODE = "datacontract"
DATA = ContractSpec(CHAINCODE, "tensorledger.contracts.data:DataContract")
#: seconds any client process may take to connect, warm up, or finish its share
CLIENT_TIMEOUT = 600.0
Progress = Callable[[str], None]
#: called with (Fabric network directory, embedded ledger directory) before teardown
Check = Callable[[Path, Path], None]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile with linear interpolation between ranks (numpy's default).

    Interpolating keeps p99 of a few hundred samples from snapping to the
    single worst one, and matches what anyone re-checking with numpy gets.
    """
    if not values:
        raise InvalidRequestError("percentile of no values")
    if not 0.0 <= q <= 100.0 or math.isnan(q):
        raise InvalidRequestError(f"percentile {q} must lie in 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def ratio(ours: float, peer: float) -> float:
    """`ours` / `peer`; a peer figure that is not a positive number has no ratio."""
    if not (math.isfinite(peer) and peer > 0.0) or not math.isfinite(ours):
        raise InvalidRequestError(f"no ratio of {ours} to a peer figure of {peer}")
    return ours / peer


def _client(
    target: str, proc: int, threads: int, per_thread: int, ready: Any, start: Any, out: Any
) -> None:
    """One client process: `threads` threads, each submitting `per_thread` storeData."""
    import tensorledger as tl

    try:
        with tl.connect(target, identity="Org1") as gw:
            contract = gw.network(CHANNEL).contract(CHAINCODE)
            contract.submit("storeData", f"warm-p{proc}", VALUE)
            ready.put((proc, None))
            start.wait()
            latencies: list[float] = []
            lock = threading.Lock()

            def load(t: int) -> None:
                mine = []
                for i in range(per_thread):
                    t0 = time.perf_counter()
                    contract.submit("storeData", f"load-p{proc}-t{t}-{i}", VALUE)
                    mine.append(time.perf_counter() - t0)
                with lock:
                    latencies.extend(mine)

            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(load, range(threads)))
            out.put((proc, latencies))
    except Exception as exc:  # noqa: BLE001  # reported to the parent, which raises it
        message = f"client process {proc}: {type(exc).__name__}: {exc}"
        ready.put((proc, message))
        out.put((proc, message))


def _collect(source: Any, count: int, what: str) -> list[Any]:
    results = []
    for _ in range(count):
        try:
            _proc, got = source.get(timeout=CLIENT_TIMEOUT)
        except queue.Empty:  # a client hung or died without a word
            raise UnavailableError(
                f"no answer from a client within {CLIENT_TIMEOUT:.0f} s"
            ) from None
        if isinstance(got, str):
            raise TensorLedgerError(f"{what} failed: {got}")
        results.append(got)
    return results


def load(target: Path, processes: int, threads: int, per_thread: int) -> dict[str, float]:
    """Committed tx/s of `processes` x `threads` concurrent clients, and their latencies.

    The clock starts once every client process has connected and committed a
    warm-up transaction, and stops when the last one has its last commit.
    """
    ctx = mp.get_context("spawn")
    ready: Any = ctx.Queue()
    out: Any = ctx.Queue()
    start = ctx.Event()
    procs = [
        ctx.Process(target=_client, args=(str(target), p, threads, per_thread, ready, start, out))
        for p in range(processes)
    ]
    for p in procs:
        p.start()
    try:
        _collect(ready, processes, "warm-up")
        t0 = time.perf_counter()
        start.set()
        shares = _collect(out, processes, "load")
        wall = time.perf_counter() - t0
    finally:
        start.set()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    latencies = [lat for share in shares for lat in share]
    return {
        "tx_per_s": len(latencies) / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def single_in_flight(target: Path, n: int) -> float:
    """p50 latency in ms of `n` submits made one after another."""
    import tensorledger as tl

    with tl.connect(target, identity="Org1") as gw:
        contract = gw.network(CHANNEL).contract(CHAINCODE)
        contract.submit("storeData", "solo-warm", VALUE)
        latencies = []
        for i in range(n):
            t0 = time.perf_counter()
            contract.submit("storeData", f"solo-{i}", VALUE)
            latencies.append(time.perf_counter() - t0)
    return percentile(latencies, 50) * 1000


def committed(target: Path) -> int:
    """How many ``load-`` and ``solo-`` keys (warm-ups aside) the ledger returns."""
    import tensorledger as tl

    with tl.connect(target, identity="Org2") as gw:
        contract = gw.network(CHANNEL).contract(CHAINCODE)
        found = 0
        for start, end in (("load-", "load."), ("solo-0", "solo-:")):
            records = json.loads(contract.evaluate("listData", start, end))
            found += sum(1 for r in records if r["data"] == VALUE)
    return found


def _measure(
    target: Path, processes: int, threads: int, per_thread: int, solo: int
) -> dict[str, float]:
    figures = load(target, processes, threads, per_thread)
    figures["single_in_flight_p50_ms"] = single_in_flight(target, solo)
    figures["committed"] = committed(target)
    expected = processes * threads * per_thread + solo
    if figures["committed"] != expected:
        raise TensorLedgerError(
            f"{target}: {figures['committed']} of {expected} benchmark transactions found back"
        )
    return figures


def time_to_first_commit(
    directory: Path, orgs: int, fabric: Any, progress: Progress
) -> dict[str, float]:
    """Seconds of `fabric up` (DataContract only), then to its first committed storeData."""
    import tensorledger as tl
    from tensorledger.fabric import network

    t0 = time.perf_counter()
    network.up(directory, orgs, CHANNEL, [DATA], fabric=fabric, progress=progress)
    t1 = time.perf_counter()
    with tl.connect(directory, identity="Org1") as gw:
        gw.network(CHANNEL).contract(CHAINCODE).submit("storeData", "first-commit", VALUE)
    t2 = time.perf_counter()
    return {"up_seconds": t1 - t0, "first_commit_seconds": t2 - t1, "total_seconds": t2 - t0}


def _rounded(figures: dict[str, float]) -> dict[str, float | int]:
    return {
        "tx_per_s": round(figures["tx_per_s"], 1),
        "p50_ms": round(figures["p50_ms"], 2),
        "p99_ms": round(figures["p99_ms"], 2),
        "single_in_flight_p50_ms": round(figures["single_in_flight_p50_ms"], 2),
        "committed": int(figures["committed"]),
    }


def run(
    *,
    orgs: int = 2,
    processes: int = 1,
    threads: int = 8,
    per_thread: int = 50,
    solo: int = 50,
    progress: Progress | None = None,
    check: Check | None = None,
) -> dict[str, Any]:
    """Run both backends and return the JSON-ready comparison (shape in the module docstring).

    `check`, when given, is called with the Fabric network's directory and the
    embedded ledger's while both still hold their data (tests count keys there).
    """
    for name, value in (
        ("orgs", orgs),
        ("processes", processes),
        ("threads", threads),
        ("per_thread", per_thread),
        ("solo", solo),
    ):
        if value < 1:
            raise InvalidRequestError(f"{name} must be at least 1, not {value}")
    from tensorledger.fabric import network
    from tensorledger.fabric.config import BATCH_TIMEOUT
    from tensorledger.fabric.install import FABRIC_VERSION, find_installation
    from tensorledger.ledger.network import init_network

    say = progress or (lambda _message: None)
    fabric = find_installation()  # before any work: no Fabric, no comparison
    names = [f"Org{i}" for i in range(1, orgs + 1)]
    with tempfile.TemporaryDirectory(prefix="tl-fabric-bench-") as tmp:
        embedded_dir = Path(tmp) / "embedded"
        fabric_dir = Path(tmp) / "fabric"
        init_network(embedded_dir, names, channels=[CHANNEL], contracts=[DATA])
        say(f"embedded: {processes} x {threads} clients, {per_thread} tx each")
        embedded = _measure(embedded_dir, processes, threads, per_thread, solo)
        say(f"fabric up: {orgs} organisations in {fabric_dir}")
        try:
            startup = time_to_first_commit(fabric_dir, orgs, fabric, lambda m: say(f"fabric: {m}"))
            say(f"fabric: {processes} x {threads} clients, {per_thread} tx each")
            peer = _measure(fabric_dir, processes, threads, per_thread, solo)
            if check is not None:
                check(fabric_dir, embedded_dir)
        finally:
            if (fabric_dir / network.PROFILE_FILE).exists():
                say("fabric down")
                network.down(fabric_dir)
    metrics = ("tx_per_s", "p50_ms", "p99_ms", "single_in_flight_p50_ms")
    return {
        "benchmark": (
            f"storeData, 100-byte values, {orgs} organisations, MAJORITY endorsement: "
            f"embedded ledger (ours) vs Hyperledger Fabric {FABRIC_VERSION} (peer)"
        ),
        "workload": {
            "orgs": orgs,
            "processes": processes,
            "threads": threads,
            "clients": processes * threads,
            "per_thread": per_thread,
            "tx": processes * threads * per_thread,
            "single_in_flight_tx": solo,
            "value_bytes": len(VALUE),
        },
        "fabric_up": {
            "fabric_version": FABRIC_VERSION,
            # an orderer cuts a block this long after its first tx unless the block fills:
            # with few clients it is most of every Fabric latency
            "orderer_batch_timeout": BATCH_TIMEOUT,
            **{k: round(v, 2) for k, v in startup.items()},
        },
        "embedded": _rounded(embedded),
        "fabric": _rounded(peer),
        "ratio": {m: round(ratio(embedded[m], peer[m]), 3) for m in metrics},
        "machine": {"cpus": os.cpu_count()},
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(progress=lambda m: print(f"# {m}", flush=True)), indent=2))
