"""The seed's Node.js DataContract on real Fabric answers exactly as the Python one does.

One network runs both chaincodes: ``datacontract`` (our Python contract
through fabric-chaincode-python) and ``datacontract-node`` (the JavaScript
rewrite through ``fabric-chaincode-node server``), each as its own
chaincode-as-a-service. Our Python client drives both; payloads and error
messages must be the same bytes. History carries each transaction's own id
and time, so it is checked against a reference rebuilt from the blocks.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fabric_protos.common import common_pb2
from google.protobuf.timestamp_pb2 import Timestamp

import tensorledger as tl
from tensorledger.errors import ConfigError, TensorLedgerError
from tensorledger.fabric import network, node_chaincode
from tensorledger.fabric.install import Installation
from tensorledger.fabric.process import ProcessInfo, is_alive
from tests.contract_suite import DataContractSuite, _events_until, _tx_ids_seen
from tests.fabric.conftest import CHANNEL

pytestmark = pytest.mark.fabric

PY, JS = "datacontract", node_chaincode.NAME
#: every character class JSON escapes differently: quotes, backslash, controls, DEL, non-ASCII
TRICKY = 'q " b \\ n \n t \t c \x01 \x1f del \x7f / \u00e9 \u4e2d \U0001f680 \u2028'


class TestNodeDataContract(DataContractSuite):
    """The abstract contract suite, unchanged, against the JavaScript chaincode."""

    channel = CHANNEL
    chaincode = JS
    event_timeout = 5.0

    @pytest.fixture(scope="class")
    @classmethod
    def gateways(cls, fabric_node_net: Path) -> Iterator[tuple[tl.Gateway, tl.Gateway]]:
        with (
            tl.connect(fabric_node_net, identity="Org1", backend="fabric") as org1,
            tl.connect(fabric_node_net, identity="Org2", backend="fabric") as org2,
        ):
            yield org1, org2


@pytest.fixture(scope="module")
def gw(fabric_node_net: Path) -> Iterator[tl.Gateway]:
    with tl.connect(fabric_node_net / network.PROFILE_FILE, identity="Org1", backend="fabric") as g:
        yield g


def _outcome(contract: tl.Contract, how: str, fn: str, args: list[str]) -> tuple[str, str, bytes]:
    try:
        if how == "submit":
            return ("ok", "", contract.submit(fn, *args).payload)
        return ("ok", "", contract.evaluate(fn, *args))
    except TensorLedgerError as exc:
        return ("error", type(exc).__name__, str(exc).encode())


def _calls(key: str) -> list[tuple[str, str, list[str]]]:
    return [
        ("submit", "storeData", [key, "first"]),
        ("evaluate", "retrieveData", [key]),
        ("submit", "storeData", [key, TRICKY]),
        ("evaluate", "retrieveData", [key]),
        ("submit", "storeData", [f"{key}/b", '{"a": [1, 2]}']),
        ("submit", "storeData", [f"{key}/\u00e9\U0001f680", TRICKY]),
        ("evaluate", "listData", [key, f"{key}~"]),
        ("evaluate", "listData", [f"{key}/", f"{key}/c"]),
        ("evaluate", "listData", [f"{key}~", f"{key}~~"]),
        ("evaluate", "retrieveData", [f"{key}-missing"]),
        ("submit", "deleteData", [f"{key}-missing"]),
        ("evaluate", "history", [f"{key}-missing"]),
        ("evaluate", "retrieveData", []),
        ("submit", "storeData", [key]),
        ("submit", "storeData", []),
        ("submit", "deleteData", []),
        ("evaluate", "listData", [key]),
        ("evaluate", "history", []),
        ("evaluate", "noSuchFunction", ["x"]),
        ("evaluate", "DataContract:retrieveData", [key]),
        ("evaluate", "DataContract:", []),
        ("submit", "deleteData", [key]),
        ("evaluate", "retrieveData", [key]),
        ("submit", "deleteData", [key]),
        ("evaluate", "listData", [key, f"{key}~"]),
    ]


def test_same_calls_give_byte_identical_payloads_and_errors(gw: tl.Gateway) -> None:
    key = f"eq-{uuid.uuid4().hex[:12]}"
    calls = _calls(key)
    py = [_outcome(gw.network(CHANNEL).contract(PY), *call) for call in calls]
    js = [_outcome(gw.network(CHANNEL).contract(JS), *call) for call in calls]
    for call, want, got in zip(calls, py, js, strict=True):
        assert got == want, call
    errors = [o for o in py if o[0] == "error"]
    assert len(errors) == 12  # every call meant to fail did, on both
    assert all(kind == "ContractError" for _, kind, _ in errors)
    listed = json.loads(py[6][2])
    assert listed == [
        {"id": key, "data": TRICKY},
        {"id": f"{key}/b", "data": '{"a": [1, 2]}'},
        {"id": f"{key}/\u00e9\U0001f680", "data": TRICKY},
    ]
    assert py[6][2] == json.dumps(listed).encode()  # Python's own formatting, byte for byte


def test_node_refuses_surplus_arguments_like_the_embedded_ledger(
    gw: tl.Gateway, tmp_path: Path
) -> None:
    key = f"surplus-{uuid.uuid4().hex[:12]}"
    calls = [
        ("submit", "storeData", [key, "a", "b"]),
        ("evaluate", "retrieveData", [key, "extra"]),
        ("evaluate", "listData", ["a", "b", "c", "d"]),
        ("evaluate", "retrieveData", [key]),
    ]
    with tl.connect(tl.init(tmp_path / "ledger", orgs=["Org1", "Org2"]), identity="Org1") as emb:
        want = [_outcome(emb.network(CHANNEL).contract(PY), *c) for c in calls]
    got = [_outcome(gw.network(CHANNEL).contract(JS), *c) for c in calls]
    assert got == want
    assert want[0] == (
        "error",
        "ContractError",
        b"incorrect number of params. Expected 2, received 3",
    )
    assert want[-1][2] == f"Data with ID {key} does not exist.".encode()  # nothing was stored


def test_python_chaincode_on_fabric_refuses_surplus_arguments(gw: tl.Gateway) -> None:
    # fabric-chaincode-python drops surplus arguments; our chaincode server refuses
    # them as the Node chaincode and the embedded ledger do, and stores nothing.
    key = f"surplus-{uuid.uuid4().hex[:12]}"
    contract = gw.network(CHANNEL).contract(PY)
    assert _outcome(contract, "submit", "storeData", [key, "a", "b"]) == (
        "error",
        "ContractError",
        b"incorrect number of params. Expected 2, received 3",
    )
    assert _outcome(contract, "evaluate", "retrieveData", [key])[2] == (
        f"Data with ID {key} does not exist.".encode()
    )


def _expected_history(gw: tl.Gateway, tx_ids: list[str], values: list[str | None]) -> bytes:
    """The history JSON rebuilt from the blocks: each tx's id and header time, newest first."""
    changes = []
    for tx_id, value in zip(tx_ids, values, strict=True):
        envelope = common_pb2.Envelope.FromString(gw.network(CHANNEL).prove(tx_id).envelope)
        header = common_pb2.ChannelHeader.FromString(
            common_pb2.Payload.FromString(envelope.payload).header.channel_header
        )
        assert header.tx_id == tx_id
        changes.append(
            {
                "txId": tx_id,
                "value": value,
                "isDelete": value is None,
                "timestamp": header.timestamp.ToJsonString(),
            }
        )
    return json.dumps(changes[::-1]).encode()


