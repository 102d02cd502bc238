"""Every bad request to a peer or the orderer is refused clearly and changes nothing.

Each test names the exception class and a fragment of its message, and
compares a snapshot of the channel database (all tables, the height, the
newest checkpoint) taken with plain sqlite3 before and after.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorledger as tl
from tensorledger.crypto.ca import CertificateAuthority
from tensorledger.crypto.cryptogen import load_signing_identity
from tensorledger.crypto.msp import Identity, Role, SigningIdentity
from tensorledger.ledger.channel import Channel
from tensorledger.ledger.network import DEFAULT_CONTRACTS, EmbeddedNetwork
from tensorledger.ledger.proposal import SignedProposal, Signer, build_proposal, parse_proposal
from tensorledger.ledger.transaction import assemble, parse_envelope
from tests.ledger.fabric_reference import DUPLICATE_TXID, sign_low_s
from tests.ledger.ledger_state import snapshot, stored_blocks, tx_codes

CC = "datacontract"
ORG1_DIR = Path("organizations/peerOrganizations/org1.example.com")


@contextmanager
def no_change(path: Path, channel: str = "mychannel") -> Iterator[None]:
    """Assert that the channel database is exactly as before the block ran."""
    before = snapshot(path, channel)
    yield
    assert snapshot(path, channel) == before, "a refused request changed the ledger"


@dataclass(frozen=True)
class ForgedSigner:
    """Presents one identity's certificate but signs with another key."""

    identity: SigningIdentity
    key: ec.EllipticCurvePrivateKey

    @property
    def msp_id(self) -> str:
        return self.identity.msp_id

    def serialize(self) -> bytes:
        return self.identity.serialize()

    def sign(self, data: bytes) -> bytes:
        return sign_low_s(self.key, data)


@dataclass
class Net:
    path: Path
    network: EmbeddedNetwork
    channel: Channel
    org1: SigningIdentity
    org2: SigningIdentity

    def proposal(
        self, signer: Signer | None = None, *args: str, channel: str = "mychannel"
    ) -> SignedProposal:
        return build_proposal(
            signer or self.org1,
            channel,
            CC,
            "storeData",
            list(args) or ["k", "v"],
        )


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    """One network for the module: every test compares snapshots of its own."""
    path = tl.init(tmp_path_factory.mktemp("bad") / "ledger", orgs=["Org1", "Org2"])
    network = EmbeddedNetwork(path)
    channel = network.channel("mychannel")
    channel.submit(network.identity("Org1"), CC, "storeData", ["existing", "value"])
    try:
        yield Net(path, network, channel, network.identity("Org1"), network.identity("Org2"))
    finally:
        network.close()


def endorse_everywhere(
    net: Net, proposal: SignedProposal
) -> list[proposal_response_pb2.ProposalResponse]:
    return [e.endorse(proposal.proto) for e in net.channel.endorsers.values()]


# -- identities ------------------------------------------------------------------------------


def test_client_signature_by_another_key(net: Net) -> None:
    forged = ForgedSigner(net.org1, ec.generate_private_key(ec.SECP256R1()))
    with no_change(net.path):
        for endorser in net.channel.endorsers.values():
            with pytest.raises(tl.IdentityError, match="does not verify"):
                endorser.endorse(net.proposal(forged).proto)
        with pytest.raises(tl.IdentityError, match="does not verify"):
            net.channel.submit(forged, CC, "storeData", ["k", "v"])  # type: ignore[arg-type]


def test_envelope_signed_by_another_key(net: Net) -> None:
    env = net.channel.endorse(net.org1, CC, "storeData", ["k", "v"])
    env.signature = sign_low_s(ec.generate_private_key(ec.SECP256R1()), env.payload)
    with no_change(net.path), pytest.raises(tl.IdentityError, match="does not verify"):
        net.channel.commit_envelope(env)


