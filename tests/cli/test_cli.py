"""The `tensorledger` command: journeys through CliRunner, the error contract through the script.

The subprocess tests run `.venv/bin/tensorledger` exactly as a user does, so
they prove what CliRunner cannot: no traceback reaches the terminal, and the
exit codes are those documented in `tensorledger --help`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from typer.main import get_command
from typer.testing import CliRunner, Result

from tensorledger import errors
from tensorledger.cli import EPILOG, app
from tensorledger.ledger.network import DEFAULT_CONTRACTS

SCRIPT = Path(sys.executable).parent / "tensorledger"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TENSORLEDGER_LEDGER", "TENSORLEDGER_IDENTITY", "TENSORLEDGER_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "100")


def cli(*args: str | Path, stdin: bytes | str | None = None) -> Result:
    return runner.invoke(app, [str(a) for a in args], input=stdin)


def ok(*args: str | Path, stdin: bytes | str | None = None) -> Result:
    result = cli(*args, stdin=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def one_error_line(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def tx_id_of(result: Result) -> str:
    return str(json.loads(result.stdout)["tx_id"])


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger"
    ok("init", path)
    return path


# -- help ------------------------------------------------------------------


def test_top_level_help_groups_commands_and_documents_every_exit_code() -> None:
    text = ok("--help").stdout
    for panel in ("Ledger", "Data", "Proofs", "Maintenance", "Exit codes"):
        assert panel in text
    classes = [getattr(errors, n) for n in errors.__all__]
    for cls in classes:
        assert f"\n  {cls.exit_code} " in EPILOG, cls


@pytest.mark.parametrize("command", sorted(get_command(app).commands))  # type: ignore[attr-defined]
def test_every_command_has_help_with_an_example(command: str) -> None:
    text = ok(command, "--help").stdout
    assert "Example" in text
    assert "tensorledger " + command in text


def _leaf_commands(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(command, click.Group):
        return [
            leaf
            for name, sub in sorted(command.commands.items())
            for leaf in _leaf_commands(sub, (*path, name))
        ]
    return [path]


@pytest.mark.parametrize("path", _leaf_commands(get_command(app)), ids=" ".join)
def test_every_subcommand_has_help_with_an_example(path: tuple[str, ...]) -> None:
    text = ok(*path, "--help").stdout
    assert "Example" in text, path
    assert "tensorledger" in text.split("Example", 1)[1], path


# -- the seed's flow ---------------------------------------------------------


def test_init_prints_orgs_channels_and_contracts(tmp_path: Path) -> None:
    out = ok("init", tmp_path / "net", "--org", "Hospital", "--org", "Lab").stdout
    for text in ("HospitalMSP", "LabMSP", "mychannel", "datacontract", "MAJORITY", "network.json"):
        assert text in out
    assert (tmp_path / "net" / "channels" / "mychannel.db").exists()


def test_put_get_history_delete_ls(ledger: Path, tmp_path: Path) -> None:
    first = ok("-l", ledger, "put", "statData", "[1.0, 2.0, 3.0, 4.0, 5.0]")
    assert "Data with ID statData stored successfully." in first.stdout
    assert "block" in first.stdout
    assert ok("-l", ledger, "get", "statData").stdout_bytes == b"[1.0, 2.0, 3.0, 4.0, 5.0]"

    weights = tmp_path / "weights.json"
    weights.write_text("[[0.5, -0.25], [1.0]]\n")
    ok("-l", ledger, "put", "modelParams", f"@{weights}")
    assert ok("-l", ledger, "get", "modelParams").stdout_bytes == weights.read_bytes()
    ok("-l", ledger, "put", "fromStdin", "-", stdin="piped")
    assert ok("-l", ledger, "get", "fromStdin").stdout == "piped"
    ok("-l", ledger, "put", "handle", "@@alice")
    assert ok("-l", ledger, "get", "handle").stdout == "@alice"

    second = tx_id_of(ok("-l", ledger, "put", "statData", "[9.0]", "--json"))
    gone = tx_id_of(ok("-l", ledger, "delete", "statData", "--json"))
    history = ok("-l", ledger, "history", "statData").stdout
    assert second in history and gone in history and "(deleted)" in history
    changes = json.loads(ok("-l", ledger, "history", "statData", "--json").stdout)
    assert [c["isDelete"] for c in changes] == [True, False, False]  # newest first, as Fabric
    one_error_line(cli("-l", ledger, "get", "statData"), 6)

    listed = json.loads(ok("-l", ledger, "ls", "--start", "a", "--end", "m", "--json").stdout)
    assert [r["id"] for r in listed] == ["fromStdin", "handle"]
    assert "modelParams" in ok("-l", ledger, "ls").stdout


def test_put_refuses_unreadable_file_and_non_utf8(ledger: Path, tmp_path: Path) -> None:
    assert "cannot read" in one_error_line(cli("-l", ledger, "put", "x", "@/no/such"), 2)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\xff\xfe\x00")
    assert "not UTF-8" in one_error_line(cli("-l", ledger, "put", "x", f"@{blob}"), 3)


def test_blocks_block_and_tx(ledger: Path, tmp_path: Path) -> None:
    put = json.loads(ok("-l", ledger, "put", "statData", "[1.0]", "--json").stdout)
    summaries = json.loads(ok("-l", ledger, "blocks", "--json", "--limit", "2").stdout)
    assert [s["number"] for s in summaries] == [put["block"], put["block"] - 1]
    assert summaries[0]["previous_hash"] == summaries[1]["hash"]
    assert summaries[0]["valid_count"] == summaries[0]["tx_count"] == 1
    table = ok("-l", ledger, "blocks").stdout
    assert summaries[0]["hash"][:16] in table

    raw = tmp_path / "block.pb"
    shown = ok("-l", ledger, "block", str(put["block"]), "--out", raw).stdout
    assert put["tx_id"] in shown and "VALID" in shown and summaries[0]["hash"] in shown
    from fabric_protos.common import common_pb2

    decoded = common_pb2.Block.FromString(raw.read_bytes())
    assert decoded.header.number == put["block"] and len(decoded.data.data) == 1
    as_json = json.loads(ok("-l", ledger, "block", "0", "--json").stdout)
    assert as_json["transactions"][0]["type"] == "CONFIG"

    info = json.loads(ok("-l", ledger, "tx", put["tx_id"], "--json").stdout)
    assert info["code"] == "VALID" and info["function"] == "storeData"
    assert info["args"] == ["statData", "[1.0]"]
    assert info["creator"] == {"msp_id": "Org1MSP", "cn": "User1@org1.example.com"}
    assert sorted(info["endorsers"]) == [
        "Org1MSP:peer0.org1.example.com",
        "Org2MSP:peer0.org2.example.com",
    ]
    assert info["writes"] == [
        {"namespace": "datacontract", "key": "statData", "value": "[1.0]", "deleted": False}
    ]
    assert info["event"] == "DataStored"
    text = ok("-l", ledger, "tx", put["tx_id"]).stdout
    assert "storeData(statData, [1.0])" in text and "peer0.org2.example.com" in text

    assert "no transaction nope" in one_error_line(cli("-l", ledger, "tx", "nope"), 8)
    assert "no block 99" in one_error_line(cli("-l", ledger, "block", "99"), 8)


# -- proofs ----------------------------------------------------------------


def test_prove_then_check_offline_and_every_sampled_byte_change_fails(
    ledger: Path, tmp_path: Path
) -> None:
    tx_id = tx_id_of(ok("-l", ledger, "put", "statData", "[1.0, 2.0]", "--json"))
    proof_file = tmp_path / "proof.json"
    summary = ok("-l", ledger, "prove", tx_id, "--out", proof_file).stdout
    assert tx_id in summary and "tree size" in summary and "audit path" in summary
    key = ok("-l", ledger, "checkpoint", "--key").stdout.strip()
    assert key in summary
    assert json.loads(ok("-l", ledger, "prove", tx_id, "--json").stdout)["tx_id"] == tx_id

    # Offline: no ledger at all behind the check.
    checked = ok("-l", tmp_path / "nowhere", "prove", "--check", proof_file, "--key", key)
    assert checked.stdout.startswith("OK") and tx_id in checked.stdout

    original = proof_file.read_bytes()
    block_field = original.index(b'"block"')
    block_value = range(block_field, original.index(b"\n", block_field))
    forged = tmp_path / "forged.json"
    # About 50 positions spread over every field, and the last byte before the newline.
    positions = sorted(set(range(0, len(original), len(original) // 50)) | {len(original) - 2})
    for i in positions:
        if i in block_value:
            continue  # see test_proof_binds_its_block_number
        changed = bytearray(original)
        changed[i] ^= 0x01
        forged.write_bytes(bytes(changed))
        result = cli("prove", "--check", forged, "--key", key)
        assert result.exit_code in (3, 9), (i, chr(original[i]), result.stdout)
        one_error_line(result, result.exit_code)

    assert "--key" in one_error_line(cli("prove", "--check", proof_file), 2)
    other_key = key[:-8] + ("A" if key[-8] != "A" else "B") + key[-7:]
    assert cli("prove", "--check", proof_file, "--key", other_key).exit_code != 0


@pytest.mark.parametrize("field", ["block", "index"])
def test_proof_binds_its_position(ledger: Path, tmp_path: Path, field: str) -> None:
    # Regression: the block number in a proof once went unchecked.
    tx_id = tx_id_of(ok("-l", ledger, "put", "statData", "[1.0]", "--json"))
    proof = json.loads(ok("-l", ledger, "prove", tx_id, "--json").stdout)
    key = ok("-l", ledger, "checkpoint", "--key").stdout.strip()
    proof[field] += 1
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(proof))
    assert cli("prove", "--check", forged, "--key", key).exit_code == 9


def test_checkpoint_and_consistency(ledger: Path, tmp_path: Path) -> None:
    ok("-l", ledger, "put", "a", "1")
    note = ok("-l", ledger, "checkpoint").stdout
    origin, size = note.splitlines()[:2]
    assert origin.startswith("tensorledger/") and origin.endswith("/mychannel")
    # genesis, two approvals and a commit per deployed contract, one put
    assert int(size) == 1 + 3 * len(DEFAULT_CONTRACTS) + 1
    key = ok("-l", ledger, "checkpoint", "--key").stdout.strip()
    assert key.startswith(origin + "+")

    assert "extends the log at size 2" in ok("-l", ledger, "consistency", "2").stdout
    out = tmp_path / "consistency.json"
    ok("-l", ledger, "consistency", "2", "4", "--out", out)
    checked = ok("prove", "--check", out, "--key", key).stdout
    assert "at size 4 extends the log at size 2" in checked
    one_error_line(cli("-l", ledger, "consistency", "300"), 8)


def test_events(ledger: Path) -> None:
    first = tx_id_of(ok("-l", ledger, "put", "statData", "[1.0]", "--json"))
    ok("-l", ledger, "delete", "statData")
    started = time.monotonic()
    lines = ok("-l", ledger, "events", "--chaincode", "datacontract", "--json").stdout
    assert time.monotonic() - started < 5
    events = [json.loads(line) for line in lines.splitlines()]
    assert [(e["name"], e["payload"]) for e in events] == [
        ("DataStored", "statData"),
        ("DataDeleted", "statData"),
    ]
    assert events[0]["tx_id"] == first
    later = ok("-l", ledger, "events", "--from-block", str(events[1]["block"])).stdout
    assert "DataDeleted" in later and "DataStored" not in later


# -- maintenance -------------------------------------------------------------


def test_verify_passes_then_names_the_first_difference(ledger: Path) -> None:
    ok("-l", ledger, "put", "statData", "[1.0]")
    assert "OK" in ok("-l", ledger, "verify").stdout
    with sqlite3.connect(ledger / "channels" / "mychannel.db") as db:
        db.execute("UPDATE state SET value = CAST('[6.66]' AS BLOB) WHERE key = 'statData'")
    result = cli("-l", ledger, "verify")
    assert result.exit_code == errors.IntegrityError.exit_code == 9
    assert "first difference:" in result.stdout and "statData" in result.stdout
    assert "no channel 'nope'" in one_error_line(cli("-l", ledger, "verify", "-c", "nope"), 2)


def test_demo_tells_the_seed_story(tmp_path: Path) -> None:
    out = ok("demo", "--seed-only", "--dir", tmp_path / "demo").stdout
    for text in (
        "Data with ID statData stored successfully.",
        "Data with ID modelParams stored successfully.",
        "Data with ID missingData does not exist.",
        "identical",
        "nothing differs",
    ):
        assert text in out
    assert ok("-l", tmp_path / "demo", "get", "statData").stdout == "[1.0, 2.0, 3.0, 4.0, 5.0]"


def test_bench_runs_the_benchmark_module_or_says_it_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tensorledger.bench

    seen: dict[str, object] = {}

    def fake_run(**kwargs: object) -> dict[str, object]:
        seen.update(kwargs)
        return {"storeData_tx_per_s": 1.0}

    monkeypatch.setattr(tensorledger.bench, "run", fake_run)
    assert json.loads(ok("bench", "--processes", "1").stdout) == {"storeData_tx_per_s": 1.0}
    assert seen["processes"] == 1 and "threads" not in seen
    monkeypatch.setattr(importlib.util, "find_spec", lambda _name: None)
    assert "benchmark" in one_error_line(cli("bench"), 1)


# -- the error contract, through the installed script ----------------------------


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORLEDGER_")}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [str(SCRIPT), *map(str, args)], capture_output=True, env=env, timeout=60, **kwargs
    )


def assert_one_line(proc: subprocess.CompletedProcess[bytes], code: int, text: str) -> None:
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert "Traceback" not in err and "Traceback" not in proc.stdout.decode()
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and text in err


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def test_script_get_missing_id_is_one_line_exit_6(ledger: Path) -> None:
    proc = run("-l", ledger, "get", "nope")
    assert_one_line(proc, 6, "Data with ID nope does not exist.")
    assert proc.stdout == b""


def test_script_get_writes_the_value_raw(ledger: Path) -> None:
    ok("-l", ledger, "put", "statData", "[1.0, 2.0]")
    proc = run("-l", ledger, "get", "statData")
    assert proc.returncode == 0 and proc.stdout == b"[1.0, 2.0]"


def test_script_init_refuses_an_existing_ledger_and_changes_nothing(ledger: Path) -> None:
    before = tree_hash(ledger)
    assert_one_line(run("init", ledger), 2, "already holds a network")
    assert tree_hash(ledger) == before


def test_script_unknown_identity_is_one_line_exit_2(ledger: Path) -> None:
    assert_one_line(run("-l", ledger, "-i", "Org9", "get", "x"), 2, "no organisation 'Org9'")


def test_unknown_identity_channel_and_ledger(ledger: Path, tmp_path: Path) -> None:
    assert "no organisation 'Org9'" in one_error_line(
        cli("-l", ledger, "-i", "Org9", "get", "x"), 2
    )
    assert "no channel 'nochannel'" in one_error_line(
        cli("-l", ledger, "-c", "nochannel", "get", "x"), 2
    )
    assert "no channel 'nochannel'" in one_error_line(
        cli("-l", ledger, "-c", "nochannel", "blocks"), 2
    )
    assert "tensorledger init" in one_error_line(cli("-l", tmp_path / "absent", "blocks"), 2)
    assert "tensorledger init" in one_error_line(cli("-l", tmp_path / "absent", "put", "a", "b"), 2)
    # Org2's admin is a valid identity in the same network: it reads what Org1 wrote.
    ok("-l", ledger, "put", "shared", "yes")
    assert ok("-l", ledger, "-i", "Org2/Admin", "get", "shared").stdout == "yes"


def test_script_follow_stops_on_ctrl_c_with_130(ledger: Path) -> None:
    ok("-l", ledger, "put", "statData", "[1.0]")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORLEDGER_")}
    proc = subprocess.Popen(
        [str(SCRIPT), "-l", str(ledger), "events", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # A shell's background jobs ignore SIGINT; give the child Python's default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    # The first event printed means the command is following, past start-up.
    assert b"DataStored" in proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err + out


def test_version() -> None:
    assert ok("--version").stdout.startswith("tensorledger ")
