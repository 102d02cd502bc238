"""Starting and stopping: `down` leaves nothing running; every failure of `up` is one clear error.

Failures are real: a socket really holds the port, an `orderer` that really
exits, a PATH that really has no `go`.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from tensorledger.errors import ConfigError, UnavailableError
from tensorledger.fabric import network
from tensorledger.fabric.install import Installation, install
from tests.fabric.conftest import bring_up

pytestmark = pytest.mark.fabric


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path):
    """Whatever a test starts by mistake is stopped, so one failure does not leak processes."""
    yield
    if (tmp_path / "net" / "network.json").exists():
        network.down(tmp_path / "net")


def _running(pid: int) -> bool:
    """Independent of the code under test: the kernel's view of the pid (zombies count as gone)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_down_stops_every_process_and_is_idempotent(fabric: Installation, tmp_path: Path) -> None:
    profile = bring_up(tmp_path / "net", fabric)
    pids = [p["pid"] for p in profile["processes"]]
    addresses = [
        profile["orderer"]["address"],
        *(o["peer"]["address"] for o in profile["organizations"]),
    ]
    assert len(pids) == 4 and all(_running(pid) for pid in pids)
    assert all(_listening(a) for a in addresses)

    stopped = network.down(tmp_path / "net")
    assert sorted(stopped) == sorted(p["name"] for p in profile["processes"])
    assert not any(_running(pid) for pid in pids)
    assert not any(_listening(a) for a in addresses)
    assert network.down(tmp_path / "net") == []
    assert not network.status(tmp_path / "net").healthy


def test_down_never_signals_a_process_that_reused_the_pid(tmp_path: Path) -> None:
    # A recorded pid whose start time differs is someone else's process: our own.
    record = {"name": "x", "pid": os.getpid(), "start_time": 1, "log": "l", "command": ["x"]}
    (tmp_path / "network.json").write_text(
        json.dumps({"backend": "fabric", "channel": "c", "processes": [record]})
    )
    assert network.down(tmp_path) == []
    assert _running(os.getpid())


