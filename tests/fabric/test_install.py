"""The Fabric build: the right release, recorded by a stamp that notices tampering; idempotent."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tensorledger.errors import ConfigError
from tensorledger.fabric.install import (
    BINARIES,
    STAMP_FILE,
    Installation,
    find_installation,
    install,
)

pytestmark = pytest.mark.fabric


def test_binaries_report_release_2_1_1(fabric: Installation) -> None:
    for name, args in (("peer", ["version"]), ("orderer", ["version"])):
        out = subprocess.run(
            [str(fabric.binary(name)), *args], capture_output=True, text=True, check=True
        ).stdout
        assert "Version: 2.1.1" in out and "Commit SHA: 6393adb" in out
    out = subprocess.run(
        [str(fabric.binary("configtxgen")), "-version"], capture_output=True, text=True, check=True
    ).stdout
    assert "Version: 2.1.1" in out
    for name in ("core.yaml", "orderer.yaml", "configtx.yaml"):
        assert (fabric.sampleconfig / name).is_file()


def test_stamp_records_the_binaries_digests(fabric: Installation) -> None:
    stamp = json.loads((fabric.home / STAMP_FILE).read_text())
    assert stamp["fabric"] == "2.1.1"
    for name in BINARIES:
        digest = hashlib.sha256((fabric.bin_dir / name).read_bytes()).hexdigest()
        assert stamp["binaries"][name] == digest


def test_install_again_changes_nothing(fabric: Installation) -> None:
    before = {n: (fabric.bin_dir / n).stat().st_mtime_ns for n in BINARIES}
    said: list[str] = []
    again = install(fabric.home, progress=said.append)
    assert again == fabric
    assert said == [f"Fabric 2.1.1 already installed in {fabric.home}"]
    assert {n: (fabric.bin_dir / n).stat().st_mtime_ns for n in BINARIES} == before


def _copy(fabric: Installation, target: Path) -> Path:
    shutil.copytree(fabric.home, target, ignore=shutil.ignore_patterns("src", "build.log"))
    return target


@pytest.mark.parametrize("what", ["binary", "stamp", "missing"])
def test_a_tampered_installation_is_refused(
    fabric: Installation, tmp_path: Path, what: str
) -> None:
    home = _copy(fabric, tmp_path / "home")
    find_installation(home)  # the untouched copy is accepted
    if what == "binary":
        peer = home / "bin" / "peer"
        data = bytearray(peer.read_bytes())
        data[len(data) // 2] ^= 0x01
        peer.write_bytes(bytes(data))
    elif what == "stamp":
        stamp = json.loads((home / STAMP_FILE).read_text())
        stamp["recipe"] = "0" * 64
        (home / STAMP_FILE).write_text(json.dumps(stamp))
    else:
        (home / "bin" / "orderer").unlink()
    with pytest.raises(ConfigError, match="run `tensorledger fabric install`"):
        find_installation(home)


@pytest.mark.slow
def test_install_from_package_data_rebuilds_a_tampered_binary(
    fabric: Installation, tmp_path: Path
) -> None:
    """A real `go build` from the shipped go.mod/go.sum (Go's build cache keeps it short)."""
    home = _copy(fabric, tmp_path / "home")
    (home / "bin" / "peer").write_bytes(b"not fabric")
    rebuilt = install(home)
    out = subprocess.run(
        [str(rebuilt.binary("peer")), "version"], capture_output=True, text=True, check=True
    ).stdout
    assert "Version: 2.1.1" in out
    find_installation(home)