def test_history_matches_the_blocks_byte_for_byte_on_both(gw: tl.Gateway) -> None:
    key = f"hist-{uuid.uuid4().hex[:12]}"
    steps: list[tuple[str, list[str], str | None]] = [
        ("storeData", [key, "one"], "one"),
        ("storeData", [key, TRICKY], TRICKY),
        ("deleteData", [key], None),
        ("storeData", [key, ""], None),  # Fabric records an empty value as a delete
        ("storeData", [key, "\U0001f680 last"], "\U0001f680 last"),
    ]
    raw = {}
    for name in (PY, JS):
        contract = gw.network(CHANNEL).contract(name)
        tx_ids = [contract.submit(fn, *args).tx_id for fn, args, _ in steps]
        raw[name] = contract.evaluate("history", key)
        assert raw[name] == _expected_history(gw, tx_ids, [v for _, _, v in steps]), name
        times = [Timestamp() for _ in steps]
        for stamp, change in zip(times, json.loads(raw[name]), strict=True):
            stamp.FromJsonString(change["timestamp"])
        assert [t.ToNanoseconds() for t in times] == sorted(
            (t.ToNanoseconds() for t in times), reverse=True
        )
    assert raw[PY] != raw[JS]  # two chaincodes, two sets of transactions


def test_events_carry_the_same_names_and_payloads(gw: tl.Gateway) -> None:
    key = f"ev-{uuid.uuid4().hex[:12]}"
    seen = {}
    for name in (PY, JS):
        contract = gw.network(CHANNEL).contract(name)
        txs = [contract.submit("storeData", key, "v"), contract.submit("deleteData", key)]
        want = {r.tx_id for r in txs}
        events = _events_until(
            contract.events(min(r.block for r in txs), timeout=10.0), _tx_ids_seen(want)
        )
        seen[name] = [(e.name, e.payload) for e in events if e.tx_id in want]
    assert seen[JS] == seen[PY] == [("DataStored", key.encode()), ("DataDeleted", key.encode())]