def test_certificate_from_a_foreign_ca(net: Net) -> None:
    impostor_ca = CertificateAuthority.create("Org1", "Org1MSP", "org1.example.com")
    impostor = impostor_ca.issue("User1@org1.example.com", Role.CLIENT)
    with no_change(net.path):
        with pytest.raises(tl.IdentityError, match="not issued by a CA of MSP Org1MSP"):
            net.channel.endorsers["Org1MSP"].endorse(net.proposal(impostor).proto)
        with pytest.raises(tl.IdentityError, match="not issued by a CA of MSP Org1MSP"):
            net.channel.submit(impostor, CC, "storeData", ["k", "v"])


def test_organisation_unknown_to_the_channel(net: Net) -> None:
    stranger = CertificateAuthority.create("Evil", "EvilMSP", "evil.example.com").issue(
        "User1@evil.example.com", Role.CLIENT
    )
    with no_change(net.path), pytest.raises(tl.IdentityError, match="unknown MSP 'EvilMSP'"):
        net.channel.endorsers["Org1MSP"].endorse(net.proposal(stranger).proto)


def test_org1_certificate_claiming_org2(net: Net) -> None:
    claimant = SigningIdentity(
        Identity("Org2MSP", net.org1.identity.cert_pem), net.org1.private_key
    )
    with no_change(net.path):
        for endorser in net.channel.endorsers.values():
            with pytest.raises(tl.IdentityError, match="not issued by a CA of MSP Org2MSP"):
                endorser.endorse(net.proposal(claimant).proto)


