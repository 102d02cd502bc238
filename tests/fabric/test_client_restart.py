"""A peer killed and restarted under a connected client: clear errors while down, nothing lost.

The peer is killed with SIGKILL (no clean shutdown) and started again with
the very command line and environment it ran with, read from /proc, and
recorded in network.json so that `fabric down` stops the new process.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import tensorledger as tl
from tensorledger.errors import UnavailableError
from tensorledger.fabric import process
from tensorledger.fabric.process import ProcessInfo
from tests.fabric.conftest import CHANNEL

pytestmark = [pytest.mark.fabric, pytest.mark.slow]

CC = "datacontract"
#: how long the restarted peer may take to serve again (a wait, not a timing assertion)
RECOVERY_SECONDS = 120.0
T = TypeVar("T")


def _peer(profile: dict[str, Any], org: str) -> ProcessInfo:
    raw = next(p for p in profile["processes"] if p["name"] == f"peer {org}")
    return ProcessInfo.from_json(raw)


def _environ(pid: int) -> dict[str, str]:
    data = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in data.decode().split("\0") if "=" in item)


def _replace_recorded(net: Path, old: ProcessInfo, new: ProcessInfo) -> None:
    path = net / "network.json"
    profile = json.loads(path.read_text())
    profile["processes"] = [
        new.to_json() if p["pid"] == old.pid and p["name"] == old.name else p
        for p in profile["processes"]
    ]
    path.write_text(json.dumps(profile, indent=2) + "\n")


def _until_ok(action: Callable[[], T]) -> T:
    """`action()`, retried while it is unavailable (the peer catching up), up to a bound."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        try:
            return action()
        except UnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_killed_peer_gives_clear_errors_then_serves_everything_again(fabric_net: Path) -> None:
    profile = json.loads((fabric_net / "network.json").read_text())
    org2 = next(o for o in profile["organizations"] if o["name"] == "Org2")
    address = org2["peer"]["address"]
    peer = _peer(profile, "Org2")
    assert process.is_alive(peer)
    env, command = _environ(peer.pid), list(peer.command)
    key = f"restart-{uuid.uuid4().hex[:12]}"
    with (
        tl.connect(fabric_net, identity="Org1") as gw1,
        tl.connect(fabric_net, identity="Org2") as gw2,
    ):
        c1 = gw1.network(CHANNEL).contract(CC)
        c2 = gw2.network(CHANNEL).contract(CC)
        before = c1.submit("storeData", key, "before the crash")
        assert c2.evaluate("retrieveData", key) == b"before the crash"

        os.kill(peer.pid, signal.SIGKILL)
        while process.is_alive(peer):
            time.sleep(0.05)
        restarted: ProcessInfo | None = None
        try:
            with pytest.raises(UnavailableError, match=address.replace(".", r"\.")):
                c2.evaluate("retrieveData", key)
            # MAJORITY of two needs Org2's endorsement: the submit cannot proceed.
            with pytest.raises(UnavailableError, match=address.replace(".", r"\.")):
                c1.submit("storeData", key, "while down")
            # Org1's own peer still answers for what was committed.
            assert c1.evaluate("retrieveData", key) == b"before the crash"

            restarted = process.start(
                peer.name, command, env=env, log=Path(peer.log), cwd=fabric_net
            )
            _replace_recorded(fabric_net, peer, restarted)
            ops = int(org2["peer"]["operations"].rsplit(":", 1)[1])
            process.wait_healthy(restarted, ops)

            assert _until_ok(lambda: c2.evaluate("retrieveData", key)) == b"before the crash"
            after = _until_ok(lambda: c1.submit("storeData", key, "after the restart"))
            assert after.block > before.block
            assert c2.evaluate("retrieveData", key) == b"after the restart"
            history = json.loads(c2.evaluate("history", key))
            assert {h["txId"] for h in history} == {before.tx_id, after.tx_id}
        finally:
            if restarted is None:  # leave a running peer behind for the other tests
                restarted = process.start(
                    peer.name, command, env=env, log=Path(peer.log), cwd=fabric_net
                )
                _replace_recorded(fabric_net, peer, restarted)