def test_profile_records_the_node_server_and_status_sees_it(fabric_node_net: Path) -> None:
    profile = network.load_profile(fabric_node_net)
    (record,) = [c for c in profile["chaincodes"] if c["name"] == JS]
    assert record["contract"].startswith(node_chaincode.NODE_PREFIX)
    assert record["package_id"].startswith(f"{JS}_1.0:")
    cmdline = Path(f"/proc/{record['pid']}/cmdline").read_bytes().split(b"\0")
    assert any(part.endswith(b"fabric-chaincode-node") for part in cmdline)
    assert record["package_id"].encode() in cmdline
    found = network.status(fabric_node_net)
    assert {p.name: p.alive for p in found.processes}[f"chaincode {JS}"]
    assert found.healthy


def _node(directory: Path, script: str, data: object) -> object:
    done = subprocess.run(
        ["node", "-e", script, json.dumps(data)],
        cwd=directory,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def test_json_helpers_agree_with_python_and_protobuf(fabric_node_net: Path) -> None:
    # The contract's own helpers on inputs Fabric would rarely produce: every
    # BMP boundary and escape, and each fractional-second width.
    profile = network.load_profile(fabric_node_net)
    (record,) = [c for c in profile["chaincodes"] if c["name"] == JS]
    directory = Path(record["contract"].removeprefix(node_chaincode.NODE_PREFIX))
    texts = [TRICKY, "", "\x00", "~\x7f\x80", "\ud7ff\ue000\uffff", "".join(map(chr, range(300)))]
    values = [[{"id": t, "data": t, "flag": i % 2 == 0, "none": None}] for i, t in enumerate(texts)]
    script = (
        "const {pyDumps} = require('./lib/dataContract');"
        "console.log(JSON.stringify(JSON.parse(process.argv[1]).map(pyDumps)));"
    )
    assert _node(directory, script, values) == [json.dumps(v) for v in values]
    stamps = [(0, 0), (1_700_000_000, 5_000_000), (1_700_000_000, 120_000), (4_102_444_799, 1)]
    stamps += [(1_234_567_890, 999_999_999), (951_782_400, 100_000_000)]
    script = (
        "const {timestampJson} = require('./lib/dataContract');"
        "const s = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(s.map(([seconds, nanos]) => timestampJson({seconds, nanos}))));"
    )
    want = [Timestamp(seconds=s, nanos=n).ToJsonString() for s, n in stamps]
    assert _node(directory, script, stamps) == want


@pytest.mark.slow
def test_prepare_runs_npm_once_and_down_stops_the_node_server(
    fabric: Installation, fabric_node_net: Path, tmp_path: Path
) -> None:
    prepared = node_chaincode.prepare(fabric)  # already done by the module's network
    marker = prepared / "node_modules" / ".tensorledger-test-marker"
    marker.touch()
    try:
        profile = network.up(tmp_path / "net", 1, CHANNEL, [], node_chaincode=True, fabric=fabric)
        try:
            (record,) = profile["chaincodes"]
            assert record["contract"] == f"{node_chaincode.NODE_PREFIX}{prepared}"
            assert marker.exists()  # the same node_modules, not reinstalled
            with tl.connect(tmp_path / "net", identity="Org1", backend="fabric") as one:
                contract = one.network(CHANNEL).contract(JS)
                assert contract.submit("storeData", "k", "v").payload == (
                    b"Data with ID k stored successfully."
                )
        finally:
            stopped = network.down(tmp_path / "net")
        assert f"chaincode {JS}" in stopped
        (server,) = [p for p in profile["processes"] if p["name"] == f"chaincode {JS}"]
        assert not is_alive(ProcessInfo.from_json(server))
    finally:
        marker.unlink()


def test_prepare_names_missing_source_files(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "package.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"lacks package-lock\.json, index\.js"):
        node_chaincode.prepare(Installation(tmp_path / "home"), tmp_path / "src")
    assert not (tmp_path / "home").exists()


def test_prepare_without_npm_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="needs `node` and `npm`"):
        node_chaincode.prepare(Installation(tmp_path / "home"))
    assert not (tmp_path / "home").exists()