@pytest.mark.parametrize("taken", [0, 2], ids=["orderer", "Org1 peer"])
def test_a_taken_port_is_named(fabric: Installation, tmp_path: Path, taken: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    if base > 60000:
        base -= 5000
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", base + taken))
        holder.listen()
        with pytest.raises(ConfigError) as caught:
            bring_up(tmp_path / "net", fabric, base_port=base)
    finally:
        holder.close()
    message = str(caught.value)
    assert f"127.0.0.1:{base + taken}" in message and "already in use" in message
    assert ("(orderer)" if taken == 0 else "(Org1 peer)") in message
    assert not (tmp_path / "net").exists()  # nothing written, nothing started


def _fake_installation(
    fabric: Installation, tmp_path: Path, orderer_script: str | None
) -> Installation:
    home = tmp_path / "fabric"
    (home / "bin").mkdir(parents=True)
    (home / "sampleconfig").symlink_to(fabric.sampleconfig)
    for name in ("peer", "configtxgen"):
        (home / "bin" / name).symlink_to(fabric.binary(name))
    if orderer_script is not None:
        script = home / "bin" / "orderer"
        script.write_text(orderer_script)
        script.chmod(0o755)
    return Installation(home)


def test_a_missing_binary_is_named(fabric: Installation, tmp_path: Path) -> None:
    fake = _fake_installation(fabric, tmp_path, None)
    with pytest.raises(ConfigError, match=r"Fabric binary .*/bin/orderer is missing"):
        bring_up(tmp_path / "net", fake)
    assert not (tmp_path / "net").exists()


def test_a_dying_orderer_shows_its_log_and_nothing_is_left_running(
    fabric: Installation, tmp_path: Path
) -> None:
    fake = _fake_installation(
        fabric, tmp_path, "#!/bin/sh\necho 'panic: cannot open ledger (simulated)'\nexit 3\n"
    )
    with pytest.raises(UnavailableError) as caught:
        bring_up(tmp_path / "net", fake)
    assert "orderer exited" in str(caught.value)
    assert "panic: cannot open ledger (simulated)" in str(caught.value)
    profile = network.load_profile(tmp_path / "net")
    assert [p["name"] for p in profile["processes"]] == ["orderer", "peer Org1", "peer Org2"]
    assert not any(_running(p["pid"]) for p in profile["processes"])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"policy": "AND('Org1MSP.peer', 'Org9MSP.peer')"}, "Org9MSP"),
        ({"base_port": 80}, "--base-port"),
    ],
)
def test_bad_options_change_nothing(
    fabric: Installation, tmp_path: Path, options: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        bring_up(tmp_path / "net", fabric, **options)
    assert not (tmp_path / "net").exists()


def test_an_existing_network_is_not_overwritten(fabric: Installation, tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        bring_up(tmp_path / "net", fabric)
    assert (tmp_path / "net" / "keep.txt").read_text() == "mine"


def test_missing_go_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ConfigError, match=r"the Go toolchain \(`go`\) is not on PATH"):
        install(tmp_path / "home")
    with pytest.raises(ConfigError, match="not on PATH"):
        install(tmp_path / "home", go=str(tmp_path / "no-such-go"))
    assert not (tmp_path / "home" / "bin").exists()


def test_a_failing_build_quotes_go(tmp_path: Path) -> None:
    fake_go = tmp_path / "go"
    fake_go.write_text(
        "#!/bin/sh\nif [ \"$1\" = version ]; then echo 'go version go0.0 fake'; exit 0; fi\n"
        "echo 'cmd/peer: undefined: something (simulated)' >&2\nexit 1\n"
    )
    fake_go.chmod(0o755)
    with pytest.raises(UnavailableError, match=r"undefined: something \(simulated\)"):
        install(tmp_path / "home", go=str(fake_go))
    assert not (tmp_path / "home" / "bin").exists()


@pytest.mark.slow
def test_cli_up_status_down_with_every_contract(fabric: Installation, tmp_path: Path) -> None:
    """The `tensorledger fabric` commands, in process, on the full set of contracts."""
    from typer.testing import CliRunner

    from tensorledger.cli import app
    from tensorledger.ledger.network import DEFAULT_CONTRACTS

    runner = CliRunner()
    net = str(tmp_path / "net")
    result = runner.invoke(app, ["fabric", "up", "--dir", net])
    assert result.exit_code == 0, result.output
    profile = network.load_profile(tmp_path / "net")
    assert [c["name"] for c in profile["chaincodes"]] == [c.name for c in DEFAULT_CONTRACTS]

    result = runner.invoke(app, ["fabric", "status", "--dir", net, "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["healthy"] and len(found["processes"]) == 3 + len(DEFAULT_CONTRACTS)
    cli, orgs = network.admin_cli(tmp_path / "net")
    out = cli.invoke(orgs[1], "mychannel", "datacontract", ["storeData", "k", "v"], orgs)
    assert "stored successfully" in out

    result = runner.invoke(app, ["fabric", "down", "--dir", net])
    assert result.exit_code == 0
    assert f"stopped {3 + len(DEFAULT_CONTRACTS)} processes" in result.stdout
    assert not any(_running(p["pid"]) for p in profile["processes"])
    result = runner.invoke(app, ["fabric", "status", "--dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 8 and "no Fabric network" in result.output


def test_a_dead_chaincode_server_shows_in_status_and_errors(
    fabric: Installation, tmp_path: Path
) -> None:
    profile = bring_up(tmp_path / "net", fabric)
    cli, orgs = network.admin_cli(tmp_path / "net")
    cli.invoke(orgs[0], "mychannel", "datacontract", ["storeData", "k", "v"], orgs)
    (server,) = profile["chaincodes"]
    os.kill(server["pid"], 9)
    while _running(server["pid"]):
        time.sleep(0.05)
    found = network.status(tmp_path / "net")
    assert not found.healthy
    assert [p.name for p in found.processes if not p.alive] == ["chaincode datacontract"]
    assert all(h is not None for h in found.heights.values())  # the peers themselves are fine
    with pytest.raises(UnavailableError, match="querying datacontract failed for Org2"):
        cli.query(orgs[1], "mychannel", "datacontract", ["retrieveData", "k"])
    assert "chaincode datacontract" not in network.down(tmp_path / "net")
