"""The fabric client backend without a Fabric network.

Real Fabric `common.Block`s come from the embedded ledger (its orderer signs
them as Fabric's does); endorsements come from the embedded peers, recorded;
gRPC failures come from real sockets that refuse or stall.
"""

from __future__ import annotations

import functools
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_response_pb2, transaction_pb2

import tensorledger as tl
from tensorledger.errors import (
    CommitError,
    ConfigError,
    ContractError,
    EndorsementError,
    IdentityError,
    IntegrityError,
    InvalidRequestError,
    MVCCConflictError,
    NotFoundError,
    UnavailableError,
)
from tensorledger.gateway import _fabric, _fabric_errors
from tensorledger.gateway._fabric import FabricBackend, block_events
from tensorledger.gateway._fabric_errors import validation_error
from tensorledger.gateway._fabric_profile import Node, is_profile, load_profile
from tensorledger.ledger import channel as channel_module
from tensorledger.ledger import explore
from tensorledger.ledger.fabric_proof import FabricBlockProof
from tensorledger.ledger.network import EmbeddedNetwork
from tensorledger.ledger.proposal import build_proposal
from tensorledger.ledger.transaction import parse_envelope

pytestmark = pytest.mark.fabric

ORGS = {"Org1": "org1.example.com", "Org2": "org2.example.com"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_profile(ledger: Path, dest: Path, peer_ports: dict[str, int], orderer_port: int) -> Path:
    """A connection profile over the embedded ledger's cryptogen material."""
    orgs = ledger / "organizations"
    profile = {
        "backend": "fabric",
        "channel": "mychannel",
        "orderer": {
            "address": f"127.0.0.1:{orderer_port}",
            "tls_ca": str(
                orgs / "ordererOrganizations/example.com/tlsca/tlsca.example.com-cert.pem"
            ),
            "ca": str(orgs / "ordererOrganizations/example.com/ca/ca.example.com-cert.pem"),
        },
        "organizations": [
            {
                "name": name,
                "msp_id": f"{name}MSP",
                "peer": {
                    "address": f"127.0.0.1:{peer_ports[name]}",
                    "tls_ca": str(orgs / f"peerOrganizations/{d}/tlsca/tlsca.{d}-cert.pem"),
                },
                "users": {
                    "User1": str(orgs / f"peerOrganizations/{d}/users/User1@{d}/msp"),
                    "Admin": str(orgs / f"peerOrganizations/{d}/users/Admin@{d}/msp"),
                },
            }
            for name, d in ORGS.items()
        ],
    }
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "network.json"
    path.write_text(json.dumps(profile))
    return path


@pytest.fixture(scope="module")
def ledger(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, list[tl.SubmitResult]]]:
    """An embedded two-org ledger with a few committed DataContract transactions."""
    path = tl.init(tmp_path_factory.mktemp("embedded") / "ledger", orgs=list(ORGS))
    with tl.connect(path, identity="Org1") as gw:
        contract = gw.network("mychannel").contract("datacontract")
        results = [contract.submit("storeData", f"k{i}", f"v{i}") for i in range(3)]
        results.append(contract.submit("deleteData", "k1"))
    yield path, results


@pytest.fixture
def profile(ledger: tuple[Path, list[tl.SubmitResult]], tmp_path: Path) -> Path:
    ports = {name: _free_port() for name in ORGS}
    return write_profile(ledger[0], tmp_path / "fabric", ports, _free_port())


# -- the connection profile and connect() ---------------------------------------------


def test_connect_detects_a_profile_and_signs_as_the_named_identity(profile: Path) -> None:
    for target in (profile, profile.parent, str(profile)):
        with tl.connect(target, identity="Org2") as gw:
            assert gw.msp_id == "Org2MSP"
            assert gw.root == profile.parent
    backend = FabricBackend(profile, "User1@org1.example.com")
    assert backend.msp_id == "Org1MSP" and "User1" in backend.signer.identity.common_name
    admin = FabricBackend(profile, "Org1/Admin")
    assert "Admin" in admin.signer.identity.common_name
    backend.close()
    admin.close()


def test_embedded_ledger_directory_is_not_taken_for_a_profile(
    ledger: tuple[Path, list[tl.SubmitResult]],
) -> None:
    assert (ledger[0] / "network.json").is_file()
    assert not is_profile(ledger[0])
    with tl.connect(ledger[0], identity="Org1") as gw:
        assert gw.network("mychannel").checkpoint()  # only the embedded backend has these


