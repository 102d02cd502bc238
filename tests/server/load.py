"""Bounded load on a real server process: N concurrent clients for a fixed time, then stop.

The server runs in its own process (uvicorn on loopback) so that clients and
server do not share one interpreter lock. The clients are coroutines in one
event loop, each with one keep-alive HTTP/1.1 connection, speaking the protocol
directly: a thread per client with httpx spent about as much CPU per request
as the server did, so on two cores the figure measured the clients.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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

    def record(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)


class _Connection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for uvicorn's answers."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.fixed = "".join(
            f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items()
        )
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        try:
            payload = b"" if body is None else json.dumps(body).encode()
            extra = (
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                if body is not None
                else ""
            )
            writer.write(f"{method} {path} HTTP/1.1\r\n{self.fixed}{extra}\r\n".encode() + payload)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "content-length" in headers:
                data = await reader.readexactly(int(headers["content-length"]))
            else:  # chunked
                parts = []
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    parts.append(await reader.readexactly(size + 2))
                await reader.readuntil(b"\r\n")
                data = b"".join(p[:-2] for p in parts)
            if headers.get("connection", "").lower() == "close":
                await self.close()
            return status, data
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self.streams is not None:
            writer = self.streams[1]
            self.streams = None
            writer.close()


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
    """`clients` coroutines mixing block and proof reads and (a share of) writes for `seconds`."""
    tally = Tally()
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def client(n: int, stop_at: float) -> None:
        rng = random.Random(n)
        conn = _Connection(host, port, headers)
        i = 0
        try:
            while time.monotonic() < stop_at:
                i += 1
                roll = rng.random()
                body: Any = None
                if roll < write_share:
                    kind, method = "write", "POST"
                    key, value = f"load-{n}-{i}", f"v{n}.{i}"
                    path = f"{API}/contracts/datacontract/transactions"
                    body = {"function": "storeData", "args": [key, value]}
                elif roll < write_share + (1 - write_share) / 2:
                    kind, method, path = "block", "GET", f"{API}/blocks/{rng.randrange(height)}"
                else:
                    tx = rng.choice(tx_ids)
                    kind, method, path = "proof", "GET", f"{API}/proofs/transactions/{tx}"
                started = time.perf_counter()
                try:
                    status, data = await asyncio.wait_for(conn.request(method, path, body), 60)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    tally.errors.append(f"{kind}: {exc!r}")
                    continue
                took = time.perf_counter() - started
                if status != 200:
                    tally.errors.append(f"{kind} {status}: {data[:200].decode(errors='replace')}")
                    continue
                tally.record(kind, took)
                if kind == "write":
                    tally.writes.append((key, value, json.loads(data)["tx_id"]))
        finally:
            await conn.close()

    async def main() -> None:
        stop_at = time.monotonic() + seconds
        tasks = [asyncio.create_task(client(n, stop_at)) for n in range(clients)]
        done, pending = await asyncio.wait(tasks, timeout=seconds + 120)
        assert not pending, "a client did not stop"
        for task in done:
            task.result()

    asyncio.run(main())
    return tally


def percentile(values: list[float], q: float) -> float:
    """The q-quantile by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]
