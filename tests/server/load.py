"""Bounded load on a real server process: N client threads for a fixed time, then stop.

The server runs in its own process (uvicorn on loopback) so that clients and
server do not share one interpreter lock; the clients are threads with one
HTTP connection each.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.server.live import free_port

API = "/api/v1/channels/mychannel"
_SERVE = (
    "import sys, uvicorn; from pathlib import Path; "
    "from tensorledger.server.app import create_app; "
    "uvicorn.run(create_app(Path(sys.argv[1])), host='127.0.0.1', port=int(sys.argv[2]), "
    "log_level='warning', backlog=512, timeout_graceful_shutdown=2)"
)


@contextmanager
def server_process(ledger: Path) -> Iterator[str]:
    """`create_app(ledger)` under uvicorn in a child process; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(ledger), str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


@dataclass
class Tally:
    """What the clients saw: latencies per kind, errors, acknowledged writes."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    writes: list[tuple[str, str, str]] = field(default_factory=list)  # (key, value, tx_id)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)


def run_load(
    base: str,
    token: str,
    tx_ids: list[str],
    height: int,
    *,
    clients: int,
    seconds: float,
    write_share: float,
) -> Tally:
    """`clients` threads mixing block reads, proof reads and (a share of) writes for `seconds`."""
    tally = Tally()
    stop_at = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            i = 0
            while time.monotonic() < stop_at:
                i += 1
                roll = rng.random()
                if roll < write_share:
                    kind = "write"
                    key, value = f"load-{n}-{i}", f"v{n}.{i}"
                    req = (
                        "POST",
                        f"{API}/contracts/datacontract/transactions",
                        {"function": "storeData", "args": [key, value]},
                    )
                elif roll < write_share + (1 - write_share) / 2:
                    kind, req = "block", ("GET", f"{API}/blocks/{rng.randrange(height)}", None)
                else:
                    tx = rng.choice(tx_ids)
                    kind, req = "proof", ("GET", f"{API}/proofs/transactions/{tx}", None)
                started = time.perf_counter()
                try:
                    r = c.request(req[0], req[1], json=req[2])
                except httpx.HTTPError as exc:
                    with tally.lock:
                        tally.errors.append(f"{kind}: {exc!r}")
                    continue
                took = time.perf_counter() - started
                if r.status_code != 200:
                    with tally.lock:
                        tally.errors.append(f"{kind} {r.status_code}: {r.text[:200]}")
                    continue
                tally.record(kind, took)
                if kind == "write":
                    with tally.lock:
                        tally.writes.append((key, value, r.json()["tx_id"]))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    assert not any(t.is_alive() for t in threads), "a client did not stop"
    return tally


def percentile(values: list[float], q: float) -> float:
    """The q-quantile by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]
