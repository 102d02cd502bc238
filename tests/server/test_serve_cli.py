"""`tensorledger serve` refuses what it cannot serve with one line, starting nothing."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tensorledger.cli import app


def test_a_broken_fabric_profile_is_refused_in_one_line(tmp_path: Path) -> None:
    # A Fabric network directory is served (tests/server/test_fabric_serve.py); one whose
    # profile names no orderer is refused before anything listens.
    (tmp_path / "network.json").write_text(json.dumps({"backend": "fabric", "channel": "c"}))
    result = CliRunner().invoke(app, ["-l", str(tmp_path), "serve", "--port", "1"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "orderer" in lines[0]
    assert not (tmp_path / "server-tokens.json").exists()


def test_a_missing_ledger_is_refused_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["-l", str(tmp_path / "nope"), "serve", "--port", "1"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "no ledger at" in result.output