def test_expired_certificate_of_a_real_member(net: Net) -> None:
    ca = CertificateAuthority.load(net.path / ORG1_DIR, "Org1MSP", "Org1")
    now = datetime.now(UTC)
    old = ca.issue(
        "Old@org1.example.com",
        Role.CLIENT,
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    with no_change(net.path), pytest.raises(tl.IdentityError, match="expired"):
        net.channel.submit(old, CC, "storeData", ["k", "v"])


@pytest.mark.parametrize("who", ["orderer node", "orderer admin"])
def test_orderer_organisation_cannot_submit(net: Net, who: str) -> None:
    signer = (
        net.network.orderer_identity()
        if who == "orderer node"
        else load_signing_identity(
            net.path / "organizations/ordererOrganizations/example.com/users/Admin@example.com/msp",
            "OrdererMSP",
        )
    )
    # Regression: the orderer organisation is a channel member (it signs blocks) and
    # was accepted as a transaction creator; Fabric's /Channel/Application/Writers is not.
    with no_change(net.path), pytest.raises(tl.IdentityError, match="OrdererMSP"):
        net.channel.submit(signer, CC, "storeData", ["k", f"written by the {who}"])


# -- replays ------------------------------------------------------------------------------------


def test_replayed_envelope(net: Net) -> None:
    env = net.channel.endorse(net.org1, CC, "storeData", ["k", "v"])
    res = net.channel.commit_envelope(env)
    before = snapshot(net.path)
    with pytest.raises((tl.CommitError, tl.InvalidRequestError)) as err:
        net.channel.commit_envelope(env)
    after = snapshot(net.path)
    assert "duplicate" in str(err.value).lower()
    assert after.world() == before.world()
    if isinstance(err.value, tl.CommitError):  # recorded as an invalid transaction
        assert err.value.code == "DUPLICATE_TXID"
        assert after.height == before.height + 1
        assert tx_codes(net.path)[res.tx_id] == [0, DUPLICATE_TXID]
    else:  # refused at broadcast
        assert after == before


def test_replayed_proposal_to_an_endorser(net: Net) -> None:
    proposal = net.proposal(net.org1, "replayed", "v")
    responses = endorse_everywhere(net, proposal)
    net.channel.commit_envelope(assemble(proposal, responses, net.org1))
    with no_change(net.path):
        for endorser in net.channel.endorsers.values():
            with pytest.raises(tl.InvalidRequestError, match="duplicate transaction id"):
                endorser.endorse(proposal.proto)


def test_replayed_config_envelope_of_the_genesis_block(net: Net) -> None:
    (genesis,) = stored_blocks(net.path)[0].envelopes
    with no_change(net.path), pytest.raises(tl.InvalidRequestError, match="cannot be broadcast"):
        net.channel.commit_envelope(genesis)


# -- malformed and oversize messages ---------------------------------------------------------

GARBAGE = [b"\xff\xff\xff", b"\x0a\x05abc", b"\x0a\xff\xff\xff\xff\x0f", b"\x80"]


@pytest.mark.parametrize("raw", GARBAGE)
def test_malformed_proposal_bytes(net: Net, raw: bytes) -> None:
    with no_change(net.path), pytest.raises(tl.InvalidRequestError, match="malformed proposal"):
        net.channel.endorsers["Org1MSP"].endorse(raw)


def test_empty_and_hollow_proposals(net: Net) -> None:
    hollow = proposal_pb2.SignedProposal(
        proposal_bytes=proposal_pb2.Proposal(
            header=common_pb2.Header().SerializeToString()
        ).SerializeToString(),
        signature=b"sig",
    )
    with no_change(net.path):
        for raw in (b"", proposal_pb2.SignedProposal(), hollow):
            with pytest.raises(tl.InvalidRequestError, match="malformed proposal"):
                net.channel.endorsers["Org1MSP"].endorse(raw)


@pytest.mark.parametrize("raw", [*GARBAGE, b""])
def test_malformed_envelope_bytes(net: Net, raw: bytes) -> None:
    with no_change(net.path), pytest.raises(tl.InvalidRequestError, match="envelope"):
        net.channel.commit_envelope(raw)


def test_tampered_envelope_payload(net: Net) -> None:
    env = net.channel.endorse(net.org1, CC, "storeData", ["k", "tamper-me"])
    payload = env.payload
    at = payload.index(b"tamper-me")
    changed = common_pb2.Envelope(
        payload=payload[:at] + b"T" + payload[at + 1 :], signature=env.signature
    )
    with no_change(net.path):
        with pytest.raises(tl.IdentityError, match="does not verify"):
            net.channel.commit_envelope(changed)
        # Any single-byte change anywhere in the payload is refused before ordering.
        for i in range(len(payload)):
            mutated = common_pb2.Envelope(
                payload=payload[:i] + bytes([payload[i] ^ 0x01]) + payload[i + 1 :],
                signature=env.signature,
            ).SerializeToString()
            with pytest.raises((tl.IdentityError, tl.InvalidRequestError)):
                net.channel.commit_envelope(mutated)
    net.channel.commit_envelope(env)  # the original still commits


def test_oversize_envelope_names_its_size(net: Net) -> None:
    raw = net.channel.endorse(net.org1, CC, "storeData", ["k", "v"]).SerializeToString()
    limit = net.channel.config.max_envelope_bytes
    assert limit == 8 * 1024 * 1024
    # An unknown length-delimited field 15: still a decodable Envelope, only too large.
    pad = limit - len(raw) + 1
    varint = bytearray()
    n = pad
    while n >= 0x80:
        varint.append((n & 0x7F) | 0x80)
        n >>= 7
    varint.append(n)
    big = raw + b"\x7a" + bytes(varint) + b"\x00" * pad
    assert common_pb2.Envelope.FromString(big).payload
    with no_change(net.path), pytest.raises(tl.InvalidRequestError) as err:
        net.channel.commit_envelope(big)
    assert str(len(big)) in str(err.value) and str(limit) in str(err.value)


def test_value_over_the_contract_limit(net: Net) -> None:
    limit = 4 * 1024 * 1024
    with tl.connect(net.path, identity="Org1") as gw, no_change(net.path):
        with pytest.raises(tl.ContractError) as err:
            gw.network().contract(CC).submit("storeData", "huge", "x" * (limit + 1))
    assert err.value.message == (f"value for key 'huge' is {limit + 1} bytes; the limit is {limit}")


# -- contracts, functions, arguments, channels -------------------------------------------------


def test_unknown_chaincode(net: Net) -> None:
    with tl.connect(net.path, identity="Org1") as gw, no_change(net.path):
        contract = gw.network().contract("nosuchcc")
        with pytest.raises(tl.NotFoundError, match="chaincode 'nosuchcc' is not defined"):
            contract.submit("storeData", "k", "v")
        with pytest.raises(tl.NotFoundError, match="chaincode 'nosuchcc' is not defined"):
            contract.evaluate("retrieveData", "k")


@pytest.mark.parametrize(
    ("function", "args", "fragment"),
    [
        ("noSuchFunction", ["k"], "Function noSuchFunction not found"),
        ("storeData", ["k"], "incorrect number of params. Expected 2, received 1"),
        ("storeData", [], "incorrect number of params. Expected 2, received 0"),
        ("deleteData", [], "incorrect number of params. Expected 1, received 0"),
        ("", [], "function name"),
        ("storeData", ["", "v"], "key must be a non-empty string"),
        ("storeData", ["k", ""], "value for key 'k' is empty"),
    ],
)
def test_contract_level_errors(net: Net, function: str, args: list[str], fragment: str) -> None:
    with tl.connect(net.path, identity="Org1") as gw, no_change(net.path):
        with pytest.raises(tl.ContractError) as err:
            gw.network().contract(CC).submit(function, *args)
    assert fragment in err.value.message


def test_surplus_arguments_are_refused(net: Net) -> None:
    # Regression: surplus arguments were dropped and storeData(id, a, b) stored a.
    with tl.connect(net.path, identity="Org1") as gw, no_change(net.path):
        with pytest.raises(tl.ContractError) as err:
            gw.network().contract(CC).submit("storeData", "k", "part one", "part two")
    assert "params" in err.value.message and "received 3" in err.value.message


def test_non_utf8_argument_is_named(net: Net) -> None:
    # Regression: the contract API used to answer 'Blank function name passed'.
    with tl.connect(net.path, identity="Org1") as gw, no_change(net.path):
        with pytest.raises((tl.ContractError, tl.InvalidRequestError)) as err:
            gw.network().contract(CC).submit("storeData", "k", b"\xff\xfe")
    assert "argument 2" in str(err.value) and "UTF-8" in str(err.value)


def test_proposal_for_another_channel(net: Net) -> None:
    proposal = net.proposal(net.org1, channel="otherchannel")
    with no_change(net.path):
        with pytest.raises(tl.InvalidRequestError, match="proposal is for channel 'otherchannel'"):
            net.channel.endorsers["Org1MSP"].endorse(proposal.proto)


def test_envelope_for_another_channel(tmp_path: Path) -> None:
    path = tl.init(tmp_path / "ledger", orgs=["Org1", "Org2"], channels=("alpha", "beta"))
    network = EmbeddedNetwork(path)
    try:
        alpha, beta = network.channel("alpha"), network.channel("beta")
        env = beta.endorse(network.identity("Org1"), CC, "storeData", ["k", "v"])
        with (
            no_change(path, "alpha"),
            no_change(path, "beta"),
            pytest.raises(tl.InvalidRequestError, match="channel 'beta'"),
        ):
            alpha.commit_envelope(env)
    finally:
        network.close()
    # genesis, then approve by each of the two orgs and commit, per deployed contract
    assert snapshot(path, "alpha").height == 1 + 3 * len(DEFAULT_CONTRACTS)


# -- endorsements that do not count ------------------------------------------------------------


def _forged_endorsement(
    net: Net, signer: Signer, real: proposal_response_pb2.ProposalResponse, *, data: bytes = b""
) -> proposal_response_pb2.ProposalResponse:
    who = signer.serialize()
    return proposal_response_pb2.ProposalResponse(
        version=1,
        response=real.response,
        payload=real.payload,
        endorsement=proposal_response_pb2.Endorsement(
            endorser=who,
            signature=signer.sign(data or real.payload + who),
        ),
    )


@pytest.mark.parametrize(
    "second",
    ["org2 client", "org2 admin", "foreign org2 peer", "org2 peer signing other bytes"],
)
def test_endorsement_by_a_non_peer_fails_the_policy(net: Net, second: str) -> None:
    proposal = net.proposal(net.org1, "forged", "v")
    real = net.channel.endorsers["Org1MSP"].endorse(proposal.proto)
    signer: Signer
    data = b""
    if second == "org2 client":
        signer = net.org2
    elif second == "org2 admin":
        signer = net.network.identity("Org2/Admin")
    elif second == "foreign org2 peer":
        signer = CertificateAuthority.create("Org2", "Org2MSP", "org2.example.com").issue(
            "peer0.org2.example.com", Role.PEER
        )
    else:
        signer = net.channel.endorsers["Org2MSP"].peer
        data = b"something else"
    forged = _forged_endorsement(net, signer, real, data=data)
    env = assemble(proposal, [real, forged], net.org1)
    before = snapshot(net.path)
    with pytest.raises(tl.CommitError) as err:
        net.channel.commit_envelope(env)
    assert err.value.code == "ENDORSEMENT_POLICY_FAILURE"
    after = snapshot(net.path)
    assert after.world() == before.world()
    assert after.height == before.height + 1


# -- random bytes (hypothesis) -------------------------------------------------------------------

ALLOWED = (tl.InvalidRequestError, tl.IdentityError)


@pytest.fixture(scope="module")
def valid_proposal(net: Net) -> bytes:
    return bytes(net.proposal(net.org1).proto.SerializeToString())


@pytest.fixture(scope="module")
def valid_envelope(net: Net) -> bytes:
    return bytes(net.channel.endorse(net.org1, CC, "storeData", ["k", "v"]).SerializeToString())


def mutations(base_name: str) -> st.SearchStrategy[tuple[str, int, int]]:
    """(which base message, byte position seed, xor mask) for single-byte mutations."""
    return st.tuples(st.just(base_name), st.integers(0, 1 << 16), st.integers(1, 255))


def _mutate(base: bytes, position: int, mask: int) -> bytes:
    i = position % len(base)
    return base[:i] + bytes([base[i] ^ mask]) + base[i + 1 :]


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(st.binary(max_size=300))
def test_parse_proposal_random_bytes(data: bytes) -> None:
    try:
        parse_proposal(data)
    except ALLOWED:
        pass


@FUZZ
@given(mutations("proposal"))
def test_parse_proposal_mutated(valid_proposal: bytes, m: tuple[str, int, int]) -> None:
    try:
        parse_proposal(_mutate(valid_proposal, m[1], m[2]))
    except ALLOWED:
        pass


@FUZZ
@given(st.binary(max_size=300))
def test_parse_envelope_random_bytes(data: bytes) -> None:
    try:
        parse_envelope(data)
    except ALLOWED:
        pass


@FUZZ
@given(mutations("envelope"))
def test_parse_envelope_mutated(valid_envelope: bytes, m: tuple[str, int, int]) -> None:
    try:
        parse_envelope(_mutate(valid_envelope, m[1], m[2]))
    except ALLOWED:
        pass


_calls = itertools.count()


@FUZZ
@given(st.one_of(st.binary(max_size=300), mutations("proposal")))
def test_endorser_refuses_random_and_mutated_proposals(
    net: Net, valid_proposal: bytes, case: bytes | tuple[str, int, int]
) -> None:
    raw = case if isinstance(case, bytes) else _mutate(valid_proposal, case[1], case[2])
    before = snapshot(net.path) if next(_calls) % 25 == 0 else None
    for endorser in net.channel.endorsers.values():
        with pytest.raises(ALLOWED):
            endorser.endorse(raw)
    if before is not None:
        assert snapshot(net.path) == before


@FUZZ
@given(st.one_of(st.binary(max_size=300), mutations("envelope")))
def test_orderer_refuses_random_and_mutated_envelopes(
    net: Net, valid_envelope: bytes, case: bytes | tuple[str, int, int]
) -> None:
    raw = case if isinstance(case, bytes) else _mutate(valid_envelope, case[1], case[2])
    before = snapshot(net.path)
    with pytest.raises(ALLOWED):
        net.channel.commit_envelope(raw)
    assert snapshot(net.path) == before