@pytest.mark.parametrize("who", ["Org3", "Org1/Nobody", "User9@org1.example.com"])
def test_unknown_identity_is_a_config_error(profile: Path, who: str) -> None:
    with pytest.raises(ConfigError):
        FabricBackend(profile, who)


def test_malformed_profiles_name_what_is_wrong(tmp_path: Path, profile: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        load_profile(bad)
    raw = json.loads(profile.read_text())
    del raw["orderer"]["address"]
    bad.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="orderer has no address"):
        load_profile(bad)
    raw = json.loads(profile.read_text())
    raw["organizations"][0]["peer"]["tls_ca"] = str(tmp_path / "missing.pem")
    bad.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match=r"missing\.pem"):
        load_profile(bad)


def test_fabric_backend_has_no_checkpoints(profile: Path) -> None:
    with tl.connect(profile, identity="Org1", backend="fabric") as gw:
        net = gw.network("mychannel")
        with pytest.raises(InvalidRequestError, match="not available on the fabric backend"):
            net.checkpoint()
        with pytest.raises(InvalidRequestError, match="not available on the fabric backend"):
            net.consistency(1)


# -- gRPC failures from real sockets --------------------------------------------------


def test_refused_peer_is_unavailable_and_named(profile: Path) -> None:
    address = load_profile(profile).org("Org1").peer.address
    backend = FabricBackend(profile, "Org1", evaluate_timeout=10)
    try:
        with pytest.raises(UnavailableError, match=address.replace(".", r"\.")):
            backend.evaluate("mychannel", "datacontract", "retrieveData", ["k0"], None)
    finally:
        backend.close()


def test_silent_peer_times_out(profile: Path) -> None:
    """A peer that accepts the connection and never answers: the call's deadline fires."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    raw = json.loads(profile.read_text())
    raw["organizations"][0]["peer"]["address"] = f"127.0.0.1:{server.getsockname()[1]}"
    profile.write_text(json.dumps(raw))
    backend = FabricBackend(profile, "Org1", evaluate_timeout=0.5)
    try:
        with pytest.raises(UnavailableError, match="timed out"):
            backend.evaluate("mychannel", "datacontract", "retrieveData", ["k0"], None)
    finally:
        backend.close()
        stop.set()
        thread.join()
        for s in accepted:
            s.close()
        server.close()


class _FakeCall(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """A failed call with a status code, as grpc raises them."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def initial_metadata(self) -> Any:
        return ()

    def trailing_metadata(self) -> Any:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.UNAVAILABLE, UnavailableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, UnavailableError),
        (grpc.StatusCode.CANCELLED, UnavailableError),
        (grpc.StatusCode.PERMISSION_DENIED, IdentityError),
        (grpc.StatusCode.UNAUTHENTICATED, IdentityError),
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidRequestError),
        (grpc.StatusCode.FAILED_PRECONDITION, InvalidRequestError),
        (grpc.StatusCode.NOT_FOUND, NotFoundError),
        (grpc.StatusCode.INTERNAL, UnavailableError),
        (grpc.StatusCode.UNKNOWN, UnavailableError),
    ],
)
def test_every_grpc_status_maps_to_our_error_naming_the_node(
    code: grpc.StatusCode, cls: type[Exception]
) -> None:
    err = _fabric_errors.map_rpc_error(_FakeCall(code, "peer says why"), "peer 127.0.0.1:7051", 3.0)
    assert type(err) is cls
    assert "127.0.0.1:7051" in str(err)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        assert "timed out after 3.0s" in str(err)
    else:
        assert "peer says why" in str(err)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (common_pb2.FORBIDDEN, IdentityError),
        (common_pb2.BAD_REQUEST, InvalidRequestError),
        (common_pb2.NOT_FOUND, NotFoundError),
        (common_pb2.SERVICE_UNAVAILABLE, UnavailableError),
        (common_pb2.INTERNAL_SERVER_ERROR, UnavailableError),
    ],
)
def test_orderer_status_maps_with_its_info(status: int, cls: type[Exception]) -> None:
    err = _fabric_errors.status_error(status, "implicit policy evaluation failed", "orderer X")
    assert type(err) is cls
    assert common_pb2.Status.Name(status) in str(err)
    assert "implicit policy evaluation failed" in str(err) and "orderer X" in str(err)


