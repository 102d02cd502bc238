"""The network's local processes: ports, starting, health checks and stopping by pid.

A process is recorded with its pid *and* its start time from /proc, so that
`stop` never signals an unrelated process that reused the pid after ours died.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tensorledger.errors import ConfigError, UnavailableError

HOST = "127.0.0.1"
#: lines of a log quoted when a process fails
LOG_TAIL = 15


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """A started process: what it is, its pid and /proc start time, its log."""

    name: str
    pid: int
    start_time: int
    log: str
    command: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {**asdict(self), "command": list(self.command)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ProcessInfo:
        """Inverse of `to_json`."""
        return cls(
            str(raw["name"]),
            int(raw["pid"]),
            int(raw["start_time"]),
            str(raw["log"]),
            tuple(str(c) for c in raw["command"]),
        )


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports that are free now (all held open while choosing)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def check_ports_free(ports: Mapping[str, int]) -> None:
    """ConfigError naming the first port (and its use) that something already listens on."""
    for use, port in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                raise ConfigError(
                    f"port {HOST}:{port} ({use}) is already in use; stop what holds it "
                    "or choose another --base-port"
                ) from None


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in {"Z", "X"}:
        return None
    return int(fields[19])


def start(
    name: str, command: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path
) -> ProcessInfo:
    """Start `command` detached (own session, so Ctrl-C in a shell does not reach it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise ConfigError(f"cannot start {name} ({command[0]}): {exc.strerror}") from None
    started = _start_time(proc.pid)
    return ProcessInfo(name, proc.pid, started or 0, str(log), tuple(command))


def is_alive(info: ProcessInfo) -> bool:
    """Whether the recorded process still runs (same pid and same start time)."""
    _reap(info.pid)
    started = _start_time(info.pid)
    return started is not None and started == info.start_time


def _reap(pid: int) -> None:
    # A child of this very Python (tests call up and down in one process)
    # stays a zombie until waited for.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def log_tail(info: ProcessInfo, lines: int = LOG_TAIL) -> str:
    """The last lines of the process's log, for error messages."""
    try:
        text = Path(info.log).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:])


def died(info: ProcessInfo, what: str) -> UnavailableError:
    """The error for a process that exited when it should run: its log's tail included."""
    return UnavailableError(f"{info.name} exited while {what} (log {info.log}):\n{log_tail(info)}")


def wait_healthy(info: ProcessInfo, ops_port: int, timeout: float = 60.0) -> None:
    """Poll Fabric's operations endpoint ``/healthz`` until it answers OK.

    UnavailableError with the log's tail when the process dies first or the
    time runs out.
    """
    url = f"http://{HOST}:{ops_port}/healthz"
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not is_alive(info):
            raise died(info, "starting")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                body = json.loads(reply.read() or b"{}")
                if body.get("status") == "OK":
                    return
                last = str(body)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:200]!r}"
        except (OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise UnavailableError(
        f"{info.name} not healthy after {timeout:.0f} s at {url} ({last}); log {info.log}:\n"
        f"{log_tail(info)}"
    )


def wait_listening(info: ProcessInfo, port: int, timeout: float = 30.0) -> None:
    """Wait until the process accepts TCP connections on `port` (chaincode servers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(info):
            raise died(info, "starting")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise UnavailableError(
        f"{info.name} not listening on {HOST}:{port} after {timeout:.0f} s; log {info.log}:\n"
        f"{log_tail(info)}"
    )


def stop(info: ProcessInfo, grace: float = 10.0) -> bool:
    """SIGTERM the process, SIGKILL it after `grace` seconds; False when it was not running."""
    if not is_alive(info):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_alive(info):
            return True
        time.sleep(0.05)
    if is_alive(info):
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGKILL)
        while is_alive(info):
            time.sleep(0.05)
    return True


__all__ = [
    "HOST",
    "ProcessInfo",
    "check_ports_free",
    "died",
    "free_ports",
    "is_alive",
    "log_tail",
    "start",
    "stop",
    "wait_healthy",
    "wait_listening",
]
