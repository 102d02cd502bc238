"""Bad directories, identities, organisation and channel names: ConfigError, nothing touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tensorledger as tl
from tests.ledger.ledger_state import tree_digest


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_connect_to_a_folder_that_is_not_a_ledger(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(tl.ConfigError, match="is not a tensorledger network"):
        tl.connect(tmp_path, identity="Org1")
    assert listing(tmp_path) == {"notes.txt"}


def test_connect_to_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(tl.ConfigError, match="no ledger") as err:
        tl.connect(tmp_path / "missing", identity="Org1")
    assert str(tmp_path / "missing") in str(err.value)
    assert not (tmp_path / "missing").exists()


def test_connect_with_unknown_backend(ledger_path: Path) -> None:
    with pytest.raises(tl.ConfigError, match="unknown backend 'grpc'"):
        tl.connect(ledger_path, identity="Org1", backend="grpc")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "malformed"),
        ('{"format": 99}', "unsupported format 99"),
        ('{"format": 1}', "malformed"),
    ],
)
def test_connect_to_a_damaged_network_file(ledger_path: Path, content: str, fragment: str) -> None:
    (ledger_path / "network.json").write_text(content)
    with pytest.raises(tl.ConfigError, match=fragment):
        tl.connect(ledger_path, identity="Org1")


@pytest.mark.parametrize(
    ("identity", "fragment"),
    [
        ("Org9", "no organisation 'Org9'"),
        ("Org1/Nobody", "no identity 'Nobody' in organisation Org1"),
        ("Nobody@org1.example.com", "no identity 'Nobody'"),
        ("User1@org9.example.com", "no organisation 'org9.example.com'"),
        ("", "no organisation ''"),
    ],
)
def test_unknown_identity(ledger_path: Path, identity: str, fragment: str) -> None:
    before = tree_digest(ledger_path)
    with pytest.raises(tl.ConfigError, match=fragment):
        tl.connect(ledger_path, identity=identity)
    assert tree_digest(ledger_path) == before


@pytest.mark.parametrize("identity", ["Org1", "org1", "Org1MSP", "Org1/User1", "Org1/Admin"])
def test_known_identity_spellings(ledger_path: Path, identity: str) -> None:
    with tl.connect(ledger_path, identity=identity) as gw:
        assert gw.msp_id == "Org1MSP"


def test_init_into_an_existing_ledger(ledger_path: Path) -> None:
    before = tree_digest(ledger_path)
    with pytest.raises(tl.ConfigError, match="already holds a network"):
        tl.init(ledger_path, orgs=["Org1", "Org2"])
    assert tree_digest(ledger_path) == before
    assert listing(ledger_path.parent) == listing(ledger_path.parent) & (
        {"ledger"} | {f"ledger/{p}" for p in listing(ledger_path)}
    )


def test_init_into_a_folder_with_other_content(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.mkdir()
    (target / "precious.csv").write_text("a,b\n1,2\n")
    with pytest.raises(tl.ConfigError, match="exists and is not empty"):
        tl.init(target)
    assert listing(tmp_path) == {"data", "data/precious.csv"}
    assert (target / "precious.csv").read_text() == "a,b\n1,2\n"


def test_init_into_an_empty_folder_works(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    path = tl.init(tmp_path / "empty")
    assert json.loads((path / "network.json").read_text())["channels"] == ["mychannel"]


@pytest.mark.parametrize(
    ("orgs", "fragment"),
    [
        (["Org 1"], "organisation name 'Org 1'"),
        (["1Org"], "organisation name '1Org'"),
        (["Org_1"], "organisation name 'Org_1'"),
        (["../evil"], "organisation name '../evil'"),
        ([""], "organisation name ''"),
        (["Org1", "ORG1"], "must be distinct"),
        ([], "at least one organisation"),
        (["O" * 64], "organisation name"),
    ],
)
def test_invalid_organisation_names(tmp_path: Path, orgs: list[str], fragment: str) -> None:
    with pytest.raises(tl.ConfigError, match=fragment):
        tl.init(tmp_path / "ledger", orgs=orgs)
    assert listing(tmp_path) == set()


@pytest.mark.parametrize(
    "channel",
    ["MyChannel", "my_channel", "", "1abc", "-abc", "a" * 250, "my channel", "sp\u00e9cial"],
)
def test_invalid_channel_names(tmp_path: Path, channel: str) -> None:
    with pytest.raises(tl.ConfigError, match="channel name"):
        tl.init(tmp_path / "ledger", channels=("ok", channel))
    assert listing(tmp_path) == set()


@pytest.mark.parametrize("channel", ["a", "my.channel-2", "a" * 244])
def test_valid_channel_names(tmp_path: Path, channel: str) -> None:
    path = tl.init(tmp_path / "ledger", orgs=["Org1"], channels=(channel,))
    with tl.connect(path, identity="Org1") as gw:
        gw.network(channel).contract("datacontract").submit("storeData", "k", "v")


# Regression: from 245 characters on, '<channel>.db-journal' exceeded the 255-byte
# file-name limit and init failed.
@pytest.mark.parametrize("length", [200, 201, 245, 249])
def test_longest_valid_channel_names(tmp_path: Path, length: int) -> None:
    channel = "a" * length
    path = tl.init(tmp_path / "ledger", orgs=["Org1"], channels=(channel,))
    with tl.connect(path, identity="Org1") as gw:
        gw.network(channel).contract("datacontract").submit("storeData", "k", "v")