# -- validation codes -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(transaction_pb2.TxValidationCode.keys()))
def test_every_invalidation_code_is_reported(name: str) -> None:
    code = transaction_pb2.TxValidationCode.Value(name)
    if name == "VALID":
        return
    err = validation_error("ab" * 32, code, 7)
    if name in ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"):
        assert isinstance(err, MVCCConflictError) and err.code == name and err.block == 7
    elif name == "ENDORSEMENT_POLICY_FAILURE":
        assert isinstance(err, EndorsementError) and name in str(err)
    else:
        assert type(err) is CommitError and err.code == name and err.block == 7
    assert "ab" * 32 in str(err)


def test_unknown_code_number_is_still_a_commit_error() -> None:
    err = validation_error("t", 200, 1)
    assert isinstance(err, CommitError) and err.code == "UNKNOWN(200)"


@pytest.mark.parametrize(
    "wrapped",
    [
        "Data with ID k does not exist.",
        "error in simulation: transaction returned with failure: Data with ID k does not exist.",
        "chaincode response 500, Data with ID k does not exist.",
    ],
)
def test_peer_wrapping_is_removed_from_contract_messages(wrapped: str) -> None:
    response = proposal_response_pb2.ProposalResponse(
        response=proposal_response_pb2.Response(status=500, message=wrapped),
        payload=b"the chaincode ran",
    )
    with pytest.raises(ContractError) as err:
        _fabric_errors.check_response(response, "p")
    assert err.value.message == "Data with ID k does not exist." and err.value.status == 500


@pytest.mark.parametrize(
    ("message", "cls"),
    [  # messages as Fabric 2.1 peers word them
        (
            "make sure the chaincode nocc has been successfully defined on channel mychannel "
            "and try again: chaincode nocc not found",
            NotFoundError,
        ),
        ("channel 'nochannel' not found", NotFoundError),
        ("access denied: channel [mychannel] creator org [Org9MSP]", IdentityError),
        ("failed to unmarshal proposal", EndorsementError),
    ],
)
def test_refusals_before_the_chaincode_runs_are_not_contract_errors(
    message: str, cls: type[Exception]
) -> None:
    response = proposal_response_pb2.ProposalResponse(
        response=proposal_response_pb2.Response(status=500, message=message)
    )
    with pytest.raises(cls) as err:
        _fabric_errors.check_response(response, "127.0.0.1:7051")
    assert type(err.value) is cls
    assert message in str(err.value) and "127.0.0.1:7051" in str(err.value)


# -- endorsement and assembly match the embedded path ---------------------------------


def test_envelope_from_recorded_responses_equals_the_embedded_one(
    ledger: tuple[Path, list[tl.SubmitResult]], profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same proposal, same recorded endorsements → byte-identical transaction payload.

    The fabric-built envelope is then committed by the embedded ledger's
    validator, which checks every signature, the policy and the read set.
    """
    fixed = functools.partial(build_proposal, nonce=b"n" * 24, timestamp_ns=1_700_000_000 * 10**9)
    monkeypatch.setattr(_fabric, "build_proposal", fixed)
    monkeypatch.setattr(channel_module, "build_proposal", fixed)
    network = EmbeddedNetwork(ledger[0])
    try:
        ch = network.channel("mychannel")
        user = network.identity("Org1")
        args = ("storeData", ["same-key", "same-value"])
        proposal = fixed(user, "mychannel", "datacontract", args[0], args[1])
        recorded = {m: e.endorse(proposal.proto) for m, e in ch.endorsers.items()}
        monkeypatch.setattr(ch, "_endorse_all", lambda orgs, _p: [recorded[o] for o in orgs])
        embedded = ch.endorse(user, "datacontract", *args, endorsing_orgs=["Org1MSP", "Org2MSP"])

        backend = FabricBackend(profile, "Org1")
        by_address = {o.peer.address: o.msp_id for o in backend.profile.orgs}
        asked: list[str] = []

        def process(node: Node, p: Any, timeout: float) -> proposal_response_pb2.ProposalResponse:
            # the peer gets the very same proposal (ECDSA signatures are randomised)
            assert p.proto.proposal_bytes == proposal.proto.proposal_bytes
            asked.append(by_address[node.address])
            return recorded[by_address[node.address]]

        monkeypatch.setattr(backend, "_process", process)
        tx_id, envelope = backend.endorse("mychannel", "datacontract", *args)
        backend.close()
        assert sorted(asked) == ["Org1MSP", "Org2MSP"]
        assert tx_id == proposal.tx_id
        assert tx_id == hashlib.sha256(b"n" * 24 + user.serialize()).hexdigest()
        assert envelope.payload == embedded.payload
        assert user.identity.verify(envelope.payload, envelope.signature)
        result = ch.commit_envelope(envelope)
        assert result.code == "VALID" and result.tx_id == tx_id
        assert result.payload == b"Data with ID same-key stored successfully."
    finally:
        network.close()


def test_disagreeing_endorsers_are_refused(
    ledger: tuple[Path, list[tl.SubmitResult]], profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = EmbeddedNetwork(ledger[0])
    try:
        ch = network.channel("mychannel")
        backend = FabricBackend(profile, "Org1")
        by_address = {o.peer.address: o.msp_id for o in backend.profile.orgs}

        def process(node: Node, p: Any, timeout: float) -> proposal_response_pb2.ProposalResponse:
            response = ch.endorsers[by_address[node.address]].endorse(p.proto)
            if by_address[node.address] == "Org2MSP":  # a skewed peer: different results
                response.payload = response.payload + b"\x00"
            return response

        monkeypatch.setattr(backend, "_process", process)
        with pytest.raises(EndorsementError, match="different results"):
            backend.endorse("mychannel", "datacontract", "storeData", ["x", "y"])
        with pytest.raises(EndorsementError, match="Org9"):
            backend.endorse("mychannel", "datacontract", "storeData", ["x"], None, ["Org9"])
        backend.close()
    finally:
        network.close()


# -- block events ------------------------------------------------------------------------


def test_block_events_equal_the_embedded_backend_events(
    ledger: tuple[Path, list[tl.SubmitResult]],
) -> None:
    path, results = ledger
    with tl.connect(path, identity="Org2") as gw:
        expected = list(gw.network("mychannel").chaincode_events(start_block=0, timeout=0.2))
        network = EmbeddedNetwork(path)
        try:
            store = network.channel("mychannel").store
            blocks = [explore.block(store, n) for n in range(store.height())]
        finally:
            network.close()
    got = [e for b in blocks for e in block_events(b, None)]
    assert got == expected
    assert {r.tx_id for r in results} <= {e.tx_id for e in got}
    assert [e for b in blocks for e in block_events(b, "other")] == []


# -- block proofs ------------------------------------------------------------------------


@pytest.fixture
def fabric_gateway(
    ledger: tuple[Path, list[tl.SubmitResult]], profile: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tl.Gateway]:
    """A fabric-backend gateway whose qscc queries are answered from the embedded ledger."""
    network = EmbeddedNetwork(ledger[0])
    store = network.channel("mychannel").store

    def evaluate(self: FabricBackend, channel: str, cc: str, fn: str, args: Any, t: Any) -> bytes:
        assert cc == "qscc" and args[0] == channel == "mychannel"
        if fn == "GetBlockByTxID":
            record = store.tx(args[1])
            if record is None:
                raise ContractError(f"Failed to get block for txID {args[1]}")
            return bytes(explore.block(store, record.block).SerializeToString())
        assert fn == "GetBlockByNumber"
        return bytes(explore.block(store, int(args[1])).SerializeToString())

    monkeypatch.setattr(FabricBackend, "evaluate", evaluate)
    with tl.connect(profile, identity="Org1", backend="fabric") as gw:
        yield gw
    network.close()


def _orderer_ca(profile: Path) -> bytes:
    return load_profile(profile).orderer_ca


def test_prove_returns_a_block_proof_that_verifies_offline(
    fabric_gateway: tl.Gateway, ledger: tuple[Path, list[tl.SubmitResult]], profile: Path
) -> None:
    for result in ledger[1]:
        proof = fabric_gateway.prove(result.tx_id)
        assert isinstance(proof, FabricBlockProof)
        assert proof.block_number == result.block
        assert parse_envelope(proof.envelope).tx_id == result.tx_id
        again = FabricBlockProof.from_json(proof.to_json())
        assert again == proof
        assert "orderer" in again.verify(_orderer_ca(profile))


def test_prove_of_unknown_tx_is_not_found(fabric_gateway: tl.Gateway) -> None:
    with pytest.raises(NotFoundError, match="Failed to get block"):
        fabric_gateway.prove("00" * 32)


def _proof(fabric_gateway: tl.Gateway, ledger: tuple[Path, list[tl.SubmitResult]]) -> Any:
    proof = fabric_gateway.prove(ledger[1][1].tx_id)
    assert isinstance(proof, FabricBlockProof)
    return proof


def _replace_block(proof: FabricBlockProof, block: common_pb2.Block) -> FabricBlockProof:
    return FabricBlockProof(
        proof.tx_id,
        proof.channel,
        proof.block_number,
        proof.index,
        block.SerializeToString(),
        proof.previous_header,
    )


def test_every_flipped_bit_of_header_data_and_signature_is_caught(
    fabric_gateway: tl.Gateway, ledger: tuple[Path, list[tl.SubmitResult]], profile: Path
) -> None:
    proof = _proof(fabric_gateway, ledger)
    ca = _orderer_ca(profile)
    block = common_pb2.Block.FromString(proof.block_bytes)
    mutations: list[common_pb2.Block] = []
    for field in ("previous_hash", "data_hash"):
        value = getattr(block.header, field)
        for i in range(len(value)):
            b = common_pb2.Block()
            b.CopyFrom(block)
            setattr(b.header, field, value[:i] + bytes([value[i] ^ 1]) + value[i + 1 :])
            mutations.append(b)
    for n, envelope in enumerate(block.data.data):
        for i in range(0, len(envelope), 7):
            b = common_pb2.Block()
            b.CopyFrom(block)
            b.data.data[n] = envelope[:i] + bytes([envelope[i] ^ 0x10]) + envelope[i + 1 :]
            mutations.append(b)
    signatures = block.metadata.metadata[common_pb2.SIGNATURES]
    for i in range(len(signatures)):
        b = common_pb2.Block()
        b.CopyFrom(block)
        b.metadata.metadata[common_pb2.SIGNATURES] = (
            signatures[:i] + bytes([signatures[i] ^ 0x01]) + signatures[i + 1 :]
        )
        mutations.append(b)
    b = common_pb2.Block()
    b.CopyFrom(block)
    b.header.number += 1
    mutations.append(b)
    assert len(mutations) > 500
    for mutated in mutations:
        with pytest.raises(IntegrityError):
            _replace_block(proof, mutated).verify(ca)


def test_block_proof_rejects_wrong_context(
    fabric_gateway: tl.Gateway, ledger: tuple[Path, list[tl.SubmitResult]], profile: Path
) -> None:
    proof = _proof(fabric_gateway, ledger)
    ca = _orderer_ca(profile)
    block = common_pb2.Block.FromString(proof.block_bytes)
    first = fabric_gateway.prove(ledger[1][3].tx_id)  # a later block: not the previous one
    assert isinstance(first, FabricBlockProof)
    other = common_pb2.Block.FromString(first.block_bytes)
    cases = {
        "another tx id": FabricBlockProof(
            "ff" * 32, proof.channel, proof.block_number, proof.index, proof.block_bytes,
            proof.previous_header,
        ),
        "another channel": FabricBlockProof(
            proof.tx_id, "otherchannel", proof.block_number, proof.index, proof.block_bytes,
            proof.previous_header,
        ),
        "another position": FabricBlockProof(
            proof.tx_id, proof.channel, proof.block_number, proof.index + 1, proof.block_bytes,
            proof.previous_header,
        ),
        "another block number": FabricBlockProof(
            proof.tx_id, proof.channel, proof.block_number + 1, proof.index, proof.block_bytes,
            proof.previous_header,
        ),
        "another previous header": FabricBlockProof(
            proof.tx_id, proof.channel, proof.block_number, proof.index, proof.block_bytes,
            other.header.SerializeToString(),
        ),
        "garbage block": FabricBlockProof(
            proof.tx_id, proof.channel, proof.block_number, proof.index, b"\xff\x00garbage",
            proof.previous_header,
        ),
    }  # fmt: skip
    for name, bad in cases.items():
        with pytest.raises(IntegrityError):
            bad.verify(ca)
            pytest.fail(name)
    invalid = common_pb2.Block()
    invalid.CopyFrom(block)
    flags = bytearray(invalid.metadata.metadata[common_pb2.TRANSACTIONS_FILTER])
    flags[proof.index] = transaction_pb2.MVCC_READ_CONFLICT
    invalid.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] = bytes(flags)
    with pytest.raises(IntegrityError, match="not marked VALID"):
        _replace_block(proof, invalid).verify(ca)
    # The orderer signature must chain to the orderer organisation's CA, not any CA.
    org_ca = (ledger[0] / "organizations/peerOrganizations/org1.example.com/ca").glob("*.pem")
    with pytest.raises(IntegrityError, match="not signed by an orderer"):
        proof.verify(next(org_ca).read_bytes())
    with pytest.raises(InvalidRequestError):
        proof.verify("not a certificate")
    with pytest.raises(InvalidRequestError):
        FabricBlockProof.from_json('{"type": "tensorledger.FabricBlockProof/v1"}')
